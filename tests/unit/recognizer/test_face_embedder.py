"""The embedder's own work around whatever runs the network: preprocessing, mirror averaging,
batching, centring and the recipe its vectors are labelled with."""

from __future__ import annotations

import numpy as np
import pytest

from services.recognizer.embedding import FaceEmbedder, standardise
from services.recognizer.network_loader import LoadedNetwork

pytestmark = pytest.mark.unit

CASIA_TAG = "casia-webface/sha256:e9bb97f6"


class RecordingNetwork:
    """Stands in for FaceNet: a vector made from the left/right balance of each face, so a
    mirrored face gives a different one; remembers the batches it was given."""

    backend = "onnx"

    def __init__(self) -> None:
        self.batches: list[np.ndarray] = []

    def run(self, faces: np.ndarray) -> np.ndarray:
        self.batches.append(faces.copy())
        left = faces[:, :, :, :80].mean(axis=(1, 2, 3))
        right = faces[:, :, :, 80:].mean(axis=(1, 2, 3))
        vectors = np.zeros((len(faces), 512), dtype=np.float32)
        vectors[:, 0] = 1.0 + left
        vectors[:, 1] = 1.0 + right
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def half_lit_face() -> np.ndarray:
    crop = np.zeros((160, 160, 3), dtype=np.uint8)
    crop[:, :80] = 255
    return crop


def embedder_on(network: RecordingNetwork, **options) -> FaceEmbedder:
    return FaceEmbedder.on_network(LoadedNetwork(network, CASIA_TAG), centred=False, **options)


def test_standardise_gives_the_network_channels_first_pixels_scaled_as_in_training():
    crops = np.zeros((2, 160, 160, 3), dtype=np.uint8)
    crops[:, :, :, 0] = 255

    faces = standardise(crops)

    assert faces.shape == (2, 3, 160, 160) and faces.dtype == np.float32
    assert faces[0, 0, 0, 0] == pytest.approx((255 - 127.5) / 128)
    assert faces[0, 1, 0, 0] == pytest.approx(-127.5 / 128)


def test_mirror_averaging_runs_each_face_and_its_mirror_image_in_one_batch():
    network = RecordingNetwork()
    embedder = embedder_on(network, mirror=True)

    vectors = embedder.embed([half_lit_face()])

    (batch,) = network.batches
    assert len(batch) == 2
    np.testing.assert_array_equal(batch[1], batch[0][:, :, ::-1])
    # Face and mirror image weigh the same: the lit side no longer shows.
    assert vectors[0, 0] == pytest.approx(vectors[0, 1])
    assert np.linalg.norm(vectors[0]) == pytest.approx(1.0)


def test_a_camera_face_can_skip_the_mirror_without_changing_the_embedders_recipe():
    network = RecordingNetwork()
    embedder = embedder_on(network, mirror=True)

    vectors = embedder.embed([half_lit_face()], mirror=False)

    assert [len(batch) for batch in network.batches] == [1]
    assert vectors[0, 0] > vectors[0, 1]
    assert embedder.model_id.endswith("std128-mirror")


def test_faces_are_sent_in_batches_of_the_configured_size():
    network = RecordingNetwork()
    embedder = embedder_on(network, mirror=False, batch_size=2)

    vectors = embedder.embed([half_lit_face()] * 5)

    assert [len(batch) for batch in network.batches] == [2, 2, 1]
    assert vectors.shape == (5, 512)


def test_no_faces_make_no_network_call():
    network = RecordingNetwork()

    vectors = embedder_on(network).embed([])

    assert vectors.shape == (0, 512) and network.batches == []


def test_a_crop_of_the_wrong_size_is_refused_with_what_was_expected():
    with pytest.raises(ValueError, match="160x160x3 uint8"):
        embedder_on(RecordingNetwork()).embed([np.zeros((100, 100, 3), dtype=np.uint8)])


def test_the_casia_recipe_is_centred_and_says_so():
    embedder = FaceEmbedder.on_network(LoadedNetwork(RecordingNetwork(), CASIA_TAG))

    assert embedder.model_id == (
        f"facenet-inception-resnet-v1/{CASIA_TAG}/align-v2/std128-mirror-centred"
    )
    vector = embedder.embed([half_lit_face()])[0]
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-6)


def test_a_quantised_network_has_a_recipe_of_its_own_but_the_centre_of_its_source():
    quantised = FaceEmbedder.on_network(
        LoadedNetwork(RecordingNetwork(), f"{CASIA_TAG}/onnx-int8:0751ee62", CASIA_TAG)
    )
    reference = FaceEmbedder.on_network(LoadedNetwork(RecordingNetwork(), CASIA_TAG))

    assert quantised.model_id != reference.model_id
    assert "/onnx-int8:0751ee62/" in quantised.model_id
    assert quantised.model_id.endswith("-centred")
    np.testing.assert_allclose(
        quantised.embed([half_lit_face()]), reference.embed([half_lit_face()]), atol=1e-6
    )


def test_weights_without_a_fitted_centre_run_uncentred():
    embedder = FaceEmbedder.on_network(LoadedNetwork(RecordingNetwork(), "other/sha256:00000000"))

    assert not embedder.model_id.endswith("-centred")
