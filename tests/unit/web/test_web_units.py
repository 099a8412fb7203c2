"""Web pieces that need no server: settings, the bus enrolment client, helpers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
from services.common.bus.topology import ENROLMENTS
from services.common.contracts import BoundingBox, EnrolmentRequest, EnrolmentResult
from services.common.domain.enrolment import EnrolmentError, FaceBox, FacePreview
from services.common.settings import SettingsError
from services.common.storage.employees import Employee
from services.web import responses
from services.web.enrolment_client import BusEnrolmentClient
from services.web.openapi import openapi_path
from services.web.settings import WebSettings

pytestmark = pytest.mark.unit

GOOD_KEY = "0123456789abcdef0123456789abcdef"
BOX = BoundingBox(x=10, y=20, width=30, height=40)


def test_settings_read_the_environment_with_defaults():
    settings = WebSettings.from_env(
        {"WEB_SECRET_KEY": GOOD_KEY, "SITE_TIMEZONE": "Europe/Paris", "WEB_ADMIN_PASSWORD": "pw"}
    )
    assert settings.web_port == 8080
    assert settings.web_max_upload_bytes == 10 * 1024 * 1024
    assert settings.zone.key == "Europe/Paris"
    assert settings.web_viewer_password is None


@pytest.mark.parametrize("key", [None, "", "   ", "change-me", "secret", "dev", "short"])
def test_a_missing_or_weak_secret_key_is_refused(key):
    environ = {} if key is None else {"WEB_SECRET_KEY": key}
    with pytest.raises(SettingsError):
        WebSettings.from_env(environ)


def test_an_unknown_time_zone_is_refused():
    with pytest.raises(SettingsError, match="IANA"):
        WebSettings.from_env({"WEB_SECRET_KEY": GOOD_KEY, "SITE_TIMEZONE": "Mars/Olympus"})


class FakeEmployees:
    def get(self, employee_id: str) -> Employee:
        return Employee(employee_id, "Ana", datetime(2026, 1, 1, tzinfo=UTC), ("p1",))


def _recognizer(broker: InMemoryBroker, answer) -> InMemoryCommunicator:
    recognizer = InMemoryCommunicator(broker)
    recognizer.subscribe(ENROLMENTS, lambda batch: [answer(request) for request in batch])
    threading.Thread(target=recognizer.run, daemon=True).start()
    return recognizer


def test_the_bus_client_returns_the_enrolled_employee():
    broker = InMemoryBroker()
    recognizer = _recognizer(
        broker,
        lambda request: EnrolmentResult(
            request_id=request.request_id, ok=True, employee_id="e1", name=request.name
        ),
    )
    try:
        client = BusEnrolmentClient(InMemoryCommunicator(broker), FakeEmployees(), timeout=5)
        assert client.enroll("Ana", [b"jpeg"]).employee_id == "e1"
    finally:
        recognizer.stop()


def test_the_bus_client_maps_a_failed_result_to_an_enrolment_error():
    broker = InMemoryBroker()
    recognizer = _recognizer(
        broker,
        lambda request: EnrolmentResult(
            request_id=request.request_id, ok=False, error_code="no_face", error="photo 1: no face"
        ),
    )
    try:
        client = BusEnrolmentClient(InMemoryCommunicator(broker), FakeEmployees(), timeout=5)
        with pytest.raises(EnrolmentError, match="no face") as error:
            client.add_photos("e1", [b"jpeg"])
        assert error.value.code == "no_face"
    finally:
        recognizer.stop()


def test_the_bus_client_asks_for_a_preview_and_returns_the_face():
    broker = InMemoryBroker()
    asked: list[EnrolmentRequest] = []

    def answer(request: EnrolmentRequest) -> EnrolmentResult:
        asked.append(request)
        return EnrolmentResult(
            request_id=request.request_id, ok=True, face_jpeg=b"face", face_box=BOX
        )

    recognizer = _recognizer(broker, answer)
    try:
        client = BusEnrolmentClient(InMemoryCommunicator(broker), FakeEmployees(), timeout=5)
        assert client.preview(b"jpeg") == FacePreview(b"face", FaceBox(10, 20, 30, 40))
    finally:
        recognizer.stop()
    [request] = asked
    assert request.preview and request.photos == [b"jpeg"] and request.name is None


def test_a_preview_of_a_photo_of_a_screen_carries_the_recognizer_s_hint():
    broker = InMemoryBroker()
    hint = "this photo looks like a photo of a screen or a print"

    def answer(request: EnrolmentRequest) -> EnrolmentResult:
        return EnrolmentResult(
            request_id=request.request_id,
            ok=True,
            face_jpeg=b"face",
            face_box=BOX,
            liveness_score=0.02,
            liveness_hint=hint,
        )

    recognizer = _recognizer(broker, answer)
    try:
        client = BusEnrolmentClient(InMemoryCommunicator(broker), FakeEmployees(), timeout=5)
        preview = client.preview(b"jpeg")
    finally:
        recognizer.stop()
    assert preview.liveness_hint == hint
    assert responses.FacePreview.of(preview).liveness_hint == hint


def test_the_bus_client_maps_a_refused_preview_to_an_enrolment_error():
    broker = InMemoryBroker()
    recognizer = _recognizer(
        broker,
        lambda request: EnrolmentResult(
            request_id=request.request_id,
            ok=False,
            error_code="several_faces",
            error="photo 1: 2 faces found",
        ),
    )
    try:
        client = BusEnrolmentClient(InMemoryCommunicator(broker), FakeEmployees(), timeout=5)
        with pytest.raises(EnrolmentError, match="2 faces found") as error:
            client.preview(b"jpeg")
        assert error.value.code == "several_faces"
    finally:
        recognizer.stop()


def test_openapi_paths_use_braces():
    assert openapi_path("/employees/<employee_id>/photos") == "/employees/{employee_id}/photos"
    assert openapi_path("/pictures/<string:picture_id>") == "/pictures/{picture_id}"
