"""Read models shared by the pages and the API, so both always show the same facts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from services.common.storage.employees import Employee
from services.common.storage.sightings import LoggedSighting
from services.common.workday import day_of
from services.web import clock
from services.web.context import WebContext
from services.web.errors import ApiError
from services.web.period import PeriodRow, build_period

MAX_RANGE_DAYS = 366


@dataclass(frozen=True)
class Entry:
    """One arrival or departure, for the "last entries" panel."""

    employee_id: str
    employee_name: str
    event: str  # "arrival" | "departure" (a departure only once the person is out)
    seen_at: datetime
    local_time: datetime
    camera_id: str
    picture_id: str | None
    record_id: str
    corrected: bool = False


@dataclass(frozen=True)
class EmployeeSummary:
    employee: Employee
    registered_local: datetime
    last_seen: datetime | None
    today_status: str
    presence: str | None


@dataclass(frozen=True)
class HeadCount:
    """ "In now: 12 of 40": people seen within the presence timeout, of everyone registered."""

    present: int
    registered: int


def today(ctx: WebContext) -> date:
    """Today in the site's zone, by the web's clock (services.web.clock)."""
    return day_of(clock.now(), ctx.settings.site)


def resolve_day(ctx: WebContext, day: date | Literal["today"] | None) -> date:
    """A parsed day (see services.web.input_models), "today" and "not given" meaning today."""
    return today(ctx) if day is None or day == "today" else day


def date_range(
    ctx: WebContext, first: date | None, last: date | None, default_days: int
) -> tuple[date, date]:
    """The days from ``first`` to ``last``; by default the ``default_days`` ending today."""
    end = last or today(ctx)
    start = first or end - timedelta(days=default_days - 1)
    if start > end:
        raise ApiError(400, "invalid_range", "the start date is after the end date")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ApiError(400, "invalid_range", f"a range covers at most {MAX_RANGE_DAYS} days")
    return start, end


def latest_entries(ctx: WebContext, limit: int = 5) -> list[Entry]:
    """The most recent arrivals and departures (today's and yesterday's records).

    A departure is listed once the person is out: while they are still seen it is only the
    latest sighting, and "left" would be wrong.
    """
    now = clock.now()
    day = day_of(now, ctx.settings.site)
    period = build_period(ctx, day - timedelta(days=1), day, now=now)
    entries: list[Entry] = []
    for row in period.rows:
        facts = row.facts
        kinds = [("arrival", facts.arrival, row.arrival_picture, row.arrival_camera)]
        if facts.presence != "in":
            kinds.append(
                ("departure", facts.departure, row.departure_picture, row.departure_camera)
            )
        for kind, moment, picture, camera in kinds:
            if moment is None:
                continue
            entries.append(
                Entry(
                    employee_id=row.employee_id,
                    employee_name=row.employee_name,
                    event=kind,
                    seen_at=moment,
                    local_time=moment.astimezone(ctx.zone),
                    camera_id=camera or "",
                    picture_id=picture,
                    record_id=row.record_id or "",
                    corrected=facts.arrival_corrected
                    if kind == "arrival"
                    else facts.departure_corrected,
                )
            )
    entries.sort(key=lambda entry: entry.seen_at, reverse=True)
    return entries[:limit]


def day_rows(ctx: WebContext, day: date) -> list[PeriodRow]:
    """Every person's row for one day, those who came first (by arrival), then by name."""
    rows = build_period(ctx, day, day).rows
    return sorted(rows, key=lambda r: (r.facts.arrival is None, r.employee_name.casefold()))


def head_count(rows: list[PeriodRow], registered: int) -> HeadCount:
    return HeadCount(sum(1 for r in rows if r.facts.presence == "in"), registered)


def employee_summaries(ctx: WebContext) -> list[EmployeeSummary]:
    now = clock.now()
    day = day_of(now, ctx.settings.site)
    facts = {r.employee_id: r.facts for r in build_period(ctx, day, day, now=now).rows}
    summaries = []
    for employee in ctx.employees.list_all():
        latest = ctx.attendance.latest_for_employee(employee.employee_id)
        mine = facts.get(employee.employee_id)
        summaries.append(
            EmployeeSummary(
                employee=employee,
                registered_local=employee.created_at.astimezone(ctx.zone),
                last_seen=ctx.local(latest.record.latest.seen_at) if latest else None,
                today_status=mine.status if mine else "",
                presence=mine.presence if mine else None,
            )
        )
    return summaries


def unknown_faces(ctx: WebContext, limit: int = 60) -> list[LoggedSighting]:
    return ctx.sightings.recent(limit, known=False)


# A spreadsheet runs a cell starting with = + - @ (or tab / CR before one) as a formula, and
# one that splits cells on ; or , on import starts a new cell after each: a quote before the
# character makes it text in both cases.
_FORMULA_START = re.compile(r"(^|[;,])([ ]*)([=+\-@\t\r])")


def csv_safe(text: str) -> str:
    return _FORMULA_START.sub(r"\1\2'\3", text)
