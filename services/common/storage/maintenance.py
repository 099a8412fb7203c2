"""Exclusive maintenance jobs (a re-embedding): one at a time across every machine.

The lock is a document whose id is the job's name; MongoDB's unique ``_id`` makes taking it
atomic. The holder refreshes ``heartbeat_at`` as it works, so a lock left by a job that crashed
can be taken over once it has been silent for ``stale_after``, and resuming needs no manual step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo.errors import DuplicateKeyError

from services.common.contracts import utc_now
from services.common.storage.mongo import Document, MongoDatabase

DEFAULT_STALE_AFTER = timedelta(minutes=5)


class MaintenanceBusy(Exception):
    """Another live job holds the lock."""


@dataclass(frozen=True)
class MaintenanceLock:
    job: str
    holder: str
    target: str
    started_at: datetime
    heartbeat_at: datetime


class MaintenanceLocks:
    def __init__(self, db: MongoDatabase, stale_after: timedelta = DEFAULT_STALE_AFTER) -> None:
        self._locks = db.maintenance_locks
        self._stale_after = stale_after

    def acquire(self, job: str, holder: str, target: str) -> MaintenanceLock:
        """Take the lock of ``job`` for ``holder``, or raise :class:`MaintenanceBusy`."""
        now = utc_now()
        document = {
            "_id": job,
            "holder": holder,
            "target": target,
            "started_at": now,
            "heartbeat_at": now,
        }
        try:
            self._locks.insert_one(document)
            return _to_lock(document)
        except DuplicateKeyError:
            pass
        # Only a lock silent for long enough is replaced, and only if it is still that one.
        taken = self._locks.find_one_and_replace(
            {"_id": job, "heartbeat_at": {"$lt": now - self._stale_after}}, document
        )
        if taken is not None:
            return _to_lock(document)
        current = self.current(job)
        if current is None:  # released between our two attempts
            return self.acquire(job, holder, target)
        raise MaintenanceBusy(
            f"{job} is already running ({current.holder}, towards {current.target}, since "
            f"{current.started_at.isoformat(timespec='seconds')}, last active "
            f"{current.heartbeat_at.isoformat(timespec='seconds')})"
        )

    def heartbeat(self, lock: MaintenanceLock) -> None:
        self._locks.update_one(
            {"_id": lock.job, "holder": lock.holder}, {"$set": {"heartbeat_at": utc_now()}}
        )

    def release(self, lock: MaintenanceLock) -> None:
        self._locks.delete_one({"_id": lock.job, "holder": lock.holder})

    def current(self, job: str) -> MaintenanceLock | None:
        document = self._locks.find_one({"_id": job})
        return _to_lock(document) if document else None


def _to_lock(document: Document) -> MaintenanceLock:
    return MaintenanceLock(
        job=document["_id"],
        holder=document["holder"],
        target=document["target"],
        started_at=document["started_at"],
        heartbeat_at=document["heartbeat_at"],
    )
