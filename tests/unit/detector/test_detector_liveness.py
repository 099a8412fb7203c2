"""The detector scores every judgeable face of a track, sent or not, and sends the track's
liveness tally with each face it sends and with the track's end.

The liveness networks are replaced by a scripted scorer (the score of each box is looked up by
its x position), so the tests are about what the detector counts and sends; the networks are
tested against their reference outputs in tests/unit/faces.
"""

from __future__ import annotations

import numpy as np
import pytest

from services.common.preflight import required_model_files
from services.detector.service import Detector
from services.detector.settings import DetectorSettings
from services.detector.track_liveness import LivenessTally
from services.detector.tracking import IouTracker
from services.faces.quality import QualityGate
from tests.unit.detector.test_detector_tracks import Camera, at

pytestmark = pytest.mark.unit


class ScriptedScorer:
    """Scores each box by its x position (``scores[x]``), counting the batches it is given."""

    def __init__(self, scores: dict[int, float]) -> None:
        self.scores = scores
        self.batches: list[int] = []

    def score(self, rgb: np.ndarray, boxes) -> list[float]:
        assert boxes, "a scorer must not be called without faces"
        self.batches.append(len(boxes))
        return [self.scores[box[0]] for box in boxes]


class ScoringCamera(Camera):
    """A camera whose detector scores liveness; by default every face (no interval)."""

    def __init__(
        self, scores: dict[int, float], threshold: float = 0.5, interval: float = 0.0
    ) -> None:
        super().__init__()
        self.scorer = ScriptedScorer(scores)
        self.detector = Detector(
            self.bus,
            self.finder,
            quality_gate=QualityGate(),
            tracker=IouTracker(max_gap_s=1.5),
            idle_sweep_s=None,
            liveness=self.scorer,  # type: ignore[arg-type]
            liveness_threshold=threshold,
            liveness_interval_s=interval,
        )


def test_every_judged_face_of_a_track_is_counted_though_only_a_few_are_sent():
    # A printed photo held up: ten frames, nine scored as attacks, one misjudged as live.
    scores = {10 + x: 0.02 for x in range(10)} | {15: 0.97}
    camera = ScoringCamera(scores)
    for x in range(10):
        camera.show(at(10 + x))
    camera.show(after=2.0)

    assert len(camera.faces) == 2
    [end] = camera.ends
    assert end.liveness is not None
    assert (end.liveness.scored, end.liveness.live) == (10, 1)
    assert end.liveness.mean_score == pytest.approx((9 * 0.02 + 0.97) / 10)
    assert end.liveness.threshold == 0.5


def test_each_face_sent_carries_its_own_score_and_the_tally_up_to_it():
    camera = ScoringCamera({10 + x: 0.9 - 0.1 * x for x in range(5)})
    for x in range(5):
        camera.show(at(10 + x))

    first, second = camera.faces
    assert first.liveness == pytest.approx(0.9) and second.liveness == pytest.approx(0.6)
    assert first.track_liveness is not None and second.track_liveness is not None
    assert (first.track_liveness.scored, first.track_liveness.live) == (1, 1)
    # The second face went in the fourth frame (0.25 s after the first): four faces scored,
    # so no face is sent for the liveness's sake.
    assert (second.track_liveness.scored, second.track_liveness.live) == (4, 4)


def test_the_face_at_which_a_tracks_liveness_becomes_decidable_is_sent():
    # 0.4 s apart (a kiosk's pace): the second face goes at once, with two faces scored; the
    # selection would send nothing more, but the third face makes the track decidable (three
    # scored), so it goes too; then nothing more.
    camera = ScoringCamera({10: 0.9})
    for _ in range(6):
        camera.show(at(10), after=0.4)

    tallies = [face.track_liveness for face in camera.faces]
    assert [tally.scored for tally in tallies if tally is not None] == [1, 2, 3]


def test_between_the_faces_sent_a_tracks_faces_are_scored_at_most_every_interval():
    # Frames 0.1 s apart, one score every 0.35 s at most: the first face (sent), the second
    # one sent (0.3 s later), then the face 0.4 s after that, which makes the track judgeable
    # (three scored) and so is sent too.
    camera = ScoringCamera({10: 0.9}, interval=0.35)
    for _ in range(10):
        camera.show(at(10))
    camera.show(after=2.0)

    assert [face.frame_id for face in camera.faces] == ["frame-1", "frame-4", "frame-8"]
    assert all(face.liveness is not None for face in camera.faces)
    assert camera.ends[0].liveness is not None and camera.ends[0].liveness.scored == 3
    assert camera.scorer.batches == [1, 1, 1]


def test_the_faces_of_one_frame_are_scored_in_one_batch_and_frames_without_faces_not_at_all():
    camera = ScoringCamera({10: 0.9, 200: 0.1})
    camera.show(at(10), at(200))
    camera.show()
    camera.show(at(10), at(200))

    assert camera.scorer.batches == [2, 2]


def test_faces_the_quality_gate_refuses_are_neither_scored_nor_counted():
    camera = ScoringCamera({10: 0.9})
    camera.show(at(10, size=20))
    assert camera.scorer.batches == []


def test_two_tracks_keep_separate_tallies():
    camera = ScoringCamera({10: 0.95, 300: 0.01})
    for _ in range(4):
        camera.show(at(10), at(300))
    camera.show(after=2.0)

    by_track = {end.track_id: end.liveness for end in camera.ends}
    live = {faces.track_id for faces in camera.faces if faces.box.x == 10}
    [live_track] = live
    assert by_track[live_track] is not None and by_track[live_track].live == 4
    [other] = set(by_track) - live
    assert by_track[other] is not None and by_track[other].live == 0


def test_a_detector_without_a_scorer_sends_no_liveness():
    camera = Camera()
    for x in range(3):
        camera.show(at(10 + x))
    camera.show(after=2.0)
    assert all(face.liveness is None and face.track_liveness is None for face in camera.faces)
    assert camera.ends[0].liveness is None


def test_a_tally_counts_scores_at_its_threshold():
    tally = LivenessTally(threshold=0.5)
    assert tally.summary() is None
    for score in (0.5, 0.49, 1.0):
        tally.add(score)
    summary = tally.summary()
    assert summary is not None and (summary.scored, summary.live) == (3, 2)
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        tally.add(float("nan"))


def test_the_liveness_networks_are_required_model_files_unless_liveness_is_off():
    on = required_model_files(DetectorSettings.from_env({}))
    off = required_model_files(DetectorSettings.from_env({"LIVENESS": "off"}))
    liveness_files = {"2.7_80x80_MiniFASNetV2.pth", "4_0_0_80x80_MiniFASNetV1SE.pth"}
    assert liveness_files <= set(on)
    assert not liveness_files & set(off)
