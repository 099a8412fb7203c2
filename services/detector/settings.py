from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

from services.detector.track_selection import SelectionPolicy
from services.detector.tracking import IouTracker
from services.faces.liveness_settings import LivenessSettings
from services.faces.settings import FaceSettings


class DetectorSettings(FaceSettings, LivenessSettings):
    """LIVENESS (not ``off``): the faces the quality gate lets through are scored for liveness
    and each track's tally, counted at LIVENESS_THRESHOLD, goes with its faces and its end."""

    snapshot_max_side: Annotated[int, Field(ge=64, le=4096)] = 640
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

    @model_validator(mode="after")
    def _agreement_fits_the_faces_sent(self) -> Self:
        if self.track_agreement_frames > self.track_max_embeddings:
            raise ValueError(
                f"TRACK_AGREEMENT_FRAMES ({self.track_agreement_frames}) cannot exceed "
                f"TRACK_MAX_EMBEDDINGS ({self.track_max_embeddings}): no track would ever agree"
            )
        return self

    @property
    def selection_policy(self) -> SelectionPolicy:
        return SelectionPolicy(
            max_faces=self.track_max_embeddings,
            first_faces=self.track_agreement_frames,
        )

    def tracker(self) -> IouTracker:
        return IouTracker(max_gap_s=self.track_gap_s, max_age_s=self.track_max_age_s)
