"""The liveness networks' context crops: the face box enlarged by the model's scale about its
centre, the scale reduced when the frame is too small, the box slid back inside the frame."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from services.faces.liveness import CropBox, LivenessScorer, context_box, network_input

pytestmark = pytest.mark.unit

FRAME = (640, 480)  # width, height


def test_a_face_in_the_middle_gets_its_box_enlarged_about_its_centre():
    crop = context_box(FRAME, (300, 200, 40, 40), 2.7)
    # 40 x 2.7 = 108 px around the centre (320, 220): 266..374 inclusive.
    assert crop == CropBox(266, 166, 375, 275)
    assert (crop.x0 + crop.x1) / 2 == pytest.approx(320, abs=1)
    assert (crop.y0 + crop.y1) / 2 == pytest.approx(220, abs=1)


def test_a_face_near_the_left_edge_is_slid_inside_not_clipped():
    crop = context_box(FRAME, (0, 200, 40, 40), 4.0)
    assert crop.x0 == 0
    # The crop keeps its full width of 4 x 40 px instead of losing the part left of the frame.
    assert crop.width == 161


def test_a_face_near_the_bottom_right_corner_is_slid_inside():
    crop = context_box(FRAME, (600, 440, 40, 40), 2.7)
    assert (crop.x1, crop.y1) == (640, 480)
    assert crop.width == pytest.approx(108, abs=1)
    assert crop.height == pytest.approx(108, abs=1)


def test_a_face_too_large_for_its_scale_gets_the_largest_crop_that_fits():
    crop = context_box(FRAME, (200, 100, 200, 200), 4.0)
    # 4 x 200 px is taller than the frame: the scale drops to 479 / 200 and the crop is as
    # tall as the frame.
    assert (crop.y0, crop.y1) == (0, 480)
    assert crop.width == pytest.approx(479, abs=1)


def test_the_crop_keeps_the_boxs_aspect():
    crop = context_box(FRAME, (300, 200, 40, 60), 2.7)
    assert crop.height / crop.width == pytest.approx(60 / 40, rel=0.02)


@pytest.mark.parametrize("scale", [1.0, 2.7, 4.0, 10.0])
def test_every_crop_lies_inside_the_frame_wherever_the_box_is(scale):
    width, height = FRAME
    positions = [-100, -20, 0, 5, 300, 560, 620, 639, 700]
    sizes = [1, 10, 40, 150, 479, 800]
    for x, y, side in itertools.product(positions, positions, sizes):
        crop = context_box(FRAME, (x, y, side, side), scale)
        assert 0 <= crop.x0 < crop.x1 <= width, (x, y, side, crop)
        assert 0 <= crop.y0 < crop.y1 <= height, (x, y, side, crop)


def test_a_one_pixel_frame_gives_a_one_pixel_crop():
    assert context_box((1, 1), (0, 0, 1, 1), 2.7) == CropBox(0, 0, 1, 1)


@pytest.mark.parametrize(
    ("frame", "box", "scale"),
    [((0, 480), (0, 0, 10, 10), 2.7), (FRAME, (10, 10, 0, 10), 2.7), (FRAME, (1, 1, 5, 5), 0)],
)
def test_an_empty_frame_or_box_or_a_non_positive_scale_is_refused(frame, box, scale):
    with pytest.raises(ValueError):
        context_box(frame, box, scale)


def test_the_network_input_is_the_crop_in_bgr_resized_to_80_pixels():
    rgb = np.zeros((480, 640, 3), dtype=np.uint8)
    rgb[..., 0] = 200  # red
    rgb[..., 2] = 10  # blue
    planes = network_input(rgb, (300, 200, 40, 40), 2.7)
    assert planes.shape == (3, 80, 80) and planes.dtype == np.float32
    # BGR, raw 0-255 values: the first plane is blue, the last red.
    assert planes[0].mean() == pytest.approx(10) and planes[2].mean() == pytest.approx(200)


def test_the_input_shows_what_lies_around_the_face():
    rgb = np.zeros((480, 640, 3), dtype=np.uint8)
    rgb[:, 320:] = 255  # the right half of the frame is white
    planes = network_input(rgb, (300, 200, 40, 40), 2.7)
    assert planes[:, :, :30].max() == 0 and planes[:, :, 50:].min() == 255


def test_scoring_no_faces_costs_nothing_and_loads_no_network():
    scorer = LivenessScorer.__new__(LivenessScorer)  # no networks at all
    assert scorer.score(np.zeros((4, 4, 3), dtype=np.uint8), []) == []
