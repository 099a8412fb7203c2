"""The gallery of employee embeddings, cached for the recognizers.

MongoDB is the system of record. The cache holds one snapshot per model (ids, names, matrix) and
a version token; a recognizer keeps the snapshot in memory, its matrix built once, and reloads
only when the token changes. If the cache is flushed, the first reader rebuilds it from MongoDB.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from services.common.cache import KeyValueCache
from services.common.domain.enrolment import EMBEDDING_SIZE
from services.common.gallery_matrix import GalleryMatrix
from services.common.storage.employees import EmployeeRepository

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GallerySnapshot:
    """One version of the gallery: the matching matrix (rows of L2-normalised embeddings, each
    with its employee id) and the employees' names.

    ``version`` is an opaque token, only ever compared for equality: it never repeats, not even
    after the cache lost every key and its counter started again.
    """

    version: str
    matrix: GalleryMatrix
    names: dict[str, str]

    @classmethod
    def build(
        cls,
        version: str,
        employee_ids: Sequence[str],
        names: dict[str, str],
        embeddings: np.ndarray,
    ) -> GallerySnapshot:
        return cls(version, GalleryMatrix(employee_ids, embeddings), names)

    @classmethod
    def empty(cls) -> GallerySnapshot:
        return cls("", GalleryMatrix.empty(EMBEDDING_SIZE), {})

    @property
    def employee_ids(self) -> tuple[str, ...]:
        """The employee of each row of the matrix."""
        return self.matrix.row_employee_ids


class Gallery:
    def __init__(self, cache: KeyValueCache, employees: EmployeeRepository, model_id: str) -> None:
        self._cache = cache
        self._employees = employees
        self.model_id = model_id
        self._data_key = f"gallery:{model_id}:data"
        self._version_key = f"gallery:{model_id}:version"
        self._counter_key = f"gallery:{model_id}:counter"
        # One reference, replaced whole: readers on other threads see an old or a new snapshot,
        # never a new version with an old matrix.
        self._snapshot = GallerySnapshot.empty()

    def changed(self) -> str:
        """Call after employees or embeddings changed: rebuild the cache and move the version."""
        self._cache.set(self._data_key, self._serialise_from_store())
        number = self._cache.incr(self._counter_key)
        # The counter alone repeats after a flush of the cache (it starts again at 1), and a
        # recognizer holding an old snapshot of the same number would never reload; the random
        # part makes every rebuild's token new. The number only helps a reader of the logs.
        version = f"{number}-{uuid.uuid4().hex}"
        self._cache.set(self._version_key, version.encode())
        logger.info("gallery for %s rebuilt, version %s", self.model_id, version)
        return version

    def current(self) -> GallerySnapshot:
        """The snapshot to match against, reloaded only when the cached version moved."""
        cached = self._cache.get(self._version_key)
        version = cached.decode() if cached is not None else self.changed()
        snapshot = self._snapshot
        if version == snapshot.version:
            return snapshot
        data = self._cache.get(self._data_key)
        if data is None:
            version = self.changed()
            data = self._cache.get(self._data_key)
        snapshot = _deserialise(data or b"", version)
        self._snapshot = snapshot
        logger.info(
            "gallery loaded: %d embeddings of %d employees (version %s)",
            len(snapshot.employee_ids),
            len(snapshot.names),
            version,
        )
        return snapshot

    def _serialise_from_store(self) -> bytes:
        ids, matrix = self._employees.gallery(self.model_id)
        owed = self._employees.photos_without_embedding(self.model_id)
        if owed:
            # Those people are not in this recipe's gallery: they would go unrecognised.
            logger.warning(
                "%d enrolment photo(s) of %d employee(s) have no vector of %s; "
                "run `attendance reembed`",
                len(owed),
                len({employee for _, employee in owed}),
                self.model_id,
            )
        names = self._employees.names(sorted(set(ids)))
        buffer = io.BytesIO()
        np.savez(
            buffer,
            matrix=matrix.astype(np.float32, copy=False),
            meta=np.frombuffer(json.dumps({"ids": ids, "names": names}).encode(), np.uint8),
        )
        return buffer.getvalue()


def _deserialise(data: bytes, version: str) -> GallerySnapshot:
    if not data:
        return GallerySnapshot.build(version, [], {}, np.zeros((0, EMBEDDING_SIZE), np.float32))
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        meta = json.loads(archive["meta"].tobytes())
        matrix = archive["matrix"]
    return GallerySnapshot.build(version, meta["ids"], meta["names"], matrix)
