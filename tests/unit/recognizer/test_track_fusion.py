"""A track's faces are fused into one verdict: the weighted mean direction, or the best face."""

from __future__ import annotations

import numpy as np
import pytest

from services.common.gallery_matrix import GalleryMatrix
from services.recognizer.track_fusion import fused_embedding, track_verdict

pytestmark = pytest.mark.unit


def axis(index: int, dimension: int = 8) -> np.ndarray:
    vector = np.zeros(dimension, dtype=np.float32)
    vector[index] = 1.0
    return vector


GALLERY = GalleryMatrix(["ada", "bob"], np.stack([axis(0), axis(1)]))


def test_the_fused_embedding_is_the_weighted_mean_direction_at_unit_length():
    fused = fused_embedding(np.stack([axis(0), 3 * axis(1)]), np.array([3.0, 1.0]))

    # Each row is normalised first, so only the weights decide the mix: 3 to 1.
    assert np.linalg.norm(fused) == pytest.approx(1.0)
    assert fused[0] / fused[1] == pytest.approx(3.0)


def test_noisy_faces_of_one_person_fuse_closer_to_her_than_each_alone():
    rng = np.random.default_rng(1)
    faces = np.stack([axis(0) + rng.normal(0, 0.5, 8).astype(np.float32) for _ in range(3)])
    faces /= np.linalg.norm(faces, axis=1, keepdims=True)

    fused = fused_embedding(faces, np.ones(3))

    assert float(fused @ axis(0)) > max(float(face @ axis(0)) for face in faces)


def test_a_track_mixing_two_people_is_accepted_as_neither_when_fused():
    faces = np.stack([axis(0), axis(1)])

    verdict = track_verdict(faces, np.ones(2), GALLERY, threshold=0.6, margin=0.05)

    assert not verdict.accepted and verdict.employee_id is None


def test_the_best_fusion_takes_the_verdict_of_the_most_similar_face():
    faces = np.stack([0.7 * axis(0) + 0.714 * axis(2), axis(1)])

    verdict = track_verdict(faces, np.ones(2), GALLERY, 0.6, 0.05, fusion="best")

    assert (verdict.employee_id, verdict.accepted) == ("bob", True)


def test_the_weights_decide_between_two_directions():
    faces = np.stack([axis(0), 0.8 * axis(0) + 0.6 * axis(2)])

    light = track_verdict(faces, np.array([0.1, 1.0]), GALLERY, 0.85, 0.05)
    heavy = track_verdict(faces, np.array([1.0, 0.1]), GALLERY, 0.85, 0.05)

    assert heavy.similarity > light.similarity
    assert heavy.accepted and not light.accepted
