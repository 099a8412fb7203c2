from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from services.common.settings import CommonSettings


class DetectorSettings(CommonSettings):
    detector_model: Literal["short", "full"] = "short"
    detector_min_confidence: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    detector_min_face_size: Annotated[int, Field(ge=8, description="pixels")] = 24
    snapshot_max_side: Annotated[int, Field(ge=64, le=4096)] = 640
