"""The audit log: who did what to whom, when and from where.

Entries hold names, never faces or pictures, so they outlive the employee they mention (an
erased employee's data is gone; that it was erased, and by whom, is not).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo import DESCENDING

from services.common.contracts import utc_now
from services.common.storage.mongo import Document, MongoDatabase

# Every action an admin can take, named once so the log can be filtered by a known value.
AUDIT_ACTIONS = (
    "employee.enrol",
    "employee.add_photos",
    "employee.delete",
    "unknown_face.assign",
    "unknown_face.dismiss",
    "token.create",
    "token.revoke",
    "account.create",
    "account.set_password",
    "account.set_role",
    "account.remove",
    "account.revoke_sessions",
    "account.unlock",
    "attendance.correct",
    "schedule.set",
    "schedule.remove",
    "holiday.add",
    "holiday.remove",
    "unknown_group.assign",
    "unknown_group.dismiss",
)


@dataclass(frozen=True)
class AuditEntry:
    entry_id: str
    at: datetime
    actor: str
    action: str
    target: str | None
    client: str | None
    details: dict[str, Any] = field(default_factory=dict)


class AuditLog:
    """Append-only; read newest first."""

    def __init__(self, db: MongoDatabase) -> None:
        self._entries = db.audit_log

    def ensure_indexes(self) -> None:
        self._entries.create_index([("at", DESCENDING)])
        self._entries.create_index([("action", 1), ("at", DESCENDING)])

    def record(
        self,
        action: str,
        *,
        actor: str,
        target: str | None = None,
        client: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        if action not in AUDIT_ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        entry = AuditEntry(
            # Time first, so that entries of one millisecond still sort in the order made.
            entry_id=f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}",
            at=utc_now(),
            actor=actor,
            action=action,
            target=target,
            client=client,
            details=dict(details or {}),
        )
        self._entries.insert_one(
            {
                "_id": entry.entry_id,
                "at": entry.at,
                "actor": entry.actor,
                "action": entry.action,
                "target": entry.target,
                "client": entry.client,
                "details": entry.details,
            }
        )
        return entry

    def recent(
        self, limit: int = 100, action: str | None = None, skip: int = 0
    ) -> list[AuditEntry]:
        query: dict[str, Any] = {}
        if action is not None:
            if action not in AUDIT_ACTIONS:
                raise ValueError(f"unknown audit action {action!r}")
            # A value from the fixed list above, never the caller's text, goes into the query.
            query["action"] = AUDIT_ACTIONS[AUDIT_ACTIONS.index(action)]
        cursor = self._entries.find(query).sort([("at", DESCENDING), ("_id", DESCENDING)])
        return [_to_entry(d) for d in cursor.skip(skip).limit(limit)]


def _to_entry(document: Document) -> AuditEntry:
    return AuditEntry(
        entry_id=document["_id"],
        at=document["at"],
        actor=document["actor"],
        action=document["action"],
        target=document.get("target"),
        client=document.get("client"),
        details=document.get("details") or {},
    )
