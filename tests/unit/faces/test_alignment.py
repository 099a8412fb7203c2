"""Alignment maps the detected eyes and mouth onto the template, whatever the pose in the frame."""

import math

import cv2
import numpy as np
import pytest

from services.faces.alignment import (
    DEFAULT_TEMPLATE,
    align_face,
    alignment_matrix,
    symmetric_template,
)
from services.faces.detection import DetectedFace

pytestmark = pytest.mark.unit

SIZE = 160


def face_with(right_eye, left_eye, mouth) -> DetectedFace:
    nose = ((right_eye[0] + left_eye[0]) / 2, (right_eye[1] + mouth[1]) / 2)
    return DetectedFace(
        box=(0, 0, 10, 10),
        score=0.9,
        keypoints=(right_eye, left_eye, nose, mouth, right_eye, left_eye),
    )


def template_points(size: int = SIZE) -> np.ndarray:
    t = DEFAULT_TEMPLATE
    return np.array([t.right_eye, t.left_eye, t.mouth]) * size


def unsqueezed_template_points(size: int = SIZE) -> np.ndarray:
    """The template as a real face's proportions: the crop squeezes faces vertically."""
    return template_points(size) * np.array([1.0, DEFAULT_TEMPLATE.vertical_squeeze])


def transformed(matrix: np.ndarray, points) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def rotated_face(angle_degrees: float, scale: float, centre=(300.0, 220.0)):
    """Keypoints of a template face rotated, scaled and moved into a bigger image."""
    angle = math.radians(angle_degrees)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    face_points = unsqueezed_template_points()
    points = (face_points - face_points.mean(axis=0)) @ rotation.T * scale + np.array(centre)
    return face_with(*map(tuple, points))


@pytest.mark.parametrize(("angle", "scale"), [(0, 1.0), (25, 2.5), (-40, 0.6), (90, 1.3)])
def test_keypoints_of_a_rotated_scaled_face_land_exactly_on_the_template(angle, scale):
    face = rotated_face(angle, scale)
    matrix = alignment_matrix(face, SIZE)
    landed = transformed(matrix, [face.keypoints[0], face.keypoints[1], face.keypoints[3]])
    np.testing.assert_allclose(landed, template_points(), atol=1e-6)


def test_alignment_never_mirrors_the_face():
    face = rotated_face(10, 1.7)
    matrix = alignment_matrix(face, SIZE)
    assert np.linalg.det(matrix[:, :2]) > 0


def test_the_person_s_right_eye_ends_on_the_left_of_the_crop():
    template = DEFAULT_TEMPLATE
    assert template.right_eye[0] < 0.5 < template.left_eye[0]


def test_a_marked_pixel_under_an_eye_appears_at_the_template_eye_position():
    image = np.zeros((480, 640, 3), dtype=np.uint8)
    face = rotated_face(30, 2.0)
    eye_x, eye_y = face.keypoints[0]
    cv2.circle(image, (round(eye_x), round(eye_y)), 6, (255, 255, 255), -1)
    crop = align_face(image, face, SIZE)
    assert crop.shape == (SIZE, SIZE, 3)
    assert crop.dtype == np.uint8
    ys, xs = np.nonzero(crop[..., 0] > 127)
    expected = template_points()[0]
    assert abs(xs.mean() - expected[0]) < 1.5
    assert abs(ys.mean() - expected[1]) < 1.5


def test_a_face_at_the_image_edge_is_filled_by_replicating_the_border_not_black():
    image = np.full((200, 200, 3), 200, dtype=np.uint8)
    face = face_with((5.0, 100.0), (45.0, 100.0), (25.0, 150.0))
    crop = align_face(image, face, SIZE)
    assert crop.min() == 200


def test_coincident_eyes_cannot_be_aligned():
    face = face_with((10.0, 10.0), (10.0, 10.0), (10.0, 10.0))
    with pytest.raises(ValueError, match="coincide"):
        align_face(np.zeros((50, 50, 3), dtype=np.uint8), face, SIZE)


def test_a_template_scales_with_the_crop_size():
    template = symmetric_template(eye_y=0.4, eye_distance=0.3, mouth_y=0.7)
    face = face_with((100.0, 100.0), (160.0, 100.0), (130.0, 160.0))
    small = alignment_matrix(face, 80, template)
    large = alignment_matrix(face, 160, template)
    np.testing.assert_allclose(large, small * 2, atol=1e-9)
