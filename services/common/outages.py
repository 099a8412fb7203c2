"""Telling a dependency outage apart from a bad message.

A handler that fails because MongoDB or Redis is away has nothing wrong with its message: the
message must wait for the server to come back, however long that takes, instead of using up
its attempts and landing in the dead-letter queue. Handlers may also raise
:class:`DependencyUnavailable` themselves for a dependency of their own.
"""

from __future__ import annotations

from pymongo.errors import ConnectionFailure
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


class DependencyUnavailable(Exception):
    """Something the handler needs cannot be reached; the message itself is fine."""


# ConnectionFailure covers pymongo's AutoReconnect, NetworkTimeout and server-selection timeouts.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    DependencyUnavailable,
    ConnectionFailure,
    RedisConnectionError,
    RedisTimeoutError,
)


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says a server is away rather than the input bad."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, OUTAGE_ERRORS):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


class OutageBackoff:
    """Pauses between tries while a dependency is away: short at first, then capped."""

    def __init__(self, first_s: float = 0.5, max_s: float = 10.0) -> None:
        self.first_s = first_s
        self.max_s = max_s
        self._failures = 0

    def failed(self) -> float:
        """Record one more failed try; return how long to wait before the next."""
        self._failures += 1
        return self.delay_after(self._failures)

    def delay_after(self, failures: int) -> float:
        """The wait after ``failures`` failed tries in a row: doubling from ``first_s``."""
        return float(min(self.max_s, self.first_s * 2 ** max(0, failures - 1)))

    def succeeded(self) -> None:
        self._failures = 0
