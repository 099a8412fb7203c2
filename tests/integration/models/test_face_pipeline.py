"""The real detector and embedder on real photos: faces are found, and people are told apart."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from services.common.images import decode_image
from services.common.model_files import (
    FACENET_CASIA,
    MODEL_FILES,
    SHORT_RANGE_DETECTOR,
    ModelFileError,
    check_models,
    resolve_model_file,
)
from services.faces.detection import LEFT_EYE, RIGHT_EYE, FaceDetector
from services.faces.finder import FaceFinder
from services.recognizer.embedding import FaceEmbedder
from services.recognizer.embedding_centres import centre_for

pytestmark = pytest.mark.models

MIRANDA = "face_recognition/examples/lin-manuel-miranda.png"
OBAMA_1 = "face_recognition/examples/knn_examples/train/obama/obama.jpg"
OBAMA_2 = "face_recognition/examples/knn_examples/train/obama/obama2.jpg"
BIDEN = "face_recognition/examples/knn_examples/train/biden/biden.jpg"
NO_FACES = ["dlib/examples/faces/dogs.jpg", "face-api.js/test/images/white.png"]
TWO_PEOPLE = "face_recognition/examples/two_people.jpg"
THREE_PEOPLE = "dlib/examples/faces/2008_002506.jpg"


@pytest.fixture(scope="module")
def finder(models_dir: Path):
    with FaceDetector("short", models_dir) as detector:
        yield FaceFinder(detector)


@pytest.fixture(scope="module")
def embedder(models_dir: Path) -> FaceEmbedder:
    return FaceEmbedder.from_models_dir(models_dir, threads=2)


def photo(faces_dir: Path, path: str) -> np.ndarray:
    return decode_image((faces_dir / path).read_bytes())


def test_one_face_is_found_in_a_portrait(finder, faces_dir):
    faces = finder.find(photo(faces_dir, MIRANDA), thorough=True)
    assert len(faces) == 1
    assert faces[0].crop.shape == (160, 160, 3)
    assert faces[0].score >= 0.75


def test_the_person_s_right_eye_is_on_the_left_of_the_image(finder, faces_dir):
    [face] = finder.find(photo(faces_dir, MIRANDA))
    assert face.keypoints[RIGHT_EYE][0] < face.keypoints[LEFT_EYE][0]


@pytest.mark.parametrize("path", NO_FACES)
def test_a_photo_with_no_face_yields_no_faces(finder, faces_dir, path):
    assert finder.find(photo(faces_dir, path), thorough=True) == []


@pytest.mark.parametrize(("path", "count"), [(TWO_PEOPLE, 2), (THREE_PEOPLE, 3)])
def test_every_face_of_a_group_photo_is_found_largest_first(finder, faces_dir, path, count):
    faces = finder.find(photo(faces_dir, path), thorough=True)
    assert len(faces) == count
    areas = [face.box[2] * face.box[3] for face in faces]
    assert areas == sorted(areas, reverse=True)


def test_a_tight_grayscale_crop_is_found_when_searching_thoroughly(finder, faces_dir):
    rgb = photo(faces_dir, "openface/images/examples-aligned/lennon-1.png")
    assert rgb.shape[:2] == (96, 96)
    assert len(finder.find(rgb, thorough=True)) == 1


def test_two_photos_of_one_person_are_closer_than_photos_of_two_people(finder, embedder, faces_dir):
    crops = [
        finder.find(photo(faces_dir, p), thorough=True)[0].crop for p in (OBAMA_1, OBAMA_2, BIDEN)
    ]
    obama_1, obama_2, biden = embedder.embed(crops)
    same = float(obama_1 @ obama_2)
    different = max(float(obama_1 @ biden), float(obama_2 @ biden))
    assert same > 0.6
    assert same - different > 0.3


def test_embeddings_are_unit_length_float32_and_deterministic(finder, embedder, faces_dir):
    crop = finder.find(photo(faces_dir, MIRANDA))[0].crop
    first = embedder.embed([crop])
    again = embedder.embed([crop, crop])
    assert first.shape == (1, 512)
    assert first.dtype == np.float32
    assert np.linalg.norm(first[0]) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(again[0], first[0], atol=1e-5)
    np.testing.assert_allclose(again[1], first[0], atol=1e-5)


def test_the_model_id_names_network_weights_and_alignment(embedder):
    assert embedder.model_id.startswith("facenet-inception-resnet-v1/casia-webface/sha256:e9bb97f6")
    assert "/align-" in embedder.model_id


def test_the_shipped_weights_are_centred_and_their_model_id_says_so(embedder, models_dir):
    uncentred = FaceEmbedder.from_models_dir(models_dir, threads=2, centred=False)
    assert embedder.model_id == uncentred.model_id + "-centred"


def test_centring_subtracts_the_fitted_mean_and_normalises_again(
    finder, embedder, models_dir, faces_dir
):
    uncentred = FaceEmbedder.from_models_dir(models_dir, threads=2, centred=False)
    crop = finder.find(photo(faces_dir, MIRANDA))[0].crop
    centre = centre_for(uncentred.model_id)
    expected = uncentred.embed([crop])[0] - centre
    expected /= np.linalg.norm(expected)
    np.testing.assert_allclose(embedder.embed([crop])[0], expected, atol=1e-5)


def test_a_missing_model_file_names_the_file_the_folder_and_the_fix(tmp_path):
    with pytest.raises(ModelFileError) as caught:
        FaceDetector("short", tmp_path)
    message = str(caught.value)
    assert SHORT_RANGE_DETECTOR in message
    assert str(tmp_path) in message
    assert "attendance models download" in message


def test_a_corrupt_model_file_is_refused_with_its_name(tmp_path, models_dir):
    shutil.copy(models_dir / SHORT_RANGE_DETECTOR, tmp_path / SHORT_RANGE_DETECTOR)
    with (tmp_path / SHORT_RANGE_DETECTOR).open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00" * 64)
    with pytest.raises(ModelFileError, match="corrupt"):
        resolve_model_file(tmp_path, SHORT_RANGE_DETECTOR)


def test_the_shared_model_folder_checks_out(models_dir):
    assert {status.name: status.state for status in check_models(models_dir)} == {
        name: "ok" for name in MODEL_FILES
    }
    assert {SHORT_RANGE_DETECTOR, FACENET_CASIA} <= set(MODEL_FILES)
