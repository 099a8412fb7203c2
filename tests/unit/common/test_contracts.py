from datetime import UTC, datetime

import pytest

from services.common.bus.base import InvalidMessage, decode
from services.common.bus.topology import ENROLMENTS, FRAMES, SIGHTINGS
from services.common.contracts import (
    BoundingBox,
    EnrolmentRequest,
    EnrolmentResult,
    FrameMessage,
    new_id,
    utc_now,
)
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


def test_an_enrolment_request_leaves_the_unused_preview_flag_out_of_its_bytes():
    # A recognizer built before previews refuses unknown fields: ordinary requests must not
    # carry the flag, so they still reach it.
    body = EnrolmentRequest(request_id="r1", name="Ana", photos=[b"jpeg"]).to_bytes()
    assert b"preview" not in body
    assert decode(ENROLMENTS, body).preview is False


def test_a_preview_request_survives_the_round_trip_through_bytes():
    request = EnrolmentRequest(request_id="r1", photos=[b"jpeg"], preview=True)
    assert decode(ENROLMENTS, request.to_bytes()) == request


def test_a_preview_request_takes_exactly_one_photo():
    with pytest.raises(ValueError, match="exactly one photo, not 2"):
        EnrolmentRequest(request_id="r1", photos=[b"a", b"b"], preview=True)


def test_a_preview_result_carries_the_face_and_its_box():
    result = EnrolmentResult(
        request_id="r1",
        ok=True,
        face_jpeg=b"\xff\xd8face",
        face_box=BoundingBox(x=1, y=2, width=30, height=40),
    )
    assert EnrolmentResult.from_bytes(result.to_bytes()) == result


def test_an_enrolment_result_without_a_face_leaves_the_face_fields_out():
    body = EnrolmentResult(request_id="r1", ok=True, employee_id="e1").to_bytes()
    assert b"face_jpeg" not in body and b"face_box" not in body


def test_an_ordinary_enrolment_request_leaves_the_duplicate_flag_and_expiry_out():
    body = EnrolmentRequest(request_id="r1", name="Ana", photos=[b"jpeg"]).to_bytes()
    assert b"allow_duplicate_face" not in body and b"expires_at" not in body


def test_an_enrolment_request_carries_its_duplicate_flag_and_expiry():
    request = EnrolmentRequest(
        request_id="r1",
        name="Ana",
        photos=[b"jpeg"],
        allow_duplicate_face=True,
        expires_at=datetime(2026, 11, 24, 8, 0, 30, tzinfo=UTC),
    )
    assert decode(ENROLMENTS, request.to_bytes()) == request


def test_a_refused_enrolment_names_the_employee_the_face_belongs_to():
    result = EnrolmentResult(
        request_id="r1",
        ok=False,
        error_code="face_already_enrolled",
        error="photo 1: this face is already enrolled as Ana (id e1)",
        conflicting_employee_id="e1",
    )
    assert EnrolmentResult.from_bytes(result.to_bytes()) == result
    assert b"conflicting_employee_id" not in EnrolmentResult(request_id="r", ok=True).to_bytes()
