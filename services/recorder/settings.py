from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator

from services.common.settings import CommonSettings, known_time_zone


class RecorderSettings(CommonSettings):
    site_timezone: str = "UTC"
    day_start_hour: Annotated[int, Field(ge=0, le=23)] = 0
    departure_min_gap: Annotated[float, Field(ge=0, description="seconds")] = 60.0
    sighting_retention_days: Annotated[int, Field(ge=1)] = 30

    _known_zone = field_validator("site_timezone")(known_time_zone)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.site_timezone)

    @property
    def departure_gap(self) -> timedelta:
        return timedelta(seconds=self.departure_min_gap)
