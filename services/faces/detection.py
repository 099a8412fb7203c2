"""Face detection with MediaPipe BlazeFace (Tasks API): boxes, scores and six keypoints.

Thread safety: a :class:`FaceDetector` wraps one MediaPipe task graph, which is not re-entrant.
Call :meth:`FaceDetector.detect` from one thread at a time (a lock enforces it); services that
want parallel detection run one detector per worker.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from services.common.model_files import (
    FULL_RANGE_DETECTOR,
    SHORT_RANGE_DETECTOR,
    resolve_model_file,
)

logger = logging.getLogger(__name__)

DetectorModel = Literal["short", "full"]
MODEL_NAMES: dict[str, str] = {"short": SHORT_RANGE_DETECTOR, "full": FULL_RANGE_DETECTOR}

# Smallest face side, in pixels, worth passing on. FaceNet takes 160x160 crops: a face below
# ~40 px has been upsampled 4x and its embedding is mostly noise. The number of pixels a
# sighting needs is a recognition concern, so the detector default is lower (24 px, about the
# smallest face BlazeFace full-range reliably localises) and the recognizer can be stricter.
DEFAULT_MIN_FACE_SIZE = 24
DEFAULT_MIN_CONFIDENCE = 0.5
# Weakest detection the graph reports; below this BlazeFace output is noise.
CANDIDATE_MIN_CONFIDENCE = 0.3

# Keypoint order of BlazeFace, checked on real photos: index 0 is the eye that appears on the
# LEFT of the image (the person's right eye), index 4 the ear on the image's left.
KEYPOINT_NAMES = (
    "right_eye",
    "left_eye",
    "nose_tip",
    "mouth_center",
    "right_ear_tragion",
    "left_ear_tragion",
)
RIGHT_EYE, LEFT_EYE, NOSE_TIP, MOUTH_CENTER, RIGHT_EAR, LEFT_EAR = range(6)


@dataclass(frozen=True)
class DetectedFace:
    """A face in image pixels: box ``(x, y, w, h)``, confidence and six ``(x, y)`` keypoints."""

    box: tuple[int, int, int, int]
    score: float
    keypoints: tuple[tuple[float, float], ...]

    @property
    def area(self) -> int:
        return self.box[2] * self.box[3]

    def keypoint(self, index: int) -> tuple[float, float]:
        return self.keypoints[index]

    def shifted(self, dx: float, dy: float, scale: float = 1.0) -> DetectedFace:
        """The same face in another image: coordinates ``(p * scale) + (dx, dy)``."""
        x, y, w, h = self.box
        return DetectedFace(
            box=(
                round(x * scale + dx),
                round(y * scale + dy),
                max(1, round(w * scale)),
                max(1, round(h * scale)),
            ),
            score=self.score,
            keypoints=tuple((px * scale + dx, py * scale + dy) for px, py in self.keypoints),
        )


class FaceDetector:
    """MediaPipe BlazeFace in IMAGE mode. Use as a context manager or call :meth:`close`."""

    def __init__(
        self,
        model: DetectorModel = "short",
        models_dir: Path | None = None,
        *,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        min_face_size: int = DEFAULT_MIN_FACE_SIZE,
    ) -> None:
        if model not in MODEL_NAMES:
            raise ValueError(f"detector model must be 'short' or 'full', not {model!r}")
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError("min_confidence must be between 0 and 1")
        # Imported here so modules that only need DetectedFace do not pay for MediaPipe.
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.core.base_options import BaseOptions

        self.model = model
        self.min_confidence = min_confidence
        self.min_face_size = min_face_size
        self.model_path = resolve_model_file(models_dir, MODEL_NAMES[model])
        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.IMAGE,
            # The graph keeps weak candidates too; detect() filters by the caller's threshold,
            # so one detector serves both the strict camera path and the candidate search.
            min_detection_confidence=min(min_confidence, CANDIDATE_MIN_CONFIDENCE),
        )
        self._task = vision.FaceDetector.create_from_options(options)
        self._lock = threading.Lock()
        logger.info("loaded %s-range face detector from %s", model, self.model_path)

    def detect(
        self,
        rgb: np.ndarray,
        *,
        min_confidence: float | None = None,
        min_face_size: int | None = None,
    ) -> list[DetectedFace]:
        """Faces in an RGB ``uint8`` image (H x W x 3), largest first.

        ``min_confidence`` and ``min_face_size`` override the constructor's values for this
        call (the confidence cannot go below :data:`CANDIDATE_MIN_CONFIDENCE`).
        """
        min_confidence = self.min_confidence if min_confidence is None else min_confidence
        min_face_size = self.min_face_size if min_face_size is None else min_face_size
        import mediapipe as mp

        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an H x W x 3 uint8 RGB image, got {rgb.dtype} {rgb.shape}")
        height, width = rgb.shape[:2]
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        with self._lock:
            if self._task is None:
                raise RuntimeError("the face detector is closed")
            result = self._task.detect(image)
        faces = []
        for detection in result.detections:
            box = detection.bounding_box
            score = float(detection.categories[0].score) if detection.categories else 0.0
            if score < min_confidence:
                continue
            if min(box.width, box.height) < min_face_size:
                continue
            keypoints = tuple(
                (float(point.x) * width, float(point.y) * height)
                for point in detection.keypoints or ()
            )
            if len(keypoints) != len(KEYPOINT_NAMES):
                # Alignment needs the eyes; a detection without them cannot be used.
                continue
            faces.append(
                DetectedFace(
                    box=(int(box.origin_x), int(box.origin_y), int(box.width), int(box.height)),
                    score=score,
                    keypoints=keypoints,
                )
            )
        faces.sort(key=lambda face: face.area, reverse=True)
        return faces

    def close(self) -> None:
        with self._lock:
            if self._task is not None:
                self._task.close()
                self._task = None

    def __enter__(self) -> FaceDetector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
