"""A camera's user and password never reach a log line or an error message."""

import logging
import socket
import threading
import time

import pytest

from services.capture.service import Capture
from services.capture.sources import SourceError, parse_source
from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator

pytestmark = pytest.mark.unit

PASSWORD = "Pa55:w@rd/42"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_camera_that_cannot_be_reached_is_logged_without_its_password(caplog):
    url = f"rtsp://admin:{PASSWORD}@127.0.0.1:{closed_port()}/live"
    capture = Capture(InMemoryCommunicator(InMemoryBroker()), url, "door")
    caplog.set_level(logging.DEBUG)
    runner = threading.Thread(target=capture.run, daemon=True)
    runner.start()
    deadline = time.monotonic() + 20
    while "reopening" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    capture.stop()
    runner.join(10)
    assert "reopening" in caplog.text
    assert "127.0.0.1" in caplog.text  # the camera is still named
    for secret in (PASSWORD, "Pa55", "w@rd"):
        assert secret not in caplog.text


def test_errors_about_a_source_hide_its_credentials():
    with pytest.raises(SourceError) as error:
        parse_source(f"ftp://admin:{PASSWORD}@cam.local/video")
    assert "cam.local" in str(error.value) and "Pa55" not in str(error.value)
    spec = parse_source(f"http://admin:{PASSWORD}@cam.local/mjpeg")
    assert spec.location.startswith("http://admin:Pa55")  # what OpenCV is given is intact
    for shown in (str(spec), spec.shown):
        assert "cam.local" in shown and "Pa55" not in shown
    assert "Pa55" not in repr(spec)
