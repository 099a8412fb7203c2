"""The detector measures each face's quality where the keypoints are, and sends it along."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import cv2
import numpy as np
import pytest

from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
from services.common.contracts import FaceMessage, FaceQualityReport
from services.common.images import encode_jpeg
from services.detector.service import Detector
from services.faces.finder import FoundFace
from services.faces.quality import assess
from tests.fixtures.bus import face, frame
from tests.unit.faces.test_face_quality import FRONTAL, textured_crop

pytestmark = pytest.mark.unit


class OneFaceFinder:
    def __init__(self, crop: np.ndarray) -> None:
        self.crop = crop

    def find(
        self,
        rgb: np.ndarray,
        *,
        thorough: bool = False,
        max_faces: int | None = None,
        mirror: bool = True,
    ):
        return [FoundFace((4, 6, 36, 40), 0.88, FRONTAL, self.crop)]

    def sharpen(self, rgb: np.ndarray, face: FoundFace) -> FoundFace:
        return face


def detected(crop: np.ndarray) -> FaceMessage:
    detector = Detector(InMemoryCommunicator(InMemoryBroker()), OneFaceFinder(crop))
    picture = frame(1).model_copy(update={"jpeg": encode_jpeg(np.zeros((48, 64, 3), np.uint8))})
    [message] = detector.faces_in(picture)
    return message


def test_every_face_message_carries_the_quality_of_its_face():
    crop = textured_crop()

    message = detected(crop)

    expected = assess((4, 6, 36, 40), FRONTAL, 0.88, crop)
    assert message.quality == FaceQualityReport(
        face_size=36.0,
        sharpness=expected.sharpness,
        turn=expected.turn,
        nose_height=expected.nose_height,
    )


def test_a_blurred_face_is_reported_as_less_sharp():
    sharp = detected(textured_crop())
    blurred = detected(cv2.GaussianBlur(textured_crop(), (0, 0), 2.5))

    assert sharp.quality is not None and blurred.quality is not None
    assert blurred.quality.sharpness < sharp.quality.sharpness


def test_the_quality_survives_the_bus_and_a_message_without_it_stays_as_it_was():
    message = detected(textured_crop())

    assert FaceMessage.from_bytes(message.to_bytes()) == message
    # Older recognizers (extra="forbid") still read faces from detectors that do not measure.
    assert "quality" not in json.loads(face("f1").to_bytes())


def test_tracks_follow_capture_time_not_how_late_the_detector_runs(monkeypatch):
    detector = Detector(InMemoryCommunicator(InMemoryBroker()), OneFaceFinder(textured_crop()))
    first = frame(1).model_copy(update={"jpeg": encode_jpeg(np.zeros((48, 64, 3), np.uint8))})
    second = first.model_copy(
        update={"frame_id": "f-2", "captured_at": first.captured_at + timedelta(seconds=0.2)}
    )
    [one] = detector.faces_in(first)
    # The detector falls far behind: ten seconds pass on its clock between the two frames.
    clock = time.monotonic() + 10
    monkeypatch.setattr(time, "monotonic", lambda: clock)
    [two] = detector.faces_in(second)
    assert two.track_id == one.track_id
    later = first.model_copy(
        update={"frame_id": "f-3", "captured_at": first.captured_at + timedelta(seconds=30)}
    )
    [three] = detector.faces_in(later)
    assert three.track_id != one.track_id
