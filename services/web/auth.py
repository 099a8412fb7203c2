"""Accounts, sessions, API tokens and CSRF protection.

Two roles: ``admin`` (register, delete, assign, tokens) and ``viewer`` (read only); API tokens
may also carry the ``kiosk`` role, which can only send frames and read live events. Every
endpoint needs an identity except the few listed in PUBLIC_ENDPOINTS.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError
from werkzeug.security import check_password_hash, generate_password_hash

from services.common.contracts import utc_now
from services.web.errors import ApiError

logger = logging.getLogger(__name__)

ROLES = ("admin", "viewer")
TOKEN_ROLES = ("admin", "viewer", "kiosk")
# Served without looking up the caller at all: probes and assets must answer (and /healthz
# must say "alive") while the database that holds accounts is away.
ANONYMOUS_ENDPOINTS = frozenset({"ops.healthz", "ops.readyz", "ops.metrics", "static"})
PUBLIC_ENDPOINTS = ANONYMOUS_ENDPOINTS | {"auth.login"}
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TOKEN_PREFIX = "att_"
MAX_FAILED_LOGINS = 10
FAILED_LOGIN_WINDOW_S = 15 * 60
# Compared against when the user does not exist, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")

bp = Blueprint("auth", __name__)


@dataclass(frozen=True)
class Identity:
    name: str
    role: str
    via: str  # "session" | "token"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class ApiToken:
    token_id: str
    name: str
    role: str
    created_at: datetime
    created_by: str


def hash_token(secret: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


class UserStore:
    """Users (``users`` collection, werkzeug password hashes) and API tokens (hashes only)."""

    def __init__(self, db: Database) -> None:
        self._users = db.users
        self._tokens = db.api_tokens

    def ensure_indexes(self) -> None:
        self._tokens.create_index([("hash", ASCENDING)], unique=True)

    def ensure_user(self, username: str, password: str, role: str) -> bool:
        """Create the user on first start; an existing password is never overwritten."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        try:
            self._users.insert_one(
                {
                    "_id": username,
                    "password_hash": generate_password_hash(password),
                    "role": role,
                    "created_at": utc_now(),
                }
            )
        except DuplicateKeyError:
            return False
        logger.info("created %s account %r", role, username)
        return True

    def has_admin(self) -> bool:
        return self._users.count_documents({"role": "admin"}) > 0

    def authenticate(self, username: str, password: str) -> Identity | None:
        document = self._users.find_one({"_id": username})
        if document is None:
            check_password_hash(_DUMMY_HASH, password)
            return None
        if not check_password_hash(document["password_hash"], password):
            return None
        return Identity(document["_id"], document["role"], "session")

    def role_of(self, username: str) -> str | None:
        document = self._users.find_one({"_id": username}, {"role": 1})
        return document["role"] if document else None

    def create_token(self, name: str, role: str, created_by: str) -> tuple[ApiToken, str]:
        if role not in TOKEN_ROLES:
            raise ApiError(400, "invalid_role", f"role must be one of {', '.join(TOKEN_ROLES)}")
        name = " ".join((name or "").split())
        if not name or len(name) > 80:
            raise ApiError(400, "name_required", "a token needs a name of at most 80 characters")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        document = {
            "_id": secrets.token_hex(6),
            "hash": hash_token(secret),
            "name": name,
            "role": role,
            "created_at": utc_now(),
            "created_by": created_by,
        }
        self._tokens.insert_one(document)
        return _to_token(document), secret

    def tokens(self) -> list[ApiToken]:
        return [_to_token(d) for d in self._tokens.find().sort("created_at", -1)]

    def revoke_token(self, token_id: str) -> bool:
        return self._tokens.delete_one({"_id": token_id}).deleted_count == 1

    def identify_token(self, secret: str) -> Identity | None:
        if not secret.startswith(TOKEN_PREFIX):
            return None
        document = self._tokens.find_one({"hash": hash_token(secret)})
        if document is None:
            return None
        return Identity(f"token:{document['name']}", document["role"], "token")


def _to_token(document: dict) -> ApiToken:
    return ApiToken(
        token_id=document["_id"],
        name=document["name"],
        role=document["role"],
        created_at=document["created_at"],
        created_by=document["created_by"],
    )


def csrf_token() -> str:
    """The per-session token every form and script must send back on a write."""
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def current_identity() -> Identity | None:
    return g.get("identity")


def _users() -> UserStore:
    return current_app.extensions["attendance"].users


def _load_identity() -> Identity | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        identity = _users().identify_token(header[len("Bearer ") :].strip())
        if identity is None:
            raise ApiError(401, "invalid_token", "the API token is unknown or revoked")
        return identity
    username = session.get("user")
    if not username:
        return None
    # Re-read the role so that a removed account loses access at once.
    role = _users().role_of(username)
    if role is None:
        session.clear()
        return None
    return Identity(username, role, "session")


def _check_csrf() -> None:
    expected = session.get("csrf")
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    if not expected or not sent or not hmac.compare_digest(str(expected), str(sent)):
        raise ApiError(
            400,
            "csrf_failed",
            "the form expired or its CSRF token is missing; reload the page and try again",
        )


def authenticate_request() -> Any:
    """Runs before every request: find who is calling, refuse anonymous and forged requests."""
    endpoint = request.endpoint or ""
    if endpoint in ANONYMOUS_ENDPOINTS:
        g.identity = None
        return None
    identity = _load_identity()
    g.identity = identity
    if identity is None and endpoint not in PUBLIC_ENDPOINTS:
        if request.path.startswith(("/api/", "/live/")):
            raise ApiError(
                401, "unauthenticated", "log in or send an API token (Authorization: Bearer ...)"
            )
        target = request.full_path if request.query_string else request.path
        return redirect(url_for("auth.login", next=target))
    if identity is not None and identity.role == "kiosk":
        view = current_app.view_functions.get(endpoint)
        if not getattr(view, "kiosk_allowed", False):
            raise ApiError(
                403, "forbidden", "a kiosk token can only send frames and read live events"
            )
    # Cookie-authenticated writes (the login form included) must prove they come from our
    # pages; bearer tokens are never sent by a browser on its own, so they need no CSRF token.
    if request.method in UNSAFE_METHODS and (identity is None or identity.via == "session"):
        _check_csrf()
    return None


def admin_required(view):
    """Only admins (session or token) may call this view."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        identity = current_identity()
        if identity is None or not identity.is_admin:
            raise ApiError(403, "forbidden", "this action needs the admin role")
        return view(*args, **kwargs)

    return wrapper


def kiosk_allowed(view):
    """Mark a view that kiosk tokens may call (besides admins and, if reading, viewers)."""
    view.kiosk_allowed = True
    return view


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect after login is a phishing aid.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("pages.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        ext = current_app.extensions["attendance"]
        throttle_key = f"web:failed-login:{username.casefold()}:{request.remote_addr}"
        failures = int(ext.cache.get(throttle_key) or 0)
        if failures >= MAX_FAILED_LOGINS:
            error = "Too many failed attempts. Wait 15 minutes and try again."
            return render_template("login.html", error=error, username=username), 429
        identity = ext.users.authenticate(username, password)
        if identity is None:
            ext.cache.incr(throttle_key, FAILED_LOGIN_WINDOW_S)
            logger.warning("failed login for %r from %s", username, request.remote_addr)
            return render_template(
                "login.html", error="Wrong user name or password.", username=username
            ), 401
        ext.cache.delete(throttle_key)
        # A fresh session (and CSRF token) on login defeats session fixation.
        session.clear()
        session.permanent = True
        session["user"] = identity.name
        csrf_token()
        logger.info("%s logged in", identity.name)
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error, username="")


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("auth.login"))


def init_auth(app: Flask) -> None:
    app.before_request(authenticate_request)

    @app.context_processor
    def _inject() -> dict:
        return {"csrf_token": csrf_token, "identity": current_identity()}
