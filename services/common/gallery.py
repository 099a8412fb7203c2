"""The gallery of employee embeddings, cached for the recognizers.

MongoDB is the system of record. The cache holds one snapshot per model (ids, names, matrix) and
a version number; a recognizer keeps the matrix in memory and reloads only when the version
changes. If the cache is flushed, the first reader rebuilds it from MongoDB.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from dataclasses import dataclass

import numpy as np

from services.common.cache import KeyValueCache
from services.common.storage.employees import EMBEDDING_SIZE, EmployeeRepository

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GallerySnapshot:
    """Rows of L2-normalised embeddings and, per row, the employee id; names per employee."""

    version: int
    employee_ids: tuple[str, ...]
    names: dict[str, str]
    matrix: np.ndarray

    @classmethod
    def empty(cls) -> GallerySnapshot:
        return cls(0, (), {}, np.zeros((0, EMBEDDING_SIZE), dtype=np.float32))


def _normalise(matrix: np.ndarray) -> np.ndarray:
    if len(matrix) == 0:
        return matrix.astype(np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


class Gallery:
    def __init__(self, cache: KeyValueCache, employees: EmployeeRepository, model_id: str) -> None:
        self._cache = cache
        self._employees = employees
        self.model_id = model_id
        self._data_key = f"gallery:{model_id}:data"
        self._version_key = f"gallery:{model_id}:version"
        self._counter_key = f"gallery:{model_id}:counter"
        self._snapshot = GallerySnapshot.empty()
        self._snapshot_version: bytes | None = None

    def changed(self) -> int:
        """Call after employees or embeddings changed: rebuild the cache and bump the version."""
        self._cache.set(self._data_key, self._serialise_from_store())
        number = self._cache.incr(self._counter_key)
        # The number alone could repeat after a flush of the cache (the counter restarts) and a
        # recognizer holding an old snapshot of the same number would never reload; the random
        # suffix makes every rebuild's version unique.
        self._cache.set(self._version_key, f"{number}-{uuid.uuid4().hex[:12]}".encode())
        logger.info("gallery for %s rebuilt, version %d", self.model_id, number)
        return number

    def current(self) -> GallerySnapshot:
        """The snapshot to match against, reloaded only when the cached version moved."""
        version = self._cache.get(self._version_key)
        if version is None:
            self.changed()
            version = self._cache.get(self._version_key)
        if version != self._snapshot_version:
            data = self._cache.get(self._data_key)
            if data is None:
                self.changed()
                version = self._cache.get(self._version_key)
                data = self._cache.get(self._data_key)
            self._snapshot = _deserialise(data or b"", _version_number(version))
            self._snapshot_version = version
            logger.info(
                "gallery loaded: %d embeddings of %d employees (version %s)",
                len(self._snapshot.employee_ids),
                len(self._snapshot.names),
                _version_number(version),
            )
        return self._snapshot

    def _serialise_from_store(self) -> bytes:
        ids, matrix = self._employees.gallery(self.model_id)
        names = self._employees.names(sorted(set(ids)))
        buffer = io.BytesIO()
        np.savez(
            buffer,
            matrix=_normalise(matrix),
            meta=np.frombuffer(json.dumps({"ids": ids, "names": names}).encode(), np.uint8),
        )
        return buffer.getvalue()


def _version_number(version: bytes | None) -> int:
    return int(version.split(b"-", 1)[0]) if version else 0


def _deserialise(data: bytes, version: int) -> GallerySnapshot:
    if not data:
        return GallerySnapshot.empty()
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        meta = json.loads(archive["meta"].tobytes())
        matrix = archive["matrix"]
    return GallerySnapshot(version, tuple(meta["ids"]), meta["names"], matrix)
