"""The recognizer publishes a sighting only when several frames of a track agree.

FaceNet is replaced by a stand-in that maps each crop to a fixed vector (the crop's fill value
picks the vector), so the test is about the service's decisions, not the model's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
from services.common.bus.topology import SIGHTINGS
from services.common.cache import InMemoryCache
from services.common.contracts import FaceMessage, SightingMessage
from services.common.gallery import GallerySnapshot
from services.recognizer.service import Recognizer
from tests.fixtures.bus import Inbox, face
from tests.helpers.messages import unit_vector

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]

ADA, BOB, STRANGER = 1, 2, 9
CROP = 4


class VectorPerFill:
    model_id = "stand-in"

    def embed(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        return np.stack([unit_vector(int(crop[0, 0, 0])) for crop in crops])


class FixedGallery:
    def current(self) -> GallerySnapshot:
        return GallerySnapshot.build(
            version="1-fixed",
            employee_ids=("ada", "bob"),
            names={"ada": "Ada", "bob": "Bob"},
            embeddings=np.stack([unit_vector(ADA), unit_vector(BOB)]),
        )


def frame_of(who: int, face_id: str, track_id: str) -> FaceMessage:
    return face(face_id).model_copy(
        update={"track_id": track_id, "crop_size": CROP, "crop_rgb": bytes([who]) * CROP * CROP * 3}
    )


@pytest.fixture
def published() -> Inbox:
    return Inbox()


@pytest.fixture
def recognizer(published: Inbox):
    broker = InMemoryBroker()
    bus, listener = InMemoryCommunicator(broker), InMemoryCommunicator(broker)
    listener.subscribe(SIGHTINGS, published)
    service = Recognizer(
        bus,
        VectorPerFill(),
        FixedGallery(),
        InMemoryCache(),
        threshold=0.6,
        margin=0.05,
        sighting_cooldown=0,
        agreement_frames=2,
    )

    def handle(*faces: FaceMessage) -> list[SightingMessage]:
        service.handle(list(faces))
        while listener.drain_once():
            pass
        return list(published.messages)

    return handle


def test_a_single_frame_of_an_employee_makes_no_sighting(recognizer):
    assert recognizer(frame_of(ADA, "f1", "t1")) == []


def test_the_second_agreeing_frame_of_a_track_makes_a_known_sighting(recognizer):
    sightings = recognizer(frame_of(ADA, "f1", "t1"), frame_of(ADA, "f2", "t1"))

    assert [(s.sighting_id, s.employee_id, s.employee_name) for s in sightings] == [
        ("f2", "ada", "Ada")
    ]


def test_frames_of_two_tracks_do_not_agree_with_each_other(recognizer):
    assert recognizer(frame_of(ADA, "f1", "t1"), frame_of(ADA, "f2", "t2")) == []


def test_a_stranger_seen_in_two_frames_makes_one_unknown_sighting(recognizer):
    sightings = recognizer(frame_of(STRANGER, "f1", "t1"), frame_of(STRANGER, "f2", "t1"))

    assert [(s.sighting_id, s.employee_id) for s in sightings] == [("f2", None)]


def test_an_employee_agreed_on_is_not_also_reported_as_a_stranger(recognizer):
    recognizer(frame_of(ADA, "f1", "t1"), frame_of(ADA, "f2", "t1"))
    sightings = recognizer(frame_of(STRANGER, "f3", "t1"), frame_of(STRANGER, "f4", "t1"))

    assert [s.employee_id for s in sightings] == ["ada"]
