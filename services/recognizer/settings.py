from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from services.common.domain.open_set import DEFAULT_TARGET_FPIR
from services.faces.liveness_settings import LivenessSettings
from services.faces.settings import FaceSettings
from services.recognizer.face_networks import EmbeddingBackend
from services.recognizer.matching import DEFAULT_MARGIN, DEFAULT_THRESHOLD
from services.recognizer.onnx_models import DEFAULT_ONNX_DIR
from services.recognizer.track_fusion import Fusion


class RecognizerSettings(FaceSettings, LivenessSettings):
    """The recognizer also enrols photos, with the same face settings and code as the
    detector; the quality gate (QUALITY_*) and TRACK_AGREEMENT_FRAMES are shared with it.
    LIVENESS decides what becomes of a track judged an attack (LIVENESS_MIN_FACES and
    LIVENESS_MIN_LIVE_SHARE judge it; the detector counts its faces at LIVENESS_THRESHOLD),
    and unless ``off`` an enrolment preview says when a photo looks like a screen or a print."""

    # MATCH_THRESHOLD and MATCH_MARGIN are overrides: set (in the environment or as an
    # argument), they replace the gallery-size rule of services/common/domain/open_set.py; unset,
    # the threshold follows the gallery so that at most MATCH_TARGET_FPIR of strangers pass.
    # The defaults below are what the evaluation reports use when nothing is set.
    match_threshold: Annotated[float, Field(ge=-1.0, le=1.0)] = DEFAULT_THRESHOLD
    match_margin: Annotated[float, Field(ge=0.0, le=2.0)] = DEFAULT_MARGIN
    match_target_fpir: Annotated[float, Field(gt=0.0, lt=1.0)] = DEFAULT_TARGET_FPIR
    recognizer_batch_size: Annotated[int, Field(ge=1, le=256)] = 16
    recognizer_device: str = "cpu"
    # One thread: two torch threads collapse when another process takes a core (the bench: 10x
    # slower on a busy 2-core machine); scale with more recognizer processes instead.
    recognizer_threads: Annotated[int, Field(ge=1)] | None = 1
    # A local state_dict; when unset, the file in ATTENDANCE_MODELS_DIR, else the named
    # facenet-pytorch download.
    facenet_weights: Path | None = None
    facenet_pretrained: Literal["casia-webface", "vggface2"] | None = None
    # What runs FaceNet: ONNX Runtime on the graph exported from the torch network (the same
    # vectors, about twice torch's faces per CPU second here), torch itself (the reference), or
    # the int8 quantisation (`attendance models quantize`; faster still, vectors of their own
    # recipe, a little less accurate). README, "Performance".
    embedding_backend: Annotated[
        EmbeddingBackend, Field(description="what runs FaceNet: onnx, torch or onnx-int8")
    ] = "onnx"
    # Where the ONNX graphs are kept (exported on first start, then reused).
    embedding_onnx_dir: Path = DEFAULT_ONNX_DIR
    # Camera faces with the mirror image too (as enrolment photos always are): twice the
    # network's work for a small gain once a track's faces are fused (README, "Performance").
    recognizer_video_mirror: Annotated[
        bool, Field(description="embed camera faces with their mirror image too")
    ] = False
    # One sighting per person (or unknown track) per camera in this many seconds.
    sighting_cooldown: Annotated[float, Field(ge=0.0)] = 2.0
    # How a track's embeddings become one verdict (services/recognizer/track_fusion.py).
    track_fusion: Annotated[
        Fusion, Field(description="how a track's faces make one verdict: mean or best")
    ] = "mean"
    enrolment_max_photo_bytes: Annotated[int, Field(ge=1024)] = 10 * 1024 * 1024

    @model_validator(mode="after")
    def _onnx_runs_on_the_cpu_from_a_weights_file(self) -> RecognizerSettings:
        if self.embedding_backend != "torch":
            if self.recognizer_device != "cpu":
                raise ValueError(
                    f"RECOGNIZER_DEVICE={self.recognizer_device} needs EMBEDDING_BACKEND=torch "
                    f"(EMBEDDING_BACKEND={self.embedding_backend} runs on the CPU)"
                )
            if self.facenet_pretrained is not None and self.facenet_weights is None:
                raise ValueError(
                    "FACENET_PRETRAINED needs EMBEDDING_BACKEND=torch (the ONNX back-ends are "
                    "made from a local weights file: set FACENET_WEIGHTS instead)"
                )
        return self

    @property
    def threshold_override(self) -> float | None:
        """MATCH_THRESHOLD when it was set, else None (the gallery-size rule decides)."""
        return self.match_threshold if "match_threshold" in self.model_fields_set else None

    @property
    def margin_override(self) -> float | None:
        return self.match_margin if "match_margin" in self.model_fields_set else None
