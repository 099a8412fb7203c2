"""One number for how well a face of a track can be recognised, to pick a track's best faces.

The detector sends a track's faces for embedding by this score, and the recognizer weighs the
embeddings it fuses by it. It is the product of four shares in [0, 1], so one poor aspect is
enough to make a face poor:

* size: the face box's shorter side over 100 px. The aligned 160-px crop puts eyes and mouth
  about 60 px apart, which a box of about 100 px gives without enlarging; a smaller face is
  enlarged and has less detail than the network sees.
* sharpness: over 0.10 (see :mod:`services.faces.quality`; sharp faces of the Hamilton
  clip measure 0.10-0.12, a 1-px blur of LFW photos leaves 0.065).
* frontalness: 1 - turn (turn in eye distances: 0 frontal, 0.5 at the quality gate's limit).
* the detector's confidence.

The faces the quality gate refuses are not scored: they are never sent.
"""

from __future__ import annotations

from services.faces.quality import QualityMeasures

FULL_SIZE_PX = 100.0
FULL_SHARPNESS = 0.10


def face_score(quality: QualityMeasures, detection_score: float) -> float:
    """The face's score in [0, 1]; higher is better."""
    size = min(1.0, quality.face_size / FULL_SIZE_PX)
    sharpness = min(1.0, quality.sharpness / FULL_SHARPNESS)
    frontal = max(0.0, 1.0 - quality.turn)
    confidence = min(1.0, max(0.0, detection_score))
    return round(size * sharpness * frontal * confidence, 4)
