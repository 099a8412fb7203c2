"""Settings of the web dashboard and REST API."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator

from services.common.settings import SiteDaySettings
from services.common.workday import Schedule, Site, parse_weekdays

# Values people paste from tutorials; a session key anyone can guess lets anyone forge a login.
KNOWN_WEAK_SECRETS = frozenset(
    {
        "change-me",
        "changeme",
        "change_me",
        "secret",
        "dev",
        "development",
        "default",
        "password",
        "test",
        "flask",
        "your-secret-key",
        "secret-key",
        "please-change-me",
    }
)
MIN_SECRET_LENGTH = 16


class WebSettings(SiteDaySettings):
    web_host: str = "0.0.0.0"
    web_port: Annotated[int, Field(ge=1, le=65535)] = 8080
    # No default on purpose: the service refuses to start without a real key.
    web_secret_key: SecretStr
    web_admin_password: SecretStr | None = None
    web_viewer_password: SecretStr | None = None
    web_max_upload_bytes: Annotated[int, Field(ge=1024)] = 10 * 1024 * 1024
    # Kiosk frames: the longest side accepted (the kiosk page sends 960, capture 1280 by
    # default), and how many are decoded at once; a frame past either is refused, not queued.
    web_max_frame_side: Annotated[int, Field(ge=160, le=4096)] = 1920
    web_max_concurrent_frames: Annotated[int, Field(ge=1, le=64)] = 4
    # Live views (MJPEG) and event streams (SSE) open at once: each holds a request thread, so
    # this stays well below the server's threads to leave room for the pages.
    web_max_streams: Annotated[int, Field(ge=1, le=1000)] = 16
    web_session_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 12.0
    # Set when the dashboard is served over HTTPS (behind a TLS proxy) so cookies never leak.
    web_cookie_secure: bool = False
    # Request threads of the web server. Every open live view (MJPEG) and event stream (SSE)
    # holds one for as long as it is open, so there must be room for them and for the pages.
    web_threads: Annotated[int, Field(ge=4, le=512)] = 32
    # The address of a reverse proxy in front of the web (or "*" for any peer). Only then are
    # its X-Forwarded-For/-Proto/-Host/-Port headers believed; otherwise they are removed, so a
    # client cannot pose as another address (the login throttle and the audit log use it).
    web_trusted_proxy: str | None = None
    enrolment_timeout: Annotated[float, Field(gt=0, le=600)] = 30.0
    # Someone is "In" while seen within this many seconds, "Out" afterwards.
    presence_timeout: Annotated[float, Field(gt=0, le=24 * 3600, description="seconds")] = 600.0
    # The site's schedule (employees may have their own, set on the Schedule page): working
    # weekdays, expected start and end (local wall-clock times) and minutes of grace before an
    # arrival counts as late.
    work_days: str = "mon-fri"
    work_start: time = time(9, 0)
    work_end: time = time(17, 0)
    late_grace_minutes: Annotated[int, Field(ge=0, le=24 * 60)] = 5
    # Unknown sightings on one camera this close together without a track id are one visitor.
    unknown_group_gap: Annotated[float, Field(gt=0, le=3600, description="seconds")] = 60.0
    # The recognizers' model id, so deletions refresh its gallery even when no embedding is left.
    gallery_model_id: str | None = None

    @field_validator("web_secret_key", mode="before")
    @classmethod
    def _strong_secret(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        stripped = value.strip()
        if not stripped:
            raise ValueError(
                "WEB_SECRET_KEY must be set, e.g. to the output of "
                "python -c 'import secrets; print(secrets.token_hex(32))'"
            )
        if stripped.lower() in KNOWN_WEAK_SECRETS:
            raise ValueError("WEB_SECRET_KEY is a well-known placeholder; generate a random one")
        if len(stripped) < MIN_SECRET_LENGTH:
            raise ValueError(f"WEB_SECRET_KEY must have at least {MIN_SECRET_LENGTH} characters")
        return stripped

    @field_validator("work_days")
    @classmethod
    def _known_weekdays(cls, value: str) -> str:
        if not parse_weekdays(value):
            raise ValueError("WORK_DAYS names no weekday (e.g. mon-fri or mon,tue,thu)")
        return value

    @field_validator("work_start", "work_end")
    @classmethod
    def _whole_minutes(cls, value: time) -> time:
        return value.replace(second=0, microsecond=0)

    @field_validator(
        "web_admin_password",
        "web_viewer_password",
        "gallery_model_id",
        "web_trusted_proxy",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return value if value else None

    @model_validator(mode="after")
    def _room_for_pages_beside_streams(self) -> WebSettings:
        # Streams hold a thread each; with no thread left over, every page would hang.
        if self.web_max_streams >= self.web_threads:
            raise ValueError(
                f"WEB_MAX_STREAMS ({self.web_max_streams}) must be below WEB_THREADS "
                f"({self.web_threads}), or live views leave no thread for the pages"
            )
        return self

    @property
    def site(self) -> Site:
        return Site(self.zone, self.day_start_hour, timedelta(seconds=self.presence_timeout))

    @property
    def site_schedule(self) -> Schedule:
        return Schedule(
            parse_weekdays(self.work_days),
            self.work_start,
            self.work_end,
            timedelta(minutes=self.late_grace_minutes),
        )
