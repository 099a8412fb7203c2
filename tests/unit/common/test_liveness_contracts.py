"""The liveness fields of the messages: added later, so left out while unset (a consumer built
before them reads every message that does not use them and refuses one that does)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from services.common.bus.base import InvalidMessage, decode
from services.common.bus.topology import ATTENDANCE_EVENTS, FACES, SIGHTINGS
from services.common.contracts import (
    AttendanceEvent,
    FaceMessage,
    SightingLiveness,
    SightingMessage,
    TrackEndMessage,
    TrackLiveness,
)
from tests.fixtures.bus import MORNING, face
from tests.helpers.messages import sighting

pytestmark = pytest.mark.unit

SUMMARY = TrackLiveness(scored=5, live=4, mean_score=0.81, threshold=0.5)
BLOCKED = SightingLiveness(
    verdict="attack",
    mean_score=0.02,
    faces_scored=6,
    action="blocked",
    resembled_employee_id="ada",
    resembled_employee_name="Ada",
)


def track_end(**changes) -> TrackEndMessage:
    fields = dict(
        camera_id="door",
        track_id="t1",
        last_seen_at=MORNING,
        faces_sent=2,
        reason="gap",
    )
    return TrackEndMessage(**{**fields, **changes})


def test_a_face_not_scored_leaves_both_liveness_fields_out_of_its_bytes():
    body = face("f1").to_bytes()
    assert b"liveness" not in body


def test_a_scored_face_carries_its_score_and_its_track_summary_through_the_faces_queue():
    scored = face("f1").model_copy(update={"liveness": 0.93, "track_liveness": SUMMARY})
    decoded = decode(FACES, scored.to_bytes())
    assert isinstance(decoded, FaceMessage)
    assert decoded.liveness == 0.93 and decoded.track_liveness == SUMMARY


def test_a_track_end_carries_the_final_summary_and_leaves_it_out_when_unscored():
    assert b"liveness" not in track_end().to_bytes()
    decoded = decode(FACES, track_end(liveness=SUMMARY).to_bytes())
    assert isinstance(decoded, TrackEndMessage) and decoded.liveness == SUMMARY


def test_a_face_score_outside_zero_to_one_is_refused():
    body = json.loads(face("f1").to_bytes())
    body["liveness"] = 1.5
    with pytest.raises(InvalidMessage, match="liveness"):
        decode(FACES, json.dumps(body).encode())


def test_a_summary_with_more_live_faces_than_scored_is_refused():
    with pytest.raises(ValidationError, match="3 live faces of 2 scored"):
        TrackLiveness(scored=2, live=3, mean_score=0.9, threshold=0.5)


def test_a_sighting_without_liveness_leaves_the_field_out():
    assert b"liveness" not in sighting("ada").to_bytes()


def test_a_blocked_sighting_names_nobody_and_says_whom_it_resembled():
    blocked = sighting(None).model_copy(update={"liveness": BLOCKED})
    decoded = decode(SIGHTINGS, blocked.to_bytes())
    assert isinstance(decoded, SightingMessage)
    assert decoded.is_blocked and decoded.is_attack and not decoded.is_known
    assert decoded.liveness is not None and decoded.liveness.resembled_employee_id == "ada"


def test_a_blocked_sighting_that_names_an_employee_is_refused():
    body = json.loads(sighting("ada").to_bytes())
    body["liveness"] = json.loads(BLOCKED.model_dump_json())
    with pytest.raises(InvalidMessage, match="must not name an employee"):
        decode(SIGHTINGS, json.dumps(body).encode())


def test_a_flagged_sighting_is_known_and_an_attack():
    flagged = sighting("ada").model_copy(
        update={
            "liveness": SightingLiveness(
                verdict="attack", mean_score=0.1, faces_scored=4, action="flagged"
            )
        }
    )
    decoded = decode(SIGHTINGS, flagged.to_bytes())
    assert decoded.is_known and decoded.is_attack and not decoded.is_blocked


@pytest.mark.parametrize(
    ("verdict", "action"), [("live", "blocked"), ("undecided", "flagged"), ("attack", None)]
)
def test_an_action_goes_with_an_attack_and_only_with_one(verdict, action):
    with pytest.raises(ValidationError, match="does not go with"):
        SightingLiveness(verdict=verdict, mean_score=0.5, faces_scored=3, action=action)


def test_a_refused_attendance_event_round_trips():
    event = AttendanceEvent(
        sighting_id="s1",
        record_id="attempt-1",
        employee_id="ada",
        employee_name="Ada",
        camera_id="kiosk",
        seen_at=MORNING,
        day="2026-11-24",
        event="refused",
    )
    assert decode(ATTENDANCE_EVENTS, event.to_bytes()) == event
