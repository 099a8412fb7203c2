"""APCER, BPCER and ACER as ISO/IEC 30107-3 defines them, on hand-made scores."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.faces.liveness_evaluation import FolderScores, LivenessDataError, report
from services.faces.liveness_metrics import (
    acer,
    apcer,
    bpcer,
    quantiles,
    threshold_at_bpcer,
)

pytestmark = pytest.mark.unit

LIVE = [0.95, 0.9, 0.8, 0.7, 0.6, 0.55, 0.5, 0.45, 0.3, 0.2]
PRINTS = [0.0, 0.01, 0.02, 0.6]
SCREENS = [0.1, 0.4, 0.5, 0.7, 0.9]


def test_apcer_is_the_share_of_attacks_accepted_at_or_above_the_threshold():
    assert apcer(PRINTS, 0.5) == 0.25
    assert apcer(SCREENS, 0.5) == 0.6


def test_bpcer_is_the_share_of_live_faces_refused_below_the_threshold():
    assert bpcer(LIVE, 0.5) == 0.3


def test_acer_averages_the_worst_attack_kind_with_the_bpcer():
    assert acer([0.25, 0.6], 0.3) == pytest.approx(0.45)
    with pytest.raises(ValueError):
        acer([], 0.3)


def test_the_threshold_at_a_bpcer_refuses_no_more_live_faces_than_that():
    threshold = threshold_at_bpcer(LIVE, 0.1)
    assert threshold == 0.3
    assert bpcer(LIVE, threshold) == 0.1
    assert threshold_at_bpcer(LIVE, 0.05) == 0.2 and bpcer(LIVE, 0.2) == 0.0


def test_quantiles_describe_the_distribution_from_lowest_to_highest():
    shown = quantiles(LIVE)
    assert shown["p0"] == 0.2 and shown["p100"] == 0.95 and shown["p50"] == pytest.approx(0.575)
    assert quantiles([]) == {}


def test_nan_scores_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        apcer([0.1, float("nan")], 0.5)


def test_the_report_gives_each_attack_folder_its_own_apcer_and_counts_faceless_images():
    live = FolderScores(Path("live"), images=11, scores=LIVE, no_face=["x.jpg"])
    prints = FolderScores(Path("print"), images=4, scores=PRINTS)
    screens = FolderScores(Path("screen"), images=6, scores=SCREENS, unreadable=["y.png"])
    result = report(live, [prints, screens], 0.5)
    assert result["live"]["bpcer"] == 0.3 and result["live"]["no_face"] == 1
    assert [row["apcer"] for row in result["attacks"]] == [0.25, 0.6]
    assert result["attacks"][1]["unreadable"] == 1
    assert result["acer"] == 0.45
    assert result["at_bpcer_5"] == {"threshold": 0.2, "bpcer": 0.0}
    assert [row["apcer_at_bpcer_5"] for row in result["attacks"]] == [0.25, 0.8]


def test_a_live_folder_without_any_face_is_an_error_not_a_zero():
    with pytest.raises(LivenessDataError, match="no face"):
        report(FolderScores(Path("live"), images=3), [], 0.5)
