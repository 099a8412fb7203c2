from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from services.common.settings import CommonSettings


class RecorderSettings(CommonSettings):
    site_timezone: str = "UTC"
    day_start_hour: Annotated[int, Field(ge=0, le=23)] = 0
    departure_min_gap: Annotated[float, Field(ge=0, description="seconds")] = 60.0
    sighting_retention_days: Annotated[int, Field(ge=1)] = 30

    @field_validator("site_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r} (e.g. Europe/Paris)") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.site_timezone)

    @property
    def departure_gap(self) -> timedelta:
        return timedelta(seconds=self.departure_min_gap)
