"""The detector sends the best few faces of each track, then the track's end, so that the
recognizer decides once per person passing.

The face finder is scripted (which boxes each frame shows), the bus is the in-memory one: the
tests are about which messages the detector sends, and when.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest

from services.common.bus.base import QueueFull
from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
from services.common.contracts import FaceMessage, TrackEndMessage
from services.common.images import encode_jpeg
from services.detector.service import Detector
from services.detector.track_selection import SelectionPolicy
from services.detector.tracking import IouTracker
from services.faces.finder import FoundFace
from services.faces.quality import QualityGate
from tests.fixtures.bus import frame
from tests.unit.faces.test_face_quality import FRONTAL, textured_crop

pytestmark = pytest.mark.unit

CROP = textured_crop()
JPEG = encode_jpeg(np.zeros((48, 64, 3), np.uint8))


def at(x: int, size: int = 60) -> tuple[int, int, int, int]:
    return (x, 10, size, size)


class ScriptedFinder:
    """Finds the boxes it is told to, one list per frame, refined without the mirror (score
    0.9); sharpened, a face scores 0.95."""

    def __init__(self) -> None:
        self.boxes: list[tuple[int, int, int, int]] = []
        self.mirrored: list[bool] = []
        self.sharpened: list[tuple[int, int, int, int]] = []

    def find(
        self, rgb, *, thorough: bool = False, max_faces: int | None = None, mirror: bool = True
    ):
        self.mirrored.append(mirror)
        return [FoundFace(box, 0.9, FRONTAL, CROP) for box in self.boxes]

    def sharpen(self, rgb, face: FoundFace) -> FoundFace:
        self.sharpened.append(face.box)
        x, y, side, _ = face.box
        # A face 59 px wide shrinks below the gate's minimum once sharpened.
        side = 20 if side == 59 else side
        return replace(face, box=(x, y, side, side), score=0.95)


class RefusingBus(InMemoryCommunicator):
    """The in-memory bus, refusing the next ``refuse`` publications as a full queue would."""

    def __init__(self, broker: InMemoryBroker) -> None:
        super().__init__(broker)
        self.sent: list = []
        self.refuse = 0

    def publish(self, channel, message, *, routing_key: str = "") -> None:
        if self.refuse > 0:
            self.refuse -= 1
            raise QueueFull(channel.name)
        self.sent.append(message)
        super().publish(channel, message, routing_key=routing_key)


class Camera:
    """Frames of one camera, 0.1 s apart by capture time, through one detector."""

    def __init__(self, **selection: float) -> None:
        self.finder = ScriptedFinder()
        self.bus = RefusingBus(InMemoryBroker())
        self.detector = Detector(
            self.bus,
            self.finder,
            quality_gate=QualityGate(),
            selection=SelectionPolicy(**selection) if selection else None,
            tracker=IouTracker(max_gap_s=1.5),
            idle_sweep_s=None,
        )
        self.seconds = 0.0
        self.index = 0

    def show(self, *boxes: tuple[int, int, int, int], after: float = 0.1) -> None:
        self.seconds += after
        self.index += 1
        self.finder.boxes = list(boxes)
        message = frame(self.index).model_copy(
            update={
                "frame_id": f"frame-{self.index}",
                "jpeg": JPEG,
                "captured_at": frame(0).captured_at + timedelta(seconds=self.seconds),
            }
        )
        self.detector.handle([message])

    @property
    def faces(self) -> list[FaceMessage]:
        return [m for m in self.bus.sent if isinstance(m, FaceMessage)]

    @property
    def ends(self) -> list[TrackEndMessage]:
        return [m for m in self.bus.sent if isinstance(m, TrackEndMessage)]


def test_a_walk_by_sends_its_first_face_at_once_then_a_spaced_one_then_only_a_better_one():
    camera = Camera()
    for x in range(10):
        camera.show(at(10 + x))
    camera.show(at(20, size=100))  # closer to the camera: clearly better

    assert [m.frame_id for m in camera.faces] == ["frame-1", "frame-4", "frame-11"]
    assert len({m.track_id for m in camera.faces}) == 1


def test_frames_are_refined_without_the_mirror_and_only_the_faces_sent_are_sharpened():
    camera = Camera()
    for x in range(10):
        camera.show(at(10 + x), at(300 + x, size=20))  # the small face: refused by the gate

    assert camera.finder.mirrored == [False] * 10
    sent = camera.faces
    assert [m.frame_id for m in sent] == ["frame-1", "frame-4"]
    assert camera.finder.sharpened == [(10, 10, 60, 60), (13, 10, 60, 60)]
    assert {m.detection_score for m in sent} == {0.95}


def test_a_face_the_gate_refuses_once_sharpened_is_not_sent_and_the_next_one_is():
    camera = Camera()
    camera.show(at(10, size=59))
    camera.show(at(11))

    assert camera.finder.sharpened == [(10, 10, 59, 59), (11, 10, 60, 60)]
    assert [m.frame_id for m in camera.faces] == ["frame-2"]


def test_the_end_of_a_track_follows_its_faces_once_the_camera_shows_no_face_of_it():
    camera = Camera()
    for x in range(5):
        camera.show(at(10 + x))
    camera.show()
    assert camera.ends == []

    camera.show(after=1.5)

    [end] = camera.ends
    assert (end.track_id, end.faces_sent, end.reason) == (camera.faces[0].track_id, 2, "gap")
    assert end.last_seen_at == camera.faces[0].captured_at + timedelta(seconds=0.4)
    assert camera.bus.sent[-1] == end


def test_faces_the_quality_gate_refuses_are_not_sent_and_their_track_ends_unannounced():
    camera = Camera()
    for _ in range(3):
        camera.show(at(10, size=20))
    camera.show(after=2.0)

    assert camera.bus.sent == []


def test_a_camera_that_stops_sending_frames_has_its_tracks_ended_by_the_clock():
    camera = Camera()
    camera.show(at(10))

    camera.detector.sweep(now=10**9)

    assert [end.reason for end in camera.ends] == ["idle"]


def test_a_detector_that_stops_ends_every_track_it_follows():
    camera = Camera()
    camera.show(at(10), at(200))

    camera.detector.stop()

    assert sorted(end.track_id for end in camera.ends) == sorted(m.track_id for m in camera.faces)
    assert {end.reason for end in camera.ends} == {"stopped"}


def test_a_face_refused_by_a_full_queue_is_replaced_by_a_later_one_of_its_track():
    camera = Camera()
    camera.bus.refuse = 1
    camera.show(at(10))
    camera.show(at(11))

    assert [m.frame_id for m in camera.faces] == ["frame-2"]


def test_a_track_end_refused_by_a_full_queue_goes_with_the_next_frame():
    camera = Camera()
    camera.show(at(10))
    camera.bus.refuse = 1
    camera.show(after=2.0)
    assert camera.ends == []

    camera.show()

    assert [end.faces_sent for end in camera.ends] == [1]
