"""Settings of the web dashboard and REST API."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator

from services.common.settings import CommonSettings, known_time_zone

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


class WebSettings(CommonSettings):
    web_host: str = "0.0.0.0"
    web_port: Annotated[int, Field(ge=1, le=65535)] = 8080
    # No default on purpose: the service refuses to start without a real key.
    web_secret_key: str
    web_admin_password: str | None = None
    web_viewer_password: str | None = None
    web_max_upload_bytes: Annotated[int, Field(ge=1024)] = 10 * 1024 * 1024
    web_session_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 12.0
    # Set when the dashboard is served over HTTPS (behind a TLS proxy) so cookies never leak.
    web_cookie_secure: bool = False
    site_timezone: str = "UTC"
    day_start_hour: Annotated[int, Field(ge=0, le=23)] = 0
    enrolment_timeout: Annotated[float, Field(gt=0, le=600)] = 30.0
    # The recognizers' model id, so deletions refresh its gallery even when no embedding is left.
    gallery_model_id: str | None = None

    @field_validator("web_secret_key")
    @classmethod
    def _strong_secret(cls, value: str) -> str:
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

    _known_zone = field_validator("site_timezone")(known_time_zone)

    @field_validator("web_admin_password", "web_viewer_password", "gallery_model_id")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value if value else None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.site_timezone)
