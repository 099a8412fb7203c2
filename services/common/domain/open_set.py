"""The open-set decision rule: a similarity threshold that rises with the size of the gallery.

A stranger is compared with every enrolled embedding, and any one of them scoring above the
threshold makes them "somebody". With N embeddings in the gallery and a per-pair false-accept
rate FAR(t) (the share of two different people's faces scoring at least t), the share of
strangers accepted (FPIR, the false-positive identification rate) is about

    FPIR(t, N) = 1 - (1 - FAR(t)) ** N

so a threshold that is safe for 50 people lets through several times as many strangers for
1,000. The default rule therefore picks, for the gallery the recognizer holds, the lowest
threshold whose FPIR(t, N) stays within a target (``MATCH_TARGET_FPIR``, 1% by default), from
the impostor score tail measured for the embedding recipe
(:mod:`services.recognizer.open_set_calibration`).

* N counts embeddings, not people: a person enrolled with k photos gives a stranger about k
  chances (on LFW View 1 the best of 2 photos let through 1.7-1.9 times the one-photo FAR,
  the best of 3 2.1-2.7 times).
* The formula treats the N comparisons as independent. Measured on View 1 DevTrain it
  overestimates FPIR by a factor of about 1.4 at FPIR ~1% (some strangers resemble many
  people, others nobody), so it errs on the safe side; on DevTest it was about right.
* The margin over the runner-up is applied on top, as before.

``MATCH_THRESHOLD`` (and ``MATCH_MARGIN``), when set, override the rule: the configured
threshold is used whatever the gallery size, and the expected FPIR it implies is still
reported. A recipe with no calibration falls back to the fixed :data:`FALLBACK_THRESHOLD`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

# The fixed rule's values, measured and explained in services/recognizer/matching.py.
DEFAULT_THRESHOLD = 0.60
DEFAULT_MARGIN = 0.05
DEFAULT_TARGET_FPIR = 0.01
# Without a calibration for the recipe in use, the fixed threshold chosen before this rule.
FALLBACK_THRESHOLD = DEFAULT_THRESHOLD

RuleSource = Literal["calibrated", "configured", "uncalibrated"]


@dataclass(frozen=True)
class ImpostorTail:
    """The per-pair false-accept rate of one embedding recipe: ``log10 FAR`` at increasing
    similarity thresholds, interpolated linearly in between (log-linear in FAR)."""

    model_id: str
    thresholds: tuple[float, ...]
    log10_far: tuple[float, ...]
    # Where the numbers come from (data set, pairs, fit), for the status page and the logs.
    source: str = ""

    def __post_init__(self) -> None:
        if len(self.thresholds) != len(self.log10_far) or len(self.thresholds) < 2:
            raise ValueError("an impostor tail needs two or more (threshold, log10 FAR) points")
        if any(b <= a for a, b in zip(self.thresholds, self.thresholds[1:], strict=False)):
            raise ValueError("thresholds must increase")
        if any(b > a for a, b in zip(self.log10_far, self.log10_far[1:], strict=False)):
            raise ValueError("FAR cannot grow with the threshold")

    @classmethod
    def from_rows(
        cls, model_id: str, rows: Sequence[tuple[float, float]], *, source: str = ""
    ) -> ImpostorTail:
        """From (threshold, log10 FAR) rows, as the calibration module lists them."""
        return cls(
            model_id,
            tuple(threshold for threshold, _ in rows),
            tuple(value for _, value in rows),
            source,
        )

    def far(self, threshold: float) -> float:
        """FAR at ``threshold``; clamped to the table's ends outside it."""
        return float(10 ** np.interp(threshold, self.thresholds, self.log10_far))

    def threshold_for_far(self, far: float) -> float:
        """The lowest threshold whose FAR is at most ``far`` (the table's ends outside it)."""
        if far <= 0:
            return self.thresholds[-1]
        wanted = math.log10(far)
        # np.interp needs increasing x: read the table backwards (log10 FAR increasing).
        return float(np.interp(wanted, self.log10_far[::-1], self.thresholds[::-1]))


def expected_fpir(far: float, comparisons: int) -> float:
    """Share of strangers above the threshold somewhere among ``comparisons`` embeddings."""
    if comparisons <= 0 or far <= 0:
        return 0.0
    if far >= 1:
        return 1.0
    return float(-math.expm1(comparisons * math.log1p(-far)))


def far_for_fpir(fpir: float, comparisons: int) -> float:
    """The per-pair FAR that gives ``fpir`` over ``comparisons`` embeddings."""
    return float(-math.expm1(math.log1p(-fpir) / max(comparisons, 1)))


@dataclass(frozen=True)
class DecisionRule:
    """What the recognizer does with the gallery it holds, and what that implies."""

    threshold: float
    margin: float
    gallery_embeddings: int
    # Expected share of strangers accepted at this threshold (None without a calibration).
    expected_fpir: float | None
    target_fpir: float | None
    source: RuleSource
    calibration_model_id: str | None = None


class OpenSetPolicy:
    """Chooses the threshold for a gallery size: calibrated by default, configured when set."""

    def __init__(
        self,
        model_id: str,
        calibrations: Sequence[ImpostorTail] = (),
        *,
        target_fpir: float = DEFAULT_TARGET_FPIR,
        threshold: float | None = None,
        margin: float | None = None,
    ) -> None:
        if not 0 < target_fpir < 1:
            raise ValueError("the target FPIR must be between 0 and 1")
        self.model_id = model_id
        self.tail = next((tail for tail in calibrations if tail.model_id == model_id), None)
        self.target_fpir = target_fpir
        self.configured_threshold = threshold
        self.margin = DEFAULT_MARGIN if margin is None else margin

    @property
    def calibrated(self) -> bool:
        return self.tail is not None

    def rule_for(self, gallery_embeddings: int) -> DecisionRule:
        tail = self.tail
        if self.configured_threshold is not None:
            threshold = self.configured_threshold
            source: RuleSource = "configured"
        elif tail is not None:
            far = far_for_fpir(self.target_fpir, gallery_embeddings)
            threshold = round(tail.threshold_for_far(far), 4)
            source = "calibrated"
        else:
            threshold = FALLBACK_THRESHOLD
            source = "uncalibrated"
        return DecisionRule(
            threshold=threshold,
            margin=self.margin,
            gallery_embeddings=gallery_embeddings,
            expected_fpir=(
                None if tail is None else expected_fpir(tail.far(threshold), gallery_embeddings)
            ),
            target_fpir=self.target_fpir if source == "calibrated" else None,
            source=source,
            calibration_model_id=None if tail is None else tail.model_id,
        )
