"""The bench counts the detector's calls: on whole frames, on refinement patches while a frame
is searched, and after (a face sharpened before it is sent)."""

from __future__ import annotations

import numpy as np
import pytest

from services.bench.pipeline import Tally

pytestmark = pytest.mark.unit


class Detector:
    def detect(self, image: np.ndarray, **options: object) -> list:
        return []


class Finder:
    """Searches the frame once whole and twice in patches; sharpening searches once more."""

    def __init__(self) -> None:
        self.detector = Detector()

    def find(self, rgb: np.ndarray, **options: object) -> list:
        self.detector.detect(rgb)
        for _ in range(2):
            self.detector.detect(np.zeros((192, 192, 3), np.uint8))
        return ["face"]

    def sharpen(self, rgb: np.ndarray) -> None:
        self.detector.detect(np.zeros((192, 192, 3), np.uint8))


class Embedder:
    mirror = True

    def embed(self, crops: list, *, mirror: bool | None = None) -> list:
        return crops


def test_detector_calls_are_told_apart_by_when_and_on_what_they_are_made():
    tally, finder = Tally(), Finder()
    tally.watch(finder, Embedder())
    frame = np.zeros((36, 64, 3), np.uint8)

    for _ in range(3):
        finder.find(frame, mirror=False)
    finder.sharpen(frame)

    assert tally.faces == 3
    assert tally.detector_calls == {"whole_frame": 3, "refinement": 6, "sharpening": 1}


def test_network_images_count_a_mirrored_face_twice_and_a_single_view_once():
    tally, embedder = Tally(), Embedder()
    tally.watch(Finder(), embedder)

    embedder.embed(["a", "b"])
    embedder.embed(["c"], mirror=False)

    assert tally.images_embedded == 2 * 2 + 1
