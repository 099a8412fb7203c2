"""Employees and their face embeddings.

Every embedding names the model that computed it; the gallery only ever loads embeddings of the
model the recognizer runs, so vectors of two models are never compared.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from bson import Binary
from pymongo.errors import DuplicateKeyError

from services.common.contracts import utc_now
from services.common.domain.enrolment import (
    EMBEDDING_SIZE,
    EmployeeError,
    EnrolmentErrorCode,
    name_key,
    normalize_name,
)
from services.common.storage.mongo import Document, MongoDatabase
from services.common.storage.pictures import PictureStore


@dataclass(frozen=True)
class Employee:
    employee_id: str
    name: str
    created_at: datetime
    photo_ids: tuple[str, ...]


@dataclass(frozen=True)
class NewFace:
    """One enrolment photo's face: the photo, its face crop and the embedding to store."""

    photo_jpeg: bytes
    face_jpeg: bytes
    embedding: np.ndarray


def new_employee_id() -> str:
    return uuid.uuid4().hex[:12]


def _checked_id(employee_id: object) -> str:
    # The last line of defence: a dict here would be read by MongoDB as an operator
    # ({"$gt": ""} matches everyone), so only a plain string ever becomes part of a query.
    if not isinstance(employee_id, str):
        raise EmployeeError(EnrolmentErrorCode.NOT_FOUND, "an employee id is a string")
    return employee_id


class EmployeeRepository:
    def __init__(self, db: MongoDatabase) -> None:
        self._db = db
        self._employees = db.employees
        self._embeddings = db.embeddings
        self.pictures = PictureStore(db)

    def create(self, name: str, faces: list[NewFace], model_id: str) -> Employee:
        """Register an employee with at least one face; nothing is left behind on failure."""
        name = normalize_name(name)
        if not faces:
            raise EmployeeError(
                EnrolmentErrorCode.PHOTO_REQUIRED, "at least one photo with a face is required"
            )
        if self.find_by_name(name) is not None:
            raise _duplicate(name)
        employee_id = new_employee_id()
        photo_ids = self._store_faces(employee_id, faces, model_id)
        # The employee document is written last: the gallery only loads embeddings of
        # employees that exist, so a crash before this line leaves nothing recognisable.
        document = {
            "_id": employee_id,
            "name": name,
            "name_key": name.casefold(),
            "created_at": utc_now(),
            "photo_ids": photo_ids,
        }
        try:
            self._employees.insert_one(document)
        except DuplicateKeyError:
            self._remove_faces(employee_id)
            raise _duplicate(name) from None
        return _to_employee(document)

    def add_faces(self, employee_id: str, faces: list[NewFace], model_id: str) -> Employee:
        employee_id = _checked_id(employee_id)
        employee = self.get(employee_id)
        if employee is None:
            raise EmployeeError(EnrolmentErrorCode.NOT_FOUND, f"no employee with id {employee_id}")
        photo_ids = self._store_faces(employee_id, faces, model_id)
        self._employees.update_one(
            {"_id": employee_id}, {"$push": {"photo_ids": {"$each": photo_ids}}}
        )
        return self.get(employee_id) or employee

    def get(self, employee_id: str) -> Employee | None:
        document = self._employees.find_one({"_id": _checked_id(employee_id)})
        return _to_employee(document) if document else None

    def find_by_name(self, name: str) -> Employee | None:
        document = self._employees.find_one({"name_key": name_key(name)})
        return _to_employee(document) if document else None

    def search(self, text: str, limit: int = 10) -> list[Employee]:
        needle = re.escape(" ".join(text.split()).casefold())
        cursor = self._employees.find({"name_key": {"$regex": needle}}).sort("name_key", 1)
        return [_to_employee(document) for document in cursor.limit(limit)]

    def list_all(self) -> list[Employee]:
        return [_to_employee(d) for d in self._employees.find().sort("name_key", 1)]

    def names(self, employee_ids: list[str]) -> dict[str, str]:
        cursor = self._employees.find({"_id": {"$in": employee_ids}}, {"name": 1})
        return {document["_id"]: document["name"] for document in cursor}

    def gallery(self, model_id: str) -> tuple[list[str], np.ndarray]:
        """Employee ids (one per row) and embeddings of ``model_id`` for existing employees."""
        existing = {document["_id"] for document in self._employees.find({}, {"_id": 1})}
        ids: list[str] = []
        rows: list[np.ndarray] = []
        for document in self._embeddings.find({"model_id": model_id}).sort("_id", 1):
            if document["employee_id"] in existing:
                ids.append(document["employee_id"])
                rows.append(np.frombuffer(bytes(document["vector"]), dtype=np.float32))
        matrix = np.vstack(rows) if rows else np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)
        return ids, matrix

    def embedding_models(self) -> dict[str, int]:
        """How many embeddings each model has (to tell an operator what a model switch needs)."""
        counts: dict[str, int] = {}
        for document in self._embeddings.find({}, {"model_id": 1}):
            counts[document["model_id"]] = counts.get(document["model_id"], 0) + 1
        return counts

    def photos_without_embedding(self, model_id: str) -> list[tuple[str, str]]:
        """(photo id, employee id) of every enrolment photo of an existing employee that has
        embeddings of other recipes but none of ``model_id``: what a re-embedding still owes."""
        existing = {document["_id"] for document in self._employees.find({}, {"_id": 1})}
        done: set[str] = set()
        owed: dict[str, str] = {}
        projection = {"photo_id": 1, "employee_id": 1, "model_id": 1}
        for document in self._embeddings.find({}, projection).sort("_id", 1):
            photo_id = document.get("photo_id")
            if not photo_id or document["employee_id"] not in existing:
                continue
            if document["model_id"] == model_id:
                done.add(photo_id)
            else:
                owed.setdefault(photo_id, document["employee_id"])
        return sorted((photo, owner) for photo, owner in owed.items() if photo not in done)

    def add_embedding(
        self, photo_id: str, employee_id: str, model_id: str, embedding: np.ndarray
    ) -> None:
        """Store the ``model_id`` embedding of an enrolment photo; storing it again replaces it,
        so an interrupted re-embedding can simply run again."""
        vector = np.asarray(embedding, dtype=np.float32).reshape(-1)
        if vector.shape != (EMBEDDING_SIZE,):
            raise ValueError(f"embedding must have {EMBEDDING_SIZE} values")
        document_id = f"{photo_id}|{model_id}"
        # Delete and insert rather than an upsert: a crash in between only leaves the photo
        # owed again, and the MongoDB-wire server of the tests cannot replace binary fields.
        self._embeddings.delete_one({"_id": document_id})
        self._embeddings.insert_one(
            {
                "_id": document_id,
                "employee_id": _checked_id(employee_id),
                "model_id": model_id,
                "vector": Binary(vector.tobytes()),
                "photo_id": photo_id,
                "created_at": utc_now(),
            }
        )
        # An employee erased meanwhile must not keep a face vector behind.
        if self._employees.count_documents({"_id": employee_id}, limit=1) == 0:
            self._embeddings.delete_many({"employee_id": employee_id})

    def delete(self, employee_id: str) -> bool:
        """Remove the employee document and every embedding and enrolment picture of theirs."""
        employee_id = _checked_id(employee_id)
        deleted = self._employees.delete_one({"_id": employee_id}).deleted_count == 1
        self._remove_faces(employee_id)
        return deleted

    def _store_faces(self, employee_id: str, faces: list[NewFace], model_id: str) -> list[str]:
        photo_ids: list[str] = []
        for face in faces:
            vector = np.asarray(face.embedding, dtype=np.float32).reshape(-1)
            if vector.shape != (EMBEDDING_SIZE,):
                raise ValueError(f"embedding must have {EMBEDDING_SIZE} values")
            photo_id = f"enrol-{employee_id}-{uuid.uuid4().hex[:8]}"
            self.pictures.put(photo_id, face.photo_jpeg, owner_id=employee_id, kind="enrolment")
            self.pictures.put(
                f"{photo_id}-face", face.face_jpeg, owner_id=employee_id, kind="enrolment_face"
            )
            self._embeddings.insert_one(
                {
                    "_id": uuid.uuid4().hex,
                    "employee_id": employee_id,
                    "model_id": model_id,
                    "vector": Binary(vector.tobytes()),
                    "photo_id": photo_id,
                    "created_at": utc_now(),
                }
            )
            photo_ids.append(photo_id)
        return photo_ids

    def _remove_faces(self, employee_id: str) -> None:
        self._embeddings.delete_many({"employee_id": employee_id})
        self.pictures.delete_owned_by(employee_id)


def _duplicate(name: str) -> EmployeeError:
    return EmployeeError(
        EnrolmentErrorCode.DUPLICATE_NAME, f"an employee named {name!r} is already registered"
    )


def _to_employee(document: Document) -> Employee:
    return Employee(
        employee_id=document["_id"],
        name=document["name"],
        created_at=document["created_at"],
        photo_ids=tuple(document.get("photo_ids", ())),
    )
