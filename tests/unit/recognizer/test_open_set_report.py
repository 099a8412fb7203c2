"""The report of the default rule on an LFW split, with photos the gate refuses left out."""

from __future__ import annotations

import numpy as np
import pytest

from services.common.domain.open_set import ImpostorTail, OpenSetPolicy
from services.recognizer.open_set_report import report_lines, rule_figures

pytestmark = pytest.mark.unit

TAIL = ImpostorTail.from_rows("m", [(0.3, -1.0), (0.9, -7.0)])


def axis(index: int, mix: float = 0.0) -> np.ndarray:
    vector = np.zeros(16)
    vector[index] = 1.0
    vector[15] = mix
    return vector / np.linalg.norm(vector)


# Ann: a good photo, a turned one (far from her), a good one; Bo: two photos; Cy: a stranger.
PHOTOS_OF = {"ann": ["ann1", "ann2", "ann3"], "bo": ["bo1", "bo2"], "cy": ["cy1"]}
EMBEDDINGS = {
    "ann1": axis(0),
    "ann2": axis(5),
    "ann3": axis(0, 0.1),
    "bo1": axis(1),
    "bo2": axis(1, 0.1),
    "cy1": axis(2),
}


def test_every_photo_judged_counts_the_turned_photo_as_a_missed_probe():
    whole = rule_figures(PHOTOS_OF, EMBEDDINGS, OpenSetPolicy("m", [TAIL]), gallery_sizes=())[
        "whole"
    ]

    assert (whole["gallery"], whole["probes"], whole["strangers"]) == (2, 3, 1)
    assert whole["at_threshold"]["probes_missed"] == pytest.approx(1 / 3, abs=1e-4)
    assert whole["at_threshold"]["strangers_accepted"] == 0.0


def test_photos_not_judged_are_neither_probes_strangers_nor_enrolled():
    judged = {"ann1": False, "ann2": False, "cy1": False, "bo1": False}

    whole = rule_figures(
        PHOTOS_OF, EMBEDDINGS, OpenSetPolicy("m", [TAIL]), judged, gallery_sizes=()
    )["whole"]

    # Ann is enrolled with her third photo and has no probe left; Bo with his second and
    # none left either; Cy is not judged, so nobody is a stranger.
    assert (whole["gallery"], whole["probes"], whole["strangers"]) == (2, 0, 0)


def test_a_person_whose_first_photo_is_not_judged_is_enrolled_with_the_next():
    judged = {"ann1": False}

    whole = rule_figures(
        PHOTOS_OF, EMBEDDINGS, OpenSetPolicy("m", [TAIL]), judged, gallery_sizes=()
    )["whole"]

    # Ann enrolled with ann2 (turned but judged here), ann3 her probe; Bo as before.
    assert (whole["gallery"], whole["probes"], whole["strangers"]) == (2, 2, 1)


def test_the_report_names_the_threshold_the_rule_chose_for_the_gallery():
    figures = rule_figures(PHOTOS_OF, EMBEDDINGS, OpenSetPolicy("m", [TAIL]), gallery_sizes=())

    [line] = report_lines(figures)

    # Two enrolled faces, 1% of strangers: FAR 0.5%, 0.3 + 0.1 x log10(1 / 0.005) - 0.1.
    assert "threshold 0.430" in line and "2 enrolled, 3 probes, 1 strangers" in line
