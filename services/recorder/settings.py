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
    # Sightings stamped further from the recorder's clock than this are dead-lettered: the
    # camera's or the capture host's clock is wrong, and no day's record should take them.
    sighting_max_ahead_hours: Annotated[float, Field(gt=0)] = 24.0
    sighting_max_age_days: Annotated[int, Field(ge=1)] = 730

    _known_zone = field_validator("site_timezone")(known_time_zone)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.site_timezone)

    @property
    def departure_gap(self) -> timedelta:
        return timedelta(seconds=self.departure_min_gap)

    @property
    def max_ahead(self) -> timedelta:
        return timedelta(hours=self.sighting_max_ahead_hours)

    @property
    def max_age(self) -> timedelta:
        return timedelta(days=self.sighting_max_age_days)
