"""At most 10 password checks per 15 minutes per account and per client address.

An attempt is claimed with one atomic increment (Redis INCR, or the in-memory cache's lock)
*before* the password is checked, so fifty requests sent at once get ten checks, not fifty.
Each claim restarts its counter's 15 minutes, so a refused client is told to wait exactly that
long, and "10 per 15 minutes" holds over any 15 minutes, not only aligned ones.

Nothing resets a counter early, a successful login included: otherwise someone holding one
valid account could log into it between guesses at another and never be slowed down. The cost
is that many people behind one address (one office NAT) share its 10 logins per 15 minutes.
"""

from __future__ import annotations

import hashlib
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
        # The address first: a client already refused must not extend the account's wait.
        if self._over(f"address:{address or 'unknown'}"):
            return Refusal(self._window_s, "address")
        if account is not None and self._over(f"account:{_account_key(account)}"):
            return Refusal(self._window_s, "account")
        return None

    def _over(self, key: str) -> bool:
        return self._cache.incr(f"{KEY_PREFIX}:{key}", self._window_s) > self._limit


def _account_key(account: str) -> str:
    # "Admin" and "admin " are the same guess; a hash keeps whatever was typed out of the key.
    return hashlib.sha256(account.strip().casefold().encode()).hexdigest()[:32]
