"""Accounts (``users``: name, role, password hash) and API tokens (``api_tokens``: hashes).

The roles and rules are in services/common/domain/accounts.py. Every change to an account that
should lock someone out (a new password, a new role, removal) ends that account's sessions
here, whoever asked for it (the web's pages, its API or the CLI). Refusals are AccountError,
with a stable code; the web maps codes to HTTP statuses.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError
from werkzeug.security import check_password_hash, generate_password_hash

from services.common.contracts import utc_now
from services.common.domain.accounts import (
    ACCOUNT_NAME,
    AccountError,
    AccountErrorCode,
    Role,
    check_account_name,
    check_role,
    token_name,
)
from services.common.domain.passwords import WeakPassword, check_password
from services.common.storage.sessions import SessionStore

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "att_"
# Compared against when the user does not exist, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


@dataclass(frozen=True)
class Account:
    name: str
    role: Role
    created_at: datetime
    password_changed_at: datetime | None


@dataclass(frozen=True)
class ApiToken:
    token_id: str
    name: str
    role: Role
    created_at: datetime
    created_by: str
    owner: str


def hash_token(secret: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


class UserStore:
    def __init__(self, db: Database[Any]) -> None:
        self._users = db.users
        self._tokens = db.api_tokens
        self.sessions = SessionStore(db)

    def ensure_indexes(self) -> None:
        self._tokens.create_index([("hash", ASCENDING)], unique=True)
        self.sessions.ensure_indexes()

    # -- accounts ---------------------------------------------------------------------------
    def ensure_user(self, username: str, password: str, role: Role) -> bool:
        """Create the account on first start; an existing password is never overwritten.

        The password must follow the rules even when the account exists already, so a weak
        one in the settings is refused at every start (``weak_password``).
        """
        _check_new_password(password, username)
        try:
            self.create_account(username, password, role)
        except AccountError as exc:
            if exc.code == AccountErrorCode.DUPLICATE_ACCOUNT:
                return False
            raise
        return True

    def create_account(self, name: str, password: str, role: str) -> Account:
        check_account_name(name)
        role = check_role(role)
        _check_new_password(password, name)
        now = utc_now()
        document = {
            "_id": name,
            "password_hash": generate_password_hash(password),
            "role": role,
            "created_at": now,
            "password_changed_at": now,
        }
        try:
            self._users.insert_one(document)
        except DuplicateKeyError:
            raise AccountError(
                AccountErrorCode.DUPLICATE_ACCOUNT, f"an account named {name!r} exists"
            ) from None
        logger.info("created %s account %r", role, name)
        return _to_account(document)

    def accounts(self) -> list[Account]:
        return [_to_account(d) for d in self._users.find().sort("_id", ASCENDING)]

    def account(self, name: str) -> Account | None:
        document = self._users.find_one({"_id": name}) if ACCOUNT_NAME.fullmatch(name) else None
        return _to_account(document) if document else None

    def has_admin(self) -> bool:
        return self._users.count_documents({"role": "admin"}) > 0

    def role_of(self, username: str) -> Role | None:
        document = self._users.find_one({"_id": username}, {"role": 1})
        return _stored_role(document["role"]) if document else None

    def authenticate(self, username: str, password: str) -> Account | None:
        document = (
            self._users.find_one({"_id": username}) if ACCOUNT_NAME.fullmatch(username) else None
        )
        if document is None:
            check_password_hash(_DUMMY_HASH, password)
            return None
        if not check_password_hash(document["password_hash"], password):
            return None
        return _to_account(document)

    def password_matches(self, username: str, password: str) -> bool:
        document = self._users.find_one({"_id": username}, {"password_hash": 1})
        return document is not None and check_password_hash(document["password_hash"], password)

    def set_password(self, name: str, password: str, *, keep_session: str | None = None) -> int:
        """Change the password and end the account's sessions but ``keep_session``; return how
        many were ended."""
        _check_new_password(password, name)
        result = self._users.update_one(
            {"_id": name},
            {
                "$set": {
                    "password_hash": generate_password_hash(password),
                    "password_changed_at": utc_now(),
                }
            },
        )
        if result.matched_count == 0:
            raise _no_account(name)
        return self.sessions.end_for_user(name, keep=keep_session)

    def set_role(self, name: str, role: str, *, keep_session: str | None = None) -> int:
        """Change the role and end the account's sessions but ``keep_session``; the last admin
        cannot be demoted."""
        check_role(role)
        before = self._users.find_one_and_update({"_id": name}, {"$set": {"role": role}})
        if before is None:
            raise _no_account(name)
        if before["role"] == "admin" and role != "admin" and not self.has_admin():
            # Demote first, then look: two admins demoting each other at once both see no
            # admin left and both put theirs back, so there is never a moment without one.
            self._users.update_one({"_id": name}, {"$set": {"role": "admin"}})
            raise _last_admin(name)
        if before["role"] == "admin" and role != "admin":
            # Only admins make tokens: what this one made was delegated admin trust.
            self.revoke_tokens_of(name)
        return self.sessions.end_for_user(name, keep=keep_session)

    def remove(self, name: str) -> int:
        """Remove the account and end all its sessions; the last admin cannot be removed."""
        document = self._users.find_one_and_delete({"_id": name})
        if document is None:
            raise _no_account(name)
        if document["role"] == "admin" and not self.has_admin():
            self._users.insert_one(document)
            raise _last_admin(name)
        logger.info("removed %s account %r", document["role"], name)
        self.revoke_tokens_of(name)
        return self.sessions.end_for_user(name)

    def revoke_sessions(self, name: str, *, keep_session: str | None = None) -> int:
        if self.account(name) is None:
            raise _no_account(name)
        return self.sessions.end_for_user(name, keep=keep_session)

    # -- API tokens -------------------------------------------------------------------------
    def create_token(
        self, name: str, role: str, created_by: str, *, owner: str | None = None
    ) -> tuple[ApiToken, str]:
        """A new token; ``owner`` is the account answerable for it (default: ``created_by``):
        demoting or removing that account revokes it."""
        check_role(role, "role")
        name = token_name(name)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        document = {
            "_id": secrets.token_hex(6),
            "hash": hash_token(secret),
            "name": name,
            "role": role,
            "created_at": utc_now(),
            "created_by": created_by,
            "owner": owner or created_by,
        }
        self._tokens.insert_one(document)
        return _to_token(document), secret

    def revoke_tokens_of(self, owner: str) -> list[ApiToken]:
        """Revoke every token the account answers for (and the sessions opened with them)."""
        owned = [token for token in self.tokens() if token.owner == owner]
        for token in owned:
            self.revoke_token(token.token_id)
        if owned:
            logger.info("revoked %d API token(s) of %r", len(owned), owner)
        return owned

    def tokens(self) -> list[ApiToken]:
        return [_to_token(d) for d in self._tokens.find().sort("created_at", -1)]

    def token(self, token_id: str) -> ApiToken | None:
        document = self._tokens.find_one({"_id": token_id})
        return _to_token(document) if document else None

    def revoke_token(self, token_id: str) -> bool:
        revoked = self._tokens.delete_one({"_id": token_id}).deleted_count == 1
        # A kiosk that signed in with this token loses its session too.
        self.sessions.end_for_token(token_id)
        return revoked

    def find_token(self, secret: str) -> ApiToken | None:
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        document = self._tokens.find_one({"hash": hash_token(secret)})
        return _to_token(document) if document else None


def _check_new_password(password: str, name: str) -> None:
    try:
        check_password(password, name)
    except WeakPassword as exc:
        raise AccountError(AccountErrorCode.WEAK_PASSWORD, str(exc)) from None


def _no_account(name: str) -> AccountError:
    return AccountError(AccountErrorCode.NOT_FOUND, f"no account named {name!r}")


def _last_admin(name: str) -> AccountError:
    return AccountError(
        AccountErrorCode.LAST_ADMIN,
        f"{name!r} is the last admin; make another account admin first",
    )


def _stored_role(value: str) -> Role:
    # Only this store writes roles, each checked on its way in.
    return cast(Role, value)


def _to_account(document: Mapping[str, Any]) -> Account:
    return Account(
        name=document["_id"],
        role=_stored_role(document["role"]),
        created_at=document["created_at"],
        password_changed_at=document.get("password_changed_at"),
    )


def _to_token(document: Mapping[str, Any]) -> ApiToken:
    return ApiToken(
        token_id=document["_id"],
        name=document["name"],
        role=_stored_role(document["role"]),
        created_at=document["created_at"],
        created_by=document["created_by"],
        # Tokens from before owners were recorded belong to whoever made them.
        owner=document.get("owner", document["created_by"]),
    )
