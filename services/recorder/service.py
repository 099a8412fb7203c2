"""The recorder: applies the attendance rules to sightings and stores everything in MongoDB.

A sighting the liveness check judged an attack is also stored as a spoof attempt (one per
track; counted in ``attendance_spoof_attempts_total`` when new). A blocked one is nothing
else: no sighting, no attendance, and a ``refused`` event so that a kiosk does not wait for a
greeting; a flagged one is recorded as usual, its attendance marked.
"""

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
from services.common.metrics import RECORDS_WRITTEN, SIGHTINGS_STORED, SPOOF_ATTEMPTS
from services.common.storage.attendance import AttendanceRepository
from services.common.storage.employees import Employee, EmployeeRepository
from services.common.storage.sightings import SightingLog, snapshot_picture_id
from services.common.storage.spoof_attempts import (
    NewSpoofAttempt,
    SpoofAttemptLog,
    attempt_id_for,
)
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
        spoof_attempts: SpoofAttemptLog | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """Without ``spoof_attempts``, attack sightings are logged and not stored as attempts."""
        self._bus = bus
        self._spoof_attempts = spoof_attempts
        self._employees = employees
        self._attendance = attendance
        self._sightings = sightings
        self._settings = settings
        self._clock = clock

    def start(self) -> None:
        if self._spoof_attempts is not None:
            self._spoof_attempts.ensure_indexes()
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
        if sighting.is_blocked:
            return self._refuse(sighting)
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
        if sighting.is_attack:
            self._store_attempt(sighting, employee)
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
            employee.employee_id,
            employee.name,
            observation,
            day,
            self._settings.departure_gap,
            flagged=sighting.is_attack,
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
        self._announce(event)
        return event

    def _refuse(self, sighting: SightingMessage) -> AttendanceEvent | None:
        """A blocked track: its spoof attempt, and a ``refused`` event for the kiosk when the
        face resembled an employee (nobody is greeted; the kiosk says only to look at it)."""
        assert sighting.liveness is not None
        resembled = sighting.liveness.resembled_employee_id
        employee = self._employees.get(resembled) if resembled else None
        attempt_id = self._store_attempt(sighting, employee)
        if employee is None:
            return None
        event = AttendanceEvent(
            sighting_id=sighting.sighting_id,
            record_id=attempt_id,
            employee_id=employee.employee_id,
            employee_name=employee.name,
            camera_id=sighting.camera_id,
            seen_at=sighting.seen_at,
            day=attendance_day(
                sighting.seen_at, self._settings.zone, self._settings.day_start_hour
            ).isoformat(),
            event="refused",
        )
        self._announce(event)
        return event

    def _store_attempt(self, sighting: SightingMessage, employee: Employee | None) -> str:
        """Store the sighting's track as a spoof attempt (once per track); its id."""
        assert sighting.liveness is not None
        liveness = sighting.liveness
        track_id = sighting.track_id or sighting.face_id
        attempt_id = attempt_id_for(sighting.camera_id, track_id)
        action = liveness.action or "flagged"
        similarity = sighting.similarity if employee is not None else None
        attempt = NewSpoofAttempt(
            attempt_id=attempt_id,
            camera_id=sighting.camera_id,
            track_id=track_id,
            seen_at=sighting.seen_at,
            employee_id=employee.employee_id if employee else None,
            employee_name=employee.name if employee else None,
            similarity=None if similarity is None else min(1.0, max(-1.0, similarity)),
            liveness_score=liveness.mean_score,
            faces_scored=liveness.faces_scored,
            action=action,
            snapshot_jpeg=sighting.snapshot_jpeg,
            face_jpeg=sighting.face_jpeg,
        )
        if self._spoof_attempts is None:
            logger.warning("spoof attempt %s not stored (no spoof attempt log)", attempt_id)
            return attempt_id
        if self._spoof_attempts.add(attempt):
            SPOOF_ATTEMPTS.labels(sighting.camera_id, action).inc()
            logger.warning(
                "spoof attempt %s on %s (%s; liveness %.2f over %d faces)%s",
                attempt_id,
                sighting.camera_id,
                action,
                liveness.mean_score,
                liveness.faces_scored,
                f"; it resembled {employee.employee_id}" if employee else "",
            )
        return attempt_id

    def _announce(self, event: AttendanceEvent) -> None:
        try:
            self._bus.publish(ATTENDANCE_EVENTS, event)
        except Exception:
            # Live notifications are best effort; the record itself is already stored.
            logger.warning("could not publish attendance event", exc_info=True)

    def purge_expired(self) -> int:
        cutoff = self._clock() - timedelta(days=self._settings.sighting_retention_days)
        removed = self._sightings.purge_older_than(cutoff, self._attendance.picture_ids())
        if removed:
            logger.info("retention: removed %d sightings older than %s", removed, cutoff)
        return removed
