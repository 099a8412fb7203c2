"""Enrolment over the bus: the web process asks the recognizer, which owns the models."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from services.common.bus.base import Communicator
from services.common.bus.topology import ENROLMENTS
from services.common.contracts import EnrolmentRequest, EnrolmentResult, new_id, utc_now
from services.common.domain.enrolment import EnrolmentError, FaceBox, FacePreview
from services.common.storage.employees import Employee, EmployeeRepository

logger = logging.getLogger(__name__)

# A request expires this long before the client stops waiting for its answer (a fraction of the
# timeout, at most MAX_STORE_GRACE_S): the recognizer stores nothing after the expiry, and a
# store it began just before still has the grace to report back. So a timeout means nothing was
# stored and nothing will be.
STORE_GRACE_FRACTION = 0.2
MAX_STORE_GRACE_S = 5.0


class BusEnrolmentClient:
    """The :class:`~services.recognizer.enrolment.Enroller` interface, answered by a recognizer.

    Requests wait ``timeout`` seconds for their answer, and expire shortly before (see
    :data:`STORE_GRACE_FRACTION`): a :class:`~services.common.bus.base.RequestTimeout` means the
    recognizer registered nothing and never will for that request.
    """

    def __init__(
        self, bus: Communicator, employees: EmployeeRepository, timeout: float = 30.0
    ) -> None:
        self._bus = bus
        self._employees = employees
        self._timeout = timeout

    def enroll(
        self, name: str, photos: Sequence[bytes], *, allow_duplicate_face: bool = False
    ) -> Employee:
        return self._send(
            EnrolmentRequest(
                request_id=new_id(),
                name=name,
                photos=list(photos),
                allow_duplicate_face=allow_duplicate_face,
                expires_at=self._expiry(),
            )
        )

    def add_photos(
        self, employee_id: str, photos: Sequence[bytes], *, allow_duplicate_face: bool = False
    ) -> Employee:
        return self._send(
            EnrolmentRequest(
                request_id=new_id(),
                employee_id=employee_id,
                photos=list(photos),
                allow_duplicate_face=allow_duplicate_face,
                expires_at=self._expiry(),
            )
        )

    def preview(self, photo: bytes) -> FacePreview:
        result = self._ask(
            EnrolmentRequest(
                request_id=new_id(), photos=[photo], preview=True, expires_at=self._expiry()
            )
        )
        if result.face_jpeg is None or result.face_box is None:
            raise EnrolmentError("preview_failed", "the recognizer answered without a face")
        return FacePreview(
            result.face_jpeg, FaceBox(**result.face_box.model_dump()), result.liveness_hint
        )

    def _expiry(self) -> datetime:
        grace = min(MAX_STORE_GRACE_S, self._timeout * STORE_GRACE_FRACTION)
        return utc_now() + timedelta(seconds=self._timeout - grace)

    def _ask(self, request: EnrolmentRequest) -> EnrolmentResult:
        result = self._bus.request(ENROLMENTS, request, EnrolmentResult, self._timeout)
        if not result.ok:
            raise EnrolmentError(
                result.error_code or "enrolment_failed",
                result.error or "failed",
                conflicting_employee_id=result.conflicting_employee_id,
            )
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
