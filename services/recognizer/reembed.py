"""Re-embedding: compute every stored enrolment photo's embedding with the current recipe.

A new recipe (weights, alignment, preprocessing: the embedder's ``model_id``) puts vectors in a
new space, and the gallery only ever loads vectors of the recognizer's own recipe. So before
recognizers of a new recipe take over, each enrolment photo kept in MongoDB is detected,
aligned and embedded again, exactly as enrolment would, and stored next to its old vectors
(which the recognizers still running the old recipe keep using until they are replaced).

The work is idempotent and resumable: what is owed is computed from the store (photos with no
vector of the target recipe), and a vector stored twice replaces itself. One run at a time
holds a maintenance lock; passes repeat until nothing is owed, so a photo enrolled by an
old-recipe recognizer during the run is migrated too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from services.common.images import ImageError, decode_image
from services.common.storage.employees import EmployeeRepository
from services.common.storage.maintenance import MaintenanceLocks
from services.faces.finder import FaceFinder
from services.recognizer.embedding import FaceEmbedder

logger = logging.getLogger(__name__)

JOB = "reembed"


@dataclass
class ReembedReport:
    """What a run did, for the operator and for ``--json``."""

    model_id: str
    embedded: int = 0
    passes: int = 0
    seconds: float = 0.0
    # Photo id -> why it could not be embedded again; its old vectors are left as they were.
    failed: dict[str, str] = field(default_factory=dict)
    embeddings_by_model: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "model_id": self.model_id,
            "embedded": self.embedded,
            "passes": self.passes,
            "seconds": round(self.seconds, 1),
            "failed": dict(sorted(self.failed.items())),
            "embeddings_by_model": dict(sorted(self.embeddings_by_model.items())),
        }


class ProgressBar(Protocol):
    """What is used of a progress bar (tqdm has it)."""

    def update(self, n: int = 1) -> object: ...

    def close(self) -> None: ...


# Called with the number of photos a pass owes.
ProgressFactory = Callable[[int], ProgressBar]


class Reembedder:
    def __init__(
        self,
        employees: EmployeeRepository,
        finder: FaceFinder,
        embedder: FaceEmbedder,
        locks: MaintenanceLocks,
        *,
        holder: str,
        batch_size: int = 16,
    ) -> None:
        self._employees = employees
        self._finder = finder
        self._embedder = embedder
        self._locks = locks
        self._holder = holder
        self._batch_size = max(1, batch_size)

    @property
    def model_id(self) -> str:
        return self._embedder.model_id

    def owed(self) -> list[tuple[str, str]]:
        """(photo id, employee id) still without a vector of the current recipe."""
        return self._employees.photos_without_embedding(self.model_id)

    def run(self, progress: ProgressFactory | None = None) -> ReembedReport:
        """Embed every owed photo; raises MaintenanceBusy if another run holds the lock."""
        lock = self._locks.acquire(JOB, self._holder, self.model_id)
        report = ReembedReport(self.model_id)
        started = time.monotonic()
        try:
            while True:
                owed = [item for item in self.owed() if item[0] not in report.failed]
                if not owed:
                    break
                report.passes += 1
                bar = progress(len(owed)) if progress is not None else None
                for start in range(0, len(owed), self._batch_size):
                    batch = owed[start : start + self._batch_size]
                    report.embedded += self._embed_batch(batch, report.failed)
                    self._locks.heartbeat(lock)
                    if bar is not None:
                        bar.update(len(batch))
                if bar is not None:
                    bar.close()
        finally:
            self._locks.release(lock)
        report.seconds = time.monotonic() - started
        report.embeddings_by_model = self._employees.embedding_models()
        return report

    def _embed_batch(self, batch: Sequence[tuple[str, str]], failed: dict[str, str]) -> int:
        crops: list[np.ndarray] = []
        owners: list[tuple[str, str]] = []
        for photo_id, employee_id in batch:
            crop = self._face_crop(photo_id, failed)
            if crop is not None:
                crops.append(crop)
                owners.append((photo_id, employee_id))
        if not crops:
            return 0
        embeddings = self._embedder.embed(crops)
        for (photo_id, employee_id), embedding in zip(owners, embeddings, strict=True):
            self._employees.add_embedding(photo_id, employee_id, self.model_id, embedding)
        return len(crops)

    def _face_crop(self, photo_id: str, failed: dict[str, str]) -> np.ndarray | None:
        photo = self._employees.pictures.get(photo_id)
        if photo is None:
            failed[photo_id] = "the enrolment photo is no longer stored"
            return None
        try:
            rgb = decode_image(photo)
        except ImageError as exc:
            failed[photo_id] = f"the stored photo cannot be read: {exc}"
            return None
        # The same detection as enrolment; the quality gate is not applied again, because a
        # photo accepted once must not silently drop out of the gallery.
        faces = self._finder.find(rgb, thorough=True)
        if not faces:
            failed[photo_id] = "no face found in the stored photo"
            return None
        return faces[0].crop
