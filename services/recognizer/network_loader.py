"""Which FaceNet runs the embedder (``EMBEDDING_BACKEND``), and the tag its vectors carry.

The tag is the weights part of the embedder's ``model_id``: torch and the fp32 ONNX graph give
the same vectors (checked at export) and share it; the int8 graph's vectors differ a little,
so its tag names the quantised file too, and a recognizer never compares them with fp32 ones.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from services.common.model_files import sha256_of
from services.recognizer.face_networks import (
    EmbeddingBackend,
    FaceNetwork,
    OnnxFaceNetwork,
    TorchFaceNetwork,
)
from services.recognizer.onnx_models import (
    DEFAULT_ONNX_DIR,
    OnnxModelError,
    ensure_fp32_model,
    fp32_model_path,
    int8_model_path,
    verified_sha256,
)

logger = logging.getLogger(__name__)

QUANTIZE_HINT = (
    "make it with `attendance models quantize --lfw DIR --pairs pairsDevTrain.txt` "
    "(see the README, Performance), or set EMBEDDING_BACKEND=onnx"
)


@dataclass(frozen=True)
class LoadedNetwork:
    network: FaceNetwork
    weights_tag: str
    # The recipe whose fitted centre and open-set calibration the vectors use; None: their own.
    reference_tag: str | None = None


def weights_tag(path: Path) -> str:
    name = "casia-webface" if "casia" in path.name.lower() else path.stem
    return f"{name}/sha256:{sha256_of(path)[:8]}"


def load_network(
    backend: EmbeddingBackend,
    *,
    weights_path: Path | None = None,
    pretrained: str | None = None,
    device: str = "cpu",
    threads: int | None = None,
    onnx_dir: Path | None = None,
) -> LoadedNetwork:
    """The network for ``backend``, from a local state_dict (``weights_path``) or, torch only,
    facenet-pytorch's download of ``pretrained``."""
    if backend == "torch":
        _set_torch_threads(threads)
        if weights_path is not None:
            network = TorchFaceNetwork.from_weights(Path(weights_path), device)
            return LoadedNetwork(network, weights_tag(Path(weights_path)))
        if pretrained is not None:
            network = TorchFaceNetwork.from_pretrained(pretrained, device)
            return LoadedNetwork(network, f"{pretrained}/facenet-pytorch-release")
        raise ValueError("give weights_path (a local state_dict) or pretrained")
    if weights_path is None:
        raise ValueError(f"EMBEDDING_BACKEND={backend} needs a local weights file")
    if device != "cpu":
        raise ValueError(f"EMBEDDING_BACKEND={backend} runs on the CPU; use torch for {device}")
    weights_path = Path(weights_path)
    folder = Path(onnx_dir) if onnx_dir is not None else DEFAULT_ONNX_DIR
    weights_sha = sha256_of(weights_path)
    tag = weights_tag(weights_path)
    if backend == "onnx":
        return LoadedNetwork(_fp32(weights_path, weights_sha, folder, threads), tag)
    path = int8_model_path(folder, weights_sha)
    int8_sha = verified_sha256(path)
    if int8_sha is None:
        raise OnnxModelError(f"no intact int8 FaceNet at {path}: {QUANTIZE_HINT}")
    quantised = OnnxFaceNetwork(path, backend="onnx-int8", threads=threads)
    return LoadedNetwork(quantised, f"{tag}/onnx-int8:{int8_sha[:8]}", reference_tag=tag)


def _fp32(weights_path: Path, weights_sha: str, folder: Path, threads: int | None) -> FaceNetwork:
    path = fp32_model_path(folder, weights_sha)
    if verified_sha256(path) is not None:
        return OnnxFaceNetwork(path, backend="onnx", threads=threads)
    # The export needs the torch network once; afterwards the hash beside the file stands for
    # the check, and the recognizer loads no torch at all.
    _set_torch_threads(threads)
    reference = TorchFaceNetwork.from_weights(weights_path)
    return ensure_fp32_model(reference, weights_sha, folder, threads)


def _set_torch_threads(threads: int | None) -> None:
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
