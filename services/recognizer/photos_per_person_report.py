"""How much several enrolment photos per person help, measured on an LFW pairs file's photos.

``python -m services.recognizer.photos_per_person_report --pairs FILE --cache NPZ``
reads the embeddings ``attendance eval --lfw ... --cache NPZ`` stored (nothing is embedded
again) and prints, as JSON, FNIR at FPIR 1% and 0.1% with 1, 2 and 3 enrolment photos per
person, each matched two ways: every photo a template of its own (a probe's score is its best
over the person's templates), or one template fused from the photos (their normalised mean).

So that the figures compare, every k uses the same people (those with four or more photos) and
the same probes (their photos from the fourth on); the strangers are the people with one photo.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.common.gallery_matrix import GalleryMatrix
from services.recognizer.identification_metrics import FPIR_LEVELS, fnir_at_fpir
from services.recognizer.lfw_protocol import read_pairs

PHOTO_COUNTS = (1, 2, 3)
FUSIONS = ("best", "mean")


@dataclass(frozen=True)
class Split:
    """Enrolment photos (the first ones) and probes per person, and the strangers."""

    enrolment: dict[str, list[str]]
    probes: list[tuple[str, str]]
    strangers: list[str]


def split(photos_of: Mapping[str, Sequence[str]], most: int = max(PHOTO_COUNTS)) -> Split:
    """People with more than ``most`` photos enrol with their first ``most`` (a k-photo
    gallery takes the first k of those) and are probed with the rest."""
    enrolment = {p: list(ps[:most]) for p, ps in photos_of.items() if len(ps) > most}
    probes = [(photo, p) for p, ps in photos_of.items() if p in enrolment for photo in ps[most:]]
    strangers = [ps[0] for ps in photos_of.values() if len(ps) == 1]
    return Split(enrolment, probes, strangers)


def templates(vectors: Sequence[np.ndarray], fusion: str) -> list[np.ndarray]:
    if fusion == "best":
        return list(vectors)
    fused = np.mean([v / np.linalg.norm(v) for v in vectors], axis=0)
    return [fused / np.linalg.norm(fused)]


def fnir_table(data: Split, embedding: Mapping[str, np.ndarray]) -> dict[str, dict]:
    """``{"k1_best": {"0.01": fnir, "0.001": fnir}, ...}`` for every photo count and fusion."""
    probes = np.array([embedding[photo] for photo, _ in data.probes])
    truth = [person for _, person in data.probes]
    strangers = np.array([embedding[photo] for photo in data.strangers])
    table: dict[str, dict] = {}
    for count in PHOTO_COUNTS:
        for fusion in FUSIONS:
            owners: list[str] = []
            rows: list[np.ndarray] = []
            for person, photos in data.enrolment.items():
                made = templates([embedding[photo] for photo in photos[:count]], fusion)
                owners += [person] * len(made)
                rows += made
            gallery = GalleryMatrix(owners, np.array(rows))
            probe_scores, probe_best = _best(gallery, probes)
            stranger_scores, _ = _best(gallery, strangers)
            hits = np.array(
                [found == person for found, person in zip(probe_best, truth, strict=True)]
            )
            table[f"k{count}_{fusion}"] = {
                level: round(fnir_at_fpir(probe_scores, hits, stranger_scores, float(level))[0], 4)
                for level in FPIR_LEVELS
            }
    return table


def _best(gallery: GalleryMatrix, probes: np.ndarray) -> tuple[np.ndarray, list[str]]:
    scores = gallery.best_per_employee(probes)
    best = scores.argmax(axis=1)
    return scores[np.arange(len(probes)), best], [gallery.employee_ids[i] for i in best]


def cached_embeddings(cache: Path, recipe: str | None = None) -> dict[str, np.ndarray]:
    """``Person/Person_0001.jpg`` -> embedding of every photo with a face, of one recipe in
    ``cache``: the only one, or the one whose model id is ``recipe`` (the cache keys photos by
    their full path; the pairs name them like this)."""
    with np.load(cache, allow_pickle=False) as stored:
        recipes = np.array([str(r).split("|", 1)[0] for r in stored["recipes"]])
        held = sorted(set(recipes))
        if recipe is None and len(held) == 1:
            recipe = held[0]
        if recipe not in held:
            raise ValueError(
                f"{cache} holds the recipes {', '.join(held)}; choose one with --recipe"
            )
        return {
            "/".join(Path(str(photo)).parts[-2:]): vector.astype(np.float32)
            for photo, vector, found, of in zip(
                stored["photos"], stored["embeddings"], stored["found"], recipes, strict=True
            )
            if found and of == recipe
        }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pairs", type=Path, required=True, help="pairs file: whose photos")
    parser.add_argument("--cache", type=Path, required=True, help="attendance eval's cache")
    parser.add_argument("--recipe", help="the model id to use when the cache holds several")
    args = parser.parse_args(argv)
    try:
        embedding = cached_embeddings(args.cache, args.recipe)
    except (OSError, ValueError, KeyError) as exc:
        parser.exit(2, f"{parser.prog}: {exc}\n")
    # The photos the pairs file uses, in LFW's order; one without a face cannot be enrolled
    # or probed, as in attendance eval's own open-set figures.
    photos_of = {
        person: [p.relative_path for p in photos if p.relative_path in embedding]
        for person, photos in read_pairs(args.pairs).photos_of.items()
    }
    data = split({person: photos for person, photos in photos_of.items() if photos})
    report = {
        "pairs": str(args.pairs),
        "people": len(data.enrolment),
        "probes": len(data.probes),
        "strangers": len(data.strangers),
        "fnir_at_fpir": fnir_table(data, embedding),
    }
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
