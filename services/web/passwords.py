"""Moved to services/common/domain/passwords.py (the account store checks passwords too).

Kept only for services/common/preflight.py, which imports it from here; remove this file
once that import names services.common.domain.passwords.
"""

from __future__ import annotations

from services.common.domain.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    WeakPassword,
    check_password,
)

__all__ = ["MAX_PASSWORD_LENGTH", "MIN_PASSWORD_LENGTH", "WeakPassword", "check_password"]
