from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from services.common.settings import CommonSettings
from services.detector.face_quality import (
    DEFAULT_MAX_TURN,
    DEFAULT_MIN_FACE_SIZE,
    DEFAULT_MIN_NOSE_HEIGHT,
    DEFAULT_MIN_SHARPNESS,
    QualityGate,
)
from services.detector.track_selection import SelectionPolicy
from services.detector.tracking import IouTracker


class DetectorSettings(CommonSettings):
    detector_model: Literal["short", "full"] = "short"
    detector_min_confidence: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    detector_min_face_size: Annotated[int, Field(ge=8, description="pixels")] = 24
    snapshot_max_side: Annotated[int, Field(ge=64, le=4096)] = 640
    # Faces below these are not judged (the detector does not send them, the recognizer does
    # not match them), and enrolment refuses them (face_quality.py).
    quality_min_face_size: Annotated[float, Field(ge=0.0)] = DEFAULT_MIN_FACE_SIZE
    quality_min_sharpness: Annotated[float, Field(ge=0.0)] = DEFAULT_MIN_SHARPNESS
    quality_max_turn: Annotated[float, Field(gt=0.0)] = DEFAULT_MAX_TURN
    # A track ends after this long with no face of it (capture time), or when its camera sends
    # no frame for this long (the detector's clock).
    track_gap_s: Annotated[
        float, Field(gt=0.0, le=60.0, description="seconds without a face of a track that end it")
    ] = 1.5
    # A track older than this ends, and a new one follows the same face: someone who stays in
    # view is decided on again (and their departure time moves on).
    track_max_age_s: Annotated[
        float, Field(gt=0.0, description="seconds after which a track ends and a new one starts")
    ] = 60.0
    # Faces of one track sent for embedding, at most (the first, then only clearly better ones).
    track_max_embeddings: Annotated[
        int, Field(ge=1, le=16, description="faces of one track sent for embedding, at most")
    ] = 3
    # Faces of one track whose fused embedding must be accepted before it counts as someone
    # (the recognizer waits for them; the detector sends them as they come, a moment apart);
    # a track that ends with fewer makes no sighting. 1: the first face decides.
    track_agreement_frames: Annotated[int, Field(ge=1, le=16)] = 2

    @model_validator(mode="after")
    def _agreement_fits_the_faces_sent(self) -> Self:
        if self.track_agreement_frames > self.track_max_embeddings:
            raise ValueError(
                f"TRACK_AGREEMENT_FRAMES ({self.track_agreement_frames}) cannot exceed "
                f"TRACK_MAX_EMBEDDINGS ({self.track_max_embeddings}): no track would ever agree"
            )
        return self

    @property
    def quality_gate(self) -> QualityGate:
        return QualityGate(
            min_face_size=self.quality_min_face_size,
            min_sharpness=self.quality_min_sharpness,
            max_turn=self.quality_max_turn,
            min_nose_height=DEFAULT_MIN_NOSE_HEIGHT,
        )

    @property
    def selection_policy(self) -> SelectionPolicy:
        return SelectionPolicy(
            max_faces=self.track_max_embeddings,
            first_faces=self.track_agreement_frames,
        )

    def tracker(self) -> IouTracker:
        return IouTracker(max_gap_s=self.track_gap_s, max_age_s=self.track_max_age_s)
