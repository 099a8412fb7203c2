"""The calibration tool: impostor pairs, the tail table and its check."""

from __future__ import annotations

import numpy as np
import pytest

from services.common.domain.open_set import ImpostorTail
from services.recognizer.calibrate_open_set import (
    GRID,
    fit_tail,
    impostor_scores,
    measured_fpir,
    tail_literal,
)

pytestmark = pytest.mark.unit


def random_people(count: int, photos: int, seed: int = 0) -> dict[str, list[np.ndarray]]:
    """People whose photos are noisy copies of their own random direction in 16 dimensions."""
    rng = np.random.default_rng(seed)
    people = {}
    for number in range(count):
        centre = rng.normal(size=16)
        vectors = [centre + 0.5 * rng.normal(size=16) for _ in range(photos)]
        people[f"p{number}"] = [v / np.linalg.norm(v) for v in vectors]
    return people


def test_impostor_pairs_are_every_two_photos_of_different_people_only():
    a, b, c = (np.eye(3)[i] for i in range(3))
    scores = impostor_scores({"ann": [a, a], "bo": [b], "cy": [c]})

    # ann-bo twice, ann-cy twice, bo-cy once; ann's own pair is not an impostor pair.
    assert scores.size == 5
    assert np.allclose(scores, 0.0)


def test_the_fitted_tail_falls_with_the_threshold_and_follows_the_measured_rate():
    rng = np.random.default_rng(1)
    scores = rng.normal(0.13, 0.14, size=2_000_000)

    tail = fit_tail(scores, "stand-in", "synthetic")

    assert tail.thresholds == GRID
    assert list(tail.log10_far) == sorted(tail.log10_far, reverse=True)
    for threshold in (0.40, 0.56, 0.64):
        measured = np.mean(scores >= threshold)
        assert np.log10(tail.far(threshold)) == pytest.approx(np.log10(measured), abs=0.1)


def test_too_few_impostor_pairs_to_fit_are_refused():
    with pytest.raises(ValueError, match="too few"):
        fit_tail(np.linspace(-0.2, 0.3, 1000), "stand-in", "synthetic")


def test_the_check_measures_about_the_share_of_strangers_it_predicts():
    people = random_people(300, 2)
    tail = fit_tail(impostor_scores(people), "stand-in", "synthetic")

    threshold, predicted, measured = measured_fpir(people, tail, 50, target=0.05)

    assert predicted == pytest.approx(0.05, rel=0.05)
    # Independent random people: the formula's assumption holds, so the two agree.
    assert measured == pytest.approx(0.05, abs=0.02)
    assert 0.6 < threshold < 0.8


def test_the_printed_table_is_python_that_rebuilds_the_same_tail():
    tail = ImpostorTail.from_rows("a/b", [(0.3, -1.0), (0.5, -3.25)], source="here")
    text = tail_literal(tail)

    # The text is our own output, pasted into a module as it stands.
    rebuilt = eval(text, {"ImpostorTail": ImpostorTail})

    assert rebuilt == tail
