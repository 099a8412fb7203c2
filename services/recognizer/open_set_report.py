"""The default decision rule and the quality gate measured on an LFW pairs file.

    python -m services.recognizer.open_set_report --lfw DIR --pairs pairsDevTest.txt \
        [--cache FILE.npz] [--quality-cache FILE.json]

Open-set identification as ``attendance eval --lfw`` splits it (gallery = the first photo of
each person with two or more, probes = their other photos, strangers = the people with one
photo; the whole gallery and seeded draws of 50 and 200 people), decided by the recognizer's
own rule: the threshold :class:`~services.common.domain.open_set.OpenSetPolicy` gives for each
gallery's size (or MATCH_THRESHOLD/MATCH_MARGIN when set), and the margin.

Then with the quality gate: a photo whose labelled face the gate refuses is not judged. It is
neither a probe nor a stranger, and the gallery takes the person's first photo that passes
(an operator would, after enrolment refused the first). Printed: the share of photos not
judged, by reason, and the figures of the rest.

Embeddings come from the evaluation's cache (and are made by the still-photo pipeline when
missing); the face's quality needs its keypoints, so every photo is detected again (a few
minutes), unless ``--quality-cache`` already holds it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from services.common.domain.open_set import OpenSetPolicy
from services.faces.quality import FaceQuality, assess
from services.recognizer.identification_metrics import (
    GALLERY_SIZES,
    figures_at_rule,
    open_set_split,
)


def rule_figures(
    photos_of: Mapping[str, Sequence[str]],
    embeddings: Mapping[str, np.ndarray | None],
    policy: OpenSetPolicy,
    judged: Mapping[str, bool] | None = None,
    gallery_sizes: Sequence[int] = GALLERY_SIZES,
) -> dict:
    """Open-set figures at the policy's rule for the whole gallery and drawn ones.

    Photos not ``judged`` are left out: a person with two or more photos is enrolled with
    their first judged photo (the gallery has no one for them when none is), their other
    judged photos are the probes, and a one-photo person is a stranger only when judged."""
    judged = judged or {}
    usable = {path: v is not None and judged.get(path, True) for path, v in embeddings.items()}
    split = open_set_split(photos_of, usable)
    # The split enrols only usable photos, which have a vector.
    gallery = {
        person: vector
        for person, photo in split.gallery.items()
        if (vector := embeddings[photo]) is not None
    }
    probes = [
        (embeddings.get(photo), person) for photo, person in split.probes if judged.get(photo, True)
    ]
    strangers = [embeddings.get(photo) for photo in split.strangers if judged.get(photo, True)]
    whole, drawn = figures_at_rule(gallery, probes, strangers, policy, gallery_sizes)
    return {"whole": whole, **{size: figures for size, figures in drawn.items() if figures}}


def _line(label: str, figures: dict) -> str:
    rule = figures["at_threshold"]
    fnir = figures["fnir_at_fpir"]["0.01"]
    return (
        f"  {label}: {figures['gallery']} enrolled, {figures['probes']} probes, "
        f"{figures['strangers']} strangers; threshold {rule['threshold']:.3f} margin "
        f"{rule['margin']:.2f}: {rule['probes_missed']:.1%} of probes missed, "
        f"{rule['probes_misidentified']:.2%} misidentified, "
        f"{rule['strangers_accepted']:.2%} of strangers accepted "
        f"(FNIR at FPIR 1%: {'n/a' if fnir is None else f'{fnir:.1%}'})"
    )


def report_lines(figures: dict) -> list[str]:
    lines = [_line("whole gallery", figures["whole"])]
    for size in GALLERY_SIZES:
        if str(size) in figures:
            drawn = figures[str(size)]
            lines.append(_line(f"{size} people ({drawn['draws']} draws)", drawn))
    return lines


def _qualities(
    lfw_dir: Path, photos: Sequence, finder, cache_path: Path | None
) -> dict[str, FaceQuality | None]:
    """The quality of each photo's labelled face (None without one), from the cache file
    when it holds the photo."""
    from tqdm import tqdm

    from services.common.images import decode_image
    from services.recognizer.lfw_protocol import central_face, photo_folder

    stored: dict[str, dict | None] = {}
    if cache_path is not None and cache_path.exists():
        stored = json.loads(cache_path.read_text())
    folder = photo_folder(lfw_dir)
    for photo in tqdm(photos, desc="quality", unit="photo", disable=not sys.stderr.isatty()):
        if photo.relative_path in stored:
            continue
        rgb = decode_image((folder / photo.relative_path).read_bytes())
        face = central_face(finder.find(rgb, thorough=True), rgb.shape[1], rgb.shape[0])
        stored[photo.relative_path] = (
            None if face is None else vars(assess(face.box, face.keypoints, face.score, face.crop))
        )
    if cache_path is not None:
        cache_path.write_text(json.dumps(stored))
    wanted = (photo.relative_path for photo in photos)
    return {path: _quality(stored[path]) for path in wanted}


def _quality(stored: dict | None) -> FaceQuality | None:
    return None if stored is None else FaceQuality(**stored)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    from services.recognizer.embedding_cache import EmbeddingCache
    from services.recognizer.lfw_evaluation import build_lfw_pipeline, embed_photos
    from services.recognizer.lfw_protocol import photo_folder, read_pairs
    from services.recognizer.main import build_policy
    from services.recognizer.settings import RecognizerSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lfw", type=Path, required=True, help="LFW folder (View 1)")
    parser.add_argument("--pairs", type=Path, required=True, help="pairs file to measure on")
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache (.npz)")
    parser.add_argument("--quality-cache", type=Path, default=None, help="face qualities (.json)")
    args = parser.parse_args(argv)
    settings = RecognizerSettings.from_env()
    pairs = read_pairs(args.pairs)
    pipeline = build_lfw_pipeline(settings)
    try:
        cache = EmbeddingCache(args.cache, pipeline.recipe)
        faces = embed_photos(photo_folder(args.lfw), pairs.photos, pipeline, cache)
        qualities = _qualities(args.lfw, pairs.photos, pipeline.finder, args.quality_cache)
    finally:
        pipeline.finder.detector.close()
    policy = build_policy(settings, pipeline.embedder.model_id)
    gate = settings.quality_gate
    embeddings = {photo.relative_path: face.embedding for photo, face in faces.items()}
    photos_of = {
        person: [photo.relative_path for photo in photos]
        for person, photos in pairs.photos_of.items()
    }
    refusals = {
        path: (gate.refusal(quality) if quality is not None else None)
        for path, quality in qualities.items()
    }
    reasons = Counter(refusal.code for refusal in refusals.values() if refusal is not None)
    not_judged = sum(reasons.values())
    rule = policy.rule_for(1)
    out.write(
        f"{args.pairs.name}: {len(embeddings)} photos; model {policy.model_id}\n"
        f"rule: {rule.source}"
        + (
            f", target share of strangers accepted {rule.target_fpir:.1%}"
            if rule.target_fpir
            else ""
        )
        + f", margin {rule.margin:.2f}\n"
        "at the default rule, every photo judged:\n"
    )
    out.write("\n".join(report_lines(rule_figures(photos_of, embeddings, policy))) + "\n")
    out.write(
        f"with the quality gate (face >= {gate.min_face_size:.0f} px, sharpness >= "
        f"{gate.min_sharpness:.3f}, turn <= {gate.max_turn:.2f}, nose height >= "
        f"{gate.min_nose_height:.2f}): {not_judged} of {len(embeddings)} photos not judged "
        f"({not_judged / len(embeddings):.1%}: "
        + ", ".join(f"{count} {code}" for code, count in sorted(reasons.items()))
        + ")\n"
    )
    judged = {path: refusal is None for path, refusal in refusals.items()}
    out.write("\n".join(report_lines(rule_figures(photos_of, embeddings, policy, judged))) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
