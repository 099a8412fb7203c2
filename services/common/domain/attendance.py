"""The attendance rules, as a pure function from (record, sighting) to record.

A day's record keeps the earliest and the latest sighting of the employee. The arrival is the
earliest; the departure is the latest, provided it came at least ``departure_min_gap`` after the
arrival. Read in delivery order this is exactly "the first sighting sets the arrival; a later one
at least the gap after it sets the departure unless a later departure is already recorded".
Because min and max are commutative, associative and idempotent, redelivered and out-of-order
sightings always produce the same record as in-order delivery.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

# What a sighting meant for its day's record.
EventKind = Literal["arrival", "departure", "seen"]


@dataclass(frozen=True)
class Observation:
    """One sighting of an employee, as far as the attendance rules care."""

    seen_at: datetime
    sighting_id: str
    camera_id: str
    picture_id: str

    @property
    def order_key(self) -> tuple[datetime, str]:
        # The sighting id breaks ties so that two sightings in the same millisecond still
        # give one deterministic answer whatever order they arrive in.
        return (self.seen_at, self.sighting_id)


@dataclass(frozen=True)
class AttendanceRecord:
    record_id: str
    employee_id: str
    day: date
    arrival: Observation
    latest: Observation
    departure: Observation | None


def attendance_day(seen_at: datetime, site_zone: ZoneInfo, day_start_hour: int = 0) -> date:
    """The working day a moment belongs to, in the site's zone, days starting at the given hour."""
    local = seen_at.astimezone(site_zone)
    return (local - timedelta(hours=day_start_hour)).date()


def implausible_time(
    seen_at: datetime, now: datetime, *, max_ahead: timedelta, max_age: timedelta
) -> str | None:
    """Why no camera can have seen anything at ``seen_at`` (a clock reset to 1970 or set years
    ahead), or None: such a time would open an attendance day that never was."""
    when, clock = seen_at.isoformat(), now.isoformat()
    if seen_at > now + max_ahead:
        return (
            f"seen_at {when} is more than {max_ahead.total_seconds() / 3600:g} hours after {clock}"
        )
    if seen_at < now - max_age:
        return f"seen_at {when} is more than {max_age.days} days before {clock}"
    return None


def record_id_for(day: date, employee_id: str) -> str:
    """A record id unique within its day, derived so that every recorder computes the same one."""
    return f"{day:%Y%m%d}-{employee_id}"


def apply_sighting(
    record: AttendanceRecord | None,
    employee_id: str,
    observation: Observation,
    day: date,
    departure_min_gap: timedelta,
) -> AttendanceRecord:
    """Fold one sighting into the employee's record for ``day`` (None if there is none yet)."""
    if observation.seen_at.tzinfo is None:
        raise ValueError("sighting time must be timezone-aware")
    observation = replace(observation, seen_at=observation.seen_at.astimezone(UTC))
    if record is None:
        return AttendanceRecord(
            record_id=record_id_for(day, employee_id),
            employee_id=employee_id,
            day=day,
            arrival=observation,
            latest=observation,
            departure=None,
        )
    if record.employee_id != employee_id or record.day != day:
        raise ValueError("sighting belongs to another employee or day than the record")
    if observation in (record.arrival, record.latest):
        return record
    arrival = min(record.arrival, observation, key=lambda o: o.order_key)
    latest = max(record.latest, observation, key=lambda o: o.order_key)
    departure = latest if latest.seen_at - arrival.seen_at >= departure_min_gap else None
    return replace(record, arrival=arrival, latest=latest, departure=departure)


def event_for(record: AttendanceRecord, sighting_id: str) -> EventKind:
    """What a sighting meant for the record: its arrival, its departure, or just a sighting."""
    if record.arrival.sighting_id == sighting_id:
        return "arrival"
    if record.departure is not None and record.departure.sighting_id == sighting_id:
        return "departure"
    return "seen"
