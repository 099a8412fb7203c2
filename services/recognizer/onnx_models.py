"""FaceNet for ONNX Runtime: exported from the torch network, checked against it, and quantised.

* **fp32** (``EMBEDDING_BACKEND=onnx``) is exported on first use from the weights the torch
  back-end loads, into ``EMBEDDING_ONNX_DIR`` under a name that carries the weights' hash, and
  kept only if it reproduces torch's vectors on a fixed batch (:data:`MAX_EXPORT_DEVIATION`):
  the same network, the same vectors, the same ``model_id``.
* **int8** (``EMBEDDING_BACKEND=onnx-int8``) is made by ``attendance models quantize`` from the
  fp32 graph and a folder of face photos (LFW View 1 DevTrain for the published figures): static
  quantisation needs the activations' ranges, which only real aligned faces give. Its vectors
  differ slightly from the network's, so they carry a ``model_id`` of their own.

Writes go to a temporary file renamed into place, so recognizers starting together never read
half a model.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from services.common.model_files import sha256_of
from services.recognizer.face_networks import OnnxFaceNetwork, TorchFaceNetwork

logger = logging.getLogger(__name__)

DEFAULT_ONNX_DIR = Path.home() / ".cache" / "attendance" / "onnx"
# The legacy (TorchScript) exporter: it needs the onnx package but not onnxscript, writes one
# self-contained file, and gives the same graph as the dynamo exporter for this network.
OPSET = 17
INPUT_NAME = "faces"
OUTPUT_NAME = "embeddings"
# Largest difference allowed between a torch vector and the exported graph's, per component of
# a unit vector (measured: 9e-8).
MAX_EXPORT_DEVIATION = 1e-5
CHECK_BATCH = 4
CHECK_SEED = 20180408


class OnnxModelError(RuntimeError):
    """An ONNX model is missing, or does not reproduce the network it was made from."""


def fp32_model_path(folder: Path, weights_sha256: str) -> Path:
    return Path(folder) / f"facenet-{weights_sha256[:16]}-fp32.onnx"


def int8_model_path(folder: Path, weights_sha256: str) -> Path:
    return Path(folder) / f"facenet-{weights_sha256[:16]}-int8.onnx"


def check_batch() -> np.ndarray:
    """A fixed standardised batch: smooth random images, in the range real faces have."""
    rng = np.random.default_rng(CHECK_SEED)
    coarse = rng.uniform(-1.0, 1.0, size=(CHECK_BATCH, 3, 20, 20)).astype(np.float32)
    return np.ascontiguousarray(coarse.repeat(8, axis=2).repeat(8, axis=3))


def deviation(reference: TorchFaceNetwork, candidate: OnnxFaceNetwork) -> float:
    """Largest absolute difference between the two networks' vectors on :func:`check_batch`."""
    faces = check_batch()
    return float(np.abs(reference.run(faces) - candidate.run(faces)).max())


def ensure_fp32_model(
    reference: TorchFaceNetwork, weights_sha256: str, folder: Path, threads: int | None = None
) -> OnnxFaceNetwork:
    """The exported fp32 graph of ``reference``: exported now, checked against the torch
    network, and its hash written beside it so that later starts need no torch."""
    path = fp32_model_path(folder, weights_sha256)
    export_fp32(reference, path)
    network = OnnxFaceNetwork(path, backend="onnx", threads=threads)
    found = deviation(reference, network)
    if found > MAX_EXPORT_DEVIATION:
        path.unlink(missing_ok=True)
        raise OnnxModelError(
            f"the exported graph differs from the torch network by {found:.1e} "
            f"(allowed {MAX_EXPORT_DEVIATION:.0e}): not kept"
        )
    write_provenance(
        path,
        {
            "sha256": sha256_of(path),
            "made_from": {"weights_sha256": weights_sha256},
            "exporter": f"torch.onnx (TorchScript) opset {OPSET}",
            "max_deviation_from_torch": found,
        },
    )
    return network


def verified_sha256(path: Path) -> str | None:
    """The model's hash when the file is there and is the one its provenance describes."""
    sidecar = path.with_suffix(".json")
    if not path.is_file() or not sidecar.is_file():
        return None
    try:
        recorded = json.loads(sidecar.read_text()).get("sha256")
    except (OSError, ValueError, AttributeError):
        return None
    return recorded if isinstance(recorded, str) and recorded == sha256_of(path) else None


def export_fp32(reference: TorchFaceNetwork, path: Path) -> Path:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    logger.info("exporting FaceNet to ONNX at %s (once; about 20 s)", path)
    module = reference.module.to("cpu")
    with _temporary_beside(path) as partial:
        torch.onnx.export(
            module,
            (torch.from_numpy(check_batch()),),
            str(partial),
            dynamo=False,
            opset_version=OPSET,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "faces"}, OUTPUT_NAME: {0: "faces"}},
        )
        os.replace(partial, path)
    reference.module.to(reference.device)
    return path


def quantize_int8(fp32_path: Path, calibration: Sequence[np.ndarray], path: Path) -> Path:
    """Static int8 quantisation of the fp32 graph, its activation ranges taken from
    ``calibration`` (standardised (n, 3, 160, 160) batches of real aligned faces)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self._batches, None)
            return None if batch is None else {INPUT_NAME: batch}

    path.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_beside(path) as prepared, _temporary_beside(path) as partial:
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(partial),
            Batches(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            # Without VNNI (AVX2 CPUs) the u8 x s8 products saturate: the vectors' cosine to the
            # fp32 network fell to 0.46 on some LFW faces. 7-bit weights avoid it (min 0.997).
            reduce_range=True,
            calibrate_method=CalibrationMethod.MinMax,
        )
        os.replace(partial, path)
    return path


def write_provenance(path: Path, facts: dict) -> Path:
    """What a model was made from and its hash, beside it (``<model>.json``)."""
    sidecar = path.with_suffix(".json")
    sidecar.write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n")
    return sidecar


@contextmanager
def _temporary_beside(destination: Path) -> Iterator[Path]:
    """A path in the destination's folder, removed on exit unless it was renamed away."""
    handle, name = tempfile.mkstemp(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"
    )
    os.close(handle)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def batched(faces: Iterator[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """Stacks single standardised faces (3, 160, 160) into batches of ``size``."""
    batch: list[np.ndarray] = []
    for face in faces:
        batch.append(face)
        if len(batch) == size:
            yield np.stack(batch)
            batch = []
    if batch:
        yield np.stack(batch)
