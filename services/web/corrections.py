"""Admins' corrections of a day: set or clear the arrival or departure, or mark the day as
leave, holiday or remote, always with a reason. The cameras' record stays as it was; the
correction is stored beside it and wins over it (services.common.workday.effective_times), and
every change goes to the audit log with the values before and after."""

from __future__ import annotations

from datetime import date, time
from typing import Literal

from services.common.storage.employees import Employee
from services.common.workday import (
    Correction,
    ManualTime,
    Mark,
    day_of,
    effective_times,
    local_moment,
)
from services.web import clock
from services.web.audit import audit
from services.web.context import WebContext
from services.web.errors import ApiError
from services.web.period import sighted

# What to do with one time: keep the correction as it stands, go back to the cameras' value,
# say there was none, or set it to a local wall-clock time.
TimeChange = Literal["unchanged", "recorded", "none"] | time
MIN_REASON = 3


def _manual(change: TimeChange, current: ManualTime | None, day: date, ctx: WebContext):
    if change == "unchanged":
        return current
    if change == "recorded":
        return None
    if change == "none":
        return ManualTime(None)
    assert isinstance(change, time)
    return ManualTime(local_moment(day, change, ctx.settings.site))


def describe(correction: Correction | None, ctx: WebContext) -> dict:
    """A correction as the audit log keeps it (ISO times in the site's zone)."""
    if correction is None:
        return {"arrival": "recorded", "departure": "recorded", "mark": None}

    def shown(value: ManualTime | None) -> str | None:
        if value is None:
            return "recorded"
        return value.at.astimezone(ctx.zone).isoformat() if value.at else None

    return {
        "arrival": shown(correction.arrival),
        "departure": shown(correction.departure),
        "mark": correction.mark,
    }


def correct_day(
    ctx: WebContext,
    employee: Employee,
    day: date,
    *,
    arrival: TimeChange,
    departure: TimeChange,
    mark: Mark | Literal["unchanged"] | None,
    reason: str,
    actor: str,
) -> Correction:
    """Apply a correction to ``employee``'s ``day``, check it, store it and audit it."""
    reason = " ".join(reason.split())
    if len(reason) < MIN_REASON:
        raise ApiError(400, "reason_required", "say why the day is corrected (a few words)")
    site = ctx.settings.site
    now = clock.now()
    if day < day_of(employee.created_at, site):
        raise ApiError(
            400, "not_yet_employed", f"{employee.name} was not registered yet on {day.isoformat()}"
        )
    current = ctx.attendance.correction(employee.employee_id, day)
    base = current or Correction()
    updated = Correction(
        arrival=_manual(arrival, base.arrival, day, ctx),
        departure=_manual(departure, base.departure, day, ctx),
        mark=base.mark if mark == "unchanged" else mark,
        reason=reason,
        made_by=actor,
        made_at=now,
    )
    record = next(iter(ctx.attendance.for_period(day, day, employee.employee_id)), None)
    first, last = effective_times(sighted(record), updated)
    for moment in (first, last):
        if moment is not None and moment > now:
            raise ApiError(400, "time_in_future", "a corrected time cannot be in the future")
    if first is not None and last is not None and last <= first:
        raise ApiError(400, "departure_before_arrival", "the departure must come after the arrival")
    if last is not None and first is None:
        raise ApiError(400, "departure_without_arrival", "a day with a departure needs an arrival")
    ctx.attendance.set_correction(employee.employee_id, day, updated)
    audit(
        "attendance.correct",
        f"{day:%Y%m%d}-{employee.employee_id}",
        employee_id=employee.employee_id,
        name=employee.name,
        day=day.isoformat(),
        before=describe(current, ctx),
        after=describe(updated if updated.changes_anything else None, ctx),
        reason=reason,
    )
    return updated
