"""Read models shared by the pages and the API, so both always show the same facts."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from services.common.storage.attendance import StoredRecord
from services.common.storage.employees import Employee
from services.common.storage.sightings import LoggedSighting
from services.web.context import WebContext
from services.web.errors import ApiError

MAX_RANGE_DAYS = 366


@dataclass(frozen=True)
class Entry:
    """One arrival or departure, for the "last entries" panel."""

    employee_id: str
    employee_name: str
    event: str  # "arrival" | "departure"
    seen_at: datetime
    local_time: datetime
    camera_id: str
    picture_id: str
    record_id: str


@dataclass(frozen=True)
class DayRow:
    """One employee on one day (possibly absent)."""

    employee_id: str
    employee_name: str
    day: date
    record_id: str | None
    arrival: datetime | None
    arrival_picture: str | None
    arrival_camera: str | None
    departure: datetime | None
    departure_picture: str | None
    departure_camera: str | None

    @property
    def status(self) -> str:
        if self.departure is not None:
            return "left"
        if self.arrival is not None:
            return "arrived"
        return "not seen"


@dataclass(frozen=True)
class EmployeeSummary:
    employee: Employee
    registered_local: datetime
    last_seen: datetime | None
    today_status: str


def resolve_day(ctx: WebContext, day: date | Literal["today"] | None) -> date:
    """A parsed day (see services.web.input_models), "today" and "not given" meaning today."""
    return ctx.today() if day is None or day == "today" else day


def date_range(
    ctx: WebContext, first: date | None, last: date | None, default_days: int
) -> tuple[date, date]:
    """The days from ``first`` to ``last``; by default the ``default_days`` ending today."""
    end = last or ctx.today()
    start = first or end - timedelta(days=default_days - 1)
    if start > end:
        raise ApiError(400, "invalid_range", "the start date is after the end date")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ApiError(400, "invalid_range", f"a range covers at most {MAX_RANGE_DAYS} days")
    return start, end


def latest_entries(ctx: WebContext, limit: int = 5) -> list[Entry]:
    """The most recent arrivals and departures (today's and yesterday's records)."""
    today = ctx.today()
    entries: list[Entry] = []
    for stored in ctx.attendance.between(today - timedelta(days=1), today):
        record = stored.record
        observations = [("arrival", record.arrival)]
        if record.departure is not None:
            observations.append(("departure", record.departure))
        for kind, observation in observations:
            entries.append(
                Entry(
                    employee_id=record.employee_id,
                    employee_name=stored.employee_name,
                    event=kind,
                    seen_at=observation.seen_at,
                    local_time=observation.seen_at.astimezone(ctx.zone),
                    camera_id=observation.camera_id,
                    picture_id=observation.picture_id,
                    record_id=record.record_id,
                )
            )
    entries.sort(key=lambda entry: entry.seen_at, reverse=True)
    return entries[:limit]


def _row(
    ctx: WebContext, employee_id: str, name: str, day: date, stored: StoredRecord | None
) -> DayRow:
    if stored is None:
        return DayRow(employee_id, name, day, None, None, None, None, None, None, None)
    record = stored.record
    departure = record.departure
    return DayRow(
        employee_id=employee_id,
        employee_name=name,
        day=day,
        record_id=record.record_id,
        arrival=ctx.local(record.arrival.seen_at),
        arrival_picture=record.arrival.picture_id,
        arrival_camera=record.arrival.camera_id,
        departure=ctx.local(departure.seen_at) if departure else None,
        departure_picture=departure.picture_id if departure else None,
        departure_camera=departure.camera_id if departure else None,
    )


def day_table(ctx: WebContext, day: date, *, include_absent: bool = True) -> list[DayRow]:
    """Every employee's arrival and departure on ``day`` (absent ones too, if asked)."""
    records = {stored.record.employee_id: stored for stored in ctx.attendance.for_day(day)}
    rows: list[DayRow] = []
    seen: set[str] = set()
    for employee in ctx.employees.list_all():
        stored = records.get(employee.employee_id)
        seen.add(employee.employee_id)
        if stored is not None or include_absent:
            rows.append(_row(ctx, employee.employee_id, employee.name, day, stored))
    # Records of people no longer registered are history; still show them.
    for employee_id, stored in records.items():
        if employee_id not in seen:
            rows.append(_row(ctx, employee_id, stored.employee_name, day, stored))
    rows.sort(key=lambda row: (row.arrival is None, row.employee_name.casefold()))
    return rows


def employee_history(ctx: WebContext, employee: Employee, first: date, last: date) -> list[DayRow]:
    return [
        _row(ctx, employee.employee_id, employee.name, stored.record.day, stored)
        for stored in ctx.attendance.for_employee(employee.employee_id, first, last)
    ]


def employee_summaries(ctx: WebContext) -> list[EmployeeSummary]:
    today = ctx.today()
    today_records = {s.record.employee_id: s for s in ctx.attendance.for_day(today)}
    summaries = []
    for employee in ctx.employees.list_all():
        latest = ctx.attendance.latest_for_employee(employee.employee_id)
        stored = today_records.get(employee.employee_id)
        status = _row(ctx, employee.employee_id, employee.name, today, stored).status
        summaries.append(
            EmployeeSummary(
                employee=employee,
                registered_local=employee.created_at.astimezone(ctx.zone),
                last_seen=ctx.local(latest.record.latest.seen_at) if latest else None,
                today_status=status,
            )
        )
    return summaries


def unknown_faces(ctx: WebContext, limit: int = 60) -> list[LoggedSighting]:
    return ctx.sightings.recent(limit, known=False)


CSV_COLUMNS = (
    "date",
    "employee_id",
    "employee_name",
    "status",
    "record_id",
    "arrival_time",
    "arrival_camera",
    "departure_time",
    "departure_camera",
    "time_zone",
)


# A spreadsheet runs a cell starting with = + - @ (or tab / CR before one) as a formula, and
# one that splits cells on ; or , on import starts a new cell after each: a quote before the
# character makes it text in both cases.
_FORMULA_START = re.compile(r"(^|[;,])([ ]*)([=+\-@\t\r])")


def csv_safe(text: str) -> str:
    return _FORMULA_START.sub(r"\1\2'\3", text)


def export_csv(ctx: WebContext, first: date, last: date) -> str:
    """One row per employee per day of the range (absent days included), times in site zone."""
    records: dict[tuple[str, date], StoredRecord] = {
        (s.record.employee_id, s.record.day): s for s in ctx.attendance.between(first, last)
    }
    employees = {e.employee_id: e.name for e in ctx.employees.list_all()}
    for (employee_id, _), stored in records.items():
        employees.setdefault(employee_id, stored.employee_name)
    ordered = sorted(employees.items(), key=lambda item: (item[1].casefold(), item[0]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    day = first
    while day <= last:
        for employee_id, name in ordered:
            row = _row(ctx, employee_id, name, day, records.get((employee_id, day)))
            cells = [
                day.isoformat(),
                employee_id,
                name,
                row.status,
                row.record_id or "",
                row.arrival.isoformat(timespec="seconds") if row.arrival else "",
                row.arrival_camera or "",
                row.departure.isoformat(timespec="seconds") if row.departure else "",
                row.departure_camera or "",
                ctx.settings.site_timezone,
            ]
            # Every cell, not only the name: ids and camera names come from outside too.
            writer.writerow([csv_safe(cell) for cell in cells])
        day += timedelta(days=1)
    return buffer.getvalue()
