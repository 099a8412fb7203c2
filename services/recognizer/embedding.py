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
from services.common.model_files import FACENET_CASIA, resolve_model_file, sha256_of
from services.faces.alignment import ALIGNMENT_VERSION, DEFAULT_CROP_SIZE
from services.recognizer.embedding_centres import centre_for

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
PRETRAINED_NAMES = ("casia-webface", "vggface2")


class FaceEmbedder:
    """FaceNet on CPU (or CUDA). ``embed`` may be called from several threads (the network is
    only read), but they share torch's thread pool, so it does not run faster that way."""

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
    ) -> None:
        import torch
        from facenet_pytorch import InceptionResnetV1

        if threads is not None:
            torch.set_num_threads(threads)
        self.device = torch.device(device)
        self.mirror = mirror
        self.batch_size = max(1, batch_size)
        if weights_path is not None:
            weights_path = Path(weights_path)
            network = InceptionResnetV1(pretrained=None, classify=False)
            state = torch.load(weights_path, map_location="cpu", weights_only=True)
            # facenet-pytorch's own release files carry a classification layer we do not use.
            state = {key: value for key, value in state.items() if not key.startswith("logits.")}
            network.load_state_dict(state, strict=True)
            weights_tag = self._weights_tag(weights_path)
        elif pretrained is not None:
            if pretrained not in PRETRAINED_NAMES:
                raise ValueError(f"pretrained must be one of {PRETRAINED_NAMES}")
            network = InceptionResnetV1(pretrained=pretrained, classify=False)
            weights_tag = f"{pretrained}/facenet-pytorch-release"
        else:
            raise ValueError("give weights_path (a local state_dict) or pretrained")
        self._network = network.eval().to(self.device)
        uncentred_id = (
            f"facenet-inception-resnet-v1/{weights_tag}/{ALIGNMENT_VERSION}/"
            f"{PREPROCESSING_VERSION}{'-mirror' if mirror else ''}"
        )
        # A centre only exists for the recipe it was fitted on; other weights run without.
        self._centre = centre_for(uncentred_id) if centred else None
        self.model_id = uncentred_id + (CENTRED_SUFFIX if self._centre is not None else "")
        logger.info("loaded face embedder %s on %s", self.model_id, self.device)

    @classmethod
    def from_models_dir(
        cls,
        models_dir: Path | None = None,
        *,
        device: str = "cpu",
        threads: int | None = None,
        mirror: bool = DEFAULT_MIRROR,
        centred: bool = True,
    ) -> FaceEmbedder:
        """The CASIA-WebFace weights from the project's model folder."""
        return cls(
            resolve_model_file(models_dir, FACENET_CASIA),
            device=device,
            threads=threads,
            mirror=mirror,
            centred=centred,
        )

    @staticmethod
    def _weights_tag(path: Path) -> str:
        name = "casia-webface" if "casia" in path.name.lower() else path.stem
        return f"{name}/sha256:{sha256_of(path)[:8]}"

    def embed(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Embeddings of aligned RGB ``uint8`` crops, shape (n, 512), float32, unit length."""
        import torch

        if len(crops) == 0:
            return np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)
        for crop in crops:
            if crop.shape != (DEFAULT_CROP_SIZE, DEFAULT_CROP_SIZE, 3) or crop.dtype != np.uint8:
                raise ValueError(
                    f"expected {DEFAULT_CROP_SIZE}x{DEFAULT_CROP_SIZE}x3 uint8 crops, "
                    f"got {crop.dtype} {crop.shape}"
                )
        outputs = []
        with torch.inference_mode():
            for start in range(0, len(crops), self.batch_size):
                batch = np.stack(crops[start : start + self.batch_size])
                tensor = torch.from_numpy(batch).to(self.device).permute(0, 3, 1, 2).float()
                tensor = (tensor - 127.5) / 128.0
                if self.mirror:
                    # One forward pass over [crops, mirrored crops]: better batching than two.
                    both = self._network(torch.cat([tensor, tensor.flip(3)]))
                    vectors = both[: len(batch)] + both[len(batch) :]
                else:
                    vectors = self._network(tensor)
                vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
                outputs.append(vectors.cpu().numpy().astype(np.float32, copy=False))
        embeddings = np.concatenate(outputs)
        if self._centre is not None:
            embeddings = embeddings - self._centre
            embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
        return embeddings.astype(np.float32, copy=False)
