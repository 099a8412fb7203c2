"""Oversized images: refused from their header on every upload, and kiosk frames bounded in
size and in how many are decoded at once, so that no request can exhaust the web's memory."""

from __future__ import annotations

import io
import threading
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from services.common.bus.memory import InMemoryCommunicator
from services.common.bus.topology import FRAMES
from services.web import frames
from services.web.errors import ApiError
from tests.helpers.image_bombs import webp_bomb
from tests.helpers.processes import wait_until
from tests.integration.web.conftest import counts, photo, upload

pytestmark = pytest.mark.integration

MAX_FRAME_SIDE = 1920
CONCURRENT_FRAMES = 3


def blank_png(width: int, height: int) -> bytes:
    """A 1-bit PNG: a few kilobytes however many pixels it claims."""
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


BOMBS = {
    "20000x20000": blank_png(20_000, 20_000),
    "7000x7000": blank_png(7_000, 7_000),
    # Pillow's own WebP reader raises its bomb error while merely opening this one.
    "16384x16384": webp_bomb(16_384, 16_384),
}


@pytest.fixture
def settings(settings):
    # A bound of its own: the decoding slots are shared by every app with the same bound.
    return settings.model_copy(
        update={
            "web_max_frame_side": MAX_FRAME_SIDE,
            "web_max_concurrent_frames": CONCURRENT_FRAMES,
        }
    )


@pytest.fixture
def detector(broker) -> tuple[InMemoryCommunicator, list]:
    """A FRAMES consumer standing for the detectors: what reaches it was published."""
    bus = InMemoryCommunicator(broker)
    received: list = []
    bus.subscribe(FRAMES, lambda batch: received.extend(batch))
    return bus, received


def published(detector) -> list:
    bus, received = detector
    while bus.drain_once():
        pass
    return received


@pytest.fixture
def web(app):
    return app.extensions["attendance"]


def refusal(call) -> ApiError:
    with pytest.raises(ApiError) as refused:
        call()
    return refused.value


@pytest.mark.parametrize("bomb", BOMBS, ids=BOMBS)
def test_an_oversized_photo_is_refused_by_every_photo_endpoint_and_nothing_is_stored(
    admin, registered, enroller, mongo_db, bomb
):
    employee = registered("Ana")
    before, calls = counts(mongo_db), enroller.calls
    attempts = {
        "/api/v1/employees": {"name": "Bea", "photo": upload(BOMBS[bomb], "bomb.png")},
        "/api/v1/employees/preview": {"photo": upload(BOMBS[bomb], "bomb.png")},
        f"/api/v1/employees/{employee['employee_id']}/photos": {
            "photo": upload(BOMBS[bomb], "bomb.png")
        },
    }
    for url, form in attempts.items():
        response = admin.post(url, data=form, content_type="multipart/form-data")
        assert response.status_code == 415, (url, response.text)
        error = response.get_json()["error"]
        assert error["code"] == "not_an_image"
        assert f"{bomb} pixels" in error["message"] and "megapixels" in error["message"]
    assert counts(mongo_db) == before
    assert enroller.calls == calls
    assert mongo_db.employees.find_one({"name": "Bea"}) is None


@pytest.mark.parametrize("bomb", BOMBS, ids=BOMBS)
def test_an_oversized_kiosk_frame_is_refused_over_http_and_nothing_is_published(
    admin, detector, bomb
):
    response = admin.post(
        "/api/v1/frames?camera_id=door", data=BOMBS[bomb], content_type="image/png"
    )
    assert response.status_code == 413, response.text
    assert response.get_json()["error"]["code"] == "frame_too_large"
    assert f"{bomb} pixels" in response.get_json()["error"]["message"]
    assert published(detector) == []


@pytest.mark.parametrize("size", [(20_000, 20_000), (7_000, 7_000), (2_000, 100), (100, 2_000)])
def test_a_frame_larger_than_a_camera_frame_is_refused_as_too_large(web, detector, size):
    error = refusal(lambda: frames.publish_frame(web, "door", blank_png(*size)))
    assert (error.status, error.code) == (413, "frame_too_large")
    assert f"{size[0]}x{size[1]} pixels" in error.message
    assert f"at most {MAX_FRAME_SIDE} pixels" in error.message
    assert published(detector) == []


def test_a_frame_up_to_the_limit_is_published_as_a_jpeg(web, detector):
    message = frames.publish_frame(web, "door", blank_png(MAX_FRAME_SIDE, 1080))
    jpeg = photo(size=640)
    frames.publish_frame(web, "hall", jpeg)
    received = published(detector)
    assert [(m.camera_id, m.width, m.height) for m in received] == [
        ("door", MAX_FRAME_SIDE, 1080),
        ("hall", 640, 640),
    ]
    assert received[0].frame_id == message.frame_id
    assert received[0].jpeg.startswith(frames.JPEG_MAGIC)
    assert received[1].jpeg == jpeg  # a JPEG goes on untouched


@pytest.mark.parametrize(
    ("camera", "data", "status", "code"),
    [
        ("bad id!", photo(), 400, "invalid_camera"),
        ("door", b"", 400, "frame_required"),
        ("door", b"hello", 415, "not_an_image"),
    ],
)
def test_a_bad_frame_is_refused_with_its_reason(web, detector, camera, data, status, code):
    error = refusal(lambda: frames.publish_frame(web, camera, data))
    assert (error.status, error.code) == (status, code)
    assert published(detector) == []


def test_a_frame_beyond_the_concurrent_decodes_is_refused_with_retry_after(web, detector):
    slots = frames.decoding_slots(CONCURRENT_FRAMES)
    taken = 0
    try:
        while slots.acquire(blocking=False):  # other uploads decoding right now
            taken += 1
        assert taken == CONCURRENT_FRAMES
        error = refusal(lambda: frames.publish_frame(web, "door", photo()))
        assert (error.status, error.code) == (503, "frames_busy")
        assert error.retry_after_s == frames.BUSY_RETRY_AFTER_S
        assert published(detector) == []
    finally:
        for _ in range(taken):
            slots.release()
    frames.publish_frame(web, "door", photo())
    assert [m.camera_id for m in published(detector)] == ["door"]


def test_six_oversized_frames_at_once_take_little_memory(web, detector):
    bomb = BOMBS["7000x7000"]
    start = threading.Barrier(6)

    def send(_: int) -> int:
        start.wait()
        try:
            frames.publish_frame(web, "door", bomb)
        except ApiError as exc:
            return exc.status
        return 202

    tracemalloc.start()
    try:
        with ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(send, range(6)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert statuses == [413] * 6
    # Decoding one of them alone would take about 200 MB (49 million pixels, gray then RGB).
    assert peak < 20 * 1024 * 1024, f"{peak / 1_048_576:.0f} MB traced at the peak"
    assert published(detector) == []


def test_frames_decoded_at_once_never_exceed_the_bound(web, detector, monkeypatch):
    decoding = 0
    most = 0
    lock = threading.Lock()
    release = threading.Event()
    real = frames.decode_picture

    def slow_decode(data, *args, **kwargs):
        nonlocal decoding, most
        with lock:
            decoding += 1
            most = max(most, decoding)
        release.wait(5)
        with lock:
            decoding -= 1
        return real(data, *args, **kwargs)

    monkeypatch.setattr(frames, "decode_picture", slow_decode)

    def send(_: int) -> int:
        try:
            frames.publish_frame(web, "door", photo())
        except ApiError as exc:
            return exc.status
        return 202

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(send, n) for n in range(8)]
        # Those past the bound are answered at once, while the admitted ones still decode.
        wait_until(
            lambda: sum(f.done() for f in futures) == 8 - CONCURRENT_FRAMES,
            5,
            "the frames past the bound to be refused",
            interval=0.01,
        )
        release.set()
        statuses = [f.result(timeout=10) for f in futures]
    assert most == CONCURRENT_FRAMES
    assert statuses.count(202) == CONCURRENT_FRAMES
    assert statuses.count(503) == 8 - CONCURRENT_FRAMES
    assert len(published(detector)) == CONCURRENT_FRAMES
