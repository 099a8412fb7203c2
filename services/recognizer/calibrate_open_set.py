"""Measure the impostor score tail of the embedding recipe, for the gallery-size-aware threshold.

    python -m services.recognizer.calibrate_open_set --lfw DIR --pairs pairsDevTrain.txt \
        [--cache FILE.npz]

Every photo the pairs file names goes through the recognizer's still-photo pipeline (as in
``attendance eval --lfw``, sharing its embedding cache); every two photos of *different* people
are an impostor pair (on View 1 DevTrain: 3,443 photos, 5.9 million pairs). The empirical
FAR(t) is kept where it rests on plenty of pairs; above :data:`FIT_FROM` the tail is a
quadratic fit of log10 FAR(t) (weighted by the pair counts, on points with at least
:data:`MIN_PAIRS` pairs), which follows the measured points to within 0.07 decades up to
t = 0.80 and extends them to the very large galleries no data set can measure directly.

It prints the :class:`~services.common.domain.open_set.ImpostorTail` to paste into
:mod:`services.recognizer.open_set_calibration`, and the check of the rule on the same file:
FPIR predicted and measured for seeded galleries of several sizes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from services.common.domain.open_set import ImpostorTail, expected_fpir, far_for_fpir

GRID = tuple(round(0.30 + 0.02 * step, 2) for step in range(31))  # 0.30 .. 0.90
FIT_FROM = 0.50
MIN_PAIRS = 30
CHECK_SIZES = (50, 200, 800)
CHECK_FPIR = 0.01


def impostor_scores(embeddings_of: Mapping[str, Sequence[np.ndarray]]) -> np.ndarray:
    """Cosine similarities of every two photos of different people, sorted."""
    vectors: list[np.ndarray] = []
    owners: list[int] = []
    for owner, photos in enumerate(embeddings_of.values()):
        vectors.extend(photos)
        owners.extend([owner] * len(photos))
    matrix = np.asarray(vectors, dtype=np.float32)
    labels = np.asarray(owners)
    scores = matrix @ matrix.T
    upper = np.triu_indices(len(matrix), 1)
    different = labels[upper[0]] != labels[upper[1]]
    return np.sort(scores[upper][different])


def fit_tail(
    scores: np.ndarray, model_id: str, source: str, grid: Sequence[float] = GRID
) -> ImpostorTail:
    """The tail table: empirical below :data:`FIT_FROM`, the quadratic fit from there on."""
    scores = np.sort(np.asarray(scores, dtype=np.float64))
    total = scores.size
    thresholds = np.asarray(grid, dtype=np.float64)
    counts = total - np.searchsorted(scores, thresholds, side="left")
    usable = (counts >= MIN_PAIRS) & (thresholds >= FIT_FROM)
    if usable.sum() < 3:
        raise ValueError("too few impostor pairs above the fit's start to fit the tail")
    empirical = np.log10(np.maximum(counts, 1) / total)
    coefficients = np.polyfit(
        thresholds[usable], empirical[usable], 2, w=np.sqrt(counts[usable].astype(float))
    )
    fitted = np.polyval(coefficients, thresholds)
    values = np.where(thresholds < FIT_FROM, empirical, fitted)
    # A FAR can only fall as the threshold rises; the fit's vertex must not bend it back up.
    values = np.minimum.accumulate(values)
    return ImpostorTail(
        model_id=model_id,
        thresholds=tuple(float(t) for t in thresholds),
        log10_far=tuple(round(float(v), 3) for v in values),
        source=f"{source}; {total:,} impostor pairs",
    )


def measured_fpir(
    embeddings_of: Mapping[str, Sequence[np.ndarray]],
    tail: ImpostorTail,
    size: int,
    *,
    target: float = CHECK_FPIR,
    draws: int = 20,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(threshold, predicted FPIR, measured FPIR) for galleries of ``size`` people drawn from
    the file (one random photo each), with one photo of every other person as a stranger."""
    people = list(embeddings_of)
    rng = np.random.default_rng(seed)
    threshold = tail.threshold_for_far(far_for_fpir(target, size))
    accepted = []
    for _ in range(draws):
        chosen = set(rng.choice(len(people), size=size, replace=False).tolist())

        def one_photo(index: int) -> np.ndarray:
            photos = embeddings_of[people[index]]
            return photos[int(rng.integers(len(photos)))]

        gallery = np.array([one_photo(i) for i in sorted(chosen)])
        strangers = np.array([one_photo(i) for i in range(len(people)) if i not in chosen])
        accepted.append(float(np.mean((strangers @ gallery.T).max(axis=1) >= threshold)))
    return threshold, expected_fpir(tail.far(threshold), size), float(np.mean(accepted))


def tail_literal(tail: ImpostorTail) -> str:
    """The table as Python source for :mod:`services.recognizer.open_set_calibration`."""
    rows = ",\n".join(
        f"        ({t:.2f}, {v:.3f})" for t, v in zip(tail.thresholds, tail.log10_far, strict=True)
    )
    return (
        f"ImpostorTail.from_rows(\n    {tail.model_id!r},\n    (\n{rows},\n    ),\n"
        f"    source={tail.source!r},\n)\n"
    )


def _embeddings_by_person(lfw_dir: Path, pairs_path: Path, cache_path: Path | None):
    from services.recognizer.embedding_cache import EmbeddingCache
    from services.recognizer.lfw_evaluation import build_lfw_pipeline, embed_photos
    from services.recognizer.lfw_protocol import photo_folder, read_pairs
    from services.recognizer.settings import RecognizerSettings

    pairs = read_pairs(pairs_path)
    pipeline = build_lfw_pipeline(RecognizerSettings.from_env())
    try:
        cache = EmbeddingCache(cache_path, pipeline.recipe)
        faces = embed_photos(photo_folder(lfw_dir), pairs.photos, pipeline, cache, progress=True)
    finally:
        pipeline.finder.detector.close()
    embeddings_of: dict[str, list[np.ndarray]] = {}
    for photo, face in faces.items():
        if face.embedding is not None:
            embeddings_of.setdefault(photo.name, []).append(face.embedding)
    return pipeline.embedder.model_id, embeddings_of


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lfw", type=Path, required=True, help="LFW folder (View 1)")
    parser.add_argument("--pairs", type=Path, required=True, help="pairs file to calibrate on")
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache (.npz)")
    args = parser.parse_args(argv)
    model_id, embeddings_of = _embeddings_by_person(args.lfw, args.pairs, args.cache)
    scores = impostor_scores(embeddings_of)
    tail = fit_tail(scores, model_id, f"LFW View 1 {args.pairs.name}")
    out.write(tail_literal(tail))
    out.write(f"# check on {args.pairs.name} (target FPIR {CHECK_FPIR:.0%}):\n")
    for size in CHECK_SIZES:
        if size >= len(embeddings_of):
            continue
        threshold, predicted, measured = measured_fpir(embeddings_of, tail, size)
        out.write(
            f"#   {size} people: threshold {threshold:.3f}, FPIR predicted {predicted:.2%}, "
            f"measured {measured:.2%}\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
