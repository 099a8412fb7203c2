"""The web's clock, one function so that tests can pin "now" (and so "today") in one place."""

from __future__ import annotations

from datetime import datetime

from services.common.contracts import utc_now


def now() -> datetime:
    return utc_now()
