"""A track is decided once enough of its faces were embedded: known as soon as their fused
embedding is accepted, unknown only when it ended without that."""

from __future__ import annotations

import pytest

from services.recognizer.matching import Match
from services.recognizer.track_agreement import Decision, decide

pytestmark = pytest.mark.unit

ADA = Match("ada", 0.8, 0.1, True, "ada")
NOBODY = Match(None, 0.3, 0.1, False, "ada")


def test_one_face_of_a_known_person_is_not_enough_when_two_must_agree():
    assert decide(1, 2, ADA, ended=False) is None


def test_enough_faces_accepted_as_someone_decide_at_once_while_the_track_goes_on():
    assert decide(2, 2, ADA, ended=False) == Decision("known", ADA)


def test_a_track_that_goes_on_unaccepted_waits_for_more_faces():
    assert decide(3, 2, NOBODY, ended=False) is None


def test_a_track_that_ended_unaccepted_with_enough_faces_is_a_stranger():
    assert decide(2, 2, NOBODY, ended=True) == Decision("unknown", NOBODY)


def test_a_track_that_ended_with_too_few_faces_is_neither():
    assert decide(1, 2, ADA, ended=True) is None
    assert decide(1, 2, NOBODY, ended=True) is None


def test_with_one_face_required_the_first_face_decides():
    assert decide(1, 1, ADA, ended=False) == Decision("known", ADA)


def test_no_face_can_be_required_to_agree():
    with pytest.raises(ValueError):
        decide(1, 0, ADA, ended=False)
