"""Attendance records, one per employee per day, updated with optimistic concurrency, and the
admins' corrections of them.

Records are written by whole-document replace guarded by a version number rather than by
``$min``/``$max`` updates: that is safe with several recorders on real MongoDB and also correct
on the MongoDB-wire emulator used in tests, which stores datetimes given to ``$set`` as strings.

Corrections live in a collection of their own, one document per employee and day, so that the
record the cameras made is kept as it was and no sighting, however late it is delivered, can
overwrite a manual value: the recorder never writes there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pymongo.errors import DuplicateKeyError

from services.common.domain.attendance import (
    AttendanceRecord,
    Observation,
    apply_sighting,
    record_id_for,
)
from services.common.storage.mongo import Document, MongoDatabase
from services.common.workday import Correction, ManualTime

logger = logging.getLogger(__name__)

MAX_WRITE_CONFLICTS = 20
# Per-employee schedules (services.web.schedules) are attendance data too: erasing an employee
# through delete_for_employee removes them with the records and corrections.
SCHEDULE_OVERRIDES = "work_schedules"
# A record's field listing its sightings the liveness check flagged (absent: none).
FLAGGED = "liveness_flagged_sightings"


class ConcurrentUpdateError(RuntimeError):
    """Another writer kept winning the race for the same record (retry the message later)."""


@dataclass(frozen=True)
class StoredRecord:
    record: AttendanceRecord
    employee_name: str
    # Sightings of the record (arrival, latest, departure) the liveness check judged an attack
    # in LIVENESS=flag mode: recorded, but marked for a person to look at.
    flagged_sightings: frozenset[str] = frozenset()

    @property
    def arrival_flagged(self) -> bool:
        return self.record.arrival.sighting_id in self.flagged_sightings

    @property
    def departure_flagged(self) -> bool:
        departure = self.record.departure
        return departure is not None and departure.sighting_id in self.flagged_sightings

    @property
    def liveness_flagged(self) -> bool:
        """Whether a time of the record came from a sighting the liveness check flagged."""
        return bool(self.flagged_sightings)


@dataclass(frozen=True)
class StoredCorrection:
    employee_id: str
    day: date
    correction: Correction


class AttendanceRepository:
    def __init__(self, db: MongoDatabase) -> None:
        self._records = db.attendance
        self._corrections = db.attendance_corrections
        self._schedules = db[SCHEDULE_OVERRIDES]

    def record_sighting(
        self,
        employee_id: str,
        employee_name: str,
        observation: Observation,
        day: date,
        departure_min_gap: timedelta,
        *,
        flagged: bool = False,
    ) -> AttendanceRecord:
        """Fold a sighting into the day's record and store it; safe to repeat. ``flagged``:
        the liveness check judged the sighting an attack (LIVENESS=flag); the record keeps
        the mark while that sighting is one of its times."""
        for _ in range(MAX_WRITE_CONFLICTS):
            document = self._records.find_one({"day": day.isoformat(), "employee_id": employee_id})
            current = _to_record(document) if document else None
            updated = apply_sighting(current, employee_id, observation, day, departure_min_gap)
            before = _flags(document)
            marks = _kept_flags(updated, before | ({observation.sighting_id} if flagged else set()))
            if current is not None and updated == current and marks == before:
                return current
            replacement = {**_to_document(updated, employee_name), FLAGGED: sorted(marks)}
            if document is None:
                try:
                    self._records.insert_one({**replacement, "version": 1})
                    return updated
                except DuplicateKeyError:
                    continue
            version = document.get("version", 0)
            result = self._records.replace_one(
                {"_id": document["_id"], "version": version},
                {**replacement, "version": version + 1},
            )
            if result.matched_count == 1:
                return updated
        raise ConcurrentUpdateError(f"record for {employee_id} on {day} kept changing")

    def get(self, record_id: str) -> StoredRecord | None:
        document = self._records.find_one({"_id": record_id})
        return _to_stored(document) if document else None

    def for_day(self, day: date) -> list[StoredRecord]:
        cursor = self._records.find({"day": day.isoformat()}).sort("employee_name", 1)
        return [_to_stored(document) for document in cursor]

    def for_employee(self, employee_id: str, first: date, last: date) -> list[StoredRecord]:
        cursor = self._records.find(
            {
                "employee_id": employee_id,
                "day": {"$gte": first.isoformat(), "$lte": last.isoformat()},
            }
        ).sort("day", -1)
        return [_to_stored(document) for document in cursor]

    def latest_for_employee(self, employee_id: str) -> StoredRecord | None:
        """The employee's most recent record (for "last seen"), via the (employee, day) index."""
        cursor = self._records.find({"employee_id": employee_id}).sort("day", -1).limit(1)
        documents = list(cursor)
        return _to_stored(documents[0]) if documents else None

    def between(self, first: date, last: date) -> list[StoredRecord]:
        cursor = self._records.find(
            {"day": {"$gte": first.isoformat(), "$lte": last.isoformat()}}
        ).sort([("day", 1), ("employee_name", 1)])
        return [_to_stored(document) for document in cursor]

    def for_period(
        self, first: date, last: date, employee_id: str | None = None
    ) -> list[StoredRecord]:
        """Records of ``first``..``last``, of one employee or of everyone."""
        query: Document = {"day": {"$gte": first.isoformat(), "$lte": last.isoformat()}}
        if employee_id is not None:
            query["employee_id"] = employee_id
        cursor = self._records.find(query).sort([("day", 1), ("employee_name", 1)])
        return [_to_stored(document) for document in cursor]

    def delete_for_employee(self, employee_id: str) -> int:
        """Every record, correction and schedule of the employee; answers the records' count."""
        self._corrections.delete_many({"employee_id": employee_id})
        self._schedules.delete_many({"_id": employee_id})
        return self._records.delete_many({"employee_id": employee_id}).deleted_count

    # -- corrections -------------------------------------------------------------------------
    def correction(self, employee_id: str, day: date) -> Correction | None:
        document = self._corrections.find_one({"_id": record_id_for(day, employee_id)})
        return _to_correction(document) if document else None

    def corrections_between(
        self, first: date, last: date, employee_id: str | None = None
    ) -> list[StoredCorrection]:
        query: Document = {"day": {"$gte": first.isoformat(), "$lte": last.isoformat()}}
        if employee_id is not None:
            query["employee_id"] = employee_id
        return [
            StoredCorrection(
                document["employee_id"],
                date.fromisoformat(document["day"]),
                _to_correction(document),
            )
            for document in self._corrections.find(query)
        ]

    def set_correction(self, employee_id: str, day: date, correction: Correction) -> None:
        """Store the day's correction, replacing the previous one (the audit log keeps that);
        a correction that changes nothing restores the day as recorded."""
        key = record_id_for(day, employee_id)
        if not correction.changes_anything:
            self._corrections.delete_one({"_id": key})
            return
        # A whole-document replace keeps datetimes as datetimes on the test emulator too.
        self._corrections.replace_one(
            {"_id": key},
            {
                "_id": key,
                "employee_id": employee_id,
                "day": day.isoformat(),
                "arrival": _manual_document(correction.arrival),
                "departure": _manual_document(correction.departure),
                "mark": correction.mark,
                "reason": correction.reason,
                "made_by": correction.made_by,
                "made_at": correction.made_at,
            },
            upsert=True,
        )

    def picture_ids(self) -> set[str]:
        """Every picture an attendance record points at (retention must keep these)."""
        ids: set[str] = set()
        for document in self._records.find({}, {"arrival": 1, "latest": 1}):
            for key in ("arrival", "latest"):
                ids.add(document[key]["picture_id"])
        return ids


def _flags(document: Document | None) -> set[str]:
    return set(document.get(FLAGGED) or ()) if document else set()


def _kept_flags(record: AttendanceRecord, flagged: set[str]) -> set[str]:
    """The flagged sightings that are still one of the record's times (a later sighting that
    replaced a flagged departure takes the mark away with it)."""
    times = {record.arrival.sighting_id, record.latest.sighting_id}
    if record.departure is not None:
        times.add(record.departure.sighting_id)
    return flagged & times


def _observation_document(observation: Observation) -> Document:
    return {
        "seen_at": observation.seen_at,
        "sighting_id": observation.sighting_id,
        "camera_id": observation.camera_id,
        "picture_id": observation.picture_id,
    }


def _to_document(record: AttendanceRecord, employee_name: str) -> Document:
    return {
        "_id": record.record_id,
        "employee_id": record.employee_id,
        "employee_name": employee_name,
        "day": record.day.isoformat(),
        "arrival": _observation_document(record.arrival),
        "latest": _observation_document(record.latest),
        "departure": _observation_document(record.departure) if record.departure else None,
    }


def _to_observation(document: Document) -> Observation:
    return Observation(
        seen_at=document["seen_at"],
        sighting_id=document["sighting_id"],
        camera_id=document["camera_id"],
        picture_id=document["picture_id"],
    )


def _to_record(document: Document) -> AttendanceRecord:
    departure = document.get("departure")
    return AttendanceRecord(
        record_id=document["_id"],
        employee_id=document["employee_id"],
        day=date.fromisoformat(document["day"]),
        arrival=_to_observation(document["arrival"]),
        latest=_to_observation(document["latest"]),
        departure=_to_observation(departure) if departure else None,
    )


def _manual_document(value: ManualTime | None) -> Document | None:
    # None: as recorded; {"at": None}: there was none; {"at": moment}: set by hand.
    return None if value is None else {"at": value.at}


def _to_manual(document: Document | None) -> ManualTime | None:
    return None if document is None else ManualTime(document.get("at"))


def _to_correction(document: Document) -> Correction:
    made_at: datetime | None = document.get("made_at")
    return Correction(
        arrival=_to_manual(document.get("arrival")),
        departure=_to_manual(document.get("departure")),
        mark=document.get("mark"),
        reason=document.get("reason", ""),
        made_by=document.get("made_by", ""),
        made_at=made_at,
    )


def _to_stored(document: Document) -> StoredRecord:
    return StoredRecord(
        _to_record(document), document.get("employee_name", ""), frozenset(_flags(document))
    )
