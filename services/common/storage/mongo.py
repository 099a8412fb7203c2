"""Connecting to MongoDB and declaring the indexes every repository relies on."""

from __future__ import annotations

import logging
import time
from typing import Any

from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.database import Database
from pymongo.errors import PyMongoError

from services.common.outages import OutageBackoff
from services.common.redact import redact_url

logger = logging.getLogger(__name__)


# A stored document, and the database handle every repository takes.
Document = dict[str, Any]
MongoDatabase = Database[Document]


class DatabaseUnavailable(Exception):
    """MongoDB could not be reached after the start-up retries."""


def connect(
    url: str, database: str, *, attempts: int = 10, max_delay: float = 5.0
) -> MongoDatabase:
    """Open a client with retries (compose may start us before MongoDB is ready)."""
    backoff = OutageBackoff(first_s=0.25, max_s=max_delay)
    for attempt in range(1, attempts + 1):
        client: MongoClient[Document] = MongoClient(
            url, tz_aware=True, serverSelectionTimeoutMS=3000, connectTimeoutMS=3000
        )
        try:
            client.admin.command("ping")
        except PyMongoError as exc:
            client.close()
            if attempt == attempts:
                raise DatabaseUnavailable(
                    redact_url(f"cannot reach MongoDB at {url} after {attempts} attempts: {exc}")
                ) from exc
            delay = backoff.failed()
            logger.warning("MongoDB not reachable (%s); retrying in %.1fs", exc, delay)
            time.sleep(delay)
            continue
        db = client[database]
        ensure_indexes(db)
        return db
    raise AssertionError("unreachable")


def is_reachable(db: MongoDatabase) -> bool:
    try:
        db.client.admin.command("ping")
    except PyMongoError:
        return False
    return True


def ensure_indexes(db: MongoDatabase) -> None:
    db.employees.create_index([("name_key", ASCENDING)], unique=True)
    db.embeddings.create_index([("employee_id", ASCENDING)])
    db.embeddings.create_index([("model_id", ASCENDING)])
    db.attendance.create_index([("day", ASCENDING), ("employee_id", ASCENDING)])
    db.attendance.create_index([("employee_id", ASCENDING), ("day", DESCENDING)])
    db.sightings.create_index([("seen_at", DESCENDING)])
    db.sightings.create_index([("employee_id", ASCENDING), ("seen_at", DESCENDING)])
    db.pictures.create_index([("owner_id", ASCENDING)])
    db.attendance_corrections.create_index([("day", ASCENDING), ("employee_id", ASCENDING)])
    db.attendance_corrections.create_index([("employee_id", ASCENDING)])
    db.sightings.create_index([("known", ASCENDING), ("seen_at", ASCENDING)])
