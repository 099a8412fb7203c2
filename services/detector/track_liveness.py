"""A track's liveness as the detector follows it: judged on many of its faces, not only the few
sent.

The detector sends the recognizer the best two or three faces of a track, but a track of a
person walking past is dozens of frames, and one misjudged face (motion blur, a glare) must not
decide it. So the detector scores the track's faces that the quality gate lets through (every
face it sends, and the others at most every LIVENESS_INTERVAL_S), keeps the count and the sum
here, and sends the summary with every face it sends and with the track's end: the recognizer
judges the track on all of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from services.common.contracts import TrackLiveness


@dataclass
class LivenessTally:
    """The scores of one track's faces so far, counted at ``threshold``."""

    threshold: float
    scored: int = 0
    live: int = 0
    total: float = 0.0
    # Faces scored as of the last face sent: what the recognizer knows of the track.
    sent_scored: int = 0
    # Capture time (seconds since the epoch) of the latest face scored.
    last_scored_at: float = float("-inf")

    def add(self, score: float, at: float = float("-inf")) -> None:
        if math.isnan(score) or not 0.0 <= score <= 1.0:
            raise ValueError(f"a liveness score must be in [0, 1], not {score}")
        self.last_scored_at = max(self.last_scored_at, at)
        self.scored += 1
        self.live += score >= self.threshold
        self.total += score

    def summary(self) -> TrackLiveness | None:
        """What is sent of the track's liveness; None before any face was scored."""
        if self.scored == 0:
            return None
        mean = min(1.0, max(0.0, self.total / self.scored))
        return TrackLiveness(
            scored=self.scored, live=self.live, mean_score=mean, threshold=self.threshold
        )
