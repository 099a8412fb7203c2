"""Embeddings of evaluation photos kept in one ``.npz`` file, so a re-run only re-scores.

An entry is keyed by the photo's path and the *recipe* that made it: the embedder's model id
(network, weights, alignment and preprocessing versions) plus the detector settings. Another
recipe never reads it, so one file can hold the embeddings of several recipes side by side.
A photo in which no face was found is cached too (as such), with the seconds the pipeline
spent on it, so a re-run reports the same throughput.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PhotoEmbedding:
    """The embedding of the photo's labelled face (None when no face was found) and the
    seconds detection and embedding took for it."""

    embedding: np.ndarray | None
    seconds: float


class EmbeddingCache:
    """In memory until :meth:`save`; with ``path`` None nothing is read or written."""

    def __init__(self, path: Path | None, recipe: str) -> None:
        self.path = Path(path) if path is not None else None
        self.recipe = recipe
        self._entries: dict[tuple[str, str], PhotoEmbedding] = {}
        self._unsaved = 0
        if self.path is not None and self.path.exists():
            self._load(self.path)

    def __len__(self) -> int:
        return sum(recipe == self.recipe for recipe, _ in self._entries)

    def get(self, photo: str) -> PhotoEmbedding | None:
        return self._entries.get((self.recipe, photo))

    def put(self, photo: str, entry: PhotoEmbedding) -> None:
        self._entries[(self.recipe, photo)] = entry
        self._unsaved += 1

    @property
    def unsaved(self) -> int:
        return self._unsaved

    def save(self) -> None:
        """Write every entry (all recipes) to the file, atomically."""
        if self.path is None or self._unsaved == 0:
            return
        keys = list(self._entries)
        entries = [self._entries[key] for key in keys]
        dimension = next((e.embedding.size for e in entries if e.embedding is not None), 0)
        vectors = np.zeros((len(entries), dimension), dtype=np.float32)
        for row, entry in enumerate(entries):
            if entry.embedding is not None:
                vectors[row] = entry.embedding
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        with partial.open("wb") as file:
            np.savez(
                file,
                recipes=np.array([recipe for recipe, _ in keys], dtype=str),
                photos=np.array([photo for _, photo in keys], dtype=str),
                embeddings=vectors,
                found=np.array([e.embedding is not None for e in entries], dtype=bool),
                seconds=np.array([e.seconds for e in entries], dtype=np.float64),
            )
        # A run stopped halfway leaves the previous file whole, never a torn one.
        os.replace(partial, self.path)
        self._unsaved = 0

    def _load(self, path: Path) -> None:
        try:
            with np.load(path, allow_pickle=False) as stored:
                columns = [
                    stored[name] for name in ("recipes", "photos", "embeddings", "found", "seconds")
                ]
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(f"{path} is not an embedding cache ({exc}); remove it") from exc
        for recipe, photo, vector, found, seconds in zip(*columns, strict=True):
            embedding = vector.astype(np.float32) if found else None
            self._entries[(str(recipe), str(photo))] = PhotoEmbedding(embedding, float(seconds))
        logger.info(
            "%d cached embeddings (%d of this recipe) in %s", len(self._entries), len(self), path
        )
