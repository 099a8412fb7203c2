"""The project's own MiniFASNet V2 and V1SE load the official weights strictly and give the
published networks' logits (minifasnet_reference_outputs.json beside the weights) to 1e-4."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from services.common.model_files import LIVENESS_V1SE, LIVENESS_V2, resolve_model_file
from services.detector.liveness_networks import (
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
