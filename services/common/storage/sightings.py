"""The sightings log: every face the recognizer reported, known or not, with its pictures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pymongo.errors import DuplicateKeyError

from services.common.contracts import SightingMessage
from services.common.storage.mongo import Document, MongoDatabase
from services.common.storage.pictures import PictureStore

UNKNOWN_OWNER = "unknown"


@dataclass(frozen=True)
class LoggedSighting:
    sighting_id: str
    camera_id: str
    seen_at: datetime
    employee_id: str | None
    employee_name: str | None
    similarity: float | None
    snapshot_id: str
    face_id: str
    track_id: str | None = None
    # The face's box in the snapshot, in pixels: its area ranks a group's faces.
    box_area: int = 0


def snapshot_picture_id(sighting_id: str) -> str:
    return f"sighting-{sighting_id}"


def face_picture_id(sighting_id: str) -> str:
    return f"sighting-{sighting_id}-face"


class SightingLog:
    def __init__(self, db: MongoDatabase, pictures: PictureStore) -> None:
        self._sightings = db.sightings
        self._pictures = pictures

    def add(self, sighting: SightingMessage) -> bool:
        """Store a sighting and its pictures; return False if it was already stored."""
        owner = sighting.employee_id or UNKNOWN_OWNER
        # Pictures first: a crash after them leaves harmless orphans that a redelivery
        # overwrites, never a logged sighting without its picture.
        self._pictures.put(
            snapshot_picture_id(sighting.sighting_id),
            sighting.snapshot_jpeg,
            owner_id=owner,
            kind="snapshot",
        )
        self._pictures.put(
            face_picture_id(sighting.sighting_id), sighting.face_jpeg, owner_id=owner, kind="face"
        )
        try:
            self._sightings.insert_one(
                {
                    "_id": sighting.sighting_id,
                    "camera_id": sighting.camera_id,
                    "frame_id": sighting.frame_id,
                    "seen_at": sighting.seen_at,
                    "employee_id": sighting.employee_id,
                    # An explicit flag: null-matching queries are unreliable on the wire emulator.
                    "known": sighting.is_known,
                    "employee_name": sighting.employee_name,
                    "similarity": sighting.similarity,
                    "model_id": sighting.model_id,
                    "track_id": sighting.track_id,
                    "box": sighting.box.model_dump(),
                }
            )
        except DuplicateKeyError:
            return False
        return True

    def recent(self, limit: int = 50, *, known: bool | None = None) -> list[LoggedSighting]:
        query = {} if known is None else {"known": known}
        cursor = self._sightings.find(query).sort("seen_at", -1).limit(limit)
        return [_to_logged(document) for document in cursor]

    def get(self, sighting_id: str) -> LoggedSighting | None:
        document = self._sightings.find_one({"_id": sighting_id})
        return _to_logged(document) if document else None

    def previous_of(
        self, employee_id: str, before: datetime, since: datetime
    ) -> LoggedSighting | None:
        """The employee's latest sighting in [since, before) (the one before a given one)."""
        cursor = (
            self._sightings.find(
                {"employee_id": employee_id, "seen_at": {"$gte": since, "$lt": before}}
            )
            .sort("seen_at", -1)
            .limit(1)
        )
        documents = list(cursor)
        return _to_logged(documents[0]) if documents else None

    def unknown_between(
        self, first: datetime | None, last: datetime | None
    ) -> list[LoggedSighting]:
        """Every unknown face seen in [first, last) (either bound may be open), oldest first."""
        query: Document = {"known": False}
        bounds = {}
        if first is not None:
            bounds["$gte"] = first
        if last is not None:
            bounds["$lt"] = last
        if bounds:
            query["seen_at"] = bounds
        cursor = self._sightings.find(query, {"similarity": 0}).sort("seen_at", 1)
        return [_to_logged(document) for document in cursor]

    def unknown_marker(self) -> str:
        """Changes whenever unknown faces are added, assigned or removed: how many there are
        and the newest one (two small queries, instead of reading them all)."""
        count = self._sightings.count_documents({"known": False})
        newest = self._sightings.find_one({"known": False}, {"_id": 1}, sort=[("seen_at", -1)])
        return f"{count}:{newest['_id'] if newest else ''}"

    def assign(self, sighting_ids: list[str], employee_id: str, employee_name: str) -> int:
        """Make unknown sightings the employee's: known, theirs, and their pictures with them
        (so erasing the employee erases these too)."""
        changed = 0
        for sighting_id in sighting_ids:
            document = self._sightings.find_one({"_id": sighting_id, "known": False})
            if document is None:
                continue
            # Read, change, replace: the wire emulator stores a $set datetime as a string.
            document.update(employee_id=employee_id, employee_name=employee_name, known=True)
            self._sightings.replace_one({"_id": sighting_id}, document)
            for picture_id, kind in (
                (snapshot_picture_id(sighting_id), "snapshot"),
                (face_picture_id(sighting_id), "face"),
            ):
                self._give_picture(picture_id, kind, employee_id)
            changed += 1
        return changed

    def _give_picture(self, picture_id: str, kind: str, owner_id: str) -> None:
        self._pictures.give(picture_id, owner_id, kind)

    def count(self, *, known: bool | None = None) -> int:
        return self._sightings.count_documents({} if known is None else {"known": known})

    def delete_for_employee(self, employee_id: str) -> int:
        return self._sightings.delete_many({"employee_id": employee_id}).deleted_count

    def remove(self, sighting_id: str) -> bool:
        """Delete one sighting and its two pictures (an unknown face dismissed or assigned)."""
        self._pictures.delete([snapshot_picture_id(sighting_id), face_picture_id(sighting_id)])
        return self._sightings.delete_one({"_id": sighting_id}).deleted_count == 1

    def purge_older_than(self, cutoff: datetime, keep_pictures: set[str]) -> int:
        """Apply the retention period; pictures still used by attendance records stay."""
        old = [d["_id"] for d in self._sightings.find({"seen_at": {"$lt": cutoff}}, {"_id": 1})]
        pictures = [
            picture_id
            for sighting_id in old
            for picture_id in (snapshot_picture_id(sighting_id), face_picture_id(sighting_id))
            if picture_id not in keep_pictures
        ]
        self._pictures.delete(pictures)
        if old:
            self._sightings.delete_many({"_id": {"$in": old}})
        return len(old)


def _to_logged(document: Document) -> LoggedSighting:
    return LoggedSighting(
        sighting_id=document["_id"],
        camera_id=document["camera_id"],
        seen_at=document["seen_at"],
        employee_id=document.get("employee_id"),
        employee_name=document.get("employee_name"),
        similarity=document.get("similarity"),
        snapshot_id=snapshot_picture_id(document["_id"]),
        face_id=face_picture_id(document["_id"]),
        track_id=document.get("track_id"),
        box_area=_area(document.get("box")),
    )


def _area(box: Document | None) -> int:
    return int(box["width"]) * int(box["height"]) if box else 0
