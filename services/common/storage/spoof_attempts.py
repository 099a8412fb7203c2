"""Spoof attempts: tracks the liveness check judged to be a photo or a screen, kept for admins.

One attempt per track (its id derives from the camera and the track, so a redelivered or
repeated decision stores nothing new), with the track's best frame and face, whom the face
resembled and how closely, and the liveness score that gave it away.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from services.common.contracts import Identifier, SpoofAction, UtcDatetime
from services.common.storage.mongo import Document, MongoDatabase
from services.common.storage.pictures import PictureStore

# Owner of the pictures: not the resembled employee, whose erasure goes through
# SpoofAttemptLog.delete_for_employee (the attempt and its pictures together).
PICTURE_OWNER = "spoof-attempts"
# Largest page an admin can ask for; the page shows 24.
MAX_PAGE_SIZE = 200
_ATTEMPT_NAMESPACE = uuid.UUID("6c1d3f1e-6a2b-4e55-9a57-3b1f5c0e2d41")


def attempt_id_for(camera_id: str, track_id: str) -> str:
    """The id of a track's attempt: the same camera and track always give the same id."""
    return uuid.uuid5(_ATTEMPT_NAMESPACE, f"{camera_id}\x00{track_id}").hex


def snapshot_picture_id(attempt_id: str) -> str:
    return f"spoof-{attempt_id}"


def face_picture_id(attempt_id: str) -> str:
    return f"spoof-{attempt_id}-face"


class NewSpoofAttempt(BaseModel):
    """What the recorder stores for an attack track, validated before it touches the database."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attempt_id: Identifier
    camera_id: Identifier
    track_id: Identifier
    seen_at: UtcDatetime
    # The enrolled person the face resembled, if any (an attack on nobody is still one).
    employee_id: Identifier | None = None
    employee_name: Annotated[str, Field(max_length=120)] | None = None
    similarity: Annotated[float, Field(ge=-1.0, le=1.0)] | None = None
    # The track's liveness: its faces' mean score and how many were scored.
    liveness_score: Annotated[float, Field(ge=0.0, le=1.0)]
    faces_scored: Annotated[int, Field(ge=1)]
    action: SpoofAction = "blocked"
    snapshot_jpeg: Annotated[bytes, Field(min_length=1)]
    face_jpeg: Annotated[bytes, Field(min_length=1)]


@dataclass(frozen=True)
class SpoofAttempt:
    attempt_id: str
    camera_id: str
    track_id: str
    seen_at: datetime
    employee_id: str | None
    employee_name: str | None
    similarity: float | None
    liveness_score: float
    faces_scored: int
    action: SpoofAction
    snapshot_id: str
    face_id: str


class SpoofAttemptLog:
    def __init__(self, db: MongoDatabase, pictures: PictureStore) -> None:
        self._attempts = db.spoof_attempts
        self._pictures = pictures

    def ensure_indexes(self) -> None:
        self._attempts.create_index([("seen_at", DESCENDING)])
        self._attempts.create_index([("employee_id", ASCENDING)])

    def add(self, attempt: NewSpoofAttempt) -> bool:
        """Store an attempt and its pictures; False if that attempt was already stored."""
        # Pictures first: a crash between leaves orphans a redelivery rewrites, never an
        # attempt without its pictures.
        self._pictures.put(
            snapshot_picture_id(attempt.attempt_id),
            attempt.snapshot_jpeg,
            owner_id=PICTURE_OWNER,
            kind="spoof-snapshot",
        )
        self._pictures.put(
            face_picture_id(attempt.attempt_id),
            attempt.face_jpeg,
            owner_id=PICTURE_OWNER,
            kind="spoof-face",
        )
        document = attempt.model_dump(exclude={"attempt_id", "snapshot_jpeg", "face_jpeg"})
        try:
            self._attempts.insert_one({"_id": attempt.attempt_id, **document})
        except DuplicateKeyError:
            return False
        return True

    def get(self, attempt_id: str) -> SpoofAttempt | None:
        document = self._attempts.find_one({"_id": attempt_id})
        return _to_attempt(document) if document else None

    def page(self, page: int = 1, page_size: int = 24) -> list[SpoofAttempt]:
        """The attempts newest first, ``page_size`` at a time (pages count from 1)."""
        if page < 1:
            raise ValueError(f"pages count from 1, not {page}")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page size must be 1 to {MAX_PAGE_SIZE}, not {page_size}")
        cursor = (
            self._attempts.find({})
            .sort([("seen_at", DESCENDING), ("_id", DESCENDING)])
            .skip((page - 1) * page_size)
            .limit(page_size)
        )
        return [_to_attempt(document) for document in cursor]

    def count(self) -> int:
        return self._attempts.count_documents({})

    def count_since(self, since: datetime) -> int:
        return self._attempts.count_documents({"seen_at": {"$gte": since}})

    def per_day(self, zone: ZoneInfo, first: date, last: date) -> dict[date, int]:
        """Attempts per day of the site's zone, every day from ``first`` to ``last`` included
        (zero days too), for the dashboard's counter and a chart."""
        if last < first:
            raise ValueError("last day before first day")
        start = datetime.combine(first, datetime.min.time(), zone)
        end = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone)
        counts = {first + timedelta(days=n): 0 for n in range((last - first).days + 1)}
        # Counted here, not by an aggregation: the site's zone and its DST are Python's, and
        # the wire emulator's date operators cannot be relied on.
        cursor = self._attempts.find({"seen_at": {"$gte": start, "$lt": end}}, {"seen_at": 1})
        for document in cursor:
            day = document["seen_at"].astimezone(zone).date()
            if day in counts:
                counts[day] += 1
        return counts

    def delete_for_employee(self, employee_id: str) -> int:
        """Forget the attempts that resembled an employee (their erasure): attempts and pictures."""
        ids = [d["_id"] for d in self._attempts.find({"employee_id": employee_id}, {"_id": 1})]
        self._pictures.delete(
            picture
            for attempt_id in ids
            for picture in (snapshot_picture_id(attempt_id), face_picture_id(attempt_id))
        )
        if ids:
            self._attempts.delete_many({"_id": {"$in": ids}})
        return len(ids)


def _to_attempt(document: Document) -> SpoofAttempt:
    return SpoofAttempt(
        attempt_id=document["_id"],
        camera_id=document["camera_id"],
        track_id=document["track_id"],
        seen_at=document["seen_at"],
        employee_id=document.get("employee_id"),
        employee_name=document.get("employee_name"),
        similarity=document.get("similarity"),
        liveness_score=document["liveness_score"],
        faces_scored=document["faces_scored"],
        action=document.get("action", "blocked"),
        snapshot_id=snapshot_picture_id(document["_id"]),
        face_id=face_picture_id(document["_id"]),
    )
