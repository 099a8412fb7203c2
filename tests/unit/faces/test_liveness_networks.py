"""The project's own MiniFASNet V2 and V1SE load the official weights strictly and give the
published networks' logits (minifasnet_reference_outputs.json beside the weights) to 1e-4."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from services.common.model_files import LIVENESS_V1SE, LIVENESS_V2, resolve_model_file
from services.faces.liveness_networks import (
    LIVENESS_MODELS,
    MINIFASNET_V1SE,
    MINIFASNET_V2,
    MiniFASNet,
    load_network,
    strip_wrapper_prefix,
)

pytestmark = pytest.mark.models

REFERENCE = "minifasnet_reference_outputs.json"


def ramp() -> np.ndarray:
    """x[c, i, j] = ((c*6400 + i*80 + j) * 37) % 256, as the reference file describes it."""
    c, i, j = np.meshgrid(np.arange(3), np.arange(80), np.arange(80), indexing="ij")
    return (((c * 6400 + i * 80 + j) * 37) % 256).astype(np.float32)[None]


INPUTS = {"ramp": ramp, "inverse": lambda: 255.0 - ramp()}


@pytest.fixture(scope="module")
def reference(models_dir) -> dict:
    return json.loads((models_dir / REFERENCE).read_text())


@pytest.mark.parametrize("spec", LIVENESS_MODELS, ids=lambda spec: spec.file_name)
@pytest.mark.parametrize("input_name", sorted(INPUTS))
def test_each_network_gives_the_reference_logits(models_dir, reference, spec, input_name):
    network = load_network(spec, resolve_model_file(models_dir, spec.file_name))
    with torch.no_grad():
        logits = network(torch.from_numpy(INPUTS[input_name]())).numpy()[0]
    expected = np.array(reference["logits"][spec.file_name][input_name])
    np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=0)


def test_the_model_files_are_the_ones_model_files_knows():
    assert {MINIFASNET_V2.file_name, MINIFASNET_V1SE.file_name} == {LIVENESS_V2, LIVENESS_V1SE}


@pytest.mark.parametrize("spec", LIVENESS_MODELS, ids=lambda spec: spec.file_name)
def test_the_official_state_dicts_fit_the_networks_key_for_key(models_dir, spec):
    state = torch.load(models_dir / spec.file_name, map_location="cpu", weights_only=True)
    network = MiniFASNet(spec.widths, squeeze_excite=spec.squeeze_excite)
    theirs = strip_wrapper_prefix(state)
    ours = network.state_dict()
    assert set(theirs) == set(ours)
    assert all(theirs[key].shape == ours[key].shape for key in ours)


def test_the_two_variants_differ_in_their_squeeze_excite_gates():
    v2 = MiniFASNet(MINIFASNET_V2.widths, squeeze_excite=False)
    v1se = MiniFASNet(MINIFASNET_V1SE.widths, squeeze_excite=True)
    assert not any("se_module" in key for key in v2.state_dict())
    gated = {key.split(".se_module")[0] for key in v1se.state_dict() if "se_module" in key}
    assert gated == {"conv_3.model.3", "conv_4.model.5", "conv_5.model.1"}


def test_the_wrapper_prefix_is_removed_only_at_the_start():
    state = {"module.conv1.conv.weight": 1, "bn.module.weight": 2}
    assert strip_wrapper_prefix(state) == {"conv1.conv.weight": 1, "bn.module.weight": 2}


@pytest.fixture(scope="module")
def finder_and_scorer(models_dir):
    from services.detector.settings import DetectorSettings
    from services.faces.factory import build_finder
    from services.faces.liveness import LivenessScorer

    finder = build_finder(DetectorSettings.from_env({}, attendance_models_dir=models_dir))
    try:
        yield finder, LivenessScorer(models_dir)
    finally:
        finder.detector.close()


def test_a_live_face_scores_live_and_a_printed_photo_of_it_does_not(finder_and_scorer, faces_dir):
    from services.common.images import decode_image
    from services.faces.liveness_settings import DEFAULT_LIVENESS_THRESHOLD

    finder, scorer = finder_and_scorer
    folder = faces_dir / "liveness" / "nuaa"
    live_path = sorted((folder / "real" / "0001").glob("*.jpg"))[0]
    print_path = sorted((folder / "print" / "0001").glob("*.jpg"))[0]
    scores = {}
    for kind, path in (("live", live_path), ("print", print_path)):
        rgb = decode_image(path.read_bytes())
        [face, *_] = finder.detect(rgb)
        [scores[kind]] = scorer.score(rgb, [face.box])
    assert scores["live"] >= DEFAULT_LIVENESS_THRESHOLD > scores["print"]


def test_the_faces_of_one_frame_are_scored_together_in_their_order(finder_and_scorer, faces_dir):
    from services.common.images import decode_image

    _, scorer = finder_and_scorer
    path = sorted((faces_dir / "liveness" / "nuaa" / "real" / "0001").glob("*.jpg"))[0]
    rgb = decode_image(path.read_bytes())
    boxes = [(200, 150, 120, 120), (10, 10, 60, 60), (500, 300, 100, 100)]
    together = scorer.score(rgb, boxes)
    alone = [scorer.score(rgb, [box])[0] for box in boxes]
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert all(0.0 <= score <= 1.0 for score in together)


def test_building_a_scorer_keeps_torch_to_one_thread(models_dir):
    from services.faces.liveness import LivenessScorer

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        LivenessScorer(models_dir)
        one = torch.get_num_threads()
        LivenessScorer(models_dir, threads=2)
        two = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)

    assert (one, two) == (1, 2)
