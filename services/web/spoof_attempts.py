"""The Spoof attempts page (/spoof-attempts) and GET /api/v1/spoof-attempts: the tracks the
liveness check took for a photo or a screen held to a camera, newest first, for admins only
(a spoof attempt names the colleague someone tried to clock in), and the navigation's count of
today's attempts.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Annotated

from flask import Blueprint, jsonify, render_template
from pydantic import BaseModel, ConfigDict, Field

from services.common.storage.spoof_attempts import SpoofAttempt, SpoofAttemptLog
from services.web import clock
from services.web.auth import current_identity, require_role
from services.web.context import WebContext, ctx
from services.web.inputs import accepts

logger = logging.getLogger(__name__)

bp = Blueprint("spoof_attempts", __name__)

PAGE_SIZE = 24
# The page's small chart: attempts on each of the last days.
DAYS_SHOWN = 7
MAX_PAGE = 100_000


class SpoofAttemptsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    page: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 1


def attempt_log(context: WebContext) -> SpoofAttemptLog:
    return SpoofAttemptLog(context.db, context.pictures)


@bp.record_once
def _indexes(state) -> None:
    # The app's context exists before its blueprints are registered (see create_app).
    attempt_log(state.app.extensions["attendance"]).ensure_indexes()


def _today_start(context: WebContext) -> datetime:
    today = clock.now().astimezone(context.zone).date()
    return datetime.combine(today, datetime.min.time(), context.zone)


@bp.get("/spoof-attempts")
@require_role("admin")
@accepts(query=SpoofAttemptsQuery)
def page(query: SpoofAttemptsQuery):
    c = ctx()
    log = attempt_log(c)
    total = log.count()
    last = clock.now().astimezone(c.zone).date()
    per_day = log.per_day(c.zone, last - timedelta(days=DAYS_SHOWN - 1), last)
    return render_template(
        "spoof_attempts.html",
        attempts=log.page(query.page, PAGE_SIZE),
        total=total,
        today_count=per_day[last],
        per_day=per_day,
        page=query.page,
        pages=max(1, -(-total // PAGE_SIZE)),
    )


@bp.get("/api/v1/spoof-attempts")
@require_role("admin")
@accepts(query=SpoofAttemptsQuery)
def api_list(query: SpoofAttemptsQuery):
    """Spoof attempts newest first, 24 a page: when and where, whom the face resembled (and
    the similarity), the track's mean liveness score, and the pictures' URLs."""
    log = attempt_log(ctx())
    return jsonify(
        {
            "total": log.count(),
            "page": query.page,
            "page_size": PAGE_SIZE,
            "attempts": [_as_json(attempt) for attempt in log.page(query.page, PAGE_SIZE)],
        }
    )


def _as_json(attempt: SpoofAttempt) -> dict:
    return {
        "attempt_id": attempt.attempt_id,
        "camera_id": attempt.camera_id,
        "track_id": attempt.track_id,
        "seen_at": attempt.seen_at.isoformat(),
        "employee_id": attempt.employee_id,
        "employee_name": attempt.employee_name,
        "similarity": attempt.similarity,
        "liveness_score": attempt.liveness_score,
        "faces_scored": attempt.faces_scored,
        "action": attempt.action,
        "snapshot_url": f"/api/v1/pictures/{attempt.snapshot_id}",
        "face_url": f"/api/v1/pictures/{attempt.face_id}",
    }


@bp.app_context_processor
def _spoof_badge() -> dict:
    """Today's spoof attempts for the navigation's badge (admins only)."""
    identity = current_identity()
    if identity is None or not identity.is_admin:
        return {"spoof_attempts_today": 0}
    try:
        c = ctx()
        return {"spoof_attempts_today": attempt_log(c).count_since(_today_start(c))}
    except Exception as exc:  # the error page itself must render while the database is away
        logger.warning("the spoof attempts badge could not be counted: %s", exc)
        return {"spoof_attempts_today": 0}
