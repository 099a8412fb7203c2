"""When a track's one decision is due, from its fused verdict (a pure function).

One face is weak evidence in an open set: with N employees a stranger's chance of passing the
threshold is about N times the per-pair false-accept rate, and a blurred or turned face can
resemble someone. A person walking past a camera is one track, of which the detector sends the
best few faces; ``required`` (``TRACK_AGREEMENT_FRAMES``) of them must have been embedded before
the track's fused embedding (:mod:`services.recognizer.track_fusion`) may name anyone:

* known as E: at least ``required`` faces, and the open-set rule accepts their fused embedding
  as E: decided at once, while the track goes on;
* unknown: the track ended with at least ``required`` faces and no acceptance;
* nothing: the track ended with fewer faces (too little to call anyone a stranger or known,
  as when one stray frame of a stranger passed the threshold), or it goes on undecided.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from services.recognizer.matching import Match


@dataclass(frozen=True)
class Decision:
    outcome: Literal["known", "unknown"]
    verdict: Match


def decide(faces: int, required: int, verdict: Match | None, *, ended: bool) -> Decision | None:
    """The track's decision now, or None (wait, or nothing to decide)."""
    if required < 1:
        raise ValueError("at least one face must agree")
    if verdict is None or faces < required:
        return None
    if verdict.accepted:
        return Decision("known", verdict)
    if ended:
        return Decision("unknown", verdict)
    return None
