"""The shapes of every path value, query string, form and JSON body the web accepts.

Ids are checked in their exact format (an employee id is 12 lower-case hex digits), strings have
lengths, numbers ranges and dates a range a calendar can hold, so nothing malformed reaches the
database and no arithmetic on a date can overflow.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetPydanticSchema,
    StringConstraints,
    model_validator,
)

from services.common.storage.audit import AUDIT_ACTIONS

# Attendance before this or after that is a typo or an attack, never a real working day; the
# bounds also keep every day +/- a time-zone offset inside what datetime can represent.
FIRST_DATE = date(2000, 1, 1)
LAST_DATE = date(2099, 12, 31)

EmployeeId = Annotated[
    str, StringConstraints(pattern=r"^[0-9a-f]{12}$"), Field(examples=["3f2a9c0d1e4b"])
]
TokenId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{12}$")]
SightingId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:@-]{1,128}$")]
PictureId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:@-]{1,160}$")]
CameraId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:@/-]{1,64}$")]
# Names are normalised and checked for content by the employee store (friendly error codes);
# this only bounds what is read.
NameText = Annotated[str, StringConstraints(min_length=1, max_length=500)]


def _printable(text: str) -> str:
    # Control and format characters (NUL, CR, bidi overrides) have no business in a search or
    # a label; MongoDB refuses a NUL inside a regular expression, and U+202E turns a name shown
    # in the audit log around.
    if any(unicodedata.category(char).startswith("C") for char in text):
        raise ValueError("control or formatting characters are not accepted")
    return text


SearchText = Annotated[str, StringConstraints(max_length=200), AfterValidator(_printable)]
LabelText = Annotated[
    str, StringConstraints(min_length=1, max_length=80), AfterValidator(_printable)
]


def _calendar_date(text: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None
    if not FIRST_DATE <= day <= LAST_DATE:
        raise ValueError(f"dates from {FIRST_DATE} to {LAST_DATE} are accepted")
    return day


def _blank_is_none(value: object) -> object:
    # An empty form field or query parameter means "not given".
    return None if value == "" else value


# A date read from its text: the checks (and the documented schema) are those of the text, the
# value handed to the view is the date.
_CalendarText = Annotated[
    str,
    StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$"),
    AfterValidator(_calendar_date),
    Field(json_schema_extra={"format": "date"}),
]
CalendarDate = Annotated[date, GetPydanticSchema(lambda _, h: h.generate_schema(_CalendarText))]
OptionalDate = Annotated[CalendarDate | None, BeforeValidator(_blank_is_none)]
OptionalCamera = Annotated[CameraId | None, BeforeValidator(_blank_is_none)]


def _day_or_today(text: str) -> date | Literal["today"]:
    return "today" if text == "today" else _calendar_date(text)


_DayText = Annotated[
    str,
    StringConstraints(pattern=r"^(today|\d{4}-\d{2}-\d{2})$"),
    AfterValidator(_day_or_today),
    Field(description="YYYY-MM-DD or 'today'"),
]
DayText = Annotated[
    date | Literal["today"], GetPydanticSchema(lambda _, h: h.generate_schema(_DayText))
]


class _Query(BaseModel):
    # Unknown query parameters (a cache-buster, a tracking tag) are ignored, never used.
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Form(BaseModel):
    # Page forms also carry csrf_token and buttons' names; only the declared fields are read.
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Json(BaseModel):
    # A JSON client sends exactly these fields with exactly these types: "5" is not 5.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# -- path values ------------------------------------------------------------------------------
class EmployeePath(BaseModel):
    employee_id: EmployeeId


class SightingPath(BaseModel):
    sighting_id: SightingId


class PicturePath(BaseModel):
    picture_id: PictureId


class TokenPath(BaseModel):
    token_id: TokenId


class DayPath(BaseModel):
    day: DayText


# -- query strings ----------------------------------------------------------------------------
class EmployeeListQuery(_Query):
    q: Annotated[SearchText, Field(description="Part of a name: answers suggestions")] = ""
    limit: Annotated[int, Field(ge=1, le=50, description="How many suggestions")] = 10


class DateRangeQuery(_Query):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)
    first: Annotated[OptionalDate, Field(alias="from", description="First day, YYYY-MM-DD")] = None
    last: Annotated[OptionalDate, Field(alias="to", description="Last day, YYYY-MM-DD")] = None


class LatestEntriesQuery(_Query):
    limit: Annotated[int, Field(ge=1, le=100)] = 5


class UnknownFacesQuery(_Query):
    limit: Annotated[int, Field(ge=1, le=500)] = 60


class EventsQuery(_Query):
    after: Annotated[int, Field(ge=0, le=2**62, description="Last sequence already seen")] = 0
    camera: OptionalCamera = None


class CameraPath(BaseModel):
    camera_id: CameraId


class MjpegQuery(_Query):
    frames: Annotated[int, Field(ge=1, le=1_000_000)] | None = None


class LiveEventsQuery(_Query):
    camera: OptionalCamera = None
    max: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    after: Annotated[int, Field(ge=0, le=2**62)] | None = None


class FrameQuery(_Query):
    camera_id: OptionalCamera = None


class SearchPageQuery(_Query):
    q: SearchText = ""


class AttendancePageQuery(_Query):
    day: Annotated[DayText | None, BeforeValidator(_blank_is_none)] = None


class KioskPageQuery(_Query):
    camera: CameraId = "kiosk-1"


# -- bodies -----------------------------------------------------------------------------------
class EnrolmentForm(_Form):
    """Registering: a name and photos (files), or a live camera's latest frame instead."""

    name: Annotated[str, StringConstraints(max_length=500)] = ""
    camera_id: OptionalCamera = None
    allow_duplicate_face: Annotated[
        bool,
        Field(description="Register even if the face matches another employee (audited)"),
    ] = False


class PreviewForm(_Form):
    camera_id: OptionalCamera = None


class AddPhotosForm(_Form):
    allow_duplicate_face: Annotated[
        bool,
        Field(description="Add the photo even if its face matches another employee (audited)"),
    ] = False


class AssignUnknownFace(_Json):
    """An existing employee (``employee_id``) or a new one (``name``), not both."""

    employee_id: EmployeeId | None = None
    name: NameText | None = None
    allow_duplicate_face: bool = False

    @model_validator(mode="after")
    def _one_target(self) -> AssignUnknownFace:
        if self.employee_id is not None and self.name is not None:
            raise ValueError("give employee_id or name, not both")
        return self


class AssignUnknownFaceForm(_Form):
    employee_id: Annotated[EmployeeId | None, BeforeValidator(_blank_is_none)] = None
    name: Annotated[NameText | None, BeforeValidator(_blank_is_none)] = None


class NewToken(_Json):
    name: LabelText
    role: Literal["admin", "viewer", "kiosk"] = "kiosk"


class NewTokenForm(_Form):
    name: Annotated[str, StringConstraints(max_length=200), AfterValidator(_printable)] = ""
    role: Literal["admin", "viewer", "kiosk"] = "kiosk"


class DeleteConfirmationForm(_Form):
    confirm_name: Annotated[str, StringConstraints(max_length=500)] = ""


# One of the audit log's actions (an enum in the schema). The list lives with the log, so the
# Literal is made from it when the module loads, which a type checker cannot follow: to it the
# value is a str.
_AuditAction = Annotated[
    str, GetPydanticSchema(lambda _, h: h.generate_schema(Literal.__getitem__(AUDIT_ACTIONS)))
]


class AuditQuery(_Query):
    action: Annotated[_AuditAction | None, BeforeValidator(_blank_is_none)] = None
    page: Annotated[int, Field(ge=1, le=10_000)] = 1
