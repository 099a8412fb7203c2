"""A small key-value cache: Redis in deployments, a dictionary in the all-in-one process."""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

import redis

from services.common.outages import OutageBackoff

logger = logging.getLogger(__name__)


class KeyValueCache(Protocol):
    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None: ...

    def set_if_absent(self, key: str, value: bytes, ttl_s: float) -> bool: ...

    def incr(self, key: str, ttl_s: float | None = None) -> int: ...

    def incr_in_window(self, key: str, window_s: float) -> tuple[int, float]: ...

    def delete(self, *keys: str) -> None: ...

    def ping(self) -> bool: ...


class RedisCache:
    """Keys are namespaced with a prefix so several deployments or test runs can share a server."""

    def __init__(self, url: str, prefix: str = "attendance") -> None:
        self._redis = redis.Redis.from_url(
            url,
            socket_timeout=5,
            socket_connect_timeout=3,
            health_check_interval=30,
            retry_on_timeout=True,
        )
        self._prefix = prefix

    def _key(self, key: str) -> str:
        return f"{self._prefix}:{key}"

    def get(self, key: str) -> bytes | None:
        value = self._redis.get(self._key(key))
        # The client is made without decode_responses: values come back as bytes.
        return value if value is None or isinstance(value, bytes) else str(value).encode()

    def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        self._redis.set(self._key(key), value, px=int(ttl_s * 1000) if ttl_s else None)

    def set_if_absent(self, key: str, value: bytes, ttl_s: float) -> bool:
        return bool(self._redis.set(self._key(key), value, nx=True, px=int(ttl_s * 1000)))

    def incr(self, key: str, ttl_s: float | None = None) -> int:
        pipe = self._redis.pipeline()
        pipe.incr(self._key(key))
        if ttl_s:
            pipe.pexpire(self._key(key), int(ttl_s * 1000))
        return int(pipe.execute()[0])

    def incr_in_window(self, key: str, window_s: float) -> tuple[int, float]:
        """Count one more in a fixed window that starts with the first count: (count, seconds
        left in the window). Later counts do not extend the window."""
        name = self._key(key)
        pipe = self._redis.pipeline()  # MULTI/EXEC: the three run as one
        pipe.set(name, 0, nx=True, px=int(window_s * 1000))
        pipe.incr(name)
        pipe.pttl(name)
        _, count, left_ms = pipe.execute()
        return int(count), max(0.0, left_ms / 1000) if left_ms and left_ms > 0 else window_s

    def delete(self, *keys: str) -> None:
        if keys:
            self._redis.delete(*(self._key(key) for key in keys))

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except redis.RedisError:
            return False

    def wait_until_ready(self, attempts: int = 10, max_delay: float = 5.0) -> None:
        backoff = OutageBackoff(first_s=0.25, max_s=max_delay)
        for attempt in range(1, attempts + 1):
            if self.ping():
                return
            if attempt == attempts:
                raise ConnectionError(f"cannot reach Redis after {attempts} attempts")
            delay = backoff.failed()
            logger.warning("Redis not reachable; retrying in %.1fs", delay)
            time.sleep(delay)


class InMemoryCache:
    """Thread-safe dictionary with expiry, for the single-process mode and unit tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, tuple[bytes, float | None]] = {}

    def _live(self, key: str) -> bytes | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        value, expires = entry
        if expires is not None and time.monotonic() >= expires:
            del self._values[key]
            return None
        return value

    def get(self, key: str) -> bytes | None:
        with self._lock:
            return self._live(key)

    def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        with self._lock:
            self._values[key] = (value, time.monotonic() + ttl_s if ttl_s else None)

    def set_if_absent(self, key: str, value: bytes, ttl_s: float) -> bool:
        with self._lock:
            if self._live(key) is not None:
                return False
            self._values[key] = (value, time.monotonic() + ttl_s)
            return True

    def incr(self, key: str, ttl_s: float | None = None) -> int:
        with self._lock:
            number = int(self._live(key) or b"0") + 1
            self._values[key] = (str(number).encode(), time.monotonic() + ttl_s if ttl_s else None)
            return number

    def incr_in_window(self, key: str, window_s: float) -> tuple[int, float]:
        with self._lock:
            now = time.monotonic()
            entry = self._values.get(key)
            if entry is None or (entry[1] is not None and now >= entry[1]):
                entry = (b"0", now + window_s)
            number = int(entry[0]) + 1
            self._values[key] = (str(number).encode(), entry[1])
            return number, max(0.0, (entry[1] or now) - now)

    def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._values.pop(key, None)

    def ping(self) -> bool:
        return True

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
