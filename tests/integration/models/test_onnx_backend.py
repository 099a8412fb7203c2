"""FaceNet in ONNX Runtime against the torch reference, on real faces: the exported graph gives
torch's vectors and recipe, is exported once, and an int8 graph made by `attendance models
quantize` follows it closely under a recipe of its own."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest

from services.common.images import decode_image
from services.faces.detection import FaceDetector
from services.faces.finder import FaceFinder
from services.recognizer.embedding import FaceEmbedder
from services.recognizer.onnx_models import fp32_model_path, verified_sha256
from services.recognizer.quantize_command import main as quantize_main
from services.recognizer.quantize_command import quantize
from services.recognizer.settings import RecognizerSettings

pytestmark = pytest.mark.models

PHOTOS = [
    "face_recognition/examples/lin-manuel-miranda.png",
    "face_recognition/examples/knn_examples/train/obama/obama.jpg",
    "face_recognition/examples/knn_examples/train/obama/obama2.jpg",
    "face_recognition/examples/knn_examples/train/biden/biden.jpg",
]
# Four View 1 DevTrain photos: enough faces to exercise calibration, not to measure it.
CALIBRATION_PAIRS = "1\nAaron_Peirsol\t1\t2\nAJ_Cook\t1\tMarsha_Thomason\t1\n"


@pytest.fixture(scope="module")
def crops(models_dir: Path, faces_dir: Path) -> list[np.ndarray]:
    with FaceDetector("short", models_dir) as detector:
        finder = FaceFinder(detector)
        return [
            finder.find(decode_image((faces_dir / path).read_bytes()), thorough=True)[0].crop
            for path in PHOTOS
        ]


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def torch_embedder(models_dir: Path) -> FaceEmbedder:
    return FaceEmbedder.from_models_dir(models_dir, threads=1, backend="torch")


@pytest.fixture(scope="module")
def onnx_embedder(models_dir: Path, onnx_dir: Path) -> FaceEmbedder:
    return FaceEmbedder.from_models_dir(models_dir, threads=1, backend="onnx", onnx_dir=onnx_dir)


def test_the_exported_graph_gives_torchs_vectors_under_torchs_recipe(
    torch_embedder, onnx_embedder, crops
):
    assert onnx_embedder.model_id == torch_embedder.model_id
    np.testing.assert_allclose(onnx_embedder.embed(crops), torch_embedder.embed(crops), atol=1e-5)
    np.testing.assert_allclose(
        onnx_embedder.embed(crops, mirror=False),
        torch_embedder.embed(crops, mirror=False),
        atol=1e-5,
    )


def test_the_graph_is_exported_once_and_reused(models_dir, onnx_dir, onnx_embedder, crops):
    path = onnx_embedder.network.model_path  # type: ignore[attr-defined]
    written = path.stat().st_mtime_ns

    again = FaceEmbedder.from_models_dir(models_dir, threads=1, backend="onnx", onnx_dir=onnx_dir)

    assert again.network.model_path == path  # type: ignore[attr-defined]
    assert path.stat().st_mtime_ns == written
    assert verified_sha256(path) is not None
    np.testing.assert_array_equal(again.embed(crops[:1]), onnx_embedder.embed(crops[:1]))


def test_a_damaged_graph_is_exported_again_rather_than_used(models_dir, tmp_path, crops):
    first = FaceEmbedder.from_models_dir(models_dir, threads=1, backend="onnx", onnx_dir=tmp_path)
    path = first.network.model_path  # type: ignore[attr-defined]
    with path.open("r+b") as handle:
        handle.seek(path.stat().st_size // 2)
        handle.write(b"\x00" * 64)

    second = FaceEmbedder.from_models_dir(models_dir, threads=1, backend="onnx", onnx_dir=tmp_path)

    assert verified_sha256(path) is not None
    np.testing.assert_allclose(second.embed(crops), first.embed(crops), atol=1e-6)


def test_an_int8_graph_made_by_the_command_follows_the_network_under_its_own_recipe(
    models_dir, faces_dir, onnx_dir, onnx_embedder, crops, tmp_path
):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text(CALIBRATION_PAIRS)
    settings = RecognizerSettings.from_env(
        {}, attendance_models_dir=models_dir, embedding_onnx_dir=onnx_dir
    )

    made = quantize(settings, faces_dir / "lfw-view1", pairs, faces=4)

    assert made["calibration"] == {
        "pairs": "pairs.txt",
        "photos": 4,
        "faces": 4,
        "inputs": 8,
        "seed": 0,
    }
    assert verified_sha256(Path(made["model"])) == made["sha256"]
    assert made["made_from"]["fp32_sha256"] == verified_sha256(
        fp32_model_path(onnx_dir, made["made_from"]["weights_sha256"])
    )
    int8 = FaceEmbedder.from_models_dir(
        models_dir, threads=1, backend="onnx-int8", onnx_dir=onnx_dir
    )
    assert int8.model_id != onnx_embedder.model_id
    assert f"/onnx-int8:{made['sha256'][:8]}/" in int8.model_id
    cosines = np.sum(int8.embed(crops) * onnx_embedder.embed(crops), axis=1)
    assert cosines.min() > 0.95


def test_quantize_without_its_photos_says_what_it_needs(capsys):
    code = quantize_main(Namespace(lfw=None, pairs=None, faces=256))

    assert code == 2
    assert "--lfw DIR and --pairs FILE" in capsys.readouterr().err
