"""The evaluation's embedding cache: a re-run re-scores without running the pipeline, and
embeddings of another recipe are never reused."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from services.recognizer.embedding_cache import EmbeddingCache, PhotoEmbedding
from services.recognizer.evaluation_command import main
from services.recognizer.lfw_evaluation import Pipeline, embed_photos
from services.recognizer.lfw_protocol import LfwPhoto

pytestmark = pytest.mark.unit


def test_entries_survive_a_save_and_a_reload_including_photos_without_a_face(tmp_path):
    path = tmp_path / "cache.npz"
    cache = EmbeddingCache(path, "recipe-a")
    cache.put("/x/a.jpg", PhotoEmbedding(np.array([0.6, 0.8], dtype=np.float32), 0.5))
    cache.put("/x/b.jpg", PhotoEmbedding(None, 0.25))
    cache.save()
    again = EmbeddingCache(path, "recipe-a")
    assert len(again) == 2
    assert np.array_equal(again.get("/x/a.jpg").embedding, np.array([0.6, 0.8], np.float32))
    assert again.get("/x/a.jpg").seconds == 0.5
    assert again.get("/x/b.jpg").embedding is None
    assert again.get("/x/c.jpg") is None


def test_another_recipe_neither_reads_nor_erases_the_entries_of_the_first(tmp_path):
    path = tmp_path / "cache.npz"
    first = EmbeddingCache(path, "recipe-a")
    first.put("/x/a.jpg", PhotoEmbedding(np.ones(2, dtype=np.float32), 0.1))
    first.save()
    second = EmbeddingCache(path, "recipe-b")
    assert second.get("/x/a.jpg") is None
    second.put("/x/a.jpg", PhotoEmbedding(np.zeros(2, dtype=np.float32), 0.1))
    second.save()
    assert np.array_equal(EmbeddingCache(path, "recipe-a").get("/x/a.jpg").embedding, [1, 1])
    assert np.array_equal(EmbeddingCache(path, "recipe-b").get("/x/a.jpg").embedding, [0, 0])


def test_a_file_that_is_not_a_cache_is_refused_with_its_name(tmp_path):
    path = tmp_path / "cache.npz"
    path.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match=r"cache\.npz is not an embedding cache"):
        EmbeddingCache(path, "recipe-a")


@dataclass(frozen=True)
class FakeFace:
    box: tuple[int, int, int, int]
    crop: np.ndarray


class FakeFinder:
    """Two faces per photo: a large one in a corner and a small one in the middle."""

    def __init__(self) -> None:
        self.calls = 0

    def find(self, rgb, *, thorough=False):
        assert thorough, "stills go through the enrolment path"
        self.calls += 1
        corner = FakeFace((0, 0, 100, 100), np.full((160, 160, 3), 1, np.uint8))
        middle = FakeFace((100, 100, 50, 50), np.full((160, 160, 3), 2, np.uint8))
        return [corner, middle]


class FakeEmbedder:
    model_id = "fake"

    def __init__(self) -> None:
        self.embedded = 0

    def embed(self, crops, *, mirror=None):
        self.embedded += len(crops)
        return np.array([[float(crop[0, 0, 0]), 0.0] for crop in crops], dtype=np.float32)


def lfw_folder(tmp_path, photos):
    for photo in photos:
        target = tmp_path / photo.relative_path
        target.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(target), np.zeros((250, 250, 3), np.uint8))
    return tmp_path


def test_the_central_face_is_embedded_once_and_a_rerun_only_reads_the_cache(tmp_path):
    photos = [LfwPhoto("Ann", 1), LfwPhoto("Ann", 2), LfwPhoto("Bob", 1)]
    folder = lfw_folder(tmp_path / "lfw", photos)
    finder, embedder = FakeFinder(), FakeEmbedder()
    pipeline = Pipeline(finder, embedder, "fake|recipe")
    path = tmp_path / "cache.npz"
    first = embed_photos(folder, photos, pipeline, EmbeddingCache(path, pipeline.recipe))
    # The middle face (crop value 2), not the larger one in the corner.
    assert all(entry.embedding[0] == 2.0 for entry in first.values())
    assert embedder.embedded == 3
    again = embed_photos(folder, photos, pipeline, EmbeddingCache(path, pipeline.recipe))
    assert (finder.calls, embedder.embedded) == (3, 3)
    assert {photo: entry.embedding.tolist() for photo, entry in again.items()} == {
        photo: entry.embedding.tolist() for photo, entry in first.items()
    }


def test_the_command_refuses_a_malformed_pairs_file_with_the_line_at_fault(tmp_path, capsys):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("1\nAnn\t1\t2\nAnn\t1\tBob\n")
    assert main(["--lfw", str(tmp_path), "--pairs", str(pairs)]) == 2
    assert "line 3" in capsys.readouterr().err


def test_the_command_names_the_photos_it_cannot_find(tmp_path, capsys):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("1\nAnn\t1\t2\nAnn\t1\tBob\t1\n")
    assert main(["--lfw", str(tmp_path), "--pairs", str(pairs)]) == 2
    assert "3 of the 3 photos" in capsys.readouterr().err


def test_the_command_needs_a_pairs_file_with_lfw(tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(["--lfw", str(tmp_path)])
    assert exit_.value.code == 2


def test_the_command_says_which_model_file_is_missing(tmp_path, capsys):
    photos = [LfwPhoto("Ann", 1), LfwPhoto("Ann", 2), LfwPhoto("Bob", 1)]
    lfw_folder(tmp_path / "lfw", photos)
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("1\nAnn\t1\t2\nAnn\t1\tBob\t1\n")
    empty = tmp_path / "no-models"
    empty.mkdir()
    argv = ["--lfw", str(tmp_path), "--pairs", str(pairs), "--models-dir", str(empty)]
    assert main(argv) == 2
    assert "facenet-casia-webface.pt not found" in capsys.readouterr().err
