"""The recorder: applies the attendance rules to sightings and stores everything in MongoDB."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from services.common.bus.base import Communicator, PermanentError
from services.common.bus.topology import ATTENDANCE_EVENTS, SIGHTINGS
from services.common.contracts import AttendanceEvent, SightingMessage, utc_now
from services.common.domain.attendance import (
    Observation,
    attendance_day,
    event_for,
    implausible_time,
)
from services.common.metrics import RECORDS_WRITTEN, SIGHTINGS_STORED
from services.common.storage.attendance import AttendanceRepository
from services.common.storage.employees import EmployeeRepository
from services.common.storage.sightings import SightingLog, snapshot_picture_id
from services.recorder.settings import RecorderSettings

logger = logging.getLogger(__name__)


class ImplausibleSighting(PermanentError):
    """A sighting whose time no camera can have seen: dead-lettered, with why, unstored."""


class Recorder:
    def __init__(
        self,
        bus: Communicator,
        employees: EmployeeRepository,
        attendance: AttendanceRepository,
        sightings: SightingLog,
        settings: RecorderSettings,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._bus = bus
        self._employees = employees
        self._attendance = attendance
        self._sightings = sightings
        self._settings = settings
        self._clock = clock

    def start(self) -> None:
        self._bus.subscribe(SIGHTINGS, self.handle)

    def handle(self, messages: Sequence[SightingMessage]) -> None:
        # Raising here makes the bus retry the message and, after too many attempts,
        # dead-letter it; returning acknowledges it, so everything is stored before we return.
        for message in messages:
            self.record(message)

    def record(self, sighting: SightingMessage) -> AttendanceEvent | None:
        problem = implausible_time(
            sighting.seen_at,
            self._clock(),
            max_ahead=self._settings.max_ahead,
            max_age=self._settings.max_age,
        )
        if problem is not None:
            raise ImplausibleSighting(f"sighting {sighting.sighting_id}: {problem}")
        employee = None
        if sighting.employee_id is not None:
            employee = self._employees.get(sighting.employee_id)
            if employee is None:
                # Deleted while the face was in flight: keep no trace of them.
                logger.info(
                    "dropping sighting %s of deleted employee %s",
                    sighting.sighting_id,
                    sighting.employee_id,
                )
                return None
        stored = self._sightings.add(sighting)
        SIGHTINGS_STORED.labels("new" if stored else "duplicate").inc()
        if employee is None:
            return None
        day = attendance_day(sighting.seen_at, self._settings.zone, self._settings.day_start_hour)
        observation = Observation(
            seen_at=sighting.seen_at,
            sighting_id=sighting.sighting_id,
            camera_id=sighting.camera_id,
            picture_id=snapshot_picture_id(sighting.sighting_id),
        )
        record = self._attendance.record_sighting(
            employee.employee_id, employee.name, observation, day, self._settings.departure_gap
        )
        RECORDS_WRITTEN.inc()
        event = AttendanceEvent(
            sighting_id=sighting.sighting_id,
            record_id=record.record_id,
            employee_id=employee.employee_id,
            employee_name=employee.name,
            camera_id=sighting.camera_id,
            seen_at=sighting.seen_at,
            day=day.isoformat(),
            event=event_for(record, sighting.sighting_id),
        )
        logger.info(
            "sighting %s of %s recorded in %s as %s",
            sighting.sighting_id,
            employee.employee_id,
            record.record_id,
            event.event,
        )
        try:
            self._bus.publish(ATTENDANCE_EVENTS, event)
        except Exception:
            # Live notifications are best effort; the record itself is already stored.
            logger.warning("could not publish attendance event", exc_info=True)
        return event

    def purge_expired(self) -> int:
        cutoff = self._clock() - timedelta(days=self._settings.sighting_retention_days)
        removed = self._sightings.purge_older_than(cutoff, self._attendance.picture_ids())
        if removed:
            logger.info("retention: removed %d sightings older than %s", removed, cutoff)
        return removed
