"""A track's state lives in the shared cache: saved after each update, read back validated."""

from __future__ import annotations

import numpy as np
import pytest

from services.common.cache import InMemoryCache
from services.recognizer.track_state import MAX_FACES, StoredFace, TrackStore

pytestmark = pytest.mark.unit


def stored(face_id: str, weight: float = 0.5) -> StoredFace:
    vector = np.ones(4, dtype=np.float32) / 2
    return StoredFace(face_id=face_id, weight=weight, embedding=vector.tobytes())


def test_an_update_is_saved_and_another_store_on_the_same_cache_reads_it():
    cache = InMemoryCache()
    with TrackStore(cache).updating("door", "t1") as state:
        state.add(stored("f1"))

    state = TrackStore(cache).peek("door", "t1")

    assert state is not None and [face.face_id for face in state.faces] == ["f1"]
    assert state.faces[0].vector().tolist() == [0.5] * 4


def test_an_update_that_fails_saves_nothing():
    cache = InMemoryCache()
    with pytest.raises(RuntimeError), TrackStore(cache).updating("door", "t1") as state:
        state.add(stored("f1"))
        raise RuntimeError("the network failed")

    assert TrackStore(cache).peek("door", "t1") is None
    # ... and the lock is released: the next update goes ahead at once.
    with TrackStore(cache).updating("door", "t1") as state:
        assert state.faces == []


def test_a_track_keeps_its_best_faces_only():
    with TrackStore(InMemoryCache()).updating("door", "t1") as state:
        for index in range(MAX_FACES + 2):
            state.add(stored(f"f{index}", weight=index / 10))

    assert len(state.faces) == MAX_FACES
    assert "f0" not in {face.face_id for face in state.faces}


def test_an_unreadable_state_is_treated_as_none():
    cache = InMemoryCache()
    cache.set("track:door:t1", b'{"not": "a track"}')

    assert TrackStore(cache).peek("door", "t1") is None


def test_one_track_has_one_sighting_id_and_two_tracks_two():
    store = TrackStore(InMemoryCache())
    with store.updating("door", "t1") as first, store.updating("door", "t2") as second:
        pass

    assert first.sighting_id() == store.peek("door", "t1").sighting_id()
    assert first.sighting_id() != second.sighting_id()
