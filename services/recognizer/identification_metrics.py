"""Open-set identification figures: what attendance really does with a face.

A *mated* probe is a photo of someone in the gallery; a *stranger* (non-mated probe) is a
photo of someone who is not. For a decision threshold t (no margin):

* FPIR(t), the false-positive identification rate: the share of strangers whose best gallery
  score is above t (they would be taken for somebody);
* FNIR(t), the false-negative identification rate: the share of mated probes whose best
  candidate is not their own person, or is but scores at or below t.

FNIR at FPIR x is FNIR at the threshold that lets through at most a share x of the strangers
(the convention of NIST's FRVT 1:N reports). A probe or stranger whose face was not found has
no candidate: a probe counts as missed, a stranger as rejected.

The production rule (threshold *and* margin over the runner-up, :func:`matching.match`) is
reported separately, as the shares of probes missed and misidentified and of strangers
accepted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from services.common.domain.open_set import OpenSetPolicy
from services.common.gallery_matrix import GalleryMatrix
from services.recognizer.matching import Match, match
from services.recognizer.verification_metrics import tar_at_far

FPIR_LEVELS = ("0.01", "0.001")
# Galleries drawn from the whole one, to show how the error rates grow with the staff.
GALLERY_SIZES = (50, 200)
GALLERY_DRAWS = 10
GALLERY_SEED = 0


@dataclass(frozen=True)
class OpenSetSplit:
    """Who is enrolled with which photo, the mated probes and the strangers (photo keys)."""

    gallery: dict[str, str]
    probes: list[tuple[str, str]]
    strangers: list[str]


def open_set_split(
    photos_of: Mapping[str, Sequence[str]], has_face: Mapping[str, bool]
) -> OpenSetSplit:
    """Gallery = the first photo with a face of each person with two or more photos (an
    enrolment refuses a photo without one, so an operator would take the next); probes = their
    other photos; strangers = the people with one photo."""
    gallery: dict[str, str] = {}
    probes: list[tuple[str, str]] = []
    strangers: list[str] = []
    for person, photos in photos_of.items():
        if len(photos) == 1:
            strangers.append(photos[0])
            continue
        enrolled = next((photo for photo in photos if has_face.get(photo)), None)
        if enrolled is not None:
            gallery[person] = enrolled
        skipped = enrolled if enrolled is not None else photos[0]
        probes.extend((photo, person) for photo in photos if photo != skipped)
    return OpenSetSplit(gallery, probes, strangers)


def fnir_at_fpir(
    mated_scores: np.ndarray, mated_hits: np.ndarray, stranger_scores: np.ndarray, fpir: float
) -> tuple[float, float]:
    """(FNIR, threshold) at the threshold letting through at most ``fpir`` of the strangers.

    ``mated_scores`` are the best gallery scores of the mated probes, ``mated_hits`` whether
    that best candidate was their own person; ``stranger_scores`` the strangers' best scores
    (``-inf`` for a photo without a face).
    """
    found = np.where(np.asarray(mated_hits, dtype=bool), mated_scores, -np.inf)
    hit_rate, threshold = tar_at_far(found, np.asarray(stranger_scores, dtype=float), fpir)
    return 1.0 - hit_rate, threshold


def identification_figures(
    gallery: Mapping[str, np.ndarray],
    probes: Sequence[tuple[np.ndarray | None, str]],
    strangers: Sequence[np.ndarray | None],
    *,
    threshold: float,
    margin: float,
) -> dict:
    """Rank-1, FNIR at FPIR 1% and 0.1%, and the production rule's outcome, for one gallery.

    ``probes`` are (embedding or None when no face was found, true person); ``strangers``
    embeddings (or None).
    """
    people = list(gallery)
    matrix = GalleryMatrix(people, np.array([gallery[person] for person in people]))
    probe_matches = _search([vector for vector, _ in probes], matrix, threshold, margin)
    stranger_matches = _search(list(strangers), matrix, threshold, margin)
    truth = [person for _, person in probes]
    hits = np.array(
        [m.candidate_id == person for m, person in zip(probe_matches, truth, strict=True)],
        dtype=bool,
    )
    mated_scores = np.array([m.similarity for m in probe_matches], dtype=float)
    stranger_scores = np.array([m.similarity for m in stranger_matches], dtype=float)
    fnir, thresholds = {}, {}
    for level in FPIR_LEVELS:
        value, at = fnir_at_fpir(mated_scores, hits, stranger_scores, float(level))
        fnir[level], thresholds[level] = _rounded(value), _rounded(at)
    accepted_right = sum(
        m.accepted and m.employee_id == person
        for m, person in zip(probe_matches, truth, strict=True)
    )
    accepted_wrong = sum(
        m.accepted and m.employee_id != person
        for m, person in zip(probe_matches, truth, strict=True)
    )
    return {
        "gallery": len(people),
        "probes": len(probes),
        "strangers": len(strangers),
        "rank1": _share(int(hits.sum()), len(probes)),
        "fnir_at_fpir": fnir,
        "threshold_at_fpir": thresholds,
        "at_threshold": {
            "threshold": threshold,
            "margin": margin,
            "probes_missed": _share(len(probes) - accepted_right - accepted_wrong, len(probes)),
            "probes_misidentified": _share(accepted_wrong, len(probes)),
            "strangers_accepted": _share(sum(m.accepted for m in stranger_matches), len(strangers)),
        },
    }


def drawn_gallery_figures(
    gallery: Mapping[str, np.ndarray],
    probes: Sequence[tuple[np.ndarray | None, str]],
    strangers: Sequence[np.ndarray | None],
    size: int,
    *,
    threshold: float,
    margin: float,
    draws: int = GALLERY_DRAWS,
    seed: int = GALLERY_SEED,
) -> dict | None:
    """:func:`identification_figures` for galleries of ``size`` people drawn from ``gallery``
    (their probes only, every stranger), averaged over ``draws`` seeded draws; None when the
    gallery is not larger than ``size``."""
    people = sorted(gallery)
    if len(people) <= size:
        return None
    rng = np.random.default_rng(seed)
    runs = []
    for _ in range(draws):
        chosen = {people[i] for i in rng.choice(len(people), size=size, replace=False)}
        runs.append(
            identification_figures(
                {person: gallery[person] for person in people if person in chosen},
                [(vector, person) for vector, person in probes if person in chosen],
                strangers,
                threshold=threshold,
                margin=margin,
            )
        )
    at_threshold = runs[0]["at_threshold"]
    return {
        "gallery": size,
        "draws": draws,
        "seed": seed,
        "probes": _rounded(float(np.mean([run["probes"] for run in runs]))),
        "strangers": len(strangers),
        "rank1": _mean(runs, "rank1"),
        "fnir_at_fpir": {
            level: _mean([run["fnir_at_fpir"] for run in runs], level) for level in FPIR_LEVELS
        },
        "at_threshold": {
            "threshold": at_threshold["threshold"],
            "margin": at_threshold["margin"],
            **{
                key: _mean([run["at_threshold"] for run in runs], key)
                for key in ("probes_missed", "probes_misidentified", "strangers_accepted")
            },
        },
    }


def _search(
    vectors: Sequence[np.ndarray | None], gallery: GalleryMatrix, threshold: float, margin: float
) -> list[Match]:
    """:func:`match` for the photos with a face; no candidate for the others."""
    found = [i for i, vector in enumerate(vectors) if vector is not None]
    nothing = Match(None, float("-inf"), float("-inf"), False)
    results: list[Match] = [nothing] * len(vectors)
    if found:
        stacked = np.array([vectors[i] for i in found])
        for i, verdict in zip(found, match(stacked, gallery, threshold, margin), strict=True):
            results[i] = verdict
    return results


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _rounded(value: float) -> float | None:
    """Four decimals; None for no figure (no strangers, or all of them without a face)."""
    return round(float(value), 4) if np.isfinite(value) else None


def _mean(runs: Sequence[Mapping[str, float]], key: str) -> float:
    return round(float(np.mean([run[key] for run in runs])), 4)


def figures_at_rule(
    gallery: Mapping[str, np.ndarray],
    probes: Sequence[tuple[np.ndarray | None, str]],
    strangers: Sequence[np.ndarray | None],
    policy: OpenSetPolicy,
    gallery_sizes: Sequence[int] = GALLERY_SIZES,
) -> tuple[dict, dict[str, dict | None]]:
    """:func:`identification_figures` for the whole gallery and :func:`drawn_gallery_figures`
    for each size, each decided by the rule ``policy`` gives for that gallery's size."""
    rule = policy.rule_for(len(gallery))
    whole = identification_figures(
        gallery, probes, strangers, threshold=rule.threshold, margin=rule.margin
    )
    whole["rule"] = rule.source
    drawn: dict[str, dict | None] = {}
    for size in gallery_sizes:
        drawn_rule = policy.rule_for(size)
        drawn[str(size)] = drawn_gallery_figures(
            gallery,
            probes,
            strangers,
            size,
            threshold=drawn_rule.threshold,
            margin=drawn_rule.margin,
        )
    return whole, drawn
