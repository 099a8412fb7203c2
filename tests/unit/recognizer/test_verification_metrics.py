"""TAR at a FAR, EER and the bootstrap interval, on scores whose answers are known."""

import numpy as np
import pytest

from services.recognizer.verification_metrics import (
    PairScores,
    equal_error_rate,
    tar_at_far,
    tar_interval,
)

pytestmark = pytest.mark.unit


def test_the_threshold_lets_through_exactly_the_allowed_share_of_impostors():
    impostor = np.arange(1000) / 1000  # 0.000 ... 0.999
    genuine = np.array([0.5, 0.9895, 0.995])
    tar, threshold = tar_at_far(genuine, impostor, 0.01)
    assert threshold == pytest.approx(0.989)
    assert np.sum(impostor > threshold) == 10
    assert tar == pytest.approx(2 / 3)


def test_a_fractional_allowance_rounds_down_so_the_far_is_never_exceeded():
    impostor = np.arange(1500) / 1500
    _, threshold = tar_at_far(np.array([1.0]), impostor, 0.001)
    assert np.sum(impostor > threshold) == 1  # 1.5 allowed -> 1


def test_a_pair_weighted_k_counts_as_k_copies_of_that_pair():
    rng = np.random.default_rng(7)
    genuine, impostor = rng.uniform(0.3, 1.0, 40), rng.uniform(0.0, 0.7, 900)
    genuine_weights, impostor_weights = rng.integers(0, 4, 40), rng.integers(0, 4, 900)
    weighted = tar_at_far(
        genuine,
        impostor,
        0.01,
        genuine_weights=genuine_weights.astype(float),
        impostor_weights=impostor_weights.astype(float),
    )
    repeated = tar_at_far(
        np.repeat(genuine, genuine_weights), np.repeat(impostor, impostor_weights), 0.01
    )
    assert weighted == pytest.approx(repeated)


def test_without_impostors_or_genuine_pairs_there_is_no_figure():
    assert np.isnan(tar_at_far(np.array([0.9]), np.array([]), 0.01)[0])
    assert np.isnan(tar_at_far(np.array([]), np.array([0.1]), 0.01)[0])


def test_separated_scores_have_no_equal_error():
    eer, threshold = equal_error_rate(np.array([0.8, 0.9]), np.array([0.1, 0.2, 0.3]))
    assert eer == 0.0
    assert 0.3 < threshold <= 0.8


def test_overlapping_scores_have_an_equal_error_between_the_two_error_rates():
    eer, _ = equal_error_rate(np.array([0.2, 0.8, 0.9, 0.95]), np.array([0.1, 0.3, 0.85, 0.05]))
    assert eer == pytest.approx(0.25)


def pairs_of(photos: dict[str, list[np.ndarray]]) -> PairScores:
    """Every pair of the given unit vectors, labelled by person."""
    people = [person for person, vectors in photos.items() for _ in vectors]
    matrix = np.array([vector for vectors in photos.values() for vector in vectors])
    first, second = np.triu_indices(len(people), k=1)
    labels = np.array(people)
    return PairScores((matrix @ matrix.T)[first, second], labels[first], labels[second])


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def crowd(rng: np.random.Generator, people: int, photos: int, spread: float) -> dict:
    centres = [unit(rng.normal(size=64)) for _ in range(people)]
    return {
        f"person{i}": [unit(centre + spread * rng.normal(size=64)) for _ in range(photos)]
        for i, centre in enumerate(centres)
    }


def test_people_far_apart_give_an_interval_pinned_at_full_acceptance():
    photos = crowd(np.random.default_rng(2), people=20, photos=4, spread=0.05)
    assert tar_interval(pairs_of(photos), 0.001, rounds=200) == (1.0, 1.0)


def test_a_perfect_figure_that_hinges_on_one_look_alike_gets_an_interval_reaching_far_below_it():
    rng = np.random.default_rng(2)
    photos = crowd(rng, people=20, photos=4, spread=0.05)
    # A stranger close to person0: when resampling draws both more than once, their pairs
    # outnumber the impostors FAR 0.1% lets through and set the threshold above everyone.
    photos["look_alike"] = [unit(photos["person0"][0] + 0.04 * rng.normal(size=64))]
    pairs = pairs_of(photos)
    measured, _ = tar_at_far(pairs.genuine, pairs.impostor, 0.001)
    low, high = tar_interval(pairs, 0.001, rounds=300)
    assert measured == 1.0
    assert high == 1.0
    assert low < 0.9


def test_the_interval_is_the_same_on_every_run():
    pairs = pairs_of(crowd(np.random.default_rng(3), people=8, photos=3, spread=0.3))
    assert tar_interval(pairs, 0.01, rounds=100) == tar_interval(pairs, 0.01, rounds=100)
