"""The recognizer judges each track's liveness, as its detector summarised it, with the track's
identity: in ``block`` mode an attack track names nobody and is refused at once, in ``flag``
mode it is decided as usual and marked; a track not yet judgeable waits.

The network is the stand-in of test_recognizer_service (a crop's fill value picks its vector)
and the detector's liveness summaries are written by hand: the tests are about the decisions.
"""

from __future__ import annotations

import pytest

from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
from services.common.bus.topology import SIGHTINGS
from services.common.cache import InMemoryCache
from services.common.contracts import (
    FaceMessage,
    SightingMessage,
    TrackEndMessage,
    TrackLiveness,
)
from services.recognizer.liveness_verdict import LivenessRule
from services.recognizer.service import Recognizer
from tests.fixtures.bus import Inbox
from tests.unit.recognizer.test_recognizer_service import (
    ADA,
    STRANGER,
    FixedGallery,
    VectorPerFill,
    end_of,
    face_of,
)

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]

RULE = LivenessRule(threshold=0.5, min_faces=3, min_live_share=0.5)


def tally(scored: int, live: int) -> TrackLiveness:
    mean = (0.95 * live + 0.02 * (scored - live)) / scored
    return TrackLiveness(scored=scored, live=live, mean_score=mean, threshold=0.5)


def scored(message: FaceMessage, scored_faces: int, live: int) -> FaceMessage:
    summary = tally(scored_faces, live)
    return message.model_copy(update={"liveness": summary.mean_score, "track_liveness": summary})


def ended(track_id: str, scored_faces: int | None = None, live: int = 0) -> TrackEndMessage:
    end = end_of(track_id)
    if scored_faces is None:
        return end
    return end.model_copy(update={"liveness": tally(scored_faces, live)})


class Setup:
    def __init__(self, mode: str) -> None:
        self.embedder = VectorPerFill()
        broker = InMemoryBroker()
        self.listener = InMemoryCommunicator(broker)
        self.published = Inbox()
        self.listener.subscribe(SIGHTINGS, self.published)
        self.recognizer = Recognizer(
            InMemoryCommunicator(broker),
            self.embedder,
            FixedGallery(),
            InMemoryCache(),
            threshold=0.6,
            margin=0.05,
            sighting_cooldown=0,
            agreement_frames=2,
            liveness=mode,  # type: ignore[arg-type]
            liveness_rule=RULE,
        )

    def __call__(self, *events: FaceMessage | TrackEndMessage) -> list[SightingMessage]:
        self.recognizer.handle(list(events))
        while self.listener.drain_once():
            pass
        return list(self.published.messages)


def test_a_live_track_of_an_employee_is_known_and_carries_its_verdict():
    [sighting] = Setup("block")(
        scored(face_of(ADA, "f1", "t1"), 1, 1), scored(face_of(ADA, "f2", "t1"), 4, 4)
    )
    assert sighting.employee_id == "ada"
    assert sighting.liveness is not None
    assert (sighting.liveness.verdict, sighting.liveness.faces_scored) == ("live", 4)
    assert sighting.liveness.action is None


def test_a_printed_photo_of_an_employee_is_refused_in_block_mode_and_names_nobody():
    [sighting] = Setup("block")(
        scored(face_of(ADA, "f1", "t1"), 1, 0), scored(face_of(ADA, "f2", "t1"), 5, 0)
    )
    assert sighting.employee_id is None and sighting.employee_name is None
    assert sighting.is_blocked
    assert sighting.liveness is not None
    assert sighting.liveness.resembled_employee_id == "ada"
    assert sighting.liveness.resembled_employee_name == "Ada"
    assert sighting.similarity == pytest.approx(1.0, abs=1e-5)


def test_an_attack_is_refused_as_soon_as_it_is_judged_even_before_the_faces_agree():
    setup = Setup("block")
    [sighting] = setup(scored(face_of(ADA, "f1", "t1"), 3, 0))
    assert sighting.is_blocked
    # The track is closed: its later faces are not embedded, its end adds nothing.
    embedded = setup.embedder.embedded
    assert setup(scored(face_of(ADA, "f2", "t1"), 6, 0), ended("t1", 8, 0)) == [sighting]
    assert setup.embedder.embedded == embedded


def test_a_known_track_whose_liveness_is_not_yet_judgeable_waits_for_more_faces():
    setup = Setup("block")
    assert (
        setup(scored(face_of(ADA, "f1", "t1"), 1, 1), scored(face_of(ADA, "f2", "t1"), 2, 2)) == []
    )
    [sighting] = setup(scored(face_of(ADA, "f3", "t1"), 3, 3))
    assert sighting.employee_id == "ada" and sighting.liveness is not None
    assert sighting.liveness.verdict == "live"


def test_a_track_ending_before_its_liveness_was_judgeable_is_judged_on_the_faces_it_has():
    live = Setup("block")
    live(scored(face_of(ADA, "f1", "t1"), 1, 1), scored(face_of(ADA, "f2", "t1"), 2, 2))
    [known] = live(ended("t1", 2, 2))
    assert known.employee_id == "ada"

    attack = Setup("block")
    attack(scored(face_of(ADA, "f1", "t1"), 1, 0), scored(face_of(ADA, "f2", "t1"), 2, 0))
    [refused] = attack(ended("t1", 2, 0))
    assert refused.is_blocked and refused.employee_id is None


def test_the_end_of_a_track_brings_the_liveness_of_faces_never_sent():
    # Two faces sent, both live; the detector then saw the face turn into a held photo.
    setup = Setup("block")
    setup(scored(face_of(STRANGER, "f1", "t1"), 1, 1), scored(face_of(STRANGER, "f2", "t1"), 2, 2))
    [sighting] = setup(ended("t1", 12, 2))
    assert sighting.is_blocked


def test_in_flag_mode_an_attack_of_an_employee_is_known_and_flagged():
    [sighting] = Setup("flag")(
        scored(face_of(ADA, "f1", "t1"), 1, 0), scored(face_of(ADA, "f2", "t1"), 5, 0)
    )
    assert sighting.employee_id == "ada" and not sighting.is_blocked
    assert sighting.liveness is not None
    assert (sighting.liveness.verdict, sighting.liveness.action) == ("attack", "flagged")


def test_in_flag_mode_a_short_attack_track_still_leaves_a_sighting_for_its_spoof_attempt():
    setup = Setup("flag")
    setup(scored(face_of(ADA, "f1", "t1"), 4, 0))
    [sighting] = setup(ended("t1", 4, 0))
    assert sighting.employee_id is None and sighting.is_attack and not sighting.is_blocked


def test_with_liveness_off_the_scores_are_ignored():
    [sighting] = Setup("off")(
        scored(face_of(ADA, "f1", "t1"), 1, 0), scored(face_of(ADA, "f2", "t1"), 5, 0)
    )
    assert sighting.employee_id == "ada" and sighting.liveness is None


def test_a_track_its_detector_did_not_score_is_decided_as_without_liveness():
    [sighting] = Setup("block")(face_of(ADA, "f1", "t1"), face_of(ADA, "f2", "t1"))
    assert sighting.employee_id == "ada" and sighting.liveness is None


def test_an_older_summary_redelivered_does_not_replace_a_fuller_one():
    setup = Setup("block")
    setup(scored(face_of(ADA, "f1", "t1"), 1, 1), scored(face_of(ADA, "f2", "t1"), 2, 2))
    # The end (3 scored, 3 live) came, then a stale face summary of 1 scored is replayed.
    [sighting] = setup(ended("t1", 3, 3), scored(face_of(ADA, "f1", "t1"), 1, 0))
    assert sighting.employee_id == "ada" and sighting.liveness is not None
    assert sighting.liveness.faces_scored == 3
