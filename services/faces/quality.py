"""How well a found face can be judged: its size, sharpness and pose (pure functions).

A face that is too small, too blurred or turned too far gives an embedding that is mostly
noise: such a face is better not judged at all than missed or, worse, taken for somebody.
The recognizer does not match faces the :class:`QualityGate` refuses, and enrolment refuses
photos it refuses, so stills and camera frames are judged by the same numbers:

* ``face_size``: the shorter side of the detected box, in pixels of the source image.
* ``sharpness``: the high-frequency share of the aligned crop's face area: the mean absolute
  difference between the crop and a Gaussian blur of it (sigma 1.5 px), over the crop's
  contrast (standard deviation). It is measured on the crop the network sees, so a small
  face enlarged to 160 px is as soft as a blurred one, and it does not depend on lighting.
* ``turn``: how far the nose tip sits from the eyes' midpoint, sideways, in eye distances,
  once the head's roll is undone; 0 for a frontal face, 0.5 for a head turned roughly 40
  degrees (a geometric estimate; BlazeFace's keypoints of profile faces are guesses).
* ``nose_height``: the nose tip's height between the eye line (0) and the mouth (1); ~0.52
  frontal, lower when the head tilts back (the nose rises towards the eyes).

The limits were chosen on LFW View 1 DevTrain (measured with the production detections of its
3,443 photos; the figures are in the README's "Calibrating the threshold" section):

* sharpness 0.05, turn 0.5 and nose height 0.30 each refuse a band of photos whose similarity
  to the same person's other photos falls below 0.6 two to three times as often as the rest
  (DevTrain: 33% below sharpness 0.05, 27-39% above turn 0.5, 33% below nose height 0.30,
  against 13% overall); a Gaussian blur of 1 px leaves a median sharpness of 0.065 and most
  matches, one of 2 px 0.041 and loses 44% of them;
* 32 px: DevTrain faces shrunk to a 28-px box lost 21% of their matches at the 50-person
  threshold (0.632), at 36 px 8%, while strangers' similarities did not rise.

Together they refuse 3.9% of DevTrain's photos (mostly turned); on DevTest 5.6%.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import cv2
import numpy as np

from services.faces.detection import LEFT_EYE, MOUTH_CENTER, NOSE_TIP, RIGHT_EYE

RefusalCode = Literal["face_too_small", "face_blurred", "face_turned"]

DEFAULT_MIN_FACE_SIZE = 32
DEFAULT_MIN_SHARPNESS = 0.05
DEFAULT_MAX_TURN = 0.5
DEFAULT_MIN_NOSE_HEIGHT = 0.30
# The face area of a 160-px aligned crop (eyes at 38%, mouth at 76% of the side): the
# background at the crop's corners would make a sharp wall behind a blurred face look sharp.
_FACE_AREA = (0.2, 0.9, 0.2, 0.8)  # top, bottom, left, right, as shares of the side
_BLUR_SIGMA = 1.5
# The turn reported when the eyes coincide (no pose can be read): far past any limit, finite
# so that it travels in JSON.
_DEGENERATE_TURN = 10.0


@dataclass(frozen=True)
class FaceQuality:
    face_size: float
    sharpness: float
    turn: float
    nose_height: float
    detection_score: float


class QualityMeasures(Protocol):
    """What the gate reads: a :class:`FaceQuality`, or the report a face message carries."""

    @property
    def face_size(self) -> float: ...
    @property
    def sharpness(self) -> float: ...
    @property
    def turn(self) -> float: ...
    @property
    def nose_height(self) -> float: ...


@dataclass(frozen=True)
class Refusal:
    """Why a face is not judged: a stable code and a sentence for a person."""

    code: RefusalCode
    reason: str


def sharpness(crop: np.ndarray) -> float:
    """High-frequency share of an aligned RGB crop's face area (see the module doc)."""
    side = crop.shape[0]
    top, bottom, left, right = (round(share * side) for share in _FACE_AREA)
    gray = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY).astype(np.float32)
    face = gray[top:bottom, left:right]
    contrast = float(face.std())
    if contrast < 1e-3:
        return 0.0  # a flat patch has no detail at all
    detail = np.abs(face - cv2.GaussianBlur(face, (0, 0), _BLUR_SIGMA))
    return float(detail.mean() / contrast)


def pose(keypoints: tuple[tuple[float, float], ...]) -> tuple[float, float]:
    """(turn, nose_height) from BlazeFace's keypoints (see the module doc)."""
    points = np.asarray(keypoints, dtype=np.float64)
    right_eye, left_eye = points[RIGHT_EYE], points[LEFT_EYE]
    eyes = left_eye - right_eye
    distance = float(np.hypot(*eyes))
    if distance < 1e-6:
        return _DEGENERATE_TURN, 0.0
    # Coordinates along the eye line (x) and across it (y), from the eyes' midpoint.
    along = eyes / distance
    across = np.array([-along[1], along[0]])
    middle = (right_eye + left_eye) / 2
    nose = points[NOSE_TIP] - middle
    mouth = points[MOUTH_CENTER] - middle
    turn = abs(float(nose @ along)) / distance
    mouth_depth = float(mouth @ across)
    nose_height = float(nose @ across) / mouth_depth if mouth_depth > 1e-6 else 0.0
    return turn, nose_height


def assess(
    box: tuple[int, int, int, int],
    keypoints: tuple[tuple[float, float], ...],
    score: float,
    crop: np.ndarray,
) -> FaceQuality:
    """The quality of one found face (its box, keypoints and score, and its aligned crop)."""
    turn, nose_height = pose(keypoints)
    return FaceQuality(
        face_size=float(min(box[2], box[3])),
        sharpness=round(sharpness(crop), 4),
        turn=round(turn, 4),
        nose_height=round(nose_height, 4),
        detection_score=round(float(score), 4),
    )


@dataclass(frozen=True)
class QualityGate:
    """The limits below which a face is not judged."""

    min_face_size: float = DEFAULT_MIN_FACE_SIZE
    min_sharpness: float = DEFAULT_MIN_SHARPNESS
    max_turn: float = DEFAULT_MAX_TURN
    min_nose_height: float = DEFAULT_MIN_NOSE_HEIGHT

    def refusal(self, quality: QualityMeasures) -> Refusal | None:
        """Why the face must not be judged, or None when it may be."""
        if quality.face_size < self.min_face_size:
            return Refusal(
                "face_too_small",
                f"the face is {quality.face_size:.0f} px wide; at least "
                f"{self.min_face_size:.0f} px are needed",
            )
        if quality.turn > self.max_turn or quality.nose_height < self.min_nose_height:
            return Refusal(
                "face_turned",
                "the face is turned away or tilted too far; it must look at the camera",
            )
        if quality.sharpness < self.min_sharpness:
            return Refusal(
                "face_blurred",
                f"the face is too blurred (sharpness {quality.sharpness:.3f}, at least "
                f"{self.min_sharpness:.3f} needed)",
            )
        return None
