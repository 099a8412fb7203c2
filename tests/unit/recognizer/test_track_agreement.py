"""Several frames of one track must agree before a sighting counts."""

from __future__ import annotations

import pytest

from services.common.cache import InMemoryCache
from services.recognizer.track_agreement import (
    MAX_VOTES_PER_TRACK,
    REJECTED,
    TrackAgreement,
    Verdict,
    decide,
)

pytestmark = pytest.mark.unit


def test_one_frame_of_a_known_person_is_not_enough():
    assert decide({"f1": "ada"}, "f1", required=2) == Verdict(publish=False)


def test_the_frame_that_completes_the_agreement_is_published_as_that_person():
    assert decide({"f1": "ada", "f2": "ada"}, "f2", 2) == Verdict(True, "ada")


def test_rejected_frames_between_matching_ones_do_not_break_the_agreement():
    votes = {"f1": "ada", "f2": REJECTED, "f3": "ada"}
    assert decide(votes, "f3", 2) == Verdict(True, "ada")


def test_a_rejected_frame_of_an_agreed_person_is_neither_published_nor_called_a_stranger():
    votes = {"f1": "ada", "f2": "ada", "f3": REJECTED, "f4": REJECTED}
    assert decide(votes, "f4", 2) == Verdict(publish=False)


def test_two_employees_tied_on_one_track_give_no_verdict():
    votes = {"f1": "ada", "f2": "bob", "f3": "ada", "f4": "bob"}
    assert decide(votes, "f4", 2) == Verdict(publish=False)


def test_the_majority_employee_of_a_track_wins():
    votes = {"f1": "ada", "f2": "bob", "f3": "ada", "f4": "ada"}
    assert decide(votes, "f4", 2) == Verdict(True, "ada")
    assert decide(votes, "f2", 2) == Verdict(publish=False)


def test_a_stranger_is_reported_once_enough_frames_are_rejected():
    assert decide({"f1": REJECTED}, "f1", 2) == Verdict(publish=False)
    assert decide({"f1": REJECTED, "f2": REJECTED}, "f2", 2) == Verdict(True, None)


def test_one_stray_match_does_not_hide_a_stranger_seen_in_more_rejected_frames():
    votes = {"f1": REJECTED, "f2": "ada", "f3": REJECTED}
    assert decide(votes, "f3", 2) == Verdict(True, None)


def test_with_one_required_frame_every_frame_counts():
    agreement = TrackAgreement(InMemoryCache(), required=1)
    assert agreement.vote("door", "t1", "f1", "ada") == Verdict(True, "ada")
    assert agreement.vote("door", "t2", "f2", None) == Verdict(True, None)


def test_votes_are_kept_per_camera_and_track():
    agreement = TrackAgreement(InMemoryCache(), required=2)
    assert not agreement.vote("door", "t1", "f1", "ada").publish
    assert not agreement.vote("door", "t2", "f2", "ada").publish
    assert not agreement.vote("garage", "t1", "f3", "ada").publish
    assert agreement.vote("door", "t1", "f4", "ada") == Verdict(True, "ada")


def test_a_redelivered_face_does_not_vote_twice():
    agreement = TrackAgreement(InMemoryCache(), required=2)
    assert not agreement.vote("door", "t1", "f1", "ada").publish
    assert not agreement.vote("door", "t1", "f1", "ada").publish
    assert agreement.vote("door", "t1", "f2", "ada").publish


def test_recognizers_sharing_a_cache_share_the_votes():
    cache = InMemoryCache()
    first, second = TrackAgreement(cache, 2), TrackAgreement(cache, 2)
    assert not first.vote("door", "t1", "f1", "ada").publish
    assert second.vote("door", "t1", "f2", "ada") == Verdict(True, "ada")


def test_only_the_latest_frames_of_a_long_track_are_kept():
    agreement = TrackAgreement(InMemoryCache(), required=2)
    agreement.vote("door", "t1", "old", "ada")
    for index in range(MAX_VOTES_PER_TRACK):
        agreement.vote("door", "t1", f"f{index}", None)
    # The old match has been forgotten: a second match is a first vote again.
    assert not agreement.vote("door", "t1", "new", "ada").publish


def test_unreadable_votes_in_the_cache_are_started_afresh():
    cache = InMemoryCache()
    cache.set("track:door:t1", b"not json")
    agreement = TrackAgreement(cache, 2)
    assert not agreement.vote("door", "t1", "f1", "ada").publish
    assert agreement.vote("door", "t1", "f2", "ada").publish


def test_agreement_needs_at_least_one_frame():
    with pytest.raises(ValueError, match="at least one frame"):
        TrackAgreement(InMemoryCache(), required=0)
