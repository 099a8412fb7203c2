"""Face embeddings: FaceNet Inception-ResNet-v1 turning aligned 160x160 crops into 512-d vectors.

The vectors are L2-normalised, so the cosine similarity of two faces is their dot product.
Every vector is labelled with :attr:`FaceEmbedder.model_id`, which names the network, the
weights (by hash), the alignment and the preprocessing: vectors with different ids live in
different spaces and must never be compared.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from services.common.domain.enrolment import EMBEDDING_SIZE
from services.common.model_files import FACENET_CASIA, resolve_model_file
from services.faces.alignment import ALIGNMENT_VERSION, DEFAULT_CROP_SIZE
from services.recognizer.embedding_centres import centre_for
from services.recognizer.face_networks import EmbeddingBackend
from services.recognizer.network_loader import LoadedNetwork, load_network

logger = logging.getLogger(__name__)

# Averaging a face's embedding with that of its mirror image cancels part of the pose and
# lighting asymmetry the network is sensitive to. On the evaluation photos it raised TAR at
# FAR 0.1% by ~1 point and lowered the best stranger's similarity, for 1.5-2x the compute
# (batch 16, 2 threads: 37 ms per face instead of 18).
DEFAULT_MIRROR = True
PREPROCESSING_VERSION = "std128"
# Subtracting the mean face embedding (fitted on LFW View 1 DevTrain, see
# services/recognizer/embedding_centres.py) and normalising again spreads the vectors over the
# sphere: on View 1 it raised DevTest accuracy from 98.8% to 99.2% and TAR at FAR 0.1% from
# 96.2% to 97.8% (DevTrain: 99.0% to 99.3%, 96.6% to 97.4%).
CENTRED_SUFFIX = "-centred"
DEFAULT_BATCH_SIZE = 16


class FaceEmbedder:
    """FaceNet on CPU (or CUDA with torch). ``embed`` may be called from several threads (the
    network is only read), but they share one thread pool, so it does not run faster that way.

    ``backend`` chooses what runs the network (:mod:`services.recognizer.face_networks`): torch,
    the reference, or ONNX Runtime (``onnx``: the exported graph, same vectors; ``onnx-int8``:
    quantised, vectors of its own ``model_id``). The preprocessing around it is this class's.
    """

    def __init__(
        self,
        weights_path: Path | None = None,
        pretrained: str | None = None,
        device: str = "cpu",
        threads: int | None = None,
        *,
        mirror: bool = DEFAULT_MIRROR,
        batch_size: int = DEFAULT_BATCH_SIZE,
        centred: bool = True,
        backend: EmbeddingBackend = "torch",
        onnx_dir: Path | None = None,
    ) -> None:
        loaded = load_network(
            backend,
            weights_path=weights_path,
            pretrained=pretrained,
            device=device,
            threads=threads,
            onnx_dir=onnx_dir,
        )
        self._use(loaded, mirror=mirror, batch_size=batch_size, centred=centred)

    @classmethod
    def on_network(
        cls,
        loaded: LoadedNetwork,
        *,
        mirror: bool = DEFAULT_MIRROR,
        batch_size: int = DEFAULT_BATCH_SIZE,
        centred: bool = True,
    ) -> FaceEmbedder:
        """An embedder around a network loaded elsewhere (or a stand-in, in tests)."""
        embedder = cls.__new__(cls)
        embedder._use(loaded, mirror=mirror, batch_size=batch_size, centred=centred)
        return embedder

    def _use(self, loaded: LoadedNetwork, *, mirror: bool, batch_size: int, centred: bool) -> None:
        self.network = loaded.network
        self.backend = loaded.network.backend
        self.mirror = mirror
        self.batch_size = max(1, batch_size)
        recipe = f"{ALIGNMENT_VERSION}/{PREPROCESSING_VERSION}{'-mirror' if mirror else ''}"
        uncentred_id = f"facenet-inception-resnet-v1/{loaded.weights_tag}/{recipe}"
        # A centre only exists for the recipe it was fitted on; other weights run without. A
        # quantised network approximates the one it was made from and uses that one's centre.
        centre_tag = loaded.reference_tag or loaded.weights_tag
        self._centre = (
            centre_for(f"facenet-inception-resnet-v1/{centre_tag}/{recipe}") if centred else None
        )
        self.model_id = uncentred_id + (CENTRED_SUFFIX if self._centre is not None else "")
        logger.info("loaded face embedder %s (%s)", self.model_id, self.backend)

    @classmethod
    def from_models_dir(
        cls,
        models_dir: Path | None = None,
        *,
        device: str = "cpu",
        threads: int | None = None,
        mirror: bool = DEFAULT_MIRROR,
        centred: bool = True,
        backend: EmbeddingBackend = "torch",
        onnx_dir: Path | None = None,
    ) -> FaceEmbedder:
        """The CASIA-WebFace weights from the project's model folder."""
        return cls(
            resolve_model_file(models_dir, FACENET_CASIA),
            device=device,
            threads=threads,
            mirror=mirror,
            centred=centred,
            backend=backend,
            onnx_dir=onnx_dir,
        )

    def embed(self, crops: Sequence[np.ndarray], *, mirror: bool | None = None) -> np.ndarray:
        """Embeddings of aligned RGB ``uint8`` crops, shape (n, 512), float32, unit length.

        ``mirror`` (default: the embedder's own setting, which is part of its ``model_id``)
        averages each face with its mirror image; camera faces skip it where a track's fused
        faces make it redundant (RECOGNIZER_VIDEO_MIRROR).
        """
        mirror = self.mirror if mirror is None else mirror
        if len(crops) == 0:
            return np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)
        for crop in crops:
            if crop.shape != (DEFAULT_CROP_SIZE, DEFAULT_CROP_SIZE, 3) or crop.dtype != np.uint8:
                raise ValueError(
                    f"expected {DEFAULT_CROP_SIZE}x{DEFAULT_CROP_SIZE}x3 uint8 crops, "
                    f"got {crop.dtype} {crop.shape}"
                )
        outputs = []
        for start in range(0, len(crops), self.batch_size):
            batch = standardise(np.stack(crops[start : start + self.batch_size]))
            if mirror:
                # One pass over [crops, mirrored crops]: better batching than two.
                both = self.network.run(np.concatenate([batch, batch[..., ::-1]]))
                vectors = both[: len(batch)] + both[len(batch) :]
            else:
                vectors = self.network.run(batch)
            outputs.append(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
        embeddings = np.concatenate(outputs)
        if self._centre is not None:
            embeddings = embeddings - self._centre
            embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
        return embeddings.astype(np.float32, copy=False)


def standardise(crops: np.ndarray) -> np.ndarray:
    """(n, 160, 160, 3) uint8 RGB to the network's (n, 3, 160, 160) float32 input, as FaceNet
    was trained: (pixel - 127.5) / 128."""
    faces = crops.transpose(0, 3, 1, 2).astype(np.float32)
    return np.ascontiguousarray((faces - 127.5) / 128.0)
