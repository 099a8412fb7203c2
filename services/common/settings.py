"""Typed settings read from the environment and validated at start-up.

Each service has one settings class built on :class:`CommonSettings`. A misspelt variable is a
silent misconfiguration, so any ``ATTENDANCE_*`` variable that no field of the service claims is
refused, as is every unknown key in a ``.env`` file.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Self, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from services.common.redact import redact_url

RESERVED_PREFIX = "ATTENDANCE_"
# Values of these fields are never repeated in an error message.
SECRET_WORDS = ("password", "secret", "token")
MAX_SHOWN_VALUE = 80
DEFAULT_SECRETS_DIR = Path("/run/secrets")


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
    # Secrets (SecretStr fields) not set in the environment are read from a file named after
    # the field here: where docker compose mounts its `secrets:`.
    attendance_secrets_dir: Path = DEFAULT_SECRETS_DIR

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only the values from_env gathers: it reads the mapping it is given (the environment by
        # default) and the secret files itself, so a test's from_env({}) sees none of the
        # machine's variables.
        return (init_settings,)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        given_as: Mapping[str, str] | None = None,
        **overrides: object,
    ) -> Self:
        """Build and validate settings, refusing unknown ``ATTENDANCE_*`` variables.

        ``overrides`` come from the command line; ``given_as`` names each one as the user typed
        it (``{"web_port": "--port"}``), so an error names ``--port`` rather than ``web_port``.
        Every other value is named by its environment variable. The error is one line.
        """
        environ = dict(os.environ if environ is None else environ)
        known = {name.upper() for name in cls.model_fields}
        unknown = sorted(
            key
            for key in environ
            if key.upper().startswith(RESERVED_PREFIX) and key.upper() not in known
        )
        if unknown:
            raise SettingsError("; ".join(_unknown_variable(key, known) for key in unknown))
        values: dict[str, object] = {
            name: environ[key]
            for name in cls.model_fields
            for key in environ
            if key.upper() == name.upper()
        }
        values.update(overrides)
        secrets_dir = Path(str(values.get("attendance_secrets_dir", DEFAULT_SECRETS_DIR)))
        for name in secret_fields(cls):
            if name not in values and (secrets_dir / name).is_file():
                values[name] = (secrets_dir / name).read_text().strip()
        names = {name: name.upper() for name in cls.model_fields}
        names.update({name: flag for name, flag in (given_as or {}).items() if name in overrides})
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            lines = [_describe(error, names) for error in exc.errors(include_url=False)]
            # pydantic quotes the offending values, and a URL among them may carry a password.
            raise SettingsError(redact_url("; ".join(dict.fromkeys(lines)))) from None


class SiteDaySettings(CommonSettings):
    """The site's day, as the recorder applies the rules and the web reads them back: both must
    agree on where one day ends and on the gap a departure needs, or a record moves days."""

    site_timezone: str = "UTC"
    day_start_hour: Annotated[int, Field(ge=0, le=23)] = 0
    departure_min_gap: Annotated[float, Field(ge=0, description="seconds")] = 60.0

    _known_zone = field_validator("site_timezone")(known_time_zone)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.site_timezone)

    @property
    def departure_gap(self) -> timedelta:
        return timedelta(seconds=self.departure_min_gap)


def secret_fields(cls: type[BaseSettings]) -> list[str]:
    """The fields of ``cls`` that hold secrets (typed SecretStr, possibly optional)."""
    return [
        name
        for name, info in cls.model_fields.items()
        if info.annotation is SecretStr or SecretStr in get_args(info.annotation)
    ]


def variable_name(field: str) -> str:
    """The environment variable that sets a settings field."""
    return field.upper()


def _unknown_variable(key: str, known: set[str]) -> str:
    reserved = sorted(name for name in known if name.startswith(RESERVED_PREFIX))
    close = difflib.get_close_matches(key.upper(), reserved, n=1)
    if close:
        return f"{key} is not a setting (did you mean {close[0]}?)"
    return f"{key} is not a setting (known: {', '.join(reserved)})"


def _describe(error: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """One pydantic error as the user would say it: ``--port 99999: input should be ...``."""
    message = str(error["msg"]).removeprefix("Value error, ")
    location = error.get("loc") or ()
    if not location or location[0] not in names:
        # A rule across fields (WEB_MAX_STREAMS below WEB_THREADS) names its variables itself.
        return message
    field = str(location[0])
    name = names[field]
    if error["type"] == "missing":
        return f"{name} is required but not set"
    if message.startswith(name):
        return message
    message = message[:1].lower() + message[1:]
    value = error.get("input")
    if any(word in field for word in SECRET_WORDS) or not isinstance(value, str | int | float):
        return f"{name}: {message}"
    shown = (
        str(value) if len(str(value)) <= MAX_SHOWN_VALUE else str(value)[:MAX_SHOWN_VALUE] + "..."
    )
    separator = " " if name.startswith("-") else "="
    return f"{name}{separator}{shown}: {message}"
