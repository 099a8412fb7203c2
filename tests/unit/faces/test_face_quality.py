"""Face quality: size, sharpness and pose, and the gate that keeps poor faces from being judged."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from services.faces.quality import (
    FaceQuality,
    QualityGate,
    assess,
    pose,
    sharpness,
)

pytestmark = pytest.mark.unit

# A frontal face in a 160-px crop, in BlazeFace's keypoint order: the person's right eye (on
# the image's left), left eye, nose tip, mouth centre, right ear, left ear.
FRONTAL = (
    (106.0, 100.0),
    (154.0, 100.0),
    (130.0, 125.0),
    (130.0, 148.0),
    (80.0, 110.0),
    (180.0, 110.0),
)


def textured_crop(seed: int = 0, side: int = 160) -> np.ndarray:
    """Broad shading (the shape of a face) with fine detail on it (skin, hair, edges)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side].astype(np.float32)
    shading = 50 * np.sin(x / 12) * np.cos(y / 15)
    detail = rng.normal(0, 20, size=(side, side))
    grey = (128 + shading + detail).clip(0, 255).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def rotated(points, degrees: float, centre=(130.0, 120.0)):
    angle = np.radians(degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return tuple(tuple(rotation @ (np.array(p) - centre) + centre) for p in points)


def test_a_blurred_crop_is_less_sharp_than_the_same_crop_in_focus():
    crop = textured_crop()
    softer = cv2.GaussianBlur(crop, (0, 0), 1.0)
    softest = cv2.GaussianBlur(crop, (0, 0), 2.5)

    assert sharpness(crop) > sharpness(softer) > sharpness(softest)
    assert sharpness(softest) < QualityGate().min_sharpness < sharpness(crop)


def test_sharpness_does_not_depend_on_lighting():
    crop = textured_crop()
    dimmer = (crop.astype(np.float32) * 0.4).astype(np.uint8)

    assert sharpness(dimmer) == pytest.approx(sharpness(crop), rel=0.05)


def test_a_featureless_crop_has_no_sharpness():
    assert sharpness(np.full((160, 160, 3), 90, dtype=np.uint8)) == 0.0


def test_a_frontal_face_is_not_turned_and_its_nose_sits_halfway_to_the_mouth():
    turn, nose_height = pose(FRONTAL)

    assert turn == pytest.approx(0.0)
    assert nose_height == pytest.approx(25 / 48)


def test_head_roll_is_not_mistaken_for_a_turn():
    turn, nose_height = pose(rotated(FRONTAL, 30))

    assert turn == pytest.approx(0.0, abs=1e-9)
    assert nose_height == pytest.approx(25 / 48)


def test_a_nose_off_the_eyes_midpoint_measures_the_turn_in_eye_distances():
    points = list(FRONTAL)
    points[2] = (130.0 + 0.6 * 48, 125.0)

    turn, _ = pose(tuple(points))

    assert turn == pytest.approx(0.6)


def test_coinciding_eyes_read_as_turned_past_any_limit():
    points = list(FRONTAL)
    points[1] = points[0]

    turn, _ = pose(tuple(points))

    assert turn > QualityGate().max_turn


def test_assess_measures_the_box_crop_and_keypoints():
    quality = assess((10, 20, 90, 100), FRONTAL, 0.93, textured_crop())

    assert quality.face_size == 90
    assert quality.detection_score == pytest.approx(0.93)
    assert quality.sharpness == pytest.approx(sharpness(textured_crop()), abs=1e-4)
    assert quality.turn == pytest.approx(0.0)


def good(**changes) -> FaceQuality:
    values = {
        "face_size": 100.0,
        "sharpness": 0.09,
        "turn": 0.1,
        "nose_height": 0.52,
        "detection_score": 0.9,
    }
    values.update(changes)
    return FaceQuality(**values)


def test_a_large_sharp_frontal_face_is_judged():
    assert QualityGate().refusal(good()) is None


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"face_size": 24.0}, "face_too_small"),
        ({"sharpness": 0.03}, "face_blurred"),
        ({"turn": 0.7}, "face_turned"),
        ({"nose_height": 0.2}, "face_turned"),
    ],
)
def test_each_limit_refuses_a_face_with_its_own_code_and_reason(change, code):
    refusal = QualityGate().refusal(good(**change))

    assert refusal is not None and refusal.code == code
    assert refusal.reason


def test_a_small_face_is_refused_for_its_size_even_when_it_is_also_blurred():
    refusal = QualityGate().refusal(good(face_size=20.0, sharpness=0.01))

    assert refusal is not None and refusal.code == "face_too_small"
    assert "20 px" in refusal.reason


def test_the_limits_are_the_gates_own():
    lenient = QualityGate(min_face_size=16, min_sharpness=0.0, max_turn=2.0, min_nose_height=0.0)

    assert lenient.refusal(good(face_size=20.0, sharpness=0.01, turn=0.9, nose_height=0.1)) is None
