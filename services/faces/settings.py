"""The settings of finding and judging faces, shared by the detector (camera frames) and the
recognizer (enrolment photos, and the gate before matching): one set, so both agree."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from services.common.settings import CommonSettings
from services.faces.quality import (
    DEFAULT_MAX_TURN,
    DEFAULT_MIN_FACE_SIZE,
    DEFAULT_MIN_NOSE_HEIGHT,
    DEFAULT_MIN_SHARPNESS,
    QualityGate,
)


class FaceSettings(CommonSettings):
    detector_model: Literal["short", "full"] = "short"
    detector_min_confidence: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    detector_min_face_size: Annotated[int, Field(ge=8, description="pixels")] = 24
    # Faces below these are not judged (the detector does not send them, the recognizer does
    # not match them), and enrolment refuses them (services/faces/quality.py).
    quality_min_face_size: Annotated[float, Field(ge=0.0)] = DEFAULT_MIN_FACE_SIZE
    quality_min_sharpness: Annotated[float, Field(ge=0.0)] = DEFAULT_MIN_SHARPNESS
    quality_max_turn: Annotated[float, Field(gt=0.0)] = DEFAULT_MAX_TURN
    # Faces of one track whose fused embedding must be accepted before it counts as someone:
    # the detector sends them as they come, a moment apart, and the recognizer waits for them;
    # a track that ends with fewer makes no sighting. 1: the first face decides.
    track_agreement_frames: Annotated[int, Field(ge=1, le=16)] = 2

    @property
    def quality_gate(self) -> QualityGate:
        return QualityGate(
            min_face_size=self.quality_min_face_size,
            min_sharpness=self.quality_min_sharpness,
            max_turn=self.quality_max_turn,
            min_nose_height=DEFAULT_MIN_NOSE_HEIGHT,
        )
