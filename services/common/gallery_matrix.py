"""The gallery as the matcher reads it: enrolled embeddings as one matrix (pure numpy)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class GalleryMatrix:
    """Enrolled embeddings as one L2-normalised matrix, several rows per employee allowed."""

    def __init__(self, employee_ids: Sequence[str], embeddings: np.ndarray) -> None:
        matrix = np.asarray(embeddings, dtype=np.float32)
        if matrix.ndim != 2 and matrix.size == 0:
            matrix = matrix.reshape(0, 0)
        if matrix.ndim != 2:
            raise ValueError(f"embeddings must be a 2-d array, got shape {matrix.shape}")
        if len(employee_ids) != matrix.shape[0]:
            raise ValueError(f"{len(employee_ids)} employee ids for {matrix.shape[0]} embeddings")
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        # Normalise again: a vector stored slightly off unit length would skew every cosine.
        self.matrix = matrix / np.maximum(norms, 1e-12)
        labels = list(employee_ids)
        self.row_employee_ids = tuple(labels)
        self.employee_ids = sorted(set(labels))
        index = {employee: position for position, employee in enumerate(self.employee_ids)}
        self.row_owner = np.array([index[label] for label in labels], dtype=np.int64)

    @classmethod
    def empty(cls, dimension: int = 512) -> GalleryMatrix:
        return cls([], np.zeros((0, dimension), dtype=np.float32))

    def __len__(self) -> int:
        return len(self.employee_ids)

    @property
    def dimension(self) -> int:
        return int(self.matrix.shape[1])

    def best_per_employee(self, probes: np.ndarray) -> np.ndarray:
        """(n_probes, n_employees) best cosine similarity of each probe to each employee."""
        similarities = probes @ self.matrix.T
        best = np.full((probes.shape[0], len(self.employee_ids)), -np.inf, dtype=np.float32)
        np.maximum.at(best.T, self.row_owner, similarities.T)
        return best
