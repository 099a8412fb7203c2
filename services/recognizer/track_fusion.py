"""One verdict from the several faces of a track (pure numpy).

* ``mean``: the quality-weighted mean of the faces' L2-normalised embeddings, normalised again,
  matched as one probe. Faces of one person agree on identity and differ in pose, light and
  noise, which the mean averages out; a face of someone else in a broken track pulls the mean
  away from both, so it is rarely accepted as either.
* ``best``: the face whose own match is the most similar decides (its verdict is the track's).

Measured on the Hamilton clip (README, "Performance"): see there for which is the default and
why.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

from services.common.gallery_matrix import GalleryMatrix
from services.recognizer.matching import Match, match

Fusion = Literal["mean", "best"]
FUSIONS: tuple[str, ...] = get_args(Fusion)
# A face without a quality score still counts, as a middling one.
MIN_WEIGHT = 0.05


def fused_embedding(embeddings: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted mean direction of ``embeddings`` (rows), unit length."""
    vectors = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    shares = np.maximum(np.asarray(weights, dtype=np.float32), MIN_WEIGHT)
    mean = (vectors * shares[:, None]).sum(axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12)


def track_verdict(
    embeddings: np.ndarray,
    weights: np.ndarray,
    gallery: GalleryMatrix,
    threshold: float,
    margin: float,
    fusion: Fusion = "mean",
) -> Match:
    """The track's verdict under the open-set rule (``threshold``, ``margin``)."""
    if fusion == "mean":
        return match(fused_embedding(embeddings, weights)[None, :], gallery, threshold, margin)[0]
    if fusion == "best":
        verdicts = match(embeddings, gallery, threshold, margin)
        return max(verdicts, key=lambda verdict: verdict.similarity)
    raise ValueError(f"unknown fusion {fusion!r} (one of {', '.join(FUSIONS)})")
