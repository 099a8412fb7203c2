"""The finder's fast refinement for camera frames (``mirror=False``) and its sharpening.

The detector is scripted: a face in the middle of every refinement patch, scoring one value on
the patch and another on its mirror image (told apart by a bright mark the frame has on its
left, which the mirror moves to the right), so the tests count the detector calls each path
makes and compare what the paths find.
"""

from __future__ import annotations

import numpy as np
import pytest

from services.faces.detection import DetectedFace
from services.faces.finder import REFINE_SIZE, FaceFinder

pytestmark = pytest.mark.unit

FRAME_SIZE = (360, 640)
CANDIDATE = DetectedFace(
    box=(300, 150, 60, 60),
    score=0.8,
    keypoints=(
        (315.0, 170.0),
        (345.0, 170.0),
        (330.0, 185.0),
        (330.0, 195.0),
        (305.0, 175.0),
        (355.0, 175.0),
    ),
)


def frame() -> np.ndarray:
    rgb = np.full((*FRAME_SIZE, 3), 60, np.uint8)
    # A mark left of the face: in a refinement patch it is on the left unless mirrored.
    rgb[150:210, 250:290] = 250
    return rgb


class ScriptedDetector:
    min_face_size = 20

    def __init__(self, plain: float, mirrored: float) -> None:
        self.plain = plain
        self.mirrored = mirrored
        self.calls: list[str] = []

    def detect(
        self,
        rgb: np.ndarray,
        *,
        min_confidence: float | None = None,
        min_face_size: int | None = None,
    ) -> list[DetectedFace]:
        if rgb.shape[:2] == FRAME_SIZE:
            self.calls.append("frame")
            return [CANDIDATE]
        assert rgb.shape[:2] == (REFINE_SIZE, REFINE_SIZE)
        half = REFINE_SIZE // 2
        mirrored = rgb[:, half:].mean() > rgb[:, :half].mean()
        self.calls.append("mirror" if mirrored else "patch")
        # Keypoints 3 px right of where they belong in either image, as a pose bias would put
        # them: averaged with the mirror's, they differ from the plain patch's.
        keypoints = tuple(
            (x + 3.0, y)
            for x, y in (
                (80.0, 85.0),
                (112.0, 85.0),
                (96.0, 100.0),
                (96.0, 112.0),
                (70.0, 90.0),
                (122.0, 90.0),
            )
        )
        score = self.mirrored if mirrored else self.plain
        return [DetectedFace(box=(64, 64, 64, 64), score=score, keypoints=keypoints)]


def finders(plain: float, mirrored: float) -> tuple[FaceFinder, ScriptedDetector]:
    detector = ScriptedDetector(plain, mirrored)
    return FaceFinder(detector, crop_size=32), detector  # type: ignore[arg-type]


def test_a_face_confirmed_alone_costs_one_refinement_call_and_sharpens_to_the_mirrored_face():
    finder, detector = finders(plain=0.9, mirrored=0.8)
    [mirrored] = finder.find(frame())
    assert detector.calls == ["frame", "patch", "mirror"]

    detector.calls.clear()
    [fast] = finder.find(frame(), mirror=False)
    assert detector.calls == ["frame", "patch"]
    assert fast.keypoints != mirrored.keypoints

    detector.calls.clear()
    sharp = finder.sharpen(frame(), fast)
    assert detector.calls == ["mirror"]  # the plain patch's detection is reused
    assert (sharp.box, sharp.score, sharp.keypoints) == (
        mirrored.box,
        mirrored.score,
        mirrored.keypoints,
    )
    np.testing.assert_array_equal(sharp.crop, mirrored.crop)
    assert sharp.unsharpened is None
    assert finder.sharpen(frame(), sharp) is sharp
    assert (finder.calls.candidates, finder.calls.refinement, finder.calls.sharpening) == (2, 3, 1)


def test_a_face_the_mirror_confirms_is_found_by_the_fast_path_as_by_the_mirrored_one():
    finder, detector = finders(plain=0.7, mirrored=0.9)
    [mirrored] = finder.find(frame())

    detector.calls.clear()
    [fast] = finder.find(frame(), mirror=False)
    assert detector.calls == ["frame", "patch", "mirror"]
    assert (fast.box, fast.score, fast.keypoints) == (
        mirrored.box,
        mirrored.score,
        mirrored.keypoints,
    )

    detector.calls.clear()
    finder.sharpen(frame(), fast)
    assert detector.calls == []


def test_a_patch_scoring_too_low_for_any_mirror_to_confirm_it_is_not_mirrored():
    finder, detector = finders(plain=0.45, mirrored=1.0)

    assert finder.find(frame()) == []

    # Both contexts tried, neither mirrored: (0.45 + 1) / 2 < 0.75.
    assert detector.calls == ["frame", "patch", "patch"]


def test_a_face_the_mirror_would_reject_is_kept_as_found_when_sharpened():
    finder, detector = finders(plain=0.8, mirrored=0.5)
    assert finder.find(frame()) == []

    [fast] = finder.find(frame(), mirror=False)
    detector.calls.clear()

    assert finder.sharpen(frame(), fast) is fast
    # Both contexts, as the mirrored path: each patch's own detection reused.
    assert detector.calls == ["mirror", "patch", "mirror"]
