"""Enrolment over the bus: the web process asks the recognizer, which owns the models."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from services.common.bus.base import Communicator
from services.common.bus.topology import ENROLMENTS
from services.common.contracts import EnrolmentRequest, EnrolmentResult, new_id
from services.common.storage.employees import Employee, EmployeeRepository
from services.recognizer.enrolment import EnrolmentError, FacePreview

logger = logging.getLogger(__name__)


class BusEnrolmentClient:
    """The :class:`~services.recognizer.enrolment.Enroller` interface, answered by a recognizer."""

    def __init__(
        self, bus: Communicator, employees: EmployeeRepository, timeout: float = 30.0
    ) -> None:
        self._bus = bus
        self._employees = employees
        self._timeout = timeout

    def enroll(self, name: str, photos: Sequence[bytes]) -> Employee:
        return self._send(EnrolmentRequest(request_id=new_id(), name=name, photos=list(photos)))

    def add_photos(self, employee_id: str, photos: Sequence[bytes]) -> Employee:
        return self._send(
            EnrolmentRequest(request_id=new_id(), employee_id=employee_id, photos=list(photos))
        )

    def preview(self, photo: bytes) -> FacePreview:
        result = self._ask(EnrolmentRequest(request_id=new_id(), photos=[photo], preview=True))
        if result.face_jpeg is None or result.face_box is None:
            raise EnrolmentError("preview_failed", "the recognizer answered without a face")
        return FacePreview(result.face_jpeg, result.face_box)

    def _ask(self, request: EnrolmentRequest) -> EnrolmentResult:
        result = self._bus.request(ENROLMENTS, request, EnrolmentResult, self._timeout)
        if not result.ok:
            raise EnrolmentError(result.error_code or "enrolment_failed", result.error or "failed")
        return result

    def _send(self, request: EnrolmentRequest) -> Employee:
        result = self._ask(request)
        assert result.employee_id is not None
        # The recognizer has stored the employee; read it back for the full record.
        employee = self._employees.get(result.employee_id)
        if employee is None:
            logger.warning("enrolled %s but it is not readable yet", result.employee_id)
            return Employee(result.employee_id, result.name or "", datetime.now().astimezone(), ())
        return employee
