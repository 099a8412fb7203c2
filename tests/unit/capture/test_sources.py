import time

import numpy as np
import pytest

from services.capture.service import Capture
from services.capture.sources import SourceError, parse_source, read_frames
from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
from services.common.bus.topology import FRAMES
from services.common.images import decode_image, encode_jpeg

pytestmark = pytest.mark.unit


def test_sources_are_told_apart_by_their_form(tmp_path):
    video = tmp_path / "door.mp4"
    video.write_bytes(b"")
    assert parse_source("0").kind == "camera"
    assert parse_source("rtsp://cam.local/stream").kind == "stream"
    assert parse_source(str(tmp_path)).kind == "folder"
    assert parse_source(str(video)).kind == "file"


def test_a_missing_source_is_reported_clearly():
    with pytest.raises(SourceError, match="neither a camera index"):
        parse_source("/nowhere/door.mp4")


def test_an_unsupported_scheme_is_refused():
    with pytest.raises(SourceError, match="ftp"):
        parse_source("ftp://example/video")


def write_images(folder, count):
    for index in range(count):
        image = np.full((20, 30, 3), index * 40, dtype=np.uint8)
        (folder / f"{index:02d}.jpg").write_bytes(encode_jpeg(image))
    (folder / "notes.txt").write_text("not an image")


def test_a_folder_yields_its_images_in_name_order_at_the_requested_rate(tmp_path):
    write_images(tmp_path, 3)
    started = time.monotonic()
    frames = list(read_frames(parse_source(str(tmp_path)), fps=20))
    assert [int(frame.mean()) // 40 for frame in frames] == [0, 1, 2]
    assert time.monotonic() - started >= 2 / 20


def test_an_unreadable_image_in_a_folder_is_skipped(tmp_path):
    write_images(tmp_path, 2)
    (tmp_path / "03.jpg").write_bytes(b"garbage")
    assert len(list(read_frames(parse_source(str(tmp_path)), fps=100))) == 2


def test_an_unopenable_video_file_is_an_error(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    with pytest.raises(SourceError, match="cannot open"):
        list(read_frames(parse_source(str(broken)), fps=100))


def test_capture_publishes_each_frame_as_a_jpeg_with_camera_and_time(tmp_path):
    write_images(tmp_path, 2)
    broker = InMemoryBroker()
    bus = InMemoryCommunicator(broker)
    received = []
    bus.subscribe(FRAMES, received.extend)
    Capture(bus, str(tmp_path), "lobby", fps=100).run()
    while bus.drain_once():
        pass
    assert [frame.camera_id for frame in received] == ["lobby", "lobby"]
    assert decode_image(received[0].jpeg).shape == (20, 30, 3)
    assert received[0].captured_at.tzinfo is not None
