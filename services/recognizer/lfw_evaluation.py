"""`attendance eval --lfw DIR --pairs FILE`: the product's face pipeline under LFW's protocol.

* **Faces.** Every photo the pairs file names goes through the recognizer's own pipeline for
  stills, built from the recognizer's settings (:func:`services.faces.factory.build_finder`,
  :func:`services.recognizer.main.build_embedder`, ``FaceFinder.find(rgb, thorough=True)`` as
  enrolment calls it); the face nearest the image centre is the labelled person.
* **Verification.** A pair's score is the cosine similarity of its two faces; a pair with a
  photo without a face scores -1 (called different). Accuracy follows LFW's unrestricted
  protocol: with several folds each fold is scored at the threshold best on the other folds
  (mean, ``np.std`` and LFW's standard error over folds); a one-fold file (View 1's lists) is
  scored at the threshold best on the file itself, which is optimistic and said so. TAR at
  FAR and EER pool every pair of the file.
* **Open-set identification** on the same photos: see
  :mod:`services.recognizer.identification_metrics` (gallery = first photo of each person with
  two or more, probes = their other photos, strangers = the people with one photo), for the
  whole gallery and for galleries of 50 and 200 people drawn with a fixed seed, decided by the
  recognizer's rule: the calibrated threshold for each gallery's size and the margin
  (:class:`~services.common.domain.open_set.OpenSetPolicy`), or ``MATCH_THRESHOLD`` /
  ``MATCH_MARGIN`` when set.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from services.common.domain.open_set import OpenSetPolicy
from services.recognizer.embedding_cache import EmbeddingCache, PhotoEmbedding
from services.recognizer.identification_metrics import (
    GALLERY_SIZES,
    figures_at_rule,
    open_set_split,
)
from services.recognizer.lfw_protocol import (
    LfwPhoto,
    PairsFile,
    central_face,
    missing_photos,
    photo_folder,
    read_pairs,
)
from services.recognizer.open_set_calibration import CALIBRATIONS
from services.recognizer.verification_metrics import (
    equal_error_rate,
    fold_accuracy,
    tar_at_far,
)

if TYPE_CHECKING:  # the models load only when an evaluation runs
    from services.faces.finder import FaceFinder
    from services.recognizer.embedding import FaceEmbedder
    from services.recognizer.settings import RecognizerSettings

logger = logging.getLogger(__name__)

FAR_LEVELS = ("0.01", "0.001")
# Cosine similarity of a pair with a photo in which no face was found: below any real pair.
MISSING_FACE_SCORE = -1.0
# Faces embedded together: the embedder batches them, and the cache is saved this often.
EMBED_BATCH = 32
SAVE_EVERY = 512


class LfwDataError(ValueError):
    """The photo folder does not hold the photos the pairs file names."""


@dataclass
class Pipeline:
    finder: FaceFinder
    embedder: FaceEmbedder
    recipe: str


def build_lfw_pipeline(settings: RecognizerSettings) -> Pipeline:
    """The recognizer's finder and embedder, as its service builds them."""
    from services.faces.factory import build_finder
    from services.recognizer.main import build_embedder

    embedder = build_embedder(settings)
    return Pipeline(build_finder(settings), embedder, pipeline_recipe(settings, embedder.model_id))


def pipeline_recipe(settings: RecognizerSettings, model_id: str) -> str:
    """What decides an embedding: the model id and the detector settings the finder used."""
    return (
        f"{model_id}|detector={settings.detector_model}"
        f"|min_confidence={settings.detector_min_confidence}"
        f"|min_face_size={settings.detector_min_face_size}|face=nearest-centre"
    )


def embed_photos(
    folder: Path,
    photos: Sequence[LfwPhoto],
    pipeline: Pipeline,
    cache: EmbeddingCache,
    *,
    progress: bool = False,
) -> dict[LfwPhoto, PhotoEmbedding]:
    """The labelled face's embedding of every photo, from ``cache`` where it has one."""
    from tqdm import tqdm

    from services.common.images import decode_image

    results: dict[LfwPhoto, PhotoEmbedding] = {}
    pending: list[tuple[LfwPhoto, np.ndarray, float]] = []

    def flush() -> None:
        if not pending:
            return
        started = time.perf_counter()
        vectors = pipeline.embedder.embed([crop for _, crop, _ in pending])
        share = (time.perf_counter() - started) / len(pending)
        for (photo, _, seconds), vector in zip(pending, vectors, strict=True):
            results[photo] = PhotoEmbedding(vector, seconds + share)
            cache.put(_cache_key(folder, photo), results[photo])
        pending.clear()
        if cache.unsaved >= SAVE_EVERY:
            cache.save()

    with tqdm(total=len(photos), desc="photos", unit="photo", disable=not progress) as bar:
        for photo in photos:
            cached = cache.get(_cache_key(folder, photo))
            if cached is not None:
                results[photo] = cached
                bar.update()
                continue
            rgb = decode_image((folder / photo.relative_path).read_bytes())
            started = time.perf_counter()
            faces = pipeline.finder.find(rgb, thorough=True)
            face = central_face(faces, rgb.shape[1], rgb.shape[0])
            seconds = time.perf_counter() - started
            if face is None:
                logger.info("no face found in %s", photo.relative_path)
                results[photo] = PhotoEmbedding(None, seconds)
                cache.put(_cache_key(folder, photo), results[photo])
            else:
                pending.append((photo, face.crop, seconds))
                if len(pending) >= EMBED_BATCH:
                    flush()
            bar.update()
        flush()
    cache.save()
    return results


def _cache_key(folder: Path, photo: LfwPhoto) -> str:
    return str((folder / photo.relative_path).resolve())


def evaluate_lfw(
    lfw_dir: Path,
    pairs_path: Path,
    *,
    settings: RecognizerSettings,
    threshold: float | None = None,
    margin: float | None = None,
    cache_path: Path | None = None,
    progress: bool = False,
    pipeline: Pipeline | None = None,
) -> dict:
    """The figures of the module doc for one pairs file. ``threshold``/``margin`` default to
    the recognizer's settings; ``pipeline`` may be given to reuse loaded models (it is then
    not closed here)."""
    pairs = read_pairs(pairs_path)
    folder = photo_folder(lfw_dir)
    photos = pairs.photos
    missing = missing_photos(folder, photos)
    if missing:
        raise LfwDataError(
            f"{len(missing)} of the {len(photos)} photos named by {pairs_path} are not under "
            f"{folder} (first: {', '.join(missing[:3])})"
        )
    owns_pipeline = pipeline is None
    if pipeline is None:
        pipeline = build_lfw_pipeline(settings)
    try:
        cache = EmbeddingCache(cache_path, pipeline.recipe)
        cached_before = sum(cache.get(_cache_key(folder, photo)) is not None for photo in photos)
        faces = embed_photos(folder, photos, pipeline, cache, progress=progress)
    finally:
        if owns_pipeline:
            pipeline.finder.detector.close()
    embeddings = {photo: face.embedding for photo, face in faces.items()}
    # The recognizer's own rule: the calibrated threshold for each gallery's size, unless a
    # threshold is given here or configured (MATCH_THRESHOLD / MATCH_MARGIN).
    policy = OpenSetPolicy(
        pipeline.embedder.model_id,
        CALIBRATIONS,
        target_fpir=settings.match_target_fpir,
        threshold=settings.threshold_override if threshold is None else threshold,
        margin=settings.margin_override if margin is None else margin,
    )
    detected = sum(vector is not None for vector in embeddings.values())
    seconds = sum(face.seconds for face in faces.values())
    return {
        "lfw_dir": str(lfw_dir),
        "pairs_file": str(pairs_path),
        "model_id": pipeline.embedder.model_id,
        "recipe": pipeline.recipe,
        "photos": len(photos),
        "detected": detected,
        "detection_rate": round(detected / len(photos), 4),
        "missed": [photo.relative_path for photo, vector in embeddings.items() if vector is None],
        **verification_figures(pairs, embeddings),
        "identification": open_set_figures(pairs, embeddings, policy),
        "images_per_second": round(len(photos) / seconds, 2) if seconds else None,
        "cached_photos": cached_before,
        "notes": resolution_notes(pairs, len(split_strangers(pairs))),
    }


def split_strangers(pairs: PairsFile) -> list[str]:
    return [photos[0].relative_path for photos in pairs.photos_of.values() if len(photos) == 1]


def resolution_notes(pairs: PairsFile, strangers: int) -> list[str]:
    """Where a rate is finer than the sample can show: FAR x of n impostors lets through
    floor(x n) of them, so below 1/n it means 'none'."""
    impostors = len(pairs.pairs) // 2
    notes = []
    for level in FAR_LEVELS:
        if impostors * float(level) < 1:
            notes.append(
                f"TAR at FAR {level}: {impostors} different-person pairs, so no impostor is "
                "let through (threshold = the highest impostor score)"
            )
        if strangers * float(level) < 1:
            notes.append(
                f"FNIR at FPIR {level}: {strangers} strangers, so none is let through "
                "(threshold = the highest stranger score)"
            )
    return notes


def verification_figures(pairs: PairsFile, embeddings: dict[LfwPhoto, np.ndarray | None]) -> dict:
    scores = np.array([_pair_score(embeddings, pair.first, pair.second) for pair in pairs.pairs])
    same = np.array([pair.same_person for pair in pairs.pairs], dtype=bool)
    folds = np.array([pair.fold for pair in pairs.pairs])
    accuracy = fold_accuracy(scores, same, folds)
    genuine, impostor = scores[same], scores[~same]
    tar, at_far = {}, {}
    for level in FAR_LEVELS:
        value, threshold = tar_at_far(genuine, impostor, float(level))
        tar[level], at_far[level] = round(value, 4), round(threshold, 4)
    eer, eer_threshold = equal_error_rate(genuine, impostor)
    several = pairs.folds > 1
    return {
        "folds": pairs.folds,
        "pairs": len(pairs.pairs),
        "genuine_pairs": int(same.sum()),
        "impostor_pairs": int((~same).sum()),
        "pairs_without_face": int(np.sum(scores == MISSING_FACE_SCORE)),
        "accuracy_mean": round(accuracy.mean, 4),
        "accuracy_std": round(accuracy.std, 4) if several else None,
        "accuracy_standard_error": round(accuracy.standard_error, 4) if several else None,
        "accuracy_protocol": (
            f"{pairs.folds}-fold: each fold at the threshold best on the other {pairs.folds - 1}"
            if several
            else "one fold: the threshold best on this file itself (optimistic)"
        ),
        "fold_accuracies": [round(value, 4) for value in accuracy.accuracies],
        "fold_thresholds": [round(value, 4) for value in accuracy.thresholds],
        "tar_at_far": tar,
        "threshold_at_far": at_far,
        "eer": round(eer, 4),
        "eer_threshold": round(eer_threshold, 4),
    }


def _pair_score(
    embeddings: dict[LfwPhoto, np.ndarray | None], first: LfwPhoto, second: LfwPhoto
) -> float:
    a, b = embeddings[first], embeddings[second]
    if a is None or b is None:
        return MISSING_FACE_SCORE
    return float(np.dot(a, b))


def open_set_figures(
    pairs: PairsFile,
    embeddings: dict[LfwPhoto, np.ndarray | None],
    policy: OpenSetPolicy,
    *,
    gallery_sizes: Sequence[int] = GALLERY_SIZES,
) -> dict:
    photos_of = {
        person: [photo.relative_path for photo in photos]
        for person, photos in pairs.photos_of.items()
    }
    by_path = {photo.relative_path: vector for photo, vector in embeddings.items()}
    split = open_set_split(photos_of, {path: v is not None for path, v in by_path.items()})
    # The split enrols only photos with a face.
    gallery = {
        person: vector
        for person, path in split.gallery.items()
        if (vector := by_path[path]) is not None
    }
    probes = [(by_path[path], person) for path, person in split.probes]
    strangers = [by_path[path] for path in split.strangers]
    whole, drawn = figures_at_rule(gallery, probes, strangers, policy, gallery_sizes)
    whole["galleries"] = drawn
    return whole


def summary(result: dict) -> str:
    """The figures as lines of text for a person."""
    ident = result["identification"]
    lines = [
        f"pairs {result['pairs_file']}: {result['pairs']} pairs in {result['folds']} fold(s) "
        f"({result['genuine_pairs']} same / {result['impostor_pairs']} different person)",
        f"photos {result['photos']}, face found in {result['detected']} "
        f"({result['detection_rate']:.2%}); {result['pairs_without_face']} pairs without a face",
        f"accuracy {result['accuracy_mean']:.2%}"
        + (
            f" ± {result['accuracy_std']:.2%} (std over folds; standard error "
            f"{result['accuracy_standard_error']:.2%})"
            if result["accuracy_std"] is not None
            else ""
        )
        + f" — {result['accuracy_protocol']}",
        f"TAR {_percent(result['tar_at_far']['0.01'])} at FAR 1%, "
        f"{_percent(result['tar_at_far']['0.001'])} at FAR 0.1%",
        f"EER {result['eer']:.2%} at similarity {result['eer_threshold']:.3f}",
        "open-set identification (gallery: first photo of each person with 2+; "
        "strangers: people with one photo):",
        _identification_line("whole gallery", ident),
        *(
            _identification_line(f"{size} people ({figures['draws']} draws)", figures)
            for size, figures in ident["galleries"].items()
            if figures is not None
        ),
        f"{result['images_per_second']} photos/s (detection + embedding, "
        f"{result['cached_photos']} of {result['photos']} photos from the cache)",
        f"model {result['model_id']}",
    ]
    return "\n".join(lines) + "\n"


def _identification_line(label: str, figures: dict) -> str:
    rule = figures["at_threshold"]
    return (
        f"  {label}: {figures['gallery']} enrolled, {figures['probes']} probes, "
        f"{figures['strangers']} strangers; rank-1 {_percent(figures['rank1'])}; "
        f"FNIR {_percent(figures['fnir_at_fpir']['0.01'])} at FPIR 1%, "
        f"{_percent(figures['fnir_at_fpir']['0.001'])} at FPIR 0.1%; "
        f"at threshold {rule['threshold']} margin {rule['margin']}: "
        f"{_percent(rule['probes_missed'])} of probes missed, "
        f"{_percent(rule['probes_misidentified'])} misidentified, "
        f"{_percent(rule['strangers_accepted'])} of strangers accepted"
    )


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"
