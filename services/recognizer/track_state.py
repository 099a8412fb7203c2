"""What the recognizers know of each track, kept in the shared cache.

A track's embedded faces (with their quality weights), its best face's pictures and whether it
was decided live under one key, so that any recognizer (a scaled copy, or the one that takes
over when another dies mid-track) continues where the last one stopped: the decision at the
track's end is made from every face stored so far, whoever embedded it.

Updates hold a short lock in the cache (two recognizers adding faces of one track at once would
otherwise lose one). The state is validated when read back, like a message: a cache holding
something else is treated as holding nothing.

The track's liveness is the latest summary its detector sent (the one with the most faces
scored: summaries only grow, and a redelivered older one must not replace a newer one).
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from services.common.cache import KeyValueCache
from services.common.contracts import BoundingBox, TrackLiveness, UtcDatetime

logger = logging.getLogger(__name__)

# A track keeps at most this many faces (the detector sends 3 by default); the lowest-weighted
# goes first.
MAX_FACES = 8
# A lock is held for a few cache round trips; this is only for a holder that died.
LOCK_TTL_S = 5.0
LOCK_WAIT_S = 2.0
# A track's faces are kept this long after its latest one: a track whose end never comes (its
# detector died) is forgotten then.
TRACK_TTL_S = 180.0
# After its end a track is kept this long, so that a late face of it is not taken for a new one.
ENDED_TTL_S = 60.0


class _Stored(BaseModel):
    model_config = ConfigDict(
        extra="forbid", ser_json_bytes="base64", val_json_bytes="base64", validate_assignment=True
    )


class StoredFace(_Stored):
    face_id: str
    # The face's quality score (services/faces/quality_score.py): its share of the mean.
    weight: float
    # float32, unit length.
    embedding: bytes

    def vector(self) -> np.ndarray:
        return np.frombuffer(self.embedding, dtype=np.float32)


class BestFace(_Stored):
    """The track's best face so far: the sighting's pictures, place and time."""

    face_id: str
    frame_id: str
    captured_at: UtcDatetime
    box: BoundingBox
    weight: float
    snapshot_jpeg: bytes
    face_jpeg: bytes


class TrackState(_Stored):
    camera_id: str
    track_id: str
    faces: list[StoredFace] = []
    best: BestFace | None = None
    # None while undecided; "known" (employee_id set), "unknown", or "attack" (the liveness
    # check blocked it: a spoof attempt) once published.
    decided: Literal["known", "unknown", "attack"] | None = None
    employee_id: str | None = None
    ended: bool = False
    liveness: TrackLiveness | None = None

    @property
    def closed(self) -> bool:
        """No face of the track is worth embedding any more."""
        return self.decided is not None or self.ended

    def add(self, face: StoredFace) -> bool:
        """Add a face (once: a redelivered face is not counted twice); whether it was new."""
        if any(stored.face_id == face.face_id for stored in self.faces):
            return False
        self.faces = sorted([*self.faces, face], key=lambda stored: -stored.weight)[:MAX_FACES]
        return True

    def note_liveness(self, summary: TrackLiveness | None) -> None:
        """Keep the detector's fullest summary of the track's liveness."""
        if summary is not None and (self.liveness is None or summary.scored > self.liveness.scored):
            self.liveness = summary

    def embeddings(self) -> tuple[np.ndarray, np.ndarray]:
        vectors = np.stack([face.vector() for face in self.faces])
        return vectors, np.array([face.weight for face in self.faces], dtype=np.float32)

    def sighting_id(self) -> str:
        """One decision per track: its sighting id follows from the track, so a decision made
        twice (a redelivery, two recognizers) is stored once."""
        return uuid.uuid5(uuid.NAMESPACE_URL, f"track/{self.camera_id}/{self.track_id}").hex


class TrackStore:
    def __init__(self, cache: KeyValueCache, ttl_s: float = TRACK_TTL_S) -> None:
        self._cache = cache
        self._ttl = ttl_s

    @staticmethod
    def _key(camera_id: str, track_id: str) -> str:
        return f"track:{camera_id}:{track_id}"

    def peek(self, camera_id: str, track_id: str) -> TrackState | None:
        """The track's state as last saved (no lock: to skip faces of closed tracks)."""
        return self._load(self._key(camera_id, track_id))

    @contextlib.contextmanager
    def updating(self, camera_id: str, track_id: str) -> Iterator[TrackState]:
        """The track's state, locked; saved when the block ends without an exception."""
        key = self._key(camera_id, track_id)
        lock = f"{key}:lock"
        self._acquire(lock)
        try:
            state = self._load(key) or TrackState(camera_id=camera_id, track_id=track_id)
            yield state
            ttl = ENDED_TTL_S if state.ended else self._ttl
            self._cache.set(key, state.model_dump_json().encode(), ttl)
        finally:
            self._cache.delete(lock)

    def _acquire(self, lock: str) -> None:
        deadline = time.monotonic() + LOCK_WAIT_S
        while not self._cache.set_if_absent(lock, b"1", LOCK_TTL_S):
            if time.monotonic() >= deadline:
                # A holder that hangs must not stall recognition: go on, at worst one face of
                # the track is lost to the other writer.
                logger.warning(
                    "track lock %s held for %.0fs; going on without it", lock, LOCK_WAIT_S
                )
                return
            time.sleep(0.005)

    def _load(self, key: str) -> TrackState | None:
        raw = self._cache.get(key)
        if raw is None:
            return None
        try:
            return TrackState.model_validate_json(raw)
        except ValidationError:
            logger.warning("discarding an unreadable track state under %s", key)
            return None
