"""Open-set matching of face embeddings against the gallery of enrolled employees (pure numpy).

A probe is accepted as employee E when its best cosine similarity (to any of E's embeddings)
reaches the threshold AND beats the best similarity to any *other* employee by the margin. The
margin guards against the open-set failure the threshold alone cannot: a stranger, or a poor
frame, that resembles two employees almost equally.

Defaults, from ``attendance eval`` on the labelled photos in ../shared/faces (FaceNet CASIA,
align-v1, mirror averaging; 29 enrolled people, 278 genuine and ~8,800 impostor pairs):

* :data:`DEFAULT_THRESHOLD` = 0.60. The impostor pairs' FAR-0.1% point is 0.586 and the EER
  point 0.517; the threshold is the FAR-0.1% point rounded up, not the value that maximises
  acceptance on these 98 probes (0.52 would accept all of them). With N employees a stranger's
  chance of passing is roughly N x the per-pair FAR, so a site of hundreds of people needs the
  threshold at or beyond FAR 0.1%; the hardest stranger on the set (an actress who resembles
  an enrolled one) scores 0.57. A person at a door is seen in many frames, so the genuine
  frames below the threshold (6% of the probes here) cost little; and since several frames of
  a track must agree before a sighting counts (:mod:`services.recognizer.track_agreement`), one
  stray frame of a stranger above the threshold makes no sighting.
* :data:`DEFAULT_MARGIN` = 0.05: ambiguous probes (two employees within 0.05) are refused.
  On the evaluation set it costs no correct acceptance; 0.10 would cost 1%.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.common.domain.open_set import DEFAULT_MARGIN, DEFAULT_THRESHOLD
from services.common.gallery_matrix import GalleryMatrix


@dataclass(frozen=True)
class Match:
    """The verdict for one probe."""

    employee_id: str | None
    similarity: float
    runner_up_similarity: float
    accepted: bool
    # The best candidate even when not accepted: useful for logs and threshold tuning.
    candidate_id: str | None = None


@dataclass(frozen=True)
class Resemblance:
    """The enrolled employee most like a probe, and how much (cosine similarity)."""

    employee_id: str
    similarity: float


def closest_employee(
    probe: np.ndarray, gallery: GalleryMatrix, *, excluding: str | None = None
) -> Resemblance | None:
    """The employee, other than ``excluding``, whose best embedding is most like ``probe``;
    None when the gallery holds nobody else."""
    probe = np.asarray(probe, dtype=np.float32).reshape(1, -1)
    probe = probe / np.maximum(np.linalg.norm(probe, axis=1, keepdims=True), 1e-12)
    if len(gallery) == 0:
        return None
    best = gallery.best_per_employee(probe)[0]
    if excluding in gallery.employee_ids:
        best[gallery.employee_ids.index(excluding)] = -np.inf
    position = int(np.argmax(best))
    if not np.isfinite(best[position]):
        return None
    return Resemblance(gallery.employee_ids[position], float(best[position]))


def match(
    probes: np.ndarray,
    gallery: GalleryMatrix,
    threshold: float = DEFAULT_THRESHOLD,
    margin: float = DEFAULT_MARGIN,
) -> list[Match]:
    """The verdict for each probe embedding (rows of ``probes``)."""
    probes = np.atleast_2d(np.asarray(probes, dtype=np.float32))
    if probes.shape[0] == 0:
        return []
    if len(gallery) == 0:
        return [Match(None, float("-inf"), float("-inf"), False) for _ in range(len(probes))]
    if probes.shape[1] != gallery.dimension:
        raise ValueError(
            f"probe dimension {probes.shape[1]} does not match gallery {gallery.dimension}"
        )
    probes = probes / np.maximum(np.linalg.norm(probes, axis=1, keepdims=True), 1e-12)
    best = gallery.best_per_employee(probes)
    rows = np.arange(len(best))
    # The best and the runner-up only: a partition, not a sort of the whole gallery.
    if best.shape[1] > 1:
        pair = np.argpartition(best, -2, axis=1)[:, -2:]
        pair_scores = best[rows[:, None], pair]
        first = pair_scores.argmax(axis=1)
        top_index = pair[rows, first]
        runner_ups = pair_scores[rows, 1 - first]
    else:
        top_index = np.zeros(len(best), dtype=np.int64)
        runner_ups = np.full(len(best), -np.inf, dtype=np.float32)
    results = []
    for row, position, runner_up in zip(best, top_index, runner_ups, strict=True):
        top = float(row[position])
        candidate = gallery.employee_ids[int(position)]
        accepted = top >= threshold and top - float(runner_up) >= margin
        results.append(
            Match(
                employee_id=candidate if accepted else None,
                similarity=top,
                runner_up_similarity=float(runner_up),
                accepted=accepted,
                candidate_id=candidate,
            )
        )
    return results
