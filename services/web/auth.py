"""Who is calling: login and logout, server-side sessions, API tokens, roles and CSRF.

Three roles: ``admin`` (register, delete, assign, accounts, tokens), ``viewer`` (read only) and
``kiosk`` (the kiosk page only: send frames, read live events). A browser holds a session id
(see services/common/storage/sessions.py); scripts send an API token. Every endpoint needs an
identity except the few listed in PUBLIC_ENDPOINTS, and the roles its view names with
:func:`require_role` (admins and viewers when it names none).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from typing import Annotated, Any, ParamSpec, TypeVar

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
from pydantic import BaseModel, ConfigDict, StringConstraints

from services.common.domain.accounts import ROLES, Role
from services.common.storage.accounts import UserStore
from services.web.errors import ApiError
from services.web.inputs import parse_form
from services.web.login_throttle import LoginThrottle, Refusal
from services.web.redirects import local_path_or

logger = logging.getLogger(__name__)

# Served without looking up the caller at all: probes and assets must answer (and /healthz
# must say "alive") while the database that holds accounts is away.
ANONYMOUS_ENDPOINTS = frozenset({"ops.healthz", "ops.readyz", "ops.metrics", "static"})
PUBLIC_ENDPOINTS = ANONYMOUS_ENDPOINTS | {"auth.login"}
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
KIOSK_PAGE = "pages.kiosk"
# Who may call a view that names no roles: reading is for people, not for kiosks.
READERS: tuple[Role, ...] = ("admin", "viewer")
ALL_ROLES: tuple[Role, ...] = ROLES
P = ParamSpec("P")
R = TypeVar("R")

bp = Blueprint("auth", __name__)


@dataclass(frozen=True)
class Identity:
    name: str
    role: Role
    via: str  # "session" | "token"
    # The person's account behind the caller: the user of a session, the account whose admin
    # made a token (tokens made by tokens keep the first one's). Its tokens go when it does.
    owner: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_kiosk(self) -> bool:
        return self.role == "kiosk"

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles


class LoginForm(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    # Generous, but bounded: every character is hashed on purpose slowly.
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class KioskTokenForm(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    kiosk_token: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ]


def current_identity() -> Identity | None:
    return g.get("identity")


def current_session_id() -> str | None:
    """The id of the caller's browser session (None for API tokens and anonymous callers)."""
    return g.get("session_id")


def csrf_token() -> str:
    """The token every form and script must send back on a write.

    Logged in, it is derived from the session id, so the cookie carries nothing else; before
    login (the login form itself) it is a random value kept in the cookie.
    """
    session_id = session.get("sid")
    if isinstance(session_id, str):
        return _csrf_for(session_id)
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def _csrf_for(session_id: str) -> str:
    key = str(current_app.secret_key).encode()
    return hmac.new(key, f"csrf:{session_id}".encode(), hashlib.sha256).hexdigest()


def _users() -> UserStore:
    return current_app.extensions["attendance"].users


def _load_identity() -> Identity | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token = _users().find_token(header[len("Bearer ") :].strip())
        if token is None:
            raise ApiError(401, "invalid_token", "the API token is unknown or revoked")
        return Identity(f"token:{token.name}", token.role, "token", token.owner)
    session_id = session.get("sid")
    if not isinstance(session_id, str):
        return None
    users = _users()
    found = users.sessions.find(session_id)
    identity = None
    if found is not None and found.token_id is not None:
        # A kiosk signed in with a token: the session lives only as long as the token.
        token = users.token(found.token_id)
        if token is not None and token.role == "kiosk":
            identity = Identity(f"token:{token.name}", "kiosk", "session", token.owner)
    elif found is not None:
        # Re-read the role so that a removed or demoted account is refused at once.
        role = users.role_of(found.user)
        if role is not None:
            identity = Identity(found.user, role, "session", found.user)
    if identity is None:
        users.sessions.end(session_id)
        session.clear()
        return None
    assert found is not None
    users.sessions.touch(found, request.remote_addr)
    g.session_id = session_id
    return identity


def _check_csrf() -> None:
    session_id = session.get("sid")
    expected = _csrf_for(session_id) if isinstance(session_id, str) else session.get("csrf")
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    # Compared as bytes: compare_digest refuses str with characters beyond ASCII, and a token
    # is whatever the client sent.
    if (
        not expected
        or not sent
        or not hmac.compare_digest(str(expected).encode(), str(sent).encode())
    ):
        raise ApiError(
            400,
            "csrf_failed",
            "the form expired or its CSRF token is missing; reload the page and try again",
        )


def _is_api_path() -> bool:
    return request.path.startswith(("/api/", "/live/"))


def authenticate_request() -> Any:
    """Runs before every request: find who is calling, refuse anonymous and forged requests."""
    endpoint = request.endpoint or ""
    if endpoint in ANONYMOUS_ENDPOINTS:
        g.identity = None
        return None
    identity = _load_identity()
    g.identity = identity
    if identity is None and endpoint not in PUBLIC_ENDPOINTS:
        if _is_api_path():
            raise ApiError(
                401, "unauthenticated", "log in or send an API token (Authorization: Bearer ...)"
            )
        target = request.full_path if request.query_string else request.path
        return redirect(url_for("auth.login", next=target))
    if (
        identity is not None
        and identity.is_kiosk
        and endpoint not in PUBLIC_ENDPOINTS
        and "kiosk" not in allowed_roles(current_app.view_functions.get(endpoint))
    ):
        if _is_api_path():
            raise ApiError(403, "forbidden", "a kiosk can only send frames and read live events")
        # A page, not a redirect: sending a kiosk "home" could loop between two refusals.
        return render_template("kiosk_only.html"), 403
    # Cookie-authenticated writes (the login form included) must prove they come from our
    # pages; bearer tokens are never sent by a browser on its own, so they need no CSRF token.
    if request.method in UNSAFE_METHODS and (identity is None or identity.via == "session"):
        _check_csrf()
    return None


def require_role(
    *roles: Role, action: str = "this action"
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Only callers with one of ``roles`` (session or token) may call the view; others get 403
    saying ``action`` needs them. Kiosks are turned away before any view that does not name
    ``kiosk`` (see :func:`authenticate_request`)."""
    needed = " or ".join(roles)

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            identity = current_identity()
            if identity is None or not identity.has_role(*roles):
                raise ApiError(403, "forbidden", f"{action} needs the {needed} role")
            return view(*args, **kwargs)

        # Read by the request gate, which turns kiosks away before the view runs.
        vars(wrapper)["allowed_roles"] = roles
        return wrapper

    return decorate


def allowed_roles(view: Callable[..., Any] | None) -> tuple[Role, ...]:
    """The roles a view was declared for with :func:`require_role` (READERS when none)."""
    return getattr(view, "allowed_roles", READERS)


def _start_session(user: str, *, token_id: str | None = None) -> None:
    """A fresh session id at every login (an id planted before login is worth nothing)."""
    c = current_app.extensions["attendance"]
    previous = session.get("sid")
    if isinstance(previous, str):
        c.users.sessions.end(previous)
    session.clear()
    session.permanent = True
    session["sid"] = c.users.sessions.create(
        user,
        lifetime=timedelta(hours=c.settings.web_session_hours),
        client=request.remote_addr,
        token_id=token_id,
    )


def _after_login(role: str) -> Any:
    target = request.args.get("next")
    if role == "kiosk":
        # A kiosk goes to its page, keeping the camera it asked for.
        kiosk_page = url_for(KIOSK_PAGE)
        if target and target.split("?", 1)[0] != kiosk_page:
            target = None
        return redirect(local_path_or(target, kiosk_page))
    return redirect(local_path_or(target, url_for("pages.dashboard")))


def _refused(refusal: Refusal, username: str) -> Any:
    logger.warning("login throttled (%s) from %s", refusal.reason, request.remote_addr)
    page = render_template("login.html", error=refusal.message, username=username)
    return page, 429, {"Retry-After": str(refusal.retry_after_s)}


def _login_with_password() -> Any:
    form = parse_form(LoginForm)
    c = current_app.extensions["attendance"]
    refusal = LoginThrottle(c.cache).claim(account=form.username, address=request.remote_addr)
    if refusal is not None:
        return _refused(refusal, form.username)
    account = c.users.authenticate(form.username, form.password)
    if account is None:
        logger.warning("failed login for %r from %s", form.username, request.remote_addr)
        page = render_template(
            "login.html", error="Wrong user name or password.", username=form.username
        )
        return page, 401
    _start_session(account.name)
    logger.info("%s logged in from %s", account.name, request.remote_addr)
    return _after_login(account.role)


def _login_with_kiosk_token() -> Any:
    form = parse_form(KioskTokenForm)
    c = current_app.extensions["attendance"]
    refusal = LoginThrottle(c.cache).claim(account=None, address=request.remote_addr)
    if refusal is not None:
        return _refused(refusal, "")
    token = c.users.find_token(form.kiosk_token)
    if token is None or token.role != "kiosk":
        logger.warning("failed kiosk token sign-in from %s", request.remote_addr)
        page = render_template(
            "login.html", error="This is not a valid kiosk token.", username="", kiosk=True
        )
        return page, 401
    _start_session(f"token:{token.name}", token_id=token.token_id)
    logger.info("kiosk token %r signed in from %s", token.name, request.remote_addr)
    return _after_login("kiosk")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("login.html", error=None, username="")
    try:
        # One form: the kiosk button sends a token, the other the name and password.
        if request.form.get("kiosk_token", "").strip():
            return _login_with_kiosk_token()
        return _login_with_password()
    except ApiError as exc:
        if exc.status != 400:
            raise
        page = render_template("login.html", error=exc.message, username="")
        return page, 400


@bp.post("/logout")
@require_role(*ALL_ROLES)
def logout() -> Any:
    session_id = session.get("sid")
    if isinstance(session_id, str):
        # Deleting the stored session is what ends it: a copy of the cookie is now worthless.
        _users().sessions.end(session_id)
    session.clear()
    return redirect(url_for("auth.login"))


def init_auth(app: Flask) -> None:
    app.before_request(authenticate_request)

    @app.context_processor
    def _inject() -> dict[str, Any]:
        return {"csrf_token": csrf_token, "identity": current_identity()}
