"""ONNX model files: named by the weights they come from, trusted only while they are the file
their provenance describes, and refused with the way to make them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from services.common.model_files import sha256_of
from services.recognizer.network_loader import load_network
from services.recognizer.onnx_models import (
    OnnxModelError,
    check_batch,
    fp32_model_path,
    int8_model_path,
    verified_sha256,
    write_provenance,
)
from services.recognizer.quantize_command import agreement

pytestmark = pytest.mark.unit

WEIGHTS_SHA = "e9bb97f6eb16a5cc51bbe0d2f6105411fa33571eac546a3f7aa267700c47287d"


def model_with_provenance(path: Path, content: bytes = b"graph") -> Path:
    path.write_bytes(content)
    write_provenance(path, {"sha256": sha256_of(path)})
    return path


def test_model_files_are_named_after_the_weights_they_were_made_from(tmp_path):
    assert fp32_model_path(tmp_path, WEIGHTS_SHA).name == "facenet-e9bb97f6eb16a5cc-fp32.onnx"
    assert int8_model_path(tmp_path, WEIGHTS_SHA).name == "facenet-e9bb97f6eb16a5cc-int8.onnx"


def test_a_model_matching_its_provenance_is_trusted(tmp_path):
    path = model_with_provenance(tmp_path / "m.onnx")

    assert verified_sha256(path) == sha256_of(path)


def test_a_model_changed_after_it_was_made_is_not_trusted(tmp_path):
    path = model_with_provenance(tmp_path / "m.onnx")
    path.write_bytes(b"graph, then damaged")

    assert verified_sha256(path) is None


@pytest.mark.parametrize("sidecar", [None, "not json", '["a list"]', '{"sha256": 7}'])
def test_a_model_without_readable_provenance_is_not_trusted(tmp_path, sidecar):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"graph")
    if sidecar is not None:
        path.with_suffix(".json").write_text(sidecar)

    assert verified_sha256(path) is None


def test_the_export_check_batch_is_fixed_and_in_the_range_of_standardised_faces():
    first, second = check_batch(), check_batch()

    np.testing.assert_array_equal(first, second)
    assert first.shape == (4, 3, 160, 160) and first.dtype == np.float32
    assert first.min() >= -1.0 and first.max() <= 1.0


def test_agreement_reports_the_worst_and_the_typical_face():
    fp32 = np.eye(3, dtype=np.float32)
    int8 = np.array([[1, 0, 0], [0, 1, 0], [0, 1, 1]], dtype=np.float32)

    close = agreement(fp32, int8)

    assert close["cosine_median"] == pytest.approx(1.0)
    assert close["cosine_min"] == pytest.approx(np.sqrt(0.5), abs=1e-4)


def test_the_int8_back_end_without_a_quantised_model_says_how_to_make_one(tmp_path):
    weights = tmp_path / "facenet-casia-webface.pt"
    weights.write_bytes(b"weights")

    with pytest.raises(OnnxModelError, match="attendance models quantize"):
        load_network("onnx-int8", weights_path=weights, onnx_dir=tmp_path / "onnx")


def test_a_damaged_int8_model_is_refused(tmp_path):
    weights = tmp_path / "facenet-casia-webface.pt"
    weights.write_bytes(b"weights")
    path = model_with_provenance(int8_model_path(tmp_path, sha256_of(weights)))
    path.write_bytes(b"damaged")

    with pytest.raises(OnnxModelError, match="no intact int8"):
        load_network("onnx-int8", weights_path=weights, onnx_dir=tmp_path)


def test_onnx_back_ends_need_a_local_weights_file_and_the_cpu(tmp_path):
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"weights")

    with pytest.raises(ValueError, match="local weights file"):
        load_network("onnx", pretrained="vggface2")
    with pytest.raises(ValueError, match="runs on the CPU"):
        load_network("onnx", weights_path=weights, device="cuda")


def test_provenance_is_written_beside_the_model_as_json(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"graph")

    sidecar = write_provenance(path, {"sha256": "abc", "calibration": {"photos": 3}})

    assert sidecar == tmp_path / "m.json"
    assert json.loads(sidecar.read_text())["calibration"] == {"photos": 3}
