"""The recognizer's two costs on their own: the network by batch size, matching by gallery
size. Random inputs: the time does not depend on what the faces look like."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from services.common.gallery_matrix import GalleryMatrix
from services.recognizer.matching import match

EMBEDDING_SIZE = 512
CROP_SIZE = 160


def _repeat(action, min_seconds: float, min_runs: int = 2) -> tuple[int, float, float]:
    """(runs, wall seconds, CPU seconds) of repeating ``action`` for at least ``min_seconds``."""
    action()  # warm-up: first-call allocations are not the steady cost
    runs = 0
    cpu_before = time.process_time()
    started = time.perf_counter()
    while runs < min_runs or time.perf_counter() - started < min_seconds:
        action()
        runs += 1
    return runs, time.perf_counter() - started, time.process_time() - cpu_before


def embedding_speed(
    batch_sizes: Sequence[int],
    min_seconds: float,
    environ: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Faces per second through the recognizer's embedder, for each batch size."""
    import torch

    from services.recognizer.main import build_embedder
    from services.recognizer.settings import RecognizerSettings

    embedder = build_embedder(RecognizerSettings.from_env(dict(environ or os.environ)))
    images_per_face = 2 if embedder.mirror else 1
    rng = np.random.default_rng(0)
    rows = []
    for size in batch_sizes:
        crops = [
            rng.integers(0, 256, (CROP_SIZE, CROP_SIZE, 3), dtype=np.uint8) for _ in range(size)
        ]
        runs, wall_s, cpu_s = _repeat(lambda crops=crops: embedder.embed(crops), min_seconds)
        faces = runs * size
        rows.append(
            {
                "batch_size": size,
                "faces_per_s": faces / wall_s,
                "images_per_s": faces * images_per_face / wall_s,
                "cpu_s_per_face": cpu_s / faces,
                "torch_threads": torch.get_num_threads(),
            }
        )
    return rows


def random_templates(rng: np.random.Generator, count: int) -> np.ndarray:
    vectors = rng.standard_normal((count, EMBEDDING_SIZE)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def match_speed(gallery_sizes: Sequence[int], min_seconds: float) -> list[dict[str, Any]]:
    """Milliseconds to match one face against galleries of random templates (one per
    person), alone and in a batch of 16."""
    rng = np.random.default_rng(0)
    rows = []
    for size in gallery_sizes:
        gallery = GalleryMatrix([f"p{index}" for index in range(size)], random_templates(rng, size))
        probes = random_templates(rng, 16)
        single_runs, single_s, _ = _repeat(lambda g=gallery, p=probes: match(p[:1], g), min_seconds)
        batch_runs, batch_s, _ = _repeat(lambda g=gallery, p=probes: match(p, g), min_seconds)
        rows.append(
            {
                "gallery_people": size,
                "ms_per_face": 1000 * single_s / single_runs,
                "ms_per_face_in_batch_of_16": 1000 * batch_s / (batch_runs * len(probes)),
                "gallery_mb": gallery.matrix.nbytes / 2**20,
            }
        )
    return rows
