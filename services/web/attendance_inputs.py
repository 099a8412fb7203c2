"""The shapes of the attendance pages' and API's inputs: periods, corrections, schedules,
holidays, unknown-face groups and the kiosk's greeting (see services.web.input_models for the
shared pieces and the rules every input follows)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from services.common.workday import MARKS
from services.web.input_models import (
    FIRST_DATE,
    LAST_DATE,
    CalendarDate,
    EmployeeId,
    NameText,
    OptionalDate,
    _blank_is_none,
    _Form,
    _Json,
    _Query,
)

SortKey = Literal["day", "name", "status", "hours", "arrival"]
Order = Literal["asc", "desc"]
OptionalEmployee = Annotated[EmployeeId | None, BeforeValidator(_blank_is_none)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]
WallTime = Annotated[
    str,
    StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$"),
    Field(description="Local wall-clock time, HH:MM", examples=["08:55"]),
]
GroupId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9._:@-]{1,160}$"),
    Field(description="An unknown-face group: its first sighting's id"),
]
MarkText = Literal["leave", "holiday", "remote"]
assert set(MARKS) == {"leave", "holiday", "remote"}


class PeriodQuery(_Query):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)
    first: Annotated[OptionalDate, Field(alias="from", description="First day, YYYY-MM-DD")] = None
    last: Annotated[OptionalDate, Field(alias="to", description="Last day, YYYY-MM-DD")] = None
    employee: Annotated[OptionalEmployee, Field(description="Only this employee")] = None
    sort: SortKey = "day"
    order: Order = "asc"
    page: Annotated[int, Field(ge=1, le=100_000)] = 1
    # The day view's old address (/attendance?day=...) still works: one day.
    day: Annotated[OptionalDate, Field(description="One day (same as from=to=day)")] = None


class ExportQuery(_Query):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)
    first: Annotated[OptionalDate, Field(alias="from", description="First day, YYYY-MM-DD")] = None
    last: Annotated[OptionalDate, Field(alias="to", description="Last day, YYYY-MM-DD")] = None
    employee: Annotated[OptionalEmployee, Field(description="Only this employee")] = None
    sheet: Annotated[
        Literal["days", "summary"],
        Field(description="days: one row per person per day; summary: one per person"),
    ] = "days"


class XlsxExportQuery(_Query):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)
    first: Annotated[OptionalDate, Field(alias="from", description="First day, YYYY-MM-DD")] = None
    last: Annotated[OptionalDate, Field(alias="to", description="Last day, YYYY-MM-DD")] = None
    employee: Annotated[OptionalEmployee, Field(description="Only this employee")] = None


class ChartQuery(_Query):
    pass


# -- corrections ------------------------------------------------------------------------------
class CorrectionBody(_Json):
    """A correction of one employee's day. ``arrival`` / ``departure``: "HH:MM" to set it,
    null for "there was none", "recorded" to go back to what the cameras saw, left out to keep
    it as it stands. ``mark``: leave, holiday or remote, null to remove it. ``reason`` is
    required and kept with the correction and in the audit log."""

    employee_id: EmployeeId
    day: CalendarDate
    arrival: Annotated[str | None, Field(pattern=r"^(recorded|([01]\d|2[0-3]):[0-5]\d)$")] = None
    departure: Annotated[str | None, Field(pattern=r"^(recorded|([01]\d|2[0-3]):[0-5]\d)$")] = None
    mark: MarkText | None = None
    reason: Reason


TimeChoice = Literal["recorded", "set", "none"]


class CorrectionForm(_Form):
    """The correction page's form: the whole day as it should stand."""

    arrival_choice: TimeChoice = "recorded"
    arrival_time: Annotated[WallTime | None, BeforeValidator(_blank_is_none)] = None
    departure_choice: TimeChoice = "recorded"
    departure_time: Annotated[WallTime | None, BeforeValidator(_blank_is_none)] = None
    mark: Annotated[MarkText | None, BeforeValidator(_blank_is_none)] = None
    reason: Annotated[str, StringConstraints(max_length=500)] = ""

    @model_validator(mode="after")
    def _time_when_set(self) -> CorrectionForm:
        if self.arrival_choice == "set" and self.arrival_time is None:
            raise ValueError("give the arrival time (HH:MM) or choose another option")
        if self.departure_choice == "set" and self.departure_time is None:
            raise ValueError("give the departure time (HH:MM) or choose another option")
        return self


class CorrectionPageQuery(_Query):
    employee: EmployeeId
    day: CalendarDate


# -- schedules and holidays -------------------------------------------------------------------
class ScheduleForm(_Form):
    """A schedule from the Schedule page: one box per working weekday."""

    employee_id: Annotated[OptionalEmployee, Field(description="Whose; none: the site's")] = None
    mon: bool = False
    tue: bool = False
    wed: bool = False
    thu: bool = False
    fri: bool = False
    sat: bool = False
    sun: bool = False
    start: time
    end: time
    grace_minutes: Annotated[int, Field(ge=0, le=24 * 60)] = 5

    @property
    def working_days(self) -> frozenset[int]:
        flags = (self.mon, self.tue, self.wed, self.thu, self.fri, self.sat, self.sun)
        return frozenset(n for n, works in enumerate(flags) if works)


class EmployeeScheduleForm(_Form):
    employee_id: EmployeeId


class HolidayForm(_Form):
    day: CalendarDate
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class HolidayPath(_Form):
    day: CalendarDate


# -- unknown faces ----------------------------------------------------------------------------
class UnknownGroupsQuery(_Query):
    day: Annotated[OptionalDate, Field(description="Only faces seen that day (YYYY-MM-DD)")] = None
    page: Annotated[int, Field(ge=1, le=10_000)] = 1


class GroupPath(_Form):
    group_id: GroupId


class AssignGroup(_Json):
    """An existing employee (``employee_id``) or a new one (``name``); ``make_attendance``
    turns the group's sightings into that day's attendance."""

    employee_id: EmployeeId | None = None
    name: NameText | None = None
    make_attendance: bool = False
    allow_duplicate_face: bool = False

    @model_validator(mode="after")
    def _one_target(self) -> AssignGroup:
        if (self.employee_id is None) == (self.name is None):
            raise ValueError("give employee_id or name (one of them)")
        return self


class AssignGroupForm(_Form):
    employee_id: OptionalEmployee = None
    name: Annotated[NameText | None, BeforeValidator(_blank_is_none)] = None
    make_attendance: bool = False


# -- kiosk ------------------------------------------------------------------------------------
def _plausible(moment: datetime) -> datetime:
    if not FIRST_DATE <= moment.date() <= LAST_DATE:
        raise ValueError(f"times from {FIRST_DATE} to {LAST_DATE} are accepted")
    return moment


class GreetingQuery(_Query):
    employee_id: EmployeeId
    seen_at: Annotated[
        AwareDatetime,
        AfterValidator(_plausible),
        Field(description="The sighting's time, ISO 8601 with its offset (as events carry it)"),
    ]
