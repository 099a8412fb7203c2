"""The detector: turns camera frames into aligned face crops."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from services.common.bus.base import Communicator, PermanentError
from services.common.bus.topology import FACES, FRAMES
from services.common.contracts import (
    BoundingBox,
    FaceMessage,
    FaceQualityReport,
    FrameMessage,
    new_id,
)
from services.common.images import ImageError, decode_image, encode_jpeg, fit_within
from services.common.metrics import FACES_DETECTED, FRAMES_PROCESSED
from services.detector.face_finder import FaceFinder, FoundFace
from services.detector.face_quality import assess
from services.detector.tracking import IouTracker

logger = logging.getLogger(__name__)


class Detector:
    def __init__(self, bus: Communicator, finder: FaceFinder, snapshot_max_side: int = 640):
        self._bus = bus
        self._finder = finder
        self._snapshot_max_side = snapshot_max_side
        self._tracker = IouTracker()

    def start(self) -> None:
        self._bus.subscribe(FRAMES, self.handle)

    def handle(self, frames: Sequence[FrameMessage]) -> None:
        for frame in frames:
            for face in self.faces_in(frame):
                self._bus.publish(FACES, face)

    def faces_in(self, frame: FrameMessage) -> list[FaceMessage]:
        try:
            rgb = decode_image(frame.jpeg)
        except ImageError as exc:
            raise PermanentError(f"frame {frame.frame_id} from {frame.camera_id}: {exc}") from exc
        found = self._finder.find(rgb)
        FRAMES_PROCESSED.inc()
        if not found:
            logger.debug("no face in frame %s", frame.frame_id)
            return []
        FACES_DETECTED.inc(len(found))
        snapshot = encode_jpeg(fit_within(rgb, self._snapshot_max_side), quality=80)
        # Capture time, not processing time: a detector running behind must not see a pause in
        # the walk-by that the camera did not (it split 4 tracks into 36 in the bench).
        tracks = self._tracker.assign(
            frame.camera_id, [f.box for f in found], frame.captured_at.timestamp()
        )
        messages = []
        for face, track_id in zip(found, tracks, strict=True):
            messages.append(
                FaceMessage(
                    face_id=new_id(),
                    frame_id=frame.frame_id,
                    camera_id=frame.camera_id,
                    captured_at=frame.captured_at,
                    box=BoundingBox.of(face.box),
                    track_id=track_id,
                    detection_score=min(1.0, max(0.0, face.score)),
                    crop_size=face.crop.shape[0],
                    crop_rgb=np.ascontiguousarray(face.crop, dtype=np.uint8).tobytes(),
                    snapshot_jpeg=snapshot,
                    quality=quality_report(face),
                )
            )
        logger.debug("frame %s: %d face(s)", frame.frame_id, len(messages))
        return messages


def quality_report(face: FoundFace) -> FaceQualityReport:
    """The face's quality, for the recognizer's gate (measured here, where the keypoints are)."""
    quality = assess(face.box, face.keypoints, face.score, face.crop)
    return FaceQualityReport(
        face_size=quality.face_size,
        sharpness=quality.sharpness,
        turn=quality.turn,
        nose_height=quality.nose_height,
    )
