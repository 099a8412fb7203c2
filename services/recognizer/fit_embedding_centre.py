"""Fit the mean face embedding of a recipe on LFW View 1 DevTrain and print it as the source of
:mod:`services.recognizer.embedding_centres`.

    ATTENDANCE_MODELS_DIR=../shared/models .venv/bin/python -m \\
        services.recognizer.fit_embedding_centre --lfw ../shared/faces/lfw-view1 \\
        --pairs ../shared/faces/lfw-view1/pairsDevTrain.txt --cache lfw-devtrain.npz \\
        > services/recognizer/embedding_centres.py

The photos are embedded without a centre (the recipe being fitted); ``--cache`` shares
``attendance eval --lfw``'s embedding cache of that recipe, so a fit after an evaluation is
instant. Only ever fit on DevTrain: DevTest is where the result is checked.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

HEADER = '''"""Mean face embeddings, subtracted before matching (generated: do not edit).

Made by services/recognizer/fit_embedding_centre.py
on {source} ({photos} photos).
A recipe without an entry runs uncentred.
"""

from __future__ import annotations

import numpy as np

# fmt: off
CENTRES: dict[str, tuple[float, ...]] = {{
    "{model_id}": (
{values}
    ),
}}
# fmt: on


def centre_for(model_id: str) -> np.ndarray | None:
    """The mean embedding fitted for ``model_id`` (unit-length vectors of that recipe)."""
    values = CENTRES.get(model_id)
    return None if values is None else np.asarray(values, dtype=np.float32)
'''


def centre_source(model_id: str, centre: np.ndarray, source: str, photos: int) -> str:
    numbers = ", ".join(f"{value:.6f}" for value in centre)
    values = textwrap.fill(numbers, width=92, initial_indent=" " * 8, subsequent_indent=" " * 8)
    return HEADER.format(
        source=source, photos=photos, model_id=model_id, values=values.rstrip(",") + ","
    )


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    from services.common.model_files import FACENET_CASIA, resolve_model_file
    from services.faces.factory import build_finder
    from services.recognizer.embedding import FaceEmbedder
    from services.recognizer.embedding_cache import EmbeddingCache
    from services.recognizer.lfw_evaluation import Pipeline, embed_photos, pipeline_recipe
    from services.recognizer.lfw_protocol import photo_folder, read_pairs
    from services.recognizer.settings import RecognizerSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lfw", type=Path, required=True, help="LFW folder (View 1)")
    parser.add_argument("--pairs", type=Path, required=True, help="pairs file (DevTrain)")
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache (.npz)")
    args = parser.parse_args(argv)
    settings = RecognizerSettings.from_env()
    weights = resolve_model_file(settings.attendance_models_dir, FACENET_CASIA)
    embedder = FaceEmbedder(weights, threads=settings.recognizer_threads, centred=False)
    finder = build_finder(settings)
    try:
        pipeline = Pipeline(finder, embedder, pipeline_recipe(settings, embedder.model_id))
        cache = EmbeddingCache(args.cache, pipeline.recipe)
        photos = read_pairs(args.pairs).photos
        faces = embed_photos(photo_folder(args.lfw), photos, pipeline, cache, progress=True)
        cache.save()
    finally:
        finder.detector.close()
    vectors = np.array([face.embedding for face in faces.values() if face.embedding is not None])
    source = f"LFW View 1 {args.pairs.name}"
    out.write(centre_source(embedder.model_id, vectors.mean(axis=0), source, len(vectors)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
