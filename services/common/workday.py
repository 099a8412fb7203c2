"""What one employee's working day was: presence, hours on site, late, absent, corrections.

Pure functions of the day's sighting record, the admin's correction, the schedule, the holiday
list and the clock. The pages, the API, the exports and the kiosk all take their facts from here,
so they cannot disagree.

Every comparison and difference of moments is done in UTC: two aware datetimes that share one
ZoneInfo compare by wall-clock time, not by instant, which is wrong across a DST change. Local
times are only built (a schedule's 09:00 on a given day) and shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MARKS = ("leave", "holiday", "remote")
Mark = Literal["leave", "holiday", "remote"]
Presence = Literal["in", "out"]
Greeting = Literal["welcome", "welcome_back", "goodbye"]

# Every status a day can have, in the order a legend lists them.
STATUSES = (
    "present",
    "late",
    "absent",
    "expected",
    "off",
    "holiday",
    "leave",
    "remote",
    "upcoming",
    "not yet employed",
)
ON_SITE = frozenset({"present", "late"})

# The kiosk says goodbye to someone seen after a real absence from this long before the end of
# their scheduled day on; earlier, coming back after an absence is a return (lunch, an errand).
GOODBYE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Site:
    """Where and how days are counted: the site's zone, the hour a day starts, presence."""

    zone: ZoneInfo
    day_start_hour: int = 0
    presence_timeout: timedelta = timedelta(minutes=10)


@dataclass(frozen=True)
class Schedule:
    """When someone is expected: working weekdays (0 is Monday), start, end and grace."""

    working_days: frozenset[int]
    start: time
    end: time
    grace: timedelta

    def works_on(self, day: date) -> bool:
        return day.weekday() in self.working_days

    @property
    def length(self) -> timedelta:
        """Scheduled time on site; an end before the start means the shift crosses midnight."""
        start = datetime.combine(date.min, self.start)
        end = datetime.combine(date.min, self.end)
        return end - start if end > start else end + timedelta(days=1) - start


@dataclass(frozen=True)
class ManualTime:
    """A corrected arrival or departure: a moment, or None for "there was none"."""

    at: datetime | None


@dataclass(frozen=True)
class Correction:
    """What an admin changed about a day (None: as recorded), why, who and when."""

    arrival: ManualTime | None = None
    departure: ManualTime | None = None
    mark: Mark | None = None
    reason: str = ""
    made_by: str = ""
    made_at: datetime | None = None

    @property
    def changes_anything(self) -> bool:
        return self.arrival is not None or self.departure is not None or self.mark is not None


@dataclass(frozen=True)
class Sighted:
    """The day as the cameras saw it (the recorder's record): first, departure and latest."""

    arrival: datetime
    departure: datetime | None
    latest: datetime


@dataclass(frozen=True)
class DayFacts:
    day: date
    status: str
    arrival: datetime | None
    departure: datetime | None
    last_seen: datetime | None
    arrival_corrected: bool
    departure_corrected: bool
    presence: Presence | None
    hours: timedelta | None
    late_by: timedelta | None
    correction: Correction | None

    @property
    def corrected(self) -> bool:
        return self.correction is not None

    @property
    def on_site(self) -> bool:
        return self.status in ON_SITE

    @property
    def departure_label(self) -> str | None:
        """While someone is in, the latest sighting is only "last seen"; it is "left" after."""
        if self.presence == "in":
            return "last seen"
        return "left" if self.departure is not None else None

    @property
    def shown_departure(self) -> datetime | None:
        return self.last_seen if self.presence == "in" else self.departure


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("moments must be timezone-aware")
    return moment.astimezone(UTC)


def day_of(moment: datetime, site: Site) -> date:
    """The working day a moment belongs to, in the site's zone, days starting at its hour."""
    local = _utc(moment).astimezone(site.zone)
    return (local - timedelta(hours=site.day_start_hour)).date()


def local_moment(day: date, wall: time, site: Site) -> datetime:
    """The UTC instant of a wall-clock time on a working day.

    A day runs from ``day_start_hour`` to the same hour the next calendar day, so a time before
    that hour (02:00 with days starting at 04:00) falls on the next calendar date. A wall time
    that does not exist (skipped by a DST change) is read with the offset in force before it.
    """
    calendar = day + timedelta(days=1) if wall.hour < site.day_start_hour else day
    return datetime.combine(calendar, wall, tzinfo=site.zone).astimezone(UTC)


def day_bounds(day: date, site: Site) -> tuple[datetime, datetime]:
    """The UTC instants at which a working day starts and ends (end excluded)."""
    start = datetime.combine(day, time(site.day_start_hour), tzinfo=site.zone)
    end = datetime.combine(day + timedelta(days=1), time(site.day_start_hour), tzinfo=site.zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def expected_start(day: date, schedule: Schedule, site: Site) -> datetime:
    return local_moment(day, schedule.start, site)


def expected_end(day: date, schedule: Schedule, site: Site) -> datetime:
    return expected_start(day, schedule, site) + schedule.length


def effective_times(
    sighted: Sighted | None, correction: Correction | None
) -> tuple[datetime | None, datetime | None]:
    """Arrival and departure as they stand: a manual value always wins over the cameras."""
    arrival = sighted.arrival if sighted else None
    departure = sighted.departure if sighted else None
    if correction is not None and correction.arrival is not None:
        arrival = correction.arrival.at
    if correction is not None and correction.departure is not None:
        departure = correction.departure.at
    return (
        _utc(arrival) if arrival is not None else None,
        _utc(departure) if departure is not None else None,
    )


def presence(
    sighted: Sighted | None,
    correction: Correction | None,
    now: datetime,
    site: Site,
) -> Presence:
    """In while seen within the presence timeout; Out afterwards (or when never seen)."""
    if sighted is None:
        return "out"
    if correction is not None and correction.arrival is not None and correction.arrival.at is None:
        return "out"  # an admin said this person was not here: a false recognition
    # A sighting stamped a little after the web's clock (clocks differ) still means "here".
    return "in" if _utc(now) - _utc(sighted.latest) < site.presence_timeout else "out"


def hours_on_site(arrival: datetime | None, departure: datetime | None) -> timedelta | None:
    if arrival is None or departure is None or departure <= arrival:
        return None
    return _utc(departure) - _utc(arrival)


def day_facts(
    day: date,
    *,
    now: datetime,
    site: Site,
    schedule: Schedule,
    registered_on: date,
    holiday: str | None = None,
    sighted: Sighted | None = None,
    correction: Correction | None = None,
) -> DayFacts:
    """Everything a page, an export or a total says about one employee's day."""
    today = day_of(now, site)
    arrival, departure = effective_times(sighted, correction)
    here = presence(sighted, correction, now, site) if day == today else None
    working = schedule.works_on(day) and holiday is None
    late_by = None
    if arrival is not None and working:
        due = expected_start(day, schedule, site)
        if arrival > due + schedule.grace:
            late_by = arrival - due
    if day < registered_on:
        # Seen before being registered (a face assigned later): there, but never late.
        status = "present" if arrival is not None else "not yet employed"
        late_by = None
    elif correction is not None and correction.mark is not None:
        status = correction.mark
    elif arrival is not None:
        status = "late" if late_by is not None else "present"
    elif holiday is not None:
        status = "holiday"
    elif not schedule.works_on(day):
        status = "off"
    elif day > today:
        status = "upcoming"
    elif day == today and _utc(now) <= expected_start(day, schedule, site) + schedule.grace:
        status = "expected"
    else:
        status = "absent"
    return DayFacts(
        day=day,
        status=status,
        arrival=arrival,
        departure=departure,
        last_seen=_utc(sighted.latest) if sighted is not None else None,
        arrival_corrected=correction is not None and correction.arrival is not None,
        departure_corrected=correction is not None and correction.departure is not None,
        presence=here,
        hours=hours_on_site(arrival, departure),
        late_by=late_by if status == "late" else None,
        correction=correction,
    )


def greeting(
    previous: datetime | None,
    seen_at: datetime,
    *,
    arrival: datetime | None,
    schedule: Schedule,
    site: Site,
) -> Greeting | None:
    """What a kiosk says to someone seen at ``seen_at`` whose sighting before it that day was
    at ``previous`` (None: this is their first).

    Welcome on arrival; nothing while they are still there (seen within the presence timeout);
    after a real absence, goodbye late in their day and welcome back before. Their day ends
    at the scheduled end, or the scheduled length after a late arrival, whichever is later.
    """
    seen_at = _utc(seen_at)
    if previous is None:
        return "welcome"
    if seen_at - _utc(previous) < site.presence_timeout:
        return None
    day = day_of(seen_at, site)
    end = expected_end(day, schedule, site)
    if arrival is not None:
        end = max(end, _utc(arrival) + schedule.length)
    return "goodbye" if seen_at >= end - GOODBYE_WINDOW else "welcome_back"


@dataclass(frozen=True)
class PersonTotals:
    days_present: int
    late_arrivals: int
    absences: int
    leave_days: int
    remote_days: int
    hours: timedelta
    corrected_days: int

    @property
    def hours_decimal(self) -> float:
        return round(self.hours.total_seconds() / 3600, 2)


def totals(days: Iterable[DayFacts]) -> PersonTotals:
    """One person's totals over a period (days present includes late ones)."""
    facts = list(days)
    return PersonTotals(
        days_present=sum(1 for d in facts if d.on_site),
        late_arrivals=sum(1 for d in facts if d.status == "late"),
        absences=sum(1 for d in facts if d.status == "absent"),
        leave_days=sum(1 for d in facts if d.status in ("leave", "holiday") and d.corrected),
        remote_days=sum(1 for d in facts if d.status == "remote"),
        hours=sum((d.hours for d in facts if d.hours is not None), timedelta(0)),
        corrected_days=sum(1 for d in facts if d.corrected),
    )


def format_hours(duration: timedelta | None) -> str:
    """Hours and minutes as a manager reads them: 7:45 (never a float of hours)."""
    if duration is None:
        return ""
    minutes = int(duration.total_seconds() // 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def parse_weekdays(text: str) -> frozenset[int]:
    """ "mon,tue,wed" (or "mon-fri") into weekday numbers; refuses unknown names."""
    days: set[int] = set()
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        if "-" in part:
            first, _, last = part.partition("-")
            if first not in WEEKDAYS or last not in WEEKDAYS:
                raise ValueError(f"unknown weekday range {part!r} (use mon..sun)")
            a, b = WEEKDAYS.index(first), WEEKDAYS.index(last)
            if a > b:
                raise ValueError(f"weekday range {part!r} runs backwards")
            days.update(range(a, b + 1))
        elif part in WEEKDAYS:
            days.add(WEEKDAYS.index(part))
        else:
            raise ValueError(f"unknown weekday {part!r} (use mon, tue, wed, thu, fri, sat, sun)")
    return frozenset(days)


def weekday_names(days: Iterable[int]) -> str:
    return ",".join(WEEKDAYS[d] for d in sorted(days))
