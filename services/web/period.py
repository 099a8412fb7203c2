"""Attendance over a period, one row per person per day, with each person's totals.

The facts of every day (status, hours, late, presence, corrections) come from
:mod:`services.common.workday`; this module only gathers its inputs from the stores.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from services.common.storage.attendance import StoredRecord
from services.common.storage.employees import Employee
from services.common.workday import (
    STATUSES,
    Correction,
    DayFacts,
    PersonTotals,
    Sighted,
    day_facts,
    day_of,
    totals,
)
from services.web import clock
from services.web.context import WebContext
from services.web.schedules import WorkCalendar

PAGE_SIZE = 50
SortKey = Literal["day", "name", "status", "hours", "arrival"]
SORT_KEYS = ("day", "name", "status", "hours", "arrival")


@dataclass(frozen=True)
class PeriodRow:
    """One person on one day, with the pictures and cameras behind the times shown."""

    employee_id: str
    employee_name: str
    facts: DayFacts
    record_id: str | None
    holiday: str | None
    arrival_picture: str | None = None
    arrival_camera: str | None = None
    departure_picture: str | None = None
    departure_camera: str | None = None
    last_seen_picture: str | None = None
    last_seen_camera: str | None = None
    # The camera time came from a track the liveness check flagged (LIVENESS=flag).
    arrival_flagged: bool = False
    departure_flagged: bool = False

    @property
    def shown_departure_picture(self) -> str | None:
        """The picture behind the departure column: the last sighting while the person is in."""
        return self.last_seen_picture if self.facts.presence == "in" else self.departure_picture

    @property
    def day(self) -> date:
        return self.facts.day

    @property
    def status(self) -> str:
        return self.facts.status


@dataclass(frozen=True)
class PersonSummary:
    employee_id: str
    employee_name: str
    totals: PersonTotals


@dataclass
class Period:
    first: date
    last: date
    rows: list[PeriodRow]
    summaries: list[PersonSummary] = field(default_factory=list)

    def page(self, number: int, size: int = PAGE_SIZE) -> list[PeriodRow]:
        start = (number - 1) * size
        return self.rows[start : start + size]

    def pages(self, size: int = PAGE_SIZE) -> int:
        return max(1, -(-len(self.rows) // size))


@dataclass(frozen=True)
class _Person:
    employee_id: str
    name: str
    registered_on: date
    # Records of someone no longer registered are history: only their recorded days are shown.
    registered: bool = True


def calendar(ctx: WebContext) -> WorkCalendar:
    return WorkCalendar(ctx.db, ctx.settings.site_schedule)


def sighted(stored: StoredRecord | None) -> Sighted | None:
    if stored is None:
        return None
    record = stored.record
    departure = record.departure.seen_at if record.departure else None
    return Sighted(record.arrival.seen_at, departure, record.latest.seen_at)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _people(
    ctx: WebContext, employees: Iterable[Employee], records: Iterable[StoredRecord]
) -> list[_Person]:
    site = ctx.settings.site
    people = {
        e.employee_id: _Person(e.employee_id, e.name, day_of(e.created_at, site)) for e in employees
    }
    for stored in records:
        employee_id = stored.record.employee_id
        if employee_id not in people:
            people[employee_id] = _Person(employee_id, stored.employee_name, date.min, False)
    return sorted(people.values(), key=lambda p: (p.name.casefold(), p.employee_id))


def _row(
    person: _Person,
    facts: DayFacts,
    stored: StoredRecord | None,
    holiday: str | None,
) -> PeriodRow:
    row = PeriodRow(
        person.employee_id,
        person.name,
        facts,
        stored.record.record_id if stored else None,
        holiday,
    )
    if stored is None:
        return row
    record = stored.record
    # A picture backs a time only when the time is the cameras' own.
    arrival = record.arrival if not facts.arrival_corrected else None
    departure = record.departure if not facts.departure_corrected else None
    return PeriodRow(
        row.employee_id,
        row.employee_name,
        facts,
        row.record_id,
        holiday,
        arrival.picture_id if arrival else None,
        arrival.camera_id if arrival else None,
        departure.picture_id if departure else None,
        departure.camera_id if departure else None,
        record.latest.picture_id,
        record.latest.camera_id,
        arrival is not None and stored.arrival_flagged,
        departure is not None and stored.departure_flagged,
    )


def build_period(
    ctx: WebContext,
    first: date,
    last: date,
    employee_id: str | None = None,
    *,
    now: datetime | None = None,
) -> Period:
    """Every person's every day of ``first``..``last`` (one person's with ``employee_id``)."""
    now = now or clock.now()
    site = ctx.settings.site
    work = calendar(ctx)
    records = ctx.attendance.for_period(first, last, employee_id)
    by_key = {(s.record.employee_id, s.record.day): s for s in records}
    corrections: dict[tuple[str, date], Correction] = {
        (c.employee_id, c.day): c.correction
        for c in ctx.attendance.corrections_between(first, last, employee_id)
    }
    if employee_id is None:
        employees = ctx.employees.list_all()
    else:
        one = ctx.employees.get(employee_id)
        employees = [one] if one is not None else []
    holidays = work.holidays_between(first, last)
    own = work.own_schedules()
    rows: list[PeriodRow] = []
    summaries: list[PersonSummary] = []
    for person in _people(ctx, employees, records):
        schedule = work.schedule_for(person.employee_id, own)
        mine: list[DayFacts] = []
        for day in _days(first, last):
            stored = by_key.get((person.employee_id, day))
            correction = corrections.get((person.employee_id, day))
            if not person.registered and stored is None and correction is None:
                continue
            facts = day_facts(
                day,
                now=now,
                site=site,
                schedule=schedule,
                registered_on=person.registered_on,
                holiday=holidays.get(day),
                sighted=sighted(stored),
                correction=correction,
            )
            mine.append(facts)
            rows.append(_row(person, facts, stored, holidays.get(day)))
        summaries.append(PersonSummary(person.employee_id, person.name, totals(mine)))
    return Period(first, last, rows, summaries)


def _arrival_of(row: PeriodRow) -> datetime:
    arrival = row.facts.arrival
    assert arrival is not None  # only rows with an arrival are sorted by it
    return arrival


def sort_rows(rows: list[PeriodRow], key: SortKey, descending: bool = False) -> list[PeriodRow]:
    """Rows in the order asked; the direction is the sort key's only, ties always go by day
    then name (so paging is stable and a day's names stay in order)."""

    def base(row: PeriodRow) -> tuple:
        return (row.day, row.employee_name.casefold(), row.employee_id)

    if key == "arrival":
        # Days without an arrival go last whichever the direction.
        timed = sorted((r for r in rows if r.facts.arrival is not None), key=base)
        ordered = sorted(timed, key=_arrival_of, reverse=descending)
        return ordered + sorted((r for r in rows if r.facts.arrival is None), key=base)
    primary = {
        "day": lambda r: r.day,
        "name": lambda r: (r.employee_name.casefold(), r.employee_id),
        "status": lambda r: STATUSES.index(r.status),
        "hours": lambda r: r.facts.hours or timedelta(0),
    }[key]
    # Python's sort is stable, also in reverse: the base order survives among equal keys.
    return sorted(sorted(rows, key=base), key=primary, reverse=descending)


def this_week(today: date) -> tuple[date, date]:
    """Monday to Sunday of the week holding ``today`` (the period view's default)."""
    monday = today - timedelta(days=today.weekday())
    return monday, monday + timedelta(days=6)
