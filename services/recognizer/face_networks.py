"""The network inside :class:`~services.recognizer.embedding.FaceEmbedder`, behind one method.

FaceNet runs either in torch (facenet-pytorch's ``InceptionResnetV1``: the reference, and the
only back-end that loads the weights) or in ONNX Runtime, from a graph exported from that same
torch network (:mod:`services.recognizer.onnx_models`). Both take standardised NCHW float32
batches and return unit-length 512-d vectors, so the embedder's preprocessing, mirror
averaging and centring are one code path whatever runs the network.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

EmbeddingBackend = Literal["torch", "onnx", "onnx-int8"]
EMBEDDING_BACKENDS: tuple[EmbeddingBackend, ...] = ("torch", "onnx", "onnx-int8")
PRETRAINED_NAMES = ("casia-webface", "vggface2")


class FaceNetwork(Protocol):
    """Standardised faces (n, 3, 160, 160) float32 in, unit vectors (n, 512) float32 out."""

    backend: EmbeddingBackend

    def run(self, faces: np.ndarray) -> np.ndarray: ...


class TorchFaceNetwork:
    """facenet-pytorch's Inception-ResNet-v1 on a torch device."""

    backend: EmbeddingBackend = "torch"

    def __init__(self, module: torch.nn.Module, device: str = "cpu") -> None:
        import torch

        self.device = torch.device(device)
        self.module = module.eval().to(self.device)

    @classmethod
    def from_weights(cls, weights_path: Path, device: str = "cpu") -> TorchFaceNetwork:
        """A local state_dict, loaded strictly."""
        import torch
        from facenet_pytorch import InceptionResnetV1

        module = InceptionResnetV1(pretrained=None, classify=False)
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
        # facenet-pytorch's own release files carry a classification layer we do not use.
        state = {key: value for key, value in state.items() if not key.startswith("logits.")}
        module.load_state_dict(state, strict=True)
        return cls(module, device)

    @classmethod
    def from_pretrained(cls, name: str, device: str = "cpu") -> TorchFaceNetwork:
        """facenet-pytorch's own download of the named weights."""
        from facenet_pytorch import InceptionResnetV1

        if name not in PRETRAINED_NAMES:
            raise ValueError(f"pretrained must be one of {PRETRAINED_NAMES}")
        return cls(InceptionResnetV1(pretrained=name, classify=False), device)

    def run(self, faces: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            vectors = self.module(torch.from_numpy(faces).to(self.device))
        return vectors.cpu().numpy().astype(np.float32, copy=False)


class OnnxFaceNetwork:
    """An exported FaceNet graph in ONNX Runtime on the CPU.

    ``threads`` is ONNX Runtime's intra-op pool: like torch's, one thread per process degrades
    most gracefully on a shared machine (see RECOGNIZER_THREADS)."""

    def __init__(
        self, model_path: Path, *, backend: EmbeddingBackend = "onnx", threads: int | None = None
    ) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle pool threads would otherwise spin waiting for work, taking the CPU the detector
        # and the other services of a small machine need between two batches.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.backend = backend
        self.model_path = Path(model_path)
        self._session = onnxruntime.InferenceSession(
            str(self.model_path), options, providers=["CPUExecutionProvider"]
        )
        self._input = self._session.get_inputs()[0].name
        logger.info("ONNX Runtime session on %s (%s)", self.model_path.name, backend)

    def run(self, faces: np.ndarray) -> np.ndarray:
        (vectors,) = self._session.run(None, {self._input: np.ascontiguousarray(faces)})
        return np.asarray(vectors, dtype=np.float32)
