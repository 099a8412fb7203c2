"""The photos-per-person report compares 1, 2 and 3 enrolment photos on the same probes."""

from __future__ import annotations

import numpy as np
import pytest

from services.recognizer.photos_per_person_report import fnir_table, split, templates

pytestmark = pytest.mark.unit


def test_every_photo_count_is_judged_on_the_same_people_and_probes():
    photos_of = {
        "ana": ["a1", "a2", "a3", "a4", "a5"],
        "bo": ["b1", "b2", "b3"],
        "cy": ["c1"],
    }
    data = split(photos_of)
    assert data.enrolment == {"ana": ["a1", "a2", "a3"]}
    assert data.probes == [("a4", "ana"), ("a5", "ana")]
    assert data.strangers == ["c1"]


def test_a_fused_template_is_the_normalised_mean_of_the_photos():
    [fused] = templates([np.array([3.0, 0.0]), np.array([0.0, 1.0])], "mean")
    assert np.allclose(fused, np.array([1.0, 1.0]) / np.sqrt(2))
    assert len(templates([np.array([1.0, 0.0]), np.array([0.0, 1.0])], "best")) == 2


def test_more_photos_find_a_person_whose_photos_differ():
    # Ana's first photo looks away from her later ones; her second and third look like them.
    rng = np.random.default_rng(0)
    basis = np.eye(8)
    embedding = {
        "a1": basis[0],
        "a2": basis[1] + 0.1 * basis[0],
        "a3": basis[1] + 0.1 * basis[2],
        "a4": basis[1],
        "s1": basis[3] + 0.05 * rng.standard_normal(8),
        "s2": basis[4] + 0.05 * rng.standard_normal(8),
    }
    data = split({"ana": ["a1", "a2", "a3", "a4"], "x": ["s1"], "y": ["s2"]})
    table = fnir_table(data, embedding)
    assert table["k1_best"]["0.01"] == 1.0
    assert table["k3_best"]["0.01"] == 0.0 and table["k3_mean"]["0.01"] == 0.0
