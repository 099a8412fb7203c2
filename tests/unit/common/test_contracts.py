from datetime import datetime

import pytest

from services.common.bus.base import InvalidMessage, decode
from services.common.bus.topology import FRAMES, SIGHTINGS
from services.common.contracts import FrameMessage, new_id, utc_now
from tests.helpers.messages import sighting

pytestmark = pytest.mark.unit


def frame(**changes) -> FrameMessage:
    fields = dict(
        frame_id=new_id(),
        camera_id="door",
        captured_at=utc_now(),
        width=4,
        height=4,
        jpeg=b"\xff\xd8binary\x00",
    )
    return FrameMessage(**{**fields, **changes})


def test_a_message_survives_the_round_trip_through_bytes():
    original = sighting("emp1", 5)
    assert decode(SIGHTINGS, original.to_bytes()) == original


def test_binary_fields_travel_as_url_safe_base64():
    assert b'"jpeg":"_9hiaW5hcnkA"' in frame().to_bytes()


def test_an_unknown_schema_version_is_refused_with_the_reason():
    body = frame().to_bytes().replace(b'"schema_version":1', b'"schema_version":2')
    with pytest.raises(InvalidMessage, match="unsupported schema_version 2"):
        decode(FRAMES, body)


def test_a_message_missing_a_field_is_refused_naming_the_field():
    body = frame().to_bytes().replace(b'"camera_id":"door",', b"")
    with pytest.raises(InvalidMessage, match="camera_id"):
        decode(FRAMES, body)


def test_a_body_that_is_not_json_is_refused():
    with pytest.raises(InvalidMessage):
        decode(FRAMES, b"\x00\x01 not json")


def test_naive_timestamps_are_refused():
    with pytest.raises(ValueError, match="time zone"):
        frame(captured_at=datetime(2026, 1, 1, 8, 0))


def test_unexpected_fields_are_refused():
    with pytest.raises(ValueError):
        frame(colour="red")
