"""Open-set matching rules: threshold, margin over a different employee, empty gallery."""

import numpy as np
import pytest

from services.common.gallery_matrix import GalleryMatrix
from services.recognizer.matching import closest_employee, match

pytestmark = pytest.mark.unit


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def probe_with_similarities(alice: float, bob: float) -> np.ndarray:
    """A 3-d probe with the given cosine to the axes e0 (alice) and e1 (bob)."""
    rest = np.sqrt(max(0.0, 1.0 - alice**2 - bob**2))
    return np.array([[alice, bob, rest]], dtype=np.float32)


@pytest.fixture
def gallery() -> GalleryMatrix:
    return GalleryMatrix(["alice", "bob"], np.array([unit(1, 0, 0), unit(0, 1, 0)]))


def test_a_probe_above_threshold_with_a_clear_margin_is_accepted(gallery):
    [result] = match(probe_with_similarities(0.8, 0.1), gallery, threshold=0.5, margin=0.1)
    assert result.accepted
    assert result.employee_id == "alice"
    assert result.similarity == pytest.approx(0.8, abs=1e-5)
    assert result.runner_up_similarity == pytest.approx(0.1, abs=1e-5)


def test_a_probe_below_threshold_is_unknown_but_keeps_its_best_candidate(gallery):
    [result] = match(probe_with_similarities(0.45, 0.1), gallery, threshold=0.5, margin=0.1)
    assert not result.accepted
    assert result.employee_id is None
    assert result.candidate_id == "alice"


def test_a_probe_too_close_to_two_employees_is_refused_by_the_margin(gallery):
    [result] = match(probe_with_similarities(0.62, 0.58), gallery, threshold=0.5, margin=0.1)
    assert not result.accepted
    assert result.employee_id is None


def test_the_runner_up_is_the_best_different_employee_not_a_second_photo_of_the_same_one():
    gallery = GalleryMatrix(
        ["alice", "alice", "bob"], np.array([unit(1, 0, 0), unit(1, 0.05, 0), unit(0, 1, 0)])
    )
    [result] = match(probe_with_similarities(0.9, 0.2), gallery, threshold=0.5, margin=0.1)
    assert result.accepted
    assert result.employee_id == "alice"
    assert result.runner_up_similarity == pytest.approx(0.2, abs=1e-5)


def test_every_probe_is_unknown_against_an_empty_gallery():
    results = match(np.array([unit(1, 0, 0), unit(0, 1, 0)]), GalleryMatrix.empty(3), 0.5, 0.1)
    assert [result.employee_id for result in results] == [None, None]
    assert not any(result.accepted for result in results)


def test_a_single_employee_gallery_has_no_runner_up_so_the_margin_always_holds():
    gallery = GalleryMatrix(["alice"], np.array([unit(1, 0, 0)]))
    [result] = match(probe_with_similarities(0.7, 0.0), gallery, threshold=0.5, margin=0.1)
    assert result.accepted
    assert result.runner_up_similarity == float("-inf")


def test_gallery_rows_are_normalised_so_stored_vectors_off_unit_length_still_compare_by_cosine():
    gallery = GalleryMatrix(["alice"], np.array([[3.0, 0.0, 0.0]]))
    [result] = match(probe_with_similarities(0.6, 0.0), gallery, threshold=0.5, margin=0.0)
    assert result.similarity == pytest.approx(0.6, abs=1e-5)


def test_probes_of_the_wrong_dimension_are_refused(gallery):
    with pytest.raises(ValueError, match="dimension"):
        match(np.ones((1, 4), dtype=np.float32), gallery)


def test_no_probes_give_no_matches(gallery):
    assert match(np.zeros((0, 3), dtype=np.float32), gallery) == []


def test_mismatched_ids_and_embeddings_are_refused():
    with pytest.raises(ValueError, match="employee ids"):
        GalleryMatrix(["alice"], np.zeros((2, 3), dtype=np.float32))


def test_the_closest_employee_is_named_with_the_similarity(gallery):
    closest = closest_employee(probe_with_similarities(0.7, 0.2)[0], gallery)
    assert closest.employee_id == "alice"
    assert closest.similarity == pytest.approx(0.7, abs=1e-5)


def test_the_closest_employee_can_leave_one_out(gallery):
    closest = closest_employee(probe_with_similarities(0.7, 0.2)[0], gallery, excluding="alice")
    assert closest.employee_id == "bob"
    assert closest.similarity == pytest.approx(0.2, abs=1e-5)


def test_nobody_is_closest_in_a_gallery_of_nobody_else():
    alone = GalleryMatrix(["alice"], np.array([unit(1, 0, 0)]))
    assert closest_employee(unit(1, 0, 0), alone, excluding="alice") is None
    assert closest_employee(unit(1, 0, 0), GalleryMatrix.empty(3)) is None


def _brute_force_best(labels: list[str], vectors: np.ndarray, probes: np.ndarray) -> np.ndarray:
    """Each probe's best cosine to each employee, one employee at a time (the definition)."""
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    people = sorted(set(labels))
    return np.array(
        [
            [
                max(float(probe @ vectors[i]) for i, label in enumerate(labels) if label == person)
                for person in people
            ]
            for probe in probes
        ]
    )


def test_an_employee_whose_photos_are_scattered_among_others_gets_the_best_of_them():
    rng = np.random.default_rng(1)
    labels = ["carol", "alice", "bob", "alice", "carol", "alice", "dan"]
    vectors = rng.standard_normal((len(labels), 8)).astype(np.float32)
    probes = rng.standard_normal((5, 8)).astype(np.float32)
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    gallery = GalleryMatrix(labels, vectors)
    expected = _brute_force_best(labels, vectors, probes)
    assert np.allclose(gallery.best_per_employee(probes), expected, atol=1e-5)
    # Each row still names its owner after the rows were grouped.
    for owner, row in zip(gallery.row_employee_ids, gallery.matrix, strict=True):
        original = [i for i, label in enumerate(labels) if label == owner]
        assert any(np.allclose(row, vectors[i] / np.linalg.norm(vectors[i])) for i in original)


def test_the_best_and_runner_up_are_those_a_full_sort_would_give():
    rng = np.random.default_rng(2)
    labels = [f"p{i % 300}" for i in range(500)]
    vectors = rng.standard_normal((len(labels), 16)).astype(np.float32)
    probes = rng.standard_normal((20, 16)).astype(np.float32)
    gallery = GalleryMatrix(labels, vectors)
    expected = _brute_force_best(
        labels, vectors, probes / np.linalg.norm(probes, axis=1, keepdims=True)
    )
    for result, row in zip(match(probes, gallery, 0.0, 0.0), expected, strict=True):
        ranked = np.sort(row)[::-1]
        assert result.similarity == pytest.approx(ranked[0], abs=1e-5)
        assert result.runner_up_similarity == pytest.approx(ranked[1], abs=1e-5)
        assert result.candidate_id == gallery.employee_ids[int(np.argmax(row))]


def test_building_the_gallery_leaves_the_callers_embeddings_as_they_were():
    embeddings = np.array([[3.0, 0.0, 0.0], [0.0, 2.0, 0.0]], dtype=np.float32)
    GalleryMatrix(["bob", "alice"], embeddings)
    assert embeddings.tolist() == [[3.0, 0.0, 0.0], [0.0, 2.0, 0.0]]
