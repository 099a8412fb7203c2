"""Small steps the attendance pages and API share, so both read their inputs the same way."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from services.common.workday import day_bounds, day_of, greeting
from services.web import period, queries
from services.web.attendance_inputs import PeriodQuery
from services.web.context import WebContext
from services.web.corrections import TimeChange
from services.web.errors import ApiError


def known_employee(ctx: WebContext, employee_id: str | None) -> str | None:
    """The employee filter, refused with a 404 when it names nobody."""
    if employee_id is not None and ctx.employees.get(employee_id) is None:
        raise ApiError(404, "not_found", f"no employee with id {employee_id}")
    return employee_id


def period_range(ctx: WebContext, query: PeriodQuery) -> tuple[date, date]:
    """``day`` (one day), or ``from``/``to``, or this week (Monday to Sunday)."""
    if query.day is not None:
        return query.day, query.day
    if query.first is None and query.last is None:
        return period.this_week(queries.today(ctx))
    if query.first is not None and query.last is None:
        return queries.date_range(ctx, query.first, query.first + timedelta(days=6), 7)
    return queries.date_range(ctx, query.first, query.last, 7)


def period_for(ctx: WebContext, query: PeriodQuery) -> tuple[period.Period, date, date]:
    first, last = period_range(ctx, query)
    found = period.build_period(ctx, first, last, known_employee(ctx, query.employee))
    return found, first, last


def time_change(value: str | None, given: bool) -> TimeChange:
    """A correction's time as the API sends it: left out, null, "recorded" or "HH:MM"."""
    if not given:
        return "unchanged"
    if value is None:
        return "none"
    if value == "recorded":
        return "recorded"
    return time.fromisoformat(value)


def greeting_for(ctx: WebContext, employee_id: str, seen_at: datetime) -> dict:
    """What the kiosk says to an employee seen at ``seen_at`` (see workday.greeting)."""
    employee = ctx.employees.get(employee_id)
    if employee is None:
        raise ApiError(404, "not_found", f"no employee with id {employee_id}")
    site = ctx.settings.site
    day = day_of(seen_at, site)
    start, _ = day_bounds(day, site)
    previous = ctx.sightings.previous_of(employee_id, seen_at, start)
    records = ctx.attendance.for_period(day, day, employee_id)
    said = greeting(
        previous.seen_at if previous else None,
        seen_at,
        arrival=records[0].record.arrival.seen_at if records else None,
        schedule=period.calendar(ctx).schedule_for(employee_id),
        site=site,
    )
    return {
        "employee_id": employee_id,
        "employee_name": employee.name,
        "seen_at": seen_at.isoformat(),
        "local_time": seen_at.astimezone(ctx.zone).strftime("%H:%M"),
        "greeting": said,
    }
