from __future__ import annotations

import redis


def delete_prefixed_keys(redis_url: str, prefix: str) -> None:
    """Remove every key a test (or the services it started) wrote under ``prefix``."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
