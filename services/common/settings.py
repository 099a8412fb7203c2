"""Typed settings read from the environment and validated at start-up.

Each service has one settings class built on :class:`CommonSettings`. A misspelt variable is a
silent misconfiguration, so any ``ATTENDANCE_*`` variable that no field of the service claims is
refused, as is every unknown key in a ``.env`` file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.redact import redact_url

RESERVED_PREFIX = "ATTENDANCE_"


class SettingsError(ValueError):
    """A setting is missing, malformed or unknown."""


def known_time_zone(value: str) -> str:
    """Validator for IANA zone names: a typo would silently move every day boundary."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r} (e.g. Europe/Paris)") from exc
    return value


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=None, extra="forbid", case_sensitive=False, validate_default=True
    )

    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    redis_url: str = "redis://127.0.0.1:6379/0"
    mongo_url: str = "mongodb://127.0.0.1:27017"
    mongo_db: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_-]+$")] = "attendance"
    attendance_bus_prefix: Annotated[str, Field(pattern=r"^[a-z0-9_.-]+$")] = "attendance"
    attendance_models_dir: Path | None = None
    attendance_max_attempts: Annotated[int, Field(ge=1, le=100)] = 5
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = False
    health_port: Annotated[int, Field(ge=0, le=65535)] = 0

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object):
        """Build and validate settings, refusing unknown ``ATTENDANCE_*`` variables."""
        environ = dict(os.environ if environ is None else environ)
        known = {name.upper() for name in cls.model_fields}
        unknown = sorted(
            key
            for key in environ
            if key.upper().startswith(RESERVED_PREFIX) and key.upper() not in known
        )
        if unknown:
            raise SettingsError(
                f"unknown setting(s) for {cls.__name__}: {', '.join(unknown)} "
                f"(known: {', '.join(sorted(k for k in known if k.startswith(RESERVED_PREFIX)))})"
            )
        values = {
            name: environ[key]
            for name in cls.model_fields
            for key in environ
            if key.upper() == name.upper()
        }
        values.update(overrides)
        try:
            return cls.model_validate(values)
        except ValueError as exc:
            # pydantic quotes the offending values, and a URL among them may carry a password.
            raise SettingsError(
                redact_url(f"invalid configuration for {cls.__name__}: {exc}")
            ) from exc
