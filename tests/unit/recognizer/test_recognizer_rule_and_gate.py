"""The recognizer applies the threshold of the gallery it holds, reports it, and does not judge
faces the quality gate refuses.

Each face here is a track of its own, ended after it (one face decides: agreement 1), unless a
test says otherwise.

FaceNet is replaced by a stand-in that maps a crop's fill value to a fixed vector; the gallery
is a fixed snapshot, so each test controls every similarity.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
from services.common.bus.topology import SIGHTINGS
from services.common.cache import InMemoryCache
from services.common.contracts import FaceMessage, FaceQualityReport, TrackEndMessage
from services.common.domain.open_set import ImpostorTail, OpenSetPolicy
from services.common.gallery import GallerySnapshot
from services.common.outages import DependencyUnavailable
from services.common.recognition_status import read_status
from services.faces.quality import QualityGate
from services.recognizer.service import Recognizer
from tests.fixtures.bus import Inbox, face

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]

MODEL = "stand-in"
# FAR falls tenfold for every 0.1 of similarity: 1e-1 at 0.3 ... 1e-7 at 0.9.
TAIL = ImpostorTail.from_rows(MODEL, [(0.3, -1.0), (0.9, -7.0)], source="stand-in tail")
CROP = 4
ADA, CLOSE_TO_ADA, STRANGER = 1, 2, 3
DIMENSION = 512

GOOD = FaceQualityReport(face_size=120, sharpness=0.09, turn=0.05, nose_height=0.52)
TINY = GOOD.model_copy(update={"face_size": 20.0})
BLURRED = GOOD.model_copy(update={"sharpness": 0.02})
TURNED = GOOD.model_copy(update={"turn": 0.8})


def axis(index: int) -> np.ndarray:
    vector = np.zeros(DIMENSION, dtype=np.float32)
    vector[index] = 1.0
    return vector


# Ada is axis 0; the "close to Ada" probe scores 0.6 with her; the stranger 0 with everyone.
VECTORS = {
    ADA: axis(0),
    CLOSE_TO_ADA: 0.6 * axis(0) + 0.8 * axis(1),
    STRANGER: axis(2),
}


class VectorPerFill:
    model_id = MODEL

    def __init__(self) -> None:
        self.embedded = 0

    def embed(self, crops: Sequence[np.ndarray], *, mirror: bool | None = None) -> np.ndarray:
        self.embedded += len(crops)
        return np.stack([VECTORS[int(crop[0, 0, 0])] for crop in crops])


class SettableGallery:
    """Ada plus ``others`` people orthogonal to every probe (they only make the gallery big)."""

    def __init__(self, others: int = 0) -> None:
        self.resize(others)

    def resize(self, others: int) -> None:
        ids = ["ada"] + [f"other-{n}" for n in range(others)]
        # Axes 10 and up, repeated past the last: orthogonal to every probe either way.
        rows = [axis(0)] + [axis(10 + n % (DIMENSION - 10)) for n in range(others)]
        self.snapshot = GallerySnapshot.build(
            version=f"v-{others}",
            employee_ids=ids,
            names={person: person.title() for person in ids},
            embeddings=np.stack(rows),
        )

    def current(self) -> GallerySnapshot:
        return self.snapshot


def frame_of(who: int, face_id: str, quality: FaceQualityReport | None = GOOD) -> FaceMessage:
    return face(face_id).model_copy(
        update={
            "track_id": f"track-{face_id}",
            "crop_size": CROP,
            "crop_rgb": bytes([who]) * CROP * CROP * 3,
            "quality": quality,
        }
    )


class Setup:
    def __init__(
        self,
        *,
        others: int = 0,
        policy: OpenSetPolicy | None = None,
        agreement_frames: int = 1,
        gallery: SettableGallery | None = None,
    ) -> None:
        self.cache = InMemoryCache()
        self.gallery = gallery or SettableGallery(others)
        self.embedder = VectorPerFill()
        broker = InMemoryBroker()
        self.published = Inbox()
        self.listener = InMemoryCommunicator(broker)
        self.listener.subscribe(SIGHTINGS, self.published)
        self.recognizer = Recognizer(
            InMemoryCommunicator(broker),
            self.embedder,
            self.gallery,
            self.cache,
            policy=policy or OpenSetPolicy(MODEL, [TAIL], target_fpir=0.01),
            quality_gate=QualityGate(),
            sighting_cooldown=0,
            agreement_frames=agreement_frames,
        )

    def handle(self, *faces: FaceMessage, end: bool = True) -> list:
        """Handle the faces and, with ``end``, then the end of each of their tracks."""
        ends = [
            TrackEndMessage(
                camera_id=f.camera_id,
                track_id=f.track_id,
                last_seen_at=f.captured_at,
                faces_sent=1,
                reason="gap",
            )
            for f in dict((f.track_id, f) for f in faces).values()
        ]
        self.recognizer.handle([*faces, *(ends if end else [])])
        while self.listener.drain_once():
            pass
        return [(s.face_id, s.employee_id) for s in self.published.messages]


def test_a_face_that_passes_for_a_small_staff_is_refused_for_a_large_one():
    small = Setup(others=1)
    large = Setup(others=300)

    # Two faces: the threshold for FAR 1%/2 is 0.43; for 301 faces (FAR 3.3e-5) 0.75.
    assert small.handle(frame_of(CLOSE_TO_ADA, "f1")) == [("f1", "ada")]
    assert large.handle(frame_of(CLOSE_TO_ADA, "f1")) == [("f1", None)]


def test_the_threshold_follows_the_gallery_when_it_grows():
    setup = Setup(others=1)
    assert setup.handle(frame_of(CLOSE_TO_ADA, "f1")) == [("f1", "ada")]

    setup.gallery.resize(300)

    assert setup.handle(frame_of(CLOSE_TO_ADA, "f2"))[-1] == ("f2", None)


def test_a_configured_threshold_overrides_the_gallery_rule():
    setup = Setup(others=300, policy=OpenSetPolicy(MODEL, [TAIL], threshold=0.55))

    assert setup.handle(frame_of(CLOSE_TO_ADA, "f1")) == [("f1", "ada")]


def test_the_rule_for_the_gallery_held_is_reported_in_the_cache_when_it_moves():
    setup = Setup(others=99)
    setup.recognizer.start()

    status = read_status(setup.cache)
    assert status is not None
    assert (status.gallery_people, status.gallery_embeddings, status.rule) == (
        100,
        100,
        "calibrated",
    )
    assert status.gallery_version == "v-99"
    assert status.threshold == pytest.approx(0.3 + 0.1 * (np.log10(100 / 0.01005) - 1), abs=0.002)
    assert status.expected_fpir == pytest.approx(0.01, rel=0.01)
    assert status.calibration == "stand-in tail"
    assert [r.gallery_embeddings for r in status.outlook] == [200, 500, 1000]
    assert all(r.threshold > status.threshold for r in status.outlook)
    assert status.quality_gate is not None and status.quality_gate.min_face_size == 32

    setup.gallery.resize(999)
    setup.handle(frame_of(ADA, "f1"))

    moved = read_status(setup.cache)
    assert moved is not None
    assert (moved.gallery_embeddings, moved.gallery_version) == (1000, "v-999")
    assert moved.threshold > status.threshold


@pytest.mark.parametrize("quality", [TINY, BLURRED, TURNED], ids=["small", "blurred", "turned"])
def test_a_face_the_gate_refuses_is_neither_matched_nor_a_stranger(quality):
    setup = Setup()

    assert setup.handle(frame_of(ADA, "f1", quality), frame_of(STRANGER, "f2", quality)) == []
    # Not even embedded: a refused face costs no FaceNet time.
    assert setup.embedder.embedded == 0


def test_refused_faces_are_left_out_and_the_others_of_the_batch_judged():
    setup = Setup()

    sightings = setup.handle(
        frame_of(ADA, "f1"), frame_of(STRANGER, "f2", BLURRED), frame_of(STRANGER, "f3")
    )

    assert sightings == [("f1", "ada"), ("f3", None)]


def test_a_face_without_a_quality_report_is_judged_as_before():
    setup = Setup()

    assert setup.handle(frame_of(ADA, "f1", quality=None)) == [("f1", "ada")]


def test_refused_faces_do_not_count_towards_their_tracks_agreement():
    setup = Setup(agreement_frames=2)

    def of_track(face_id: str, quality: FaceQualityReport) -> FaceMessage:
        return frame_of(STRANGER, face_id, quality).model_copy(update={"track_id": "t1"})

    # One judged face only: the blurred one did not count towards the two needed.
    assert setup.handle(of_track("f1", BLURRED), of_track("f2", GOOD), end=False) == []
    assert setup.handle(of_track("f3", GOOD)) == [("f2", None)]


class AwayAtFirst(SettableGallery):
    """A gallery whose database is away for the first call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def current(self) -> GallerySnapshot:
        self.calls += 1
        if self.calls == 1:
            raise DependencyUnavailable("MongoDB is away")
        return super().current()


def test_a_recognizer_starts_while_the_database_is_away_and_reports_at_its_first_face():
    setup = Setup(gallery=AwayAtFirst())

    setup.recognizer.start()
    assert read_status(setup.cache) is None

    assert setup.handle(frame_of(ADA, "f1")) == [("f1", "ada")]
    status = read_status(setup.cache)
    assert status is not None and status.gallery_people == 1
