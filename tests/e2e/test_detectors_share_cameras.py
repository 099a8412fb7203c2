"""Two detectors on the real broker, with the real face finder, watching two cameras: each
camera's frames go to one detector, so each walk-by is one track, and when that detector goes
its cameras move to the one left."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta

import cv2
import pytest

from services.common.bus.rabbitmq import RabbitMQCommunicator
from services.common.bus.topology import FACES, FRAMES
from services.common.contracts import FaceMessage, FrameMessage, TrackEndMessage, new_id, utc_now
from services.common.images import encode_jpeg
from services.detector.main import build
from services.detector.service import Detector
from services.detector.settings import DetectorSettings
from services.faces.factory import built_detectors, close_detectors
from tests.fixtures.bus import Inbox, running
from tests.helpers.processes import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.models, pytest.mark.timeout(300)]

CLIP = "face_recognition/examples/short_hamilton_clip.mp4"
CLIP_FPS = 30.0
# Lin-Manuel Miranda singing, then a woman of the audience: one face walking by in each.
MIRANDA_FRAMES = range(80, 110)
AUDIENCE_FRAMES = range(215, 245)
CAMERAS = ("door-a", "door-b")
DETECTORS = ("detector-1", "detector-2")


class HandledFrames:
    """Which frames each detector handled, in order (the detectors' own handler, watched)."""

    def __init__(self) -> None:
        self.by_detector: dict[str, list[FrameMessage]] = defaultdict(list)
        self._changed = threading.Condition()

    def watch(self, name: str, handle: Callable[[Sequence[FrameMessage]], None]):
        def watched(frames: Sequence[FrameMessage]) -> None:
            handle(frames)
            with self._changed:
                self.by_detector[name].extend(frames)
                self._changed.notify_all()

        return watched

    def owners(self, camera_id: str, frame_ids: set[str]) -> set[str]:
        """The detectors that handled any of these frames of ``camera_id``."""
        with self._changed:
            return {
                name
                for name, frames in self.by_detector.items()
                for frame in frames
                if frame.camera_id == camera_id and frame.frame_id in frame_ids
            }

    def handled(self, frame_ids: set[str]) -> set[str]:
        with self._changed:
            return {f.frame_id for frames in self.by_detector.values() for f in frames} & frame_ids

    def wait_for(self, frame_ids: set[str], timeout: float = 30.0) -> None:
        with self._changed:
            done = self._changed.wait_for(
                lambda: (
                    frame_ids
                    <= {f.frame_id for frames in self.by_detector.values() for f in frames}
                ),
                timeout,
            )
        assert done, f"{len(frame_ids - self.handled(frame_ids))} frame(s) never handled"


def clip_frames(faces_dir, indices: range) -> dict[str, list[FrameMessage]]:
    """The clip's frames as seen by each of two cameras at once, on the clip's own clock."""
    capture = cv2.VideoCapture(str(faces_dir / CLIP))
    start = utc_now()
    frames: dict[str, list[FrameMessage]] = {camera: [] for camera in CAMERAS}
    try:
        for index in range(indices.stop):
            ok, bgr = capture.read()
            assert ok, f"the clip ended before frame {index}"
            if index < indices.start:
                continue
            jpeg = encode_jpeg(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), 90)
            for camera in CAMERAS:
                frames[camera].append(
                    FrameMessage(
                        frame_id=new_id(),
                        camera_id=camera,
                        captured_at=start + timedelta(seconds=index / CLIP_FPS),
                        width=bgr.shape[1],
                        height=bgr.shape[0],
                        jpeg=jpeg,
                    )
                )
    finally:
        capture.release()
    return frames


def tracks_by_camera(messages: list, frame_ids: set[str]) -> dict[str, set[str]]:
    """The track ids of the faces sent from these frames, per camera."""
    tracks: dict[str, set[str]] = defaultdict(set)
    for message in messages:
        if isinstance(message, FaceMessage) and message.frame_id in frame_ids:
            tracks[message.camera_id].add(message.track_id)
    return dict(tracks)


def ended_tracks(messages: list) -> set[str]:
    return {message.track_id for message in messages if isinstance(message, TrackEndMessage)}


@pytest.fixture
def faces_sent(rabbitmq_url, bus_prefix) -> Iterator[Inbox]:
    """Every face and track end the detectors send (nobody else consumes them here)."""
    inbox = Inbox()
    bus = RabbitMQCommunicator(rabbitmq_url, bus_prefix)
    bus.subscribe(FACES, inbox, batch_size=16)
    with running(bus):
        yield inbox
    bus.close()


@pytest.fixture
def detectors(rabbitmq_url, bus_prefix, models_dir, wait_for_consumers):
    """Two detector services, each on a connection of its own, consuming in threads."""
    handled = HandledFrames()
    settings = DetectorSettings.from_env({}, attendance_models_dir=models_dir)
    started: dict[str, tuple[Detector, RabbitMQCommunicator, threading.Thread]] = {}
    earlier = built_detectors()
    for name in DETECTORS:
        bus = RabbitMQCommunicator(rabbitmq_url, bus_prefix)
        detector = build(settings, bus)
        detector.handle = handled.watch(name, detector.handle)  # type: ignore[method-assign]
        detector.start()
        thread = threading.Thread(target=bus.run, name=name, daemon=True)
        thread.start()
        started[name] = (detector, bus, thread)
    wait_for_consumers(FRAMES, at_least=2, timeout=30)

    def stop(name: str) -> None:
        detector, bus, thread = started.pop(name)
        bus.stop()
        thread.join(10)
        detector.stop()  # its tracks end with it
        bus.close()  # the connection goes, and its frames queue with it

    yield handled, stop
    for name in list(started):
        stop(name)
    close_detectors(keep=earlier)


def play(camera: RabbitMQCommunicator, frames: dict[str, list[FrameMessage]], handled) -> None:
    """Both cameras' frames, one moment at a time, each moment once handled (a detector's
    queue keeps its 8 newest frames: the test is about routing, not about dropping)."""
    for moment in zip(*(frames[c] for c in CAMERAS), strict=True):
        for frame in moment:
            camera.publish(FRAMES, frame)
        handled.wait_for({frame.frame_id for frame in moment})


def test_each_cameras_frames_go_to_one_detector_and_move_when_it_stops(
    rabbitmq_url, bus_prefix, faces_dir, detectors, faces_sent
):
    handled, stop = detectors
    camera = RabbitMQCommunicator(rabbitmq_url, bus_prefix)
    try:
        miranda = clip_frames(faces_dir, MIRANDA_FRAMES)
        play(camera, miranda, handled)

        # Every frame of a camera went to one detector, and each camera saw one walk-by as one
        # track (with the frames split between detectors, each would have made its own).
        owners = {c: handled.owners(c, {f.frame_id for f in miranda[c]}) for c in CAMERAS}
        assert all(len(owner) == 1 for owner in owners.values()), owners
        miranda_ids = {f.frame_id for c in CAMERAS for f in miranda[c]}
        wait_until(
            lambda: len(tracks_by_camera(faces_sent.messages, miranda_ids)) == 2,
            30,
            "faces of both cameras",
        )
        tracks = tracks_by_camera(faces_sent.messages, miranda_ids)
        assert {c: len(t) for c, t in tracks.items()} == {c: 1 for c in CAMERAS}, tracks

        # The detector of door-a stops: its tracks end, and door-a's frames go to the other.
        (gone,) = owners["door-a"]
        stop(gone)
        wait_until(
            lambda: tracks["door-a"] <= ended_tracks(faces_sent.messages), 10, "door-a's track end"
        )
        audience = clip_frames(faces_dir, AUDIENCE_FRAMES)
        play(camera, audience, handled)
        after = {c: handled.owners(c, {f.frame_id for f in audience[c]}) for c in CAMERAS}
        (survivor,) = set(DETECTORS) - {gone}
        assert after == {c: {survivor} for c in CAMERAS}, (gone, after)
        audience_ids = {f.frame_id for c in CAMERAS for f in audience[c]}
        wait_until(
            lambda: len(tracks_by_camera(faces_sent.messages, audience_ids)) == 2,
            30,
            "faces of the audience on both cameras",
        )
        later = tracks_by_camera(faces_sent.messages, audience_ids)
        assert {c: len(t) for c, t in later.items()} == {c: 1 for c in CAMERAS}, later
    finally:
        camera.close()
