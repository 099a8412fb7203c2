"""Open-set identification figures (rank-1, FNIR at FPIR, the production rule's outcome) on
tiny synthetic galleries whose answers are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from services.recognizer.identification_metrics import (
    drawn_gallery_figures,
    fnir_at_fpir,
    identification_figures,
    open_set_split,
)

pytestmark = pytest.mark.unit


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_fnir_counts_probes_below_the_threshold_that_lets_through_the_allowed_strangers():
    strangers = np.arange(100) / 200  # 0.000 ... 0.495
    mated = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.492])
    hits = np.array([True, True, False, True, True, True])
    # FPIR 1% of 100 strangers lets one through: the threshold is the second highest, 0.49.
    fnir, threshold = fnir_at_fpir(mated, hits, strangers, 0.01)
    assert threshold == pytest.approx(0.49)
    assert np.sum(strangers > threshold) == 1
    # Missed: the probe whose best candidate is someone else (0.7), whatever its score.
    assert fnir == pytest.approx(1 / 6)
    # FPIR 0.1% of 100 lets none through: 0.492 is now below the highest stranger too.
    fnir, threshold = fnir_at_fpir(mated, hits, strangers, 0.001)
    assert threshold == pytest.approx(0.495)
    assert fnir == pytest.approx(2 / 6)


def test_a_stranger_without_a_face_is_never_let_through():
    strangers = np.array([0.3, -np.inf, -np.inf, -np.inf])
    fnir, threshold = fnir_at_fpir(np.array([0.4]), np.array([True]), strangers, 0.5)
    # Half of four may pass, but only one has a score: the threshold drops to let it pass.
    assert threshold == -np.inf
    assert np.sum(strangers > threshold) == 1
    assert fnir == 0.0


GALLERY = {"Ann": unit(1, 0, 0), "Bob": unit(0, 1, 0)}
PROBES = [
    (unit(1, 0.1, 0), "Ann"),  # Ann at 0.995: accepted as Ann
    (unit(0.3, 1, 0), "Ann"),  # closer to Bob (0.958): taken for Bob
    (None, "Bob"),  # no face found: missed
    (unit(1, 0, 2), "Ann"),  # Ann, but at 0.447: below the threshold, missed
]
STRANGERS = [
    unit(0, 1, 0.2),  # Bob at 0.981: accepted as Bob
    unit(0, 0, 1),  # like nobody
    None,  # no face found
    unit(1, 1.02, 0),  # Ann 0.70 and Bob 0.71: within the margin, refused
]


def test_rank1_and_the_production_rule_on_a_gallery_of_two():
    figures = identification_figures(GALLERY, PROBES, STRANGERS, threshold=0.6, margin=0.05)
    assert (figures["gallery"], figures["probes"], figures["strangers"]) == (2, 4, 4)
    assert figures["rank1"] == 0.5
    rule = figures["at_threshold"]
    assert (rule["threshold"], rule["margin"]) == (0.6, 0.05)
    assert rule["probes_missed"] == 0.5
    assert rule["probes_misidentified"] == 0.25
    assert rule["strangers_accepted"] == 0.25


def test_fnir_at_fpir_on_a_gallery_of_two():
    figures = identification_figures(GALLERY, PROBES, STRANGERS, threshold=0.6, margin=0.05)
    # Four strangers: FPIR 1% lets none through, so the threshold is the highest (0.981) and
    # only the first probe (Ann at 0.995) is found.
    assert figures["threshold_at_fpir"]["0.01"] == pytest.approx(0.9806, abs=1e-4)
    assert figures["fnir_at_fpir"] == {"0.01": 0.75, "0.001": 0.75}


def test_the_first_photo_with_a_face_is_enrolled_and_one_photo_people_are_strangers():
    photos_of = {
        "Ann": ["a1", "a2", "a3"],
        "Bob": ["b1", "b2"],
        "Cid": ["c1"],
        "Dee": ["d1", "d2"],
    }
    has_face = {"a1": False, "a2": True, "a3": True, "b1": True, "b2": True, "c1": True}
    split = open_set_split(photos_of, has_face)
    assert split.gallery == {"Ann": "a2", "Bob": "b1"}
    # Ann's faceless first photo is a probe (a miss); Dee, with no face at all, is not
    # enrolled and their second photo is a probe that cannot be found.
    assert split.probes == [("a1", "Ann"), ("a3", "Ann"), ("b2", "Bob"), ("d2", "Dee")]
    assert split.strangers == ["c1"]


def orthogonal_set(people: int) -> tuple[dict, list, list]:
    """A gallery where every probe is its own person exactly and every stranger is nobody."""
    basis = np.eye(people + 3, dtype=np.float32)
    gallery = {f"p{i:02d}": basis[i] for i in range(people)}
    probes = [(basis[i], f"p{i:02d}") for i in range(people) for _ in range(2)]
    strangers = [basis[people + k] for k in range(3)]
    return gallery, probes, strangers


def test_drawn_galleries_keep_only_the_drawn_peoples_probes_and_every_stranger():
    gallery, probes, strangers = orthogonal_set(10)
    figures = drawn_gallery_figures(
        gallery, probes, strangers, 4, threshold=0.6, margin=0.05, draws=3
    )
    assert figures["gallery"] == 4
    assert figures["draws"] == 3
    assert figures["probes"] == 8
    assert figures["strangers"] == 3
    assert figures["rank1"] == 1.0
    assert figures["at_threshold"]["probes_missed"] == 0.0
    assert figures["at_threshold"]["strangers_accepted"] == 0.0


def test_drawn_galleries_are_the_same_on_every_run_and_average_their_draws():
    gallery, probes, strangers = orthogonal_set(10)
    # Half of each person's probes made unrecognisable for five people: who is drawn matters.
    probes = [
        (np.zeros_like(vector) + 0.1 if i % 2 and int(person[1:]) < 5 else vector, person)
        for i, (vector, person) in enumerate(probes)
    ]
    first = drawn_gallery_figures(gallery, probes, strangers, 4, threshold=0.6, margin=0.05)
    again = drawn_gallery_figures(gallery, probes, strangers, 4, threshold=0.6, margin=0.05)
    assert first == again
    assert 0.0 < first["at_threshold"]["probes_missed"] < 0.5


def test_no_drawn_gallery_as_large_as_the_whole_one():
    gallery, probes, strangers = orthogonal_set(4)
    assert drawn_gallery_figures(gallery, probes, strangers, 4, threshold=0.6, margin=0.05) is None
