"""On real frames, the detector's fast refinement confirms every face the mirrored refinement
does, and a face sharpened before it is sent is exactly the face the mirrored path gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from services.bench.pipeline import frames_of
from services.faces.detection import FaceDetector
from services.faces.finder import FaceFinder
from services.faces.geometry import iou

pytestmark = pytest.mark.models

CLIP = "face_recognition/examples/short_hamilton_clip.mp4"


@pytest.fixture(scope="module")
def finder(models_dir: Path):
    with FaceDetector("short", models_dir) as detector:
        yield FaceFinder(detector)


def test_fast_faces_cover_the_mirrored_ones_and_sharpen_to_them_for_fewer_calls(
    finder: FaceFinder, faces_dir: Path
):
    # Every third frame of the walk-bys (the clip's second half has turned faces near the
    # refinement threshold, where the mirror is asked).
    frames = [
        rgb
        for index, (_, rgb) in enumerate(frames_of(faces_dir / CLIP, None, None))
        if index % 3 == 0
    ]
    before = finder.calls.refinement
    mirrored = [finder.find(rgb) for rgb in frames]
    mirrored_calls = finder.calls.refinement - before
    before = finder.calls.refinement
    fast = [finder.find(rgb, mirror=False) for rgb in frames]
    fast_calls = finder.calls.refinement - before

    assert sum(map(len, mirrored)) > 30
    assert fast_calls < 0.85 * mirrored_calls
    for rgb, wanted, found in zip(frames, mirrored, fast, strict=True):
        for face in wanted:
            [same] = [f for f in found if iou(f.box, face.box) > 0.5]
            sharp = finder.sharpen(rgb, same)
            assert (sharp.box, sharp.score, sharp.keypoints) == (
                face.box,
                face.score,
                face.keypoints,
            )
            np.testing.assert_array_equal(sharp.crop, face.crop)
