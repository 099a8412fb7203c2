"""A track's first faces are sent as they come, then only clearly better ones, up to a limit."""

from __future__ import annotations

import pytest

from services.detector.track_selection import SelectionPolicy, TrackSelection

pytestmark = pytest.mark.unit

POLICY = SelectionPolicy(max_faces=3, first_faces=2, spacing_s=0.25, better_by=0.2)


def sent(*faces: tuple[float, float]) -> TrackSelection:
    selection = TrackSelection()
    for score, at in faces:
        selection.record(score, at)
    return selection


def test_the_first_face_of_a_track_is_sent_whatever_its_score():
    assert TrackSelection().skip_reason(0.05, 0.0, POLICY) is None


def test_the_next_first_faces_are_sent_once_spaced_apart():
    selection = sent((0.5, 0.0))

    assert selection.skip_reason(0.3, 0.1, POLICY) == "spacing"
    assert selection.skip_reason(0.3, 0.3, POLICY) is None


def test_after_the_first_faces_only_a_clearly_better_one_is_sent():
    selection = sent((0.5, 0.0), (0.4, 0.3))

    assert selection.skip_reason(0.55, 1.0, POLICY) == "not_better"
    assert selection.skip_reason(0.65, 1.0, POLICY) is None


def test_no_more_than_the_most_faces_of_a_track_are_sent():
    selection = sent((0.1, 0.0), (0.1, 0.3), (0.5, 0.6))

    assert selection.skip_reason(1.0, 2.0, POLICY) == "track_has_enough"


def test_a_policy_cannot_ask_for_more_agreeing_faces_than_it_sends():
    with pytest.raises(ValueError, match="first faces"):
        SelectionPolicy(max_faces=2, first_faces=3)
