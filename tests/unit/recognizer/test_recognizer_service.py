"""The recognizer decides once per track: known as soon as enough of its faces agree, unknown
when it ends without that, from faces kept in the shared cache.

FaceNet is replaced by a stand-in that maps each crop to a fixed vector (the crop's fill value
picks the vector), so the tests are about the service's decisions, not the model's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import numpy as np
import pytest

from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
from services.common.bus.topology import SIGHTINGS
from services.common.cache import InMemoryCache
from services.common.contracts import (
    FaceMessage,
    FaceQualityReport,
    SightingMessage,
    TrackEndMessage,
)
from services.common.gallery import GallerySnapshot
from services.recognizer.service import Recognizer
from tests.fixtures.bus import MORNING, Inbox, face
from tests.helpers.messages import unit_vector

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]

ADA, BOB, STRANGER = 1, 2, 9
CROP = 4
SHARP = FaceQualityReport(face_size=100, sharpness=0.1, turn=0.0, nose_height=0.5)
SMALLER = SHARP.model_copy(update={"face_size": 50.0})


class VectorPerFill:
    model_id = "stand-in"

    def __init__(self) -> None:
        self.embedded = 0

    def embed(self, crops: Sequence[np.ndarray], *, mirror: bool | None = None) -> np.ndarray:
        self.embedded += len(crops)
        return np.stack([unit_vector(int(crop[0, 0, 0])) for crop in crops])


class FixedGallery:
    def current(self) -> GallerySnapshot:
        return GallerySnapshot.build(
            version="1-fixed",
            employee_ids=("ada", "bob"),
            names={"ada": "Ada", "bob": "Bob"},
            embeddings=np.stack([unit_vector(ADA), unit_vector(BOB)]),
        )


def face_of(
    who: int, face_id: str, track_id: str, quality: FaceQualityReport | None = SHARP
) -> FaceMessage:
    return face(face_id).model_copy(
        update={
            "track_id": track_id,
            "crop_size": CROP,
            "crop_rgb": bytes([who]) * CROP * CROP * 3,
            "quality": quality,
            "snapshot_jpeg": f"snapshot of {face_id}".encode(),
            "captured_at": MORNING + timedelta(seconds=int(face_id.strip("f") or 0)),
        }
    )


def end_of(track_id: str, faces_sent: int = 2) -> TrackEndMessage:
    return TrackEndMessage(
        camera_id="door",
        track_id=track_id,
        last_seen_at=MORNING,
        faces_sent=faces_sent,
        reason="gap",
    )


class Setup:
    """A recognizer (and its cache, bus and stand-in network) as a service would run it."""

    def __init__(self, cache: InMemoryCache | None = None, *, cooldown: float = 0) -> None:
        self.cache = cache or InMemoryCache()
        self.embedder = VectorPerFill()
        broker = InMemoryBroker()
        self.listener = InMemoryCommunicator(broker)
        self.published = Inbox()
        self.listener.subscribe(SIGHTINGS, self.published)
        self.recognizer = Recognizer(
            InMemoryCommunicator(broker),
            self.embedder,
            FixedGallery(),
            self.cache,
            threshold=0.6,
            margin=0.05,
            sighting_cooldown=cooldown,
            agreement_frames=2,
        )

    def __call__(self, *events: FaceMessage | TrackEndMessage) -> list[SightingMessage]:
        self.recognizer.handle(list(events))
        while self.listener.drain_once():
            pass
        return list(self.published.messages)


@pytest.fixture
def recognizer() -> Setup:
    return Setup()


def test_a_single_face_of_an_employee_makes_no_sighting(recognizer):
    assert recognizer(face_of(ADA, "f1", "t1")) == []


def test_the_second_face_of_a_track_makes_one_known_sighting_named_after_the_track(recognizer):
    [sighting] = recognizer(face_of(ADA, "f1", "t1"), face_of(ADA, "f2", "t1"))

    assert (sighting.employee_id, sighting.employee_name, sighting.track_id) == ("ada", "Ada", "t1")
    # Decided twice (a redelivery, two recognizers), a track is still one stored sighting.
    assert (
        sighting.sighting_id
        == Setup()(face_of(ADA, "f7", "t1"), face_of(ADA, "f8", "t1"))[0].sighting_id
    )


def test_later_faces_and_the_end_of_a_decided_track_make_no_other_sighting_nor_network_work(
    recognizer,
):
    recognizer(face_of(ADA, "f1", "t1"), face_of(ADA, "f2", "t1"))
    embedded = recognizer.embedder.embedded

    sightings = recognizer(face_of(ADA, "f3", "t1"), face_of(STRANGER, "f4", "t1"), end_of("t1"))

    assert [s.employee_id for s in sightings] == ["ada"]
    assert recognizer.embedder.embedded == embedded


def test_faces_of_two_tracks_do_not_agree_with_each_other(recognizer):
    assert recognizer(face_of(ADA, "f1", "t1"), face_of(ADA, "f2", "t2")) == []


def test_a_stranger_makes_one_unknown_sighting_when_the_track_ends_and_not_before(recognizer):
    assert recognizer(face_of(STRANGER, "f1", "t1"), face_of(STRANGER, "f2", "t1")) == []

    [sighting] = recognizer(end_of("t1"))

    assert (sighting.employee_id, sighting.track_id) == (None, "t1")


def test_a_track_that_ends_with_a_single_face_makes_no_sighting(recognizer):
    assert recognizer(face_of(ADA, "f1", "t1"), end_of("t1", faces_sent=1)) == []
    assert recognizer(face_of(STRANGER, "f2", "t2"), end_of("t2", faces_sent=1)) == []


def test_a_track_mixing_two_people_is_not_taken_for_either(recognizer):
    sightings = recognizer(face_of(ADA, "f1", "t1"), face_of(BOB, "f2", "t1"), end_of("t1"))

    assert [s.employee_id for s in sightings] == [None]


def test_a_redelivered_face_is_counted_once(recognizer):
    assert recognizer(face_of(ADA, "f1", "t1"), face_of(ADA, "f1", "t1")) == []


def test_the_sighting_shows_the_best_face_of_the_track(recognizer):
    [sighting] = recognizer(
        face_of(ADA, "f1", "t1", SMALLER), face_of(ADA, "f2", "t1"), face_of(ADA, "f3", "t1")
    )

    assert (sighting.face_id, sighting.snapshot_jpeg) == ("f2", b"snapshot of f2")
    assert sighting.seen_at == MORNING + timedelta(seconds=2)


def test_a_recognizer_that_takes_over_mid_track_decides_from_the_faces_stored_before():
    cache = InMemoryCache()
    first = Setup(cache)
    assert first(face_of(STRANGER, "f1", "t1")) == []
    # The first recognizer dies; another, sharing the cache, gets the rest of the track.
    second = Setup(cache)

    [sighting] = second(face_of(STRANGER, "f2", "t1"), end_of("t1"))

    assert sighting.employee_id is None
    assert second.embedder.embedded == 1


def test_the_end_of_a_track_decides_from_stored_faces_alone():
    cache = InMemoryCache()
    Setup(cache)(face_of(ADA, "f1", "t1", SMALLER), face_of(STRANGER, "f2", "t1"))

    [sighting] = Setup(cache)(end_of("t1"))

    assert sighting.employee_id is None and sighting.face_id == "f2"


def test_two_tracks_of_one_person_within_the_cooldown_make_one_sighting():
    recognizer = Setup(cooldown=60)

    sightings = recognizer(
        face_of(ADA, "f1", "t1"),
        face_of(ADA, "f2", "t1"),
        face_of(ADA, "f3", "t2"),
        face_of(ADA, "f4", "t2"),
    )

    assert [s.track_id for s in sightings] == ["t1"]


def test_the_end_of_a_track_never_seen_makes_nothing(recognizer):
    assert recognizer(end_of("t9")) == []


class MirroringStandIn(VectorPerFill):
    """A stand-in that, like FaceNet's embedder, averages each face with its mirror image."""

    def __init__(self) -> None:
        super().__init__()
        self.mirror = True
        self.mirrored_calls: list[bool] = []

    def embed(self, crops: Sequence[np.ndarray], *, mirror: bool | None = None) -> np.ndarray:
        self.mirrored_calls.append(self.mirror if mirror is None else mirror)
        return super().embed(crops)


def test_camera_faces_are_embedded_without_the_mirror_image_enrolment_photos_keep():
    embedder = MirroringStandIn()
    service = Recognizer(
        InMemoryCommunicator(InMemoryBroker()), embedder, FixedGallery(), InMemoryCache()
    )

    service.handle([face_of(ADA, "f1", "t1")])

    assert embedder.mirrored_calls == [False]
    assert embedder.mirror is True


def test_the_mirror_image_can_be_kept_for_camera_faces():
    embedder = MirroringStandIn()
    service = Recognizer(
        InMemoryCommunicator(InMemoryBroker()),
        embedder,
        FixedGallery(),
        InMemoryCache(),
        video_mirror=True,
    )

    service.handle([face_of(ADA, "f1", "t1")])

    assert embedder.mirrored_calls == [True]
