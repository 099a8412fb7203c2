"""The Flask app factory: wires repositories, the bus, the live feed and the blueprints."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pymongo.database import Database

from services.common.bus.base import Communicator
from services.common.cache import KeyValueCache
from services.common.domain.accounts import AccountError, Role
from services.common.settings import SettingsError
from services.common.storage.accounts import UserStore
from services.common.storage.attendance import AttendanceRepository
from services.common.storage.audit import AuditLog
from services.common.storage.employees import EmployeeRepository
from services.common.storage.sightings import SightingLog
from services.web import accounts, api, auth, live, pages, recognition_status, spoof_attempts
from services.web.context import EnrolmentService, WebContext
from services.web.errors import register_error_handlers
from services.web.live_feed import LiveFeed, reusing
from services.web.settings import WebSettings

logger = logging.getLogger(__name__)

ops = Blueprint("ops", __name__)


@ops.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@ops.get("/readyz")
def readyz():
    c: WebContext = current_app.extensions["attendance"]
    checks = {"mongodb": False, "cache": False, "live_feed": c.live.running}
    try:
        c.db.command("ping")
        checks["mongodb"] = True
    except Exception as exc:  # any failure means "not ready"; the reason goes to the log
        logger.warning("readiness: MongoDB ping failed: %s", exc)
    checks["cache"] = bool(c.cache.ping())
    ready = all(checks.values())
    return jsonify({"status": "ready" if ready else "not ready", "checks": checks}), (
        200 if ready else 503
    )


@ops.get("/metrics")
def metrics():
    registry = current_app.extensions["attendance_metrics"]["registry"]
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _install_metrics(app: Flask) -> None:
    registry = CollectorRegistry()
    requests_total = Counter(
        "web_requests_total", "HTTP requests", ["method", "endpoint", "status"], registry=registry
    )
    latency = Histogram(
        "web_request_seconds", "HTTP request latency", ["endpoint"], registry=registry
    )
    app.extensions["attendance_metrics"] = {"registry": registry}

    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        endpoint = request.endpoint or "unknown"
        requests_total.labels(request.method, endpoint, str(response.status_code)).inc()
        if "started" in g:
            latency.labels(endpoint).observe(time.perf_counter() - g.started)
        return response


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
        "style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    )
    return response


def create_app(
    settings: WebSettings,
    *,
    db: Database,
    cache: KeyValueCache,
    bus: Communicator,
    enroller: EnrolmentService | None = None,
    live_bus: Communicator | None = None,
    live_bus_factory: Callable[[], Communicator] | None = None,
    start_live: bool = True,
) -> Flask:
    """Build the app. ``bus`` publishes frames; ``live_bus`` (default: ``bus``) is consumed in a
    background thread for live frames and events, and run again after a failure, unless
    ``live_bus_factory`` is given: it makes a new communicator for each (re)connection of the
    live feed. ``enroller`` registers employees."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.web_secret_key.get_secret_value(),
        MAX_CONTENT_LENGTH=settings.web_max_upload_bytes,
        # The form-field limit only concerns text fields; files are bounded by the line above.
        MAX_FORM_MEMORY_SIZE=1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.web_cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.web_session_hours),
        JSON_SORT_KEYS=False,
    )
    employees = EmployeeRepository(db)
    users = UserStore(db)
    users.ensure_indexes()
    if settings.web_admin_password:
        ensure_settings_account(
            users,
            "admin",
            settings.web_admin_password.get_secret_value(),
            "admin",
            "WEB_ADMIN_PASSWORD",
        )
    if settings.web_viewer_password:
        ensure_settings_account(
            users,
            "viewer",
            settings.web_viewer_password.get_secret_value(),
            "viewer",
            "WEB_VIEWER_PASSWORD",
        )
    if not users.has_admin():
        logger.error("no admin account exists: set WEB_ADMIN_PASSWORD to create one")
    audit = AuditLog(db)
    audit.ensure_indexes()
    feed = LiveFeed()
    context = WebContext(
        settings=settings,
        db=db,
        cache=cache,
        bus=bus,
        enrol=enroller,
        employees=employees,
        attendance=AttendanceRepository(db),
        sightings=SightingLog(db, employees.pictures),
        pictures=employees.pictures,
        users=users,
        live=feed,
        audit=audit,
    )
    app.extensions["attendance"] = context
    _install_metrics(app)
    auth.init_auth(app)
    register_error_handlers(app)
    for blueprint in (
        ops,
        auth.bp,
        pages.bp,
        api.bp,
        live.bp,
        accounts.bp,
        recognition_status.bp,
        spoof_attempts.bp,
    ):
        app.register_blueprint(blueprint)
    app.after_request(_security_headers)
    _install_filters(app, context)
    if start_live:
        feed.start(live_bus_factory or reusing(live_bus or bus))
    return app


def ensure_settings_account(
    users: UserStore, name: str, password: str, role: Role, setting: str
) -> None:
    """Create the account a setting (WEB_ADMIN_PASSWORD...) names, on first start only.

    A weak password in the settings stops the start; a changed one is ignored, and the log
    says so and how to change the password for real.
    """
    try:
        created = users.ensure_user(name, password, role)
    except AccountError as exc:
        raise SettingsError(f"{setting}: {exc}") from None
    if not created and not users.password_matches(name, password):
        logger.warning(
            "%s differs from the password of account %r and is ignored: it only sets the "
            "password when the account is created; to change it run "
            "`attendance users set-password %s`",
            setting,
            name,
            name,
        )


def _install_filters(app: Flask, context: WebContext) -> None:
    @app.template_filter("localtime")
    def _localtime(moment, fmt: str = "%H:%M") -> str:
        if moment is None:
            return "—"
        return moment.astimezone(context.zone).strftime(fmt)

    @app.context_processor
    def _site() -> dict[str, Any]:
        return {"site_timezone": context.settings.site_timezone}

    # Pages render a camera's addresses with this in place of the camera, for scripts to fill.
    app.jinja_env.globals["CAMERA_SLOT"] = live.CAMERA_SLOT
