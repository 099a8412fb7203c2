"""JPEG pictures (sighting snapshots, face crops, enrolment photos) kept in MongoDB."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from bson import Binary
from pymongo.errors import DuplicateKeyError

from services.common.storage.mongo import MongoDatabase


class PictureStore:
    def __init__(self, db: MongoDatabase) -> None:
        self._pictures = db.pictures

    def put(self, picture_id: str, jpeg: bytes, *, owner_id: str, kind: str) -> None:
        """Store a picture under a caller-chosen id; storing the same id again is harmless.

        Picture ids are derived from what they show (a sighting, an enrolment photo), so a
        second write of an id carries the same picture and is simply skipped.
        """
        with contextlib.suppress(DuplicateKeyError):
            self._pictures.insert_one(
                {
                    "_id": picture_id,
                    "jpeg": Binary(jpeg),
                    "owner_id": owner_id,
                    "kind": kind,
                    "bytes": len(jpeg),
                }
            )

    def get(self, picture_id: str) -> bytes | None:
        document = self._pictures.find_one({"_id": picture_id}, {"jpeg": 1})
        return bytes(document["jpeg"]) if document else None

    def delete(self, picture_ids: Iterable[str]) -> int:
        ids = list(picture_ids)
        if not ids:
            return 0
        return self._pictures.delete_many({"_id": {"$in": ids}}).deleted_count

    def give(self, picture_id: str, owner_id: str, kind: str) -> bool:
        """Make ``owner_id`` the owner of a stored picture (deleting them deletes it)."""
        result = self._pictures.update_one(
            {"_id": picture_id}, {"$set": {"owner_id": owner_id, "kind": kind}}
        )
        return result.matched_count == 1

    def delete_owned_by(self, owner_id: str) -> int:
        return self._pictures.delete_many({"owner_id": owner_id}).deleted_count
