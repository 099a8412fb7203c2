from __future__ import annotations

from typing import Annotated

from pydantic import Field

from services.common.contracts import Identifier
from services.common.settings import CommonSettings


class CaptureSettings(CommonSettings):
    # A camera index ("0"), a video file, an rtsp:// or http(s):// stream URL, or a folder.
    capture_source: Annotated[str, Field(min_length=1)] = "0"
    camera_id: Identifier = "entrance"
    capture_fps: Annotated[float, Field(gt=0, le=60)] = 5.0
    capture_jpeg_quality: Annotated[int, Field(ge=30, le=100)] = 85
    capture_max_side: Annotated[int, Field(ge=160, le=4096)] = 1280
    capture_loop: bool = False
    # Streams and cameras that drop are reopened; files that end simply end.
    capture_reconnect_max_delay: Annotated[float, Field(gt=0)] = 30.0
