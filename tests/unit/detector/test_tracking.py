"""Tracks follow a face across frames of one camera and end when it is gone or too old."""

from __future__ import annotations

import pytest

from services.detector.tracking import EndedTrack, IouTracker

pytestmark = pytest.mark.unit

BOX = (10, 10, 40, 40)
MOVED = (14, 12, 40, 40)
ELSEWHERE = (200, 10, 40, 40)


def test_an_overlapping_box_in_the_next_frame_continues_the_track():
    tracker = IouTracker()
    [first], _ = tracker.update("door", [BOX], 0.0)
    [second], ended = tracker.update("door", [MOVED], 0.2)

    assert second == first and ended == []


def test_a_box_elsewhere_starts_another_track():
    tracker = IouTracker()
    [first], _ = tracker.update("door", [BOX], 0.0)
    [other], _ = tracker.update("door", [ELSEWHERE], 0.2)

    assert other != first


def test_a_track_unseen_for_longer_than_the_gap_ends_with_its_last_capture_time():
    tracker = IouTracker(max_gap_s=1.5)
    [track], _ = tracker.update("door", [BOX], 10.0)
    tracker.update("door", [], 11.0)

    [new], ended = tracker.update("door", [BOX], 11.6)

    assert ended == [EndedTrack("door", track, 10.0, "gap")]
    assert new != track


def test_a_track_older_than_its_age_limit_ends_and_the_same_face_starts_a_new_one():
    tracker = IouTracker(max_age_s=5.0)
    [track], _ = tracker.update("door", [BOX], 0.0)
    for second in range(1, 6):
        tracker.update("door", [BOX], float(second))

    [new], ended = tracker.update("door", [BOX], 5.5)

    assert ended == [EndedTrack("door", track, 5.0, "max_age")]
    assert new != track


def test_cameras_keep_their_own_tracks_and_one_can_be_ended_alone():
    tracker = IouTracker()
    [door], _ = tracker.update("door", [BOX], 0.0)
    [gate], _ = tracker.update("gate", [BOX], 0.0)

    ended = tracker.end_camera("door", "idle")

    assert door != gate
    assert ended == [EndedTrack("door", door, 0.0, "idle")]
    assert tracker.cameras == ["gate"]
