"""What every request handler needs, built once by the app factory."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from flask import current_app
from pymongo.database import Database

from services.common.bus.base import Communicator
from services.common.cache import KeyValueCache
from services.common.contracts import utc_now
from services.common.domain.attendance import attendance_day
from services.common.domain.enrolment import FacePreview
from services.common.storage.accounts import UserStore
from services.common.storage.attendance import AttendanceRepository
from services.common.storage.audit import AuditLog
from services.common.storage.employees import Employee, EmployeeRepository
from services.common.storage.pictures import PictureStore
from services.common.storage.sightings import SightingLog
from services.web.live_feed import LiveFeed
from services.web.settings import WebSettings


class EnrolmentService(Protocol):
    """The :class:`services.recognizer.enrolment.Enroller` interface (raises EnrolmentError)."""

    def enroll(
        self, name: str, photos: Sequence[bytes], *, allow_duplicate_face: bool = False
    ) -> Employee: ...

    def add_photos(
        self, employee_id: str, photos: Sequence[bytes], *, allow_duplicate_face: bool = False
    ) -> Employee: ...

    def preview(self, photo: bytes) -> FacePreview: ...


@dataclass
class WebContext:
    settings: WebSettings
    db: Database
    cache: KeyValueCache
    bus: Communicator
    enrol: EnrolmentService | None
    employees: EmployeeRepository
    attendance: AttendanceRepository
    sightings: SightingLog
    pictures: PictureStore
    users: UserStore
    live: LiveFeed
    audit: AuditLog

    @property
    def zone(self) -> ZoneInfo:
        return self.settings.zone

    def today(self, now: datetime | None = None) -> date:
        return attendance_day(now or utc_now(), self.zone, self.settings.day_start_hour)

    def local(self, moment: datetime | None) -> datetime | None:
        return moment.astimezone(self.zone) if moment is not None else None


def ctx() -> WebContext:
    return current_app.extensions["attendance"]
