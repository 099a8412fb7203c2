"""Accounts and API tokens as the store, the web and the CLI speak of them: the roles, the
rules for names, and the refusals with their stable codes."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from typing import Literal, get_args

from services.common.domain.errors import RefusedRequest

# ``admin`` changes things, ``viewer`` reads, ``kiosk`` only runs the kiosk page (sends frames,
# reads live events).
Role = Literal["admin", "viewer", "kiosk"]
ROLES: tuple[Role, ...] = get_args(Role)
TOKEN_ROLES = ROLES
ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
ACCOUNT_NAME_RULE = "1-64 letters, digits or . _ @ - (starting with a letter or digit)"
MAX_TOKEN_NAME_LENGTH = 80


class AccountErrorCode(StrEnum):
    """Why an account or token change was refused; API clients act on these values."""

    DUPLICATE_ACCOUNT = "duplicate_account"
    INVALID_NAME = "invalid_name"
    INVALID_ROLE = "invalid_role"
    WEAK_PASSWORD = "weak_password"
    NOT_FOUND = "not_found"
    LAST_ADMIN = "last_admin"
    NAME_REQUIRED = "name_required"
    NAME_INVALID = "name_invalid"


class AccountError(RefusedRequest):
    """A refused account or token change, with a stable code (the web maps it to a status)."""

    def __init__(self, code: AccountErrorCode | str, message: str) -> None:
        super().__init__(str(code), message)


def check_role(role: str, subject: str = "the role") -> Role:
    """``role`` as a Role; AccountError (invalid_role) when it is none."""
    for known in ROLES:
        if role == known:
            return known
    raise AccountError(
        AccountErrorCode.INVALID_ROLE, f"{subject} must be one of {', '.join(ROLES)}"
    )


def check_account_name(name: str) -> None:
    if not ACCOUNT_NAME.fullmatch(name):
        raise AccountError(
            AccountErrorCode.INVALID_NAME, f"an account name has {ACCOUNT_NAME_RULE}"
        )


def token_name(name: str | None) -> str:
    """A token's name with its spaces tidied; AccountError when empty, too long or with
    control characters."""
    tidy = " ".join((name or "").split())
    if not tidy or len(tidy) > MAX_TOKEN_NAME_LENGTH:
        raise AccountError(
            AccountErrorCode.NAME_REQUIRED,
            f"a token needs a name of at most {MAX_TOKEN_NAME_LENGTH} characters",
        )
    if any(unicodedata.category(char).startswith("C") for char in tidy):
        raise AccountError(
            AccountErrorCode.NAME_INVALID, "a token name cannot contain control characters"
        )
    return tidy
