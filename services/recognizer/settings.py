from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from services.detector.settings import DetectorSettings
from services.recognizer.matching import DEFAULT_MARGIN, DEFAULT_THRESHOLD
from services.recognizer.track_agreement import MAX_VOTES_PER_TRACK


class RecognizerSettings(DetectorSettings):
    """The recognizer also enrols photos, with the detector's own settings and code."""

    match_threshold: Annotated[float, Field(ge=-1.0, le=1.0)] = DEFAULT_THRESHOLD
    match_margin: Annotated[float, Field(ge=0.0, le=2.0)] = DEFAULT_MARGIN
    recognizer_batch_size: Annotated[int, Field(ge=1, le=256)] = 16
    recognizer_device: str = "cpu"
    recognizer_threads: Annotated[int, Field(ge=1)] | None = None
    # A local state_dict; when unset, the file in ATTENDANCE_MODELS_DIR, else the named
    # facenet-pytorch download.
    facenet_weights: Path | None = None
    facenet_pretrained: Literal["casia-webface", "vggface2"] | None = None
    # One sighting per person (or unknown track) per camera in this many seconds.
    sighting_cooldown: Annotated[float, Field(ge=0.0)] = 2.0
    # Frames of one track that must agree before a sighting counts (1: every frame counts).
    track_agreement_frames: Annotated[int, Field(ge=1, le=MAX_VOTES_PER_TRACK)] = 2
    enrolment_max_photo_bytes: Annotated[int, Field(ge=1024)] = 10 * 1024 * 1024
