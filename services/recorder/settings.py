from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Field

from services.common.settings import SiteDaySettings


class RecorderSettings(SiteDaySettings):
    sighting_retention_days: Annotated[int, Field(ge=1)] = 30
    # Sightings stamped further from the recorder's clock than this are dead-lettered: the
    # camera's or the capture host's clock is wrong, and no day's record should take them.
    sighting_max_ahead_hours: Annotated[float, Field(gt=0)] = 24.0
    sighting_max_age_days: Annotated[int, Field(ge=1)] = 730

    @property
    def max_ahead(self) -> timedelta:
        return timedelta(hours=self.sighting_max_ahead_hours)

    @property
    def max_age(self) -> timedelta:
        return timedelta(days=self.sighting_max_age_days)
