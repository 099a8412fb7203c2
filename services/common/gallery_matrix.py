"""The gallery as the matcher reads it: enrolled embeddings as one matrix (pure numpy)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class GalleryMatrix:
    """Enrolled embeddings as one L2-normalised matrix, several rows per employee allowed.

    The rows are kept grouped by employee (in the order of :attr:`employee_ids`;
    :attr:`row_employee_ids` names each row's owner), so that an employee's best similarity is
    one reduction over a contiguous run of columns rather than a scattered update per row.
    """

    def __init__(self, employee_ids: Sequence[str], embeddings: np.ndarray) -> None:
        matrix = np.asarray(embeddings, dtype=np.float32)
        if matrix.ndim != 2 and matrix.size == 0:
            matrix = matrix.reshape(0, 0)
        if matrix.ndim != 2:
            raise ValueError(f"embeddings must be a 2-d array, got shape {matrix.shape}")
        if len(employee_ids) != matrix.shape[0]:
            raise ValueError(f"{len(employee_ids)} employee ids for {matrix.shape[0]} embeddings")
        labels = list(employee_ids)
        self.employee_ids = sorted(set(labels))
        index = {employee: position for position, employee in enumerate(self.employee_ids)}
        owners = np.array([index[label] for label in labels], dtype=np.int64)
        # Stable: an employee's rows keep their order. The one copy of the matrix made here is
        # normalised in place (the caller's array is never changed).
        order = np.argsort(owners, kind="stable")
        matrix = matrix[order]
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        # Normalise again: a vector stored slightly off unit length would skew every cosine.
        matrix /= np.maximum(norms, 1e-12)
        self.matrix = matrix
        self.row_owner = owners[order]
        self.row_employee_ids = tuple(labels[position] for position in order)
        # Where each employee's run of rows starts; None when every employee has one row (the
        # similarities are then the best per employee as they are).
        self._run_starts: np.ndarray | None = None
        if len(self.row_owner) != len(self.employee_ids):
            self._run_starts = np.flatnonzero(np.diff(self.row_owner, prepend=-1))

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
        if self._run_starts is None:
            return similarities
        return np.maximum.reduceat(similarities, self._run_starts, axis=1)
