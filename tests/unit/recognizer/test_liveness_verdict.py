"""A track is live, an attack or undecided from the liveness scores of its faces so far."""

from __future__ import annotations

import pytest

from services.faces.liveness_settings import LivenessSettings
from services.recognizer.liveness_verdict import LivenessRule, Verdict, live_share, track_verdict

pytestmark = pytest.mark.unit

RULE = LivenessRule(threshold=0.5, min_faces=3, min_live_share=0.5)


def test_a_track_with_fewer_faces_than_the_minimum_is_undecided():
    assert track_verdict([], RULE) is Verdict.UNDECIDED
    assert track_verdict([0.99, 0.98], RULE) is Verdict.UNDECIDED
    assert track_verdict([0.01, 0.02], RULE) is Verdict.UNDECIDED


def test_a_track_whose_faces_are_mostly_live_is_live():
    assert track_verdict([0.9, 0.2, 0.8], RULE) is Verdict.LIVE


def test_a_track_whose_faces_are_mostly_attacks_is_an_attack():
    assert track_verdict([0.9, 0.2, 0.1], RULE) is Verdict.ATTACK


def test_one_misjudged_face_does_not_decide_a_long_track():
    live_person = [0.95] * 9 + [0.05]
    held_photo = [0.01] * 9 + [0.97]
    assert track_verdict(live_person, RULE) is Verdict.LIVE
    assert track_verdict(held_photo, RULE) is Verdict.ATTACK


def test_a_score_equal_to_the_threshold_counts_as_live():
    assert track_verdict([0.5, 0.5, 0.0], RULE) is Verdict.LIVE


def test_the_share_is_met_exactly_by_counting_faces_not_by_float_division():
    rule = LivenessRule(threshold=0.5, min_faces=5, min_live_share=0.6)
    assert track_verdict([0.9, 0.9, 0.9, 0.1, 0.1], rule) is Verdict.LIVE
    assert track_verdict([0.9, 0.9, 0.1, 0.1, 0.1], rule) is Verdict.ATTACK


def test_a_share_of_one_needs_every_face_live():
    strict = LivenessRule(threshold=0.5, min_faces=2, min_live_share=1.0)
    assert track_verdict([0.9, 0.9, 0.9], strict) is Verdict.LIVE
    assert track_verdict([0.9, 0.9, 0.49], strict) is Verdict.ATTACK


def test_a_score_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        track_verdict([0.5, 1.5, 0.5], RULE)
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        track_verdict([float("nan"), 0.5, 0.5], RULE)


@pytest.mark.parametrize(
    "bad",
    [
        {"threshold": -0.1},
        {"threshold": 1.1},
        {"min_faces": 0},
        {"min_live_share": 0.0},
        {"min_live_share": 1.01},
    ],
)
def test_a_rule_out_of_range_is_refused(bad):
    with pytest.raises(ValueError):
        LivenessRule(**bad)


def test_the_live_share_of_no_faces_is_zero():
    assert live_share([], 0.5) == 0.0
    assert live_share([0.2, 0.7, 0.9, 0.4], 0.5) == 0.5


def test_the_rule_comes_from_the_liveness_settings():
    settings = LivenessSettings.from_env(
        {
            "LIVENESS_THRESHOLD": "0.4",
            "LIVENESS_MIN_FACES": "5",
            "LIVENESS_MIN_LIVE_SHARE": "0.8",
        }
    )
    assert LivenessRule.from_settings(settings) == LivenessRule(0.4, 5, 0.8)
    assert settings.liveness == "block"


def test_a_liveness_mode_other_than_off_flag_block_is_refused():
    from services.common.settings import SettingsError

    with pytest.raises(SettingsError, match="LIVENESS"):
        LivenessSettings.from_env({"LIVENESS": "warn"})


def test_an_ended_track_with_fewer_faces_than_the_minimum_is_judged_on_what_it_has():
    assert track_verdict([0.01, 0.02], RULE, ended=True) is Verdict.ATTACK
    assert track_verdict([0.99], RULE, ended=True) is Verdict.LIVE
    assert track_verdict([], RULE, ended=True) is Verdict.UNDECIDED


def test_a_detectors_summary_is_judged_by_its_counts_with_the_rules_share_and_minimum():
    from services.common.contracts import TrackLiveness
    from services.recognizer.liveness_verdict import summary_verdict

    mostly_live = TrackLiveness(scored=10, live=6, mean_score=0.6, threshold=0.5)
    mostly_print = TrackLiveness(scored=10, live=2, mean_score=0.2, threshold=0.5)
    early = TrackLiveness(scored=2, live=0, mean_score=0.01, threshold=0.5)
    assert summary_verdict(mostly_live, RULE) is Verdict.LIVE
    assert summary_verdict(mostly_print, RULE) is Verdict.ATTACK
    assert summary_verdict(early, RULE) is Verdict.UNDECIDED
    assert summary_verdict(early, RULE, ended=True) is Verdict.ATTACK


def test_more_live_faces_than_scored_is_an_error():
    from services.recognizer.liveness_verdict import counts_verdict

    with pytest.raises(ValueError, match="4 live faces of 3"):
        counts_verdict(3, 4, RULE)
