"""Server-side login sessions of the web (MongoDB ``web_sessions``).

The browser's cookie carries only a random session id; who it belongs to, since when and until
when is stored here and checked on every request. Ending a session is deleting its document, so
a copied cookie stops working the moment its owner logs out, changes password or is removed.
Only a hash of the id is stored: a copy of the database does not let anyone log in.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.database import Database

from services.common.contracts import utc_now

# 32 random bytes (256 bits) in URL-safe base64.
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{43}$")
# last_seen is for people reading the accounts page, not for security: a write per request
# would only cost time.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class WebSession:
    key: str
    user: str
    token_id: str | None  # set when a kiosk signed in with an API token
    created: datetime
    last_seen: datetime
    expires: datetime
    client: str | None


def session_key(session_id: str) -> str:
    # The id has 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    def __init__(self, db: Database[Any]) -> None:
        self._sessions = db.web_sessions

    def ensure_indexes(self) -> None:
        # MongoDB deletes expired sessions by itself; lookups check the expiry too, because
        # that deletion runs only once a minute.
        self._sessions.create_index([("expires", ASCENDING)], expireAfterSeconds=0)
        self._sessions.create_index([("user", ASCENDING)])
        self._sessions.create_index([("token_id", ASCENDING)])

    def create(
        self,
        user: str,
        *,
        lifetime: timedelta,
        client: str | None,
        token_id: str | None = None,
    ) -> str:
        """Start a session and return its id (for the cookie; only its hash is stored)."""
        session_id = secrets.token_urlsafe(32)
        now = utc_now()
        self._sessions.insert_one(
            {
                "_id": session_key(session_id),
                "user": user,
                "token_id": token_id,
                "created": now,
                "last_seen": now,
                "expires": now + lifetime,
                "client": client,
            }
        )
        return session_id

    def find(self, session_id: str) -> WebSession | None:
        """The live session with this id, or None (unknown, ended or expired)."""
        if not SESSION_ID.fullmatch(session_id):
            return None
        document = self._sessions.find_one({"_id": session_key(session_id)})
        if document is None:
            return None
        found = _to_session(document)
        if found.expires <= utc_now():
            self._sessions.delete_one({"_id": found.key})
            return None
        return found

    def touch(self, found: WebSession, client: str | None) -> None:
        now = utc_now()
        if now - found.last_seen >= LAST_SEEN_RESOLUTION or client != found.client:
            self._sessions.update_one(
                {"_id": found.key}, {"$set": {"last_seen": now, "client": client}}
            )

    def end(self, session_id: str) -> bool:
        if not SESSION_ID.fullmatch(session_id):
            return False
        return self._sessions.delete_one({"_id": session_key(session_id)}).deleted_count == 1

    def end_for_user(self, user: str, *, keep: str | None = None) -> int:
        """End every session of ``user`` except the one with id ``keep``; return how many."""
        query: dict[str, Any] = {"user": user}
        if keep is not None:
            query["_id"] = {"$ne": session_key(keep)}
        return self._sessions.delete_many(query).deleted_count

    def end_for_token(self, token_id: str) -> int:
        return self._sessions.delete_many({"token_id": token_id}).deleted_count

    def live_counts(self) -> dict[str, int]:
        """Number of live sessions per user."""
        counts: dict[str, int] = {}
        for document in self._sessions.find({"expires": {"$gt": utc_now()}}, {"user": 1}):
            counts[document["user"]] = counts.get(document["user"], 0) + 1
        return counts


def _to_session(document: Mapping[str, Any]) -> WebSession:
    return WebSession(
        key=document["_id"],
        user=document["user"],
        token_id=document.get("token_id"),
        created=document["created"],
        last_seen=document["last_seen"],
        expires=document["expires"],
        client=document.get("client"),
    )
