"""Presentation-attack detection figures in the terms of ISO/IEC 30107-3.

* **APCER** (attack presentation classification error rate): the share of attack presentations
  of one kind (one attack folder: prints, screens) accepted as live.
* **BPCER** (bona fide presentation classification error rate): the share of live faces refused.
* **ACER**: the mean of the worst APCER over the attack kinds and the BPCER.

A face is accepted as live when its score is at least the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

QUANTILES = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)
TARGET_BPCER = 0.05


def _scores(values: Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError("scores must be a flat sequence")
    if np.isnan(array).any():
        raise ValueError("scores must not be NaN")
    return array


def apcer(attack_scores: Sequence[float], threshold: float) -> float:
    """The share of attacks scored at or above ``threshold`` (accepted as live); NaN if none."""
    scores = _scores(attack_scores)
    return float((scores >= threshold).mean()) if scores.size else float("nan")


def bpcer(live_scores: Sequence[float], threshold: float) -> float:
    """The share of live faces scored below ``threshold`` (refused); NaN if none."""
    scores = _scores(live_scores)
    return float((scores < threshold).mean()) if scores.size else float("nan")


def acer(apcers: Sequence[float], bpcer_value: float) -> float:
    """ISO/IEC 30107-3's average: (worst APCER over the attack kinds + BPCER) / 2."""
    if not apcers:
        raise ValueError("ACER needs at least one attack kind")
    return (max(apcers) + bpcer_value) / 2


def threshold_at_bpcer(live_scores: Sequence[float], target: float = TARGET_BPCER) -> float:
    """The highest threshold that refuses at most ``target`` of the live faces.

    With the live scores sorted, it is the score of the first live face that must be kept:
    at most ``floor(target * n)`` faces lie below it (fewer when scores tie).
    """
    scores = np.sort(_scores(live_scores))
    if scores.size == 0:
        raise ValueError("no live scores")
    if not 0.0 <= target < 1.0:
        raise ValueError(f"target BPCER must be in [0, 1), not {target}")
    return float(scores[int(np.floor(target * scores.size))])


def quantiles(scores: Sequence[float]) -> dict[str, float]:
    """The score distribution at :data:`QUANTILES` (``{"p50": ...}``); empty for no scores."""
    array = _scores(scores)
    if array.size == 0:
        return {}
    values = np.quantile(array, QUANTILES)
    return {
        f"p{round(q * 100)}": round(float(v), 4) for q, v in zip(QUANTILES, values, strict=True)
    }
