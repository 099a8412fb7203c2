"""At most 10 password checks per 15 minutes per account and per client address.

An attempt is claimed with one atomic increment (Redis INCR, or the in-memory cache's lock)
*before* the password is checked, so fifty requests sent at once get ten checks, not fifty.
A window starts with its first claim and lasts 15 minutes whatever happens in it: refused
attempts do not extend it, so a guesser cannot keep an account locked by trickling requests
(Retry-After says when the window ends). An admin whose account is locked by someone else's
guesses can unlock it at once with ``attendance users unlock NAME``.

Nothing resets a counter early, a successful login included: otherwise someone holding one
valid account could log into it between guesses at another and never be slowed down. The cost
is that many people behind one address (one office NAT) share its 10 logins per 15 minutes.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from services.common.cache import KeyValueCache

MAX_LOGIN_CHECKS = 10
LOGIN_WINDOW_S = 15 * 60
KEY_PREFIX = "web:login-attempts"


@dataclass(frozen=True)
class Refusal:
    retry_after_s: int
    reason: str  # "account" | "address"

    @property
    def message(self) -> str:
        minutes = -(-self.retry_after_s // 60)
        where = "for this account" if self.reason == "account" else "from this address"
        return f"Too many login attempts {where}. Wait {minutes} minutes and try again."


class LoginThrottle:
    def __init__(
        self,
        cache: KeyValueCache,
        limit: int = MAX_LOGIN_CHECKS,
        window_s: int = LOGIN_WINDOW_S,
    ) -> None:
        self._cache = cache
        self._limit = limit
        self._window_s = window_s

    def claim(self, *, account: str | None, address: str | None) -> Refusal | None:
        """Claim one check for this address (and account, when one is named); a Refusal when
        either has used up its checks."""
        # The address first: a client already refused must not use up the account's checks.
        left = self._left_if_over(f"address:{address or 'unknown'}")
        if left is not None:
            return Refusal(left, "address")
        if account is not None:
            left = self._left_if_over(account_key(account))
            if left is not None:
                return Refusal(left, "account")
        return None

    def unlock(self, account: str) -> None:
        """Forget the account's failed checks (its owner is locked out by someone else)."""
        self._cache.delete(f"{KEY_PREFIX}:{account_key(account)}")

    def _left_if_over(self, key: str) -> int | None:
        count, left_s = self._cache.incr_in_window(f"{KEY_PREFIX}:{key}", self._window_s)
        return max(1, math.ceil(left_s)) if count > self._limit else None


def account_key(account: str) -> str:
    # "Admin" and "admin " are the same guess; a hash keeps whatever was typed out of the key.
    return "account:" + hashlib.sha256(account.strip().casefold().encode()).hexdigest()[:32]
