"""The recognizer's two costs on their own: the network by batch size, matching by gallery
size. Random inputs: the time does not depend on what the faces look like."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from services.common.domain.enrolment import EMBEDDING_SIZE
from services.common.gallery_matrix import GalleryMatrix
from services.recognizer.matching import match

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


def _call_times(action, min_seconds: float, min_runs: int = 5) -> list[float]:
    """Seconds of each call of ``action`` repeated for at least ``min_seconds``: their median
    is the cost of a call, little moved by other jobs taking the CPU now and then (a mean over
    the whole time would count every preemption)."""
    action()
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - started < min_seconds:
        before = time.perf_counter()
        action()
        times.append(time.perf_counter() - before)
    return times


def embedding_speed(
    batch_sizes: Sequence[int],
    min_seconds: float,
    environ: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Faces per second through the recognizer's embedder, for each batch size."""
    from services.recognizer.main import build_embedder
    from services.recognizer.settings import RecognizerSettings

    settings = RecognizerSettings.from_env(dict(environ or os.environ))
    embedder = build_embedder(settings)
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
                "backend": embedder.backend,
                "threads": settings.recognizer_threads,
            }
        )
    return rows


def random_templates(rng: np.random.Generator, count: int) -> np.ndarray:
    vectors = rng.standard_normal((count, EMBEDDING_SIZE)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def match_speed(
    gallery_sizes: Sequence[int],
    min_seconds: float,
    environ: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Milliseconds to match one face against galleries of random templates (one per
    person), alone and in a batch of 16 (the median call; the mean too, for one face); and the
    memory of a recognizer holding each gallery (its network loaded, the gallery read as a
    recognizer reads it), each in a process of its own so that one size's peak does not hide
    the next one's."""
    rng = np.random.default_rng(0)
    rows = []
    for size in gallery_sizes:
        gallery = GalleryMatrix([f"p{index}" for index in range(size)], random_templates(rng, size))
        probes = random_templates(rng, 16)
        single = _call_times(lambda g=gallery, p=probes: match(p[:1], g), min_seconds)
        batch = _call_times(lambda g=gallery, p=probes: match(p, g), min_seconds)
        rows.append(
            {
                "gallery_people": size,
                "ms_per_face": 1000 * float(np.median(single)),
                "ms_per_face_mean": 1000 * float(np.mean(single)),
                "ms_per_face_in_batch_of_16": 1000 * float(np.median(batch)) / len(probes),
                "gallery_mb": gallery.matrix.nbytes / 2**20,
            }
            | recognizer_memory(size, environ)
        )
        del gallery
    return rows


def recognizer_memory(size: int, environ: Mapping[str, str] | None = None) -> dict[str, float]:
    """RSS of a fresh process that loads the recognizer's network, embeds a batch, and reads a
    gallery of ``size`` random people as the recognizer does (through the gallery cache)."""
    import multiprocessing

    # spawn: a fork would start with this process's memory (the galleries timed above).
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(_recognizer_memory, (size, dict(environ or os.environ)))


class _RandomPeople:
    """Stands in for the employee store: ``size`` people with one random template each."""

    def __init__(self, size: int) -> None:
        self._ids = [f"p{index}" for index in range(size)]
        self._matrix = random_templates(np.random.default_rng(1), size)

    def gallery(self, model_id: str) -> tuple[list[str], np.ndarray]:
        return self._ids, self._matrix

    def photos_without_embedding(self, model_id: str) -> list:
        return []

    def names(self, ids: Sequence[str]) -> dict[str, str]:
        return {employee: employee for employee in ids}


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _recognizer_memory(size: int, environ: dict[str, str]) -> dict[str, float]:
    import resource
    from typing import cast

    from services.common.cache import InMemoryCache
    from services.common.gallery import Gallery
    from services.common.storage.employees import EmployeeRepository
    from services.recognizer.main import build_embedder
    from services.recognizer.settings import RecognizerSettings

    embedder = build_embedder(RecognizerSettings.from_env(environ))
    crops = [np.zeros((CROP_SIZE, CROP_SIZE, 3), dtype=np.uint8) for _ in range(16)]
    embedder.embed(crops)
    without_gallery = _rss_mb()
    store = cast(EmployeeRepository, _RandomPeople(size))
    cache = InMemoryCache()
    # The enrolment side writes the cache; the recognizer reads it into its matrix.
    Gallery(cache, store, embedder.model_id).changed()
    del store
    recognizer_gallery = Gallery(cache, cast(EmployeeRepository, None), embedder.model_id)
    snapshot = recognizer_gallery.current()
    # In service the cache is Redis, in another process: its copy is not the recognizer's.
    cache.clear()
    match(embedder.embed(crops[:1]), snapshot.matrix)
    return {
        "recognizer_rss_mb": _rss_mb(),
        "recognizer_rss_without_gallery_mb": without_gallery,
        "recognizer_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
