"""Is a track a live person? A pure decision on the liveness scores of its faces so far.

One face can be misjudged (motion blur, a face turned away, a screen's glare missing in one
frame); a track is many faces of one visit. A track is decided once it has ``min_faces`` scored
faces: live when at least ``min_live_share`` of them reach the threshold, an attack otherwise.
Before that it is undecided, and the caller waits for more faces; once the track has ended
nothing more comes, and it is judged on what it has, by the same share (one scored face is
then enough: an attack that showed itself in only one judgeable face is still one).

The detector, which scores every judgeable face of a track, sends a summary (how many were
scored, how many reached its threshold); :func:`summary_verdict` judges that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from services.common.contracts import TrackLiveness
from services.faces.liveness_settings import (
    DEFAULT_LIVENESS_MIN_FACES,
    DEFAULT_LIVENESS_MIN_LIVE_SHARE,
    DEFAULT_LIVENESS_THRESHOLD,
)


class Verdict(StrEnum):
    LIVE = "live"
    ATTACK = "attack"
    UNDECIDED = "undecided"


@dataclass(frozen=True)
class LivenessRule:
    threshold: float = DEFAULT_LIVENESS_THRESHOLD
    min_faces: int = DEFAULT_LIVENESS_MIN_FACES
    min_live_share: float = DEFAULT_LIVENESS_MIN_LIVE_SHARE

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], not {self.threshold}")
        if self.min_faces < 1:
            raise ValueError(f"min_faces must be at least 1, not {self.min_faces}")
        if not 0.0 < self.min_live_share <= 1.0:
            raise ValueError(f"min_live_share must be in (0, 1], not {self.min_live_share}")

    @classmethod
    def from_settings(cls, settings: object) -> LivenessRule:
        """The rule of a settings object with the LIVENESS_* fields (LivenessSettings)."""
        return cls(
            threshold=settings.liveness_threshold,  # type: ignore[attr-defined]
            min_faces=settings.liveness_min_faces,  # type: ignore[attr-defined]
            min_live_share=settings.liveness_min_live_share,  # type: ignore[attr-defined]
        )


def live_share(scores: Sequence[float], threshold: float) -> float:
    """The share of ``scores`` at or above ``threshold``; 0 for no scores."""
    if not scores:
        return 0.0
    return sum(score >= threshold for score in scores) / len(scores)


def track_verdict(
    scores: Sequence[float], rule: LivenessRule = LivenessRule(), *, ended: bool = False
) -> Verdict:
    """Live, attack or undecided for a track whose faces scored ``scores`` (each in [0, 1])."""
    for score in scores:
        if math.isnan(score) or not 0.0 <= score <= 1.0:
            raise ValueError(f"a liveness score must be in [0, 1], not {score}")
    live = sum(score >= rule.threshold for score in scores)
    return counts_verdict(len(scores), live, rule, ended=ended)


def counts_verdict(scored: int, live: int, rule: LivenessRule, *, ended: bool = False) -> Verdict:
    """The verdict for ``scored`` faces of which ``live`` reached the threshold: undecided
    below ``min_faces`` while the track goes on; undecided with no face scored at all."""
    if not 0 <= live <= scored:
        raise ValueError(f"{live} live faces of {scored} scored")
    if scored == 0 or (scored < rule.min_faces and not ended):
        return Verdict.UNDECIDED
    # Counted, not divided: 3 of 5 faces must meet a 0.6 share whatever the float rounding.
    if live >= math.ceil(rule.min_live_share * scored - 1e-9):
        return Verdict.LIVE
    return Verdict.ATTACK


def summary_verdict(summary: TrackLiveness, rule: LivenessRule, *, ended: bool = False) -> Verdict:
    """The verdict on a detector's summary of a track. Its faces were counted live at the
    detector's threshold (``summary.threshold``); the share and minimum are ``rule``'s."""
    return counts_verdict(summary.scored, summary.live, rule, ended=ended)
