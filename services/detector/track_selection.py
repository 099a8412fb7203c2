"""Which faces of a track are sent for recognition: the best few, not every frame.

A person walking past a camera is seen in dozens of frames; embedding each costs the network's
time and adds little. Per track the detector sends:

1. the first face the quality gate lets through, at once (a decision can come quickly);
2. the next ones, each at least ``spacing_s`` of capture time after the last one sent, until
   ``first_faces`` were sent: the recognizer needs that many faces of a track to agree
   (``TRACK_AGREEMENT_FRAMES``), and faces a moment apart are less alike than neighbours;
3. after that, only a face clearly better than every face sent so far (its score, see
   :mod:`services.faces.quality_score`, above the best one's by ``better_by``, relatively),
   up to ``max_faces`` in all.

A face is counted as sent only once it was published: one the bus refused (its queue full) is
dropped, and a later face of the track takes its place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SkipReason = Literal["spacing", "not_better", "track_has_enough"]


@dataclass(frozen=True)
class SelectionPolicy:
    max_faces: int = 3
    first_faces: int = 2
    spacing_s: float = 0.25
    better_by: float = 0.2

    def __post_init__(self) -> None:
        if not 1 <= self.first_faces <= self.max_faces:
            raise ValueError(
                f"a track's first faces ({self.first_faces}) must be between 1 and its most "
                f"faces ({self.max_faces})"
            )


@dataclass
class TrackSelection:
    """What was sent of one track."""

    sent: int = 0
    best_sent: float = 0.0
    last_sent_at: float = float("-inf")

    def skip_reason(self, score: float, at: float, policy: SelectionPolicy) -> SkipReason | None:
        """Why a face of this track (``score``, captured at ``at``) is not sent; None: send."""
        if self.sent == 0:
            return None
        if self.sent >= policy.max_faces:
            return "track_has_enough"
        if self.sent < policy.first_faces:
            return None if at - self.last_sent_at >= policy.spacing_s else "spacing"
        return None if score > self.best_sent * (1 + policy.better_by) else "not_better"

    def record(self, score: float, at: float) -> None:
        self.sent += 1
        self.best_sent = max(self.best_sent, score)
        self.last_sent_at = at
