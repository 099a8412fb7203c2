"""The shapes of the API's answers: each view builds one of these models and answers it, and the
OpenAPI document takes its schema from the same model (services/web/openapi.py), so the two
cannot drift apart.

Times are sent as the ISO 8601 text the API has always sent (``isoformat()``, an offset such as
``+02:00``), so they are strings here with the ``date-time`` format.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, ParamSpec, TypeVar

from flask import Response, jsonify
from pydantic import BaseModel, ConfigDict, Field

from services.common.domain.enrolment import FacePreview as FoundFace
from services.common.storage.employees import Employee as StoredEmployee

P = ParamSpec("P")
R = TypeVar("R")

IsoDateTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
IsoDate = Annotated[str, Field(json_schema_extra={"format": "date"})]


def iso(moment: datetime | date | None) -> str | None:
    return moment.isoformat() if moment is not None else None


class ResponseModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def answer(model: BaseModel, status: int = 200) -> tuple[Response, int]:
    """The model as the JSON body of a response (field aliases such as ``from`` used)."""
    return jsonify(model.model_dump(mode="json", by_alias=True)), status


def responds(model: type[BaseModel]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Name the model a view answers with, for the OpenAPI document."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        vars(view)["response_model"] = model
        return view

    return decorate


def response_model(view: Callable[..., Any]) -> type[BaseModel] | None:
    model = getattr(view, "response_model", None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


# -- errors ---------------------------------------------------------------------------------------
class ErrorDetail(BaseModel):
    """What went wrong: a stable code and a message a person can act on."""

    # Some errors add specifics (the bad ``field``, the conflicting ``employee_id``).
    model_config = ConfigDict(frozen=True, extra="allow")

    code: str
    message: str


class Error(BaseModel):
    """Every error answer: ``{"error": {"code": ..., "message": ...}}``."""

    model_config = ConfigDict(frozen=True)

    error: ErrorDetail


# -- employees and faces --------------------------------------------------------------------------
class BoundingBox(ResponseModel):
    """A box in a picture, in pixels from its top-left corner."""

    x: int
    y: int
    width: int
    height: int


class FacePreview(ResponseModel):
    """The face a registration would take from the photo"""

    face_data_url: str = Field(description="The aligned face crop as a data:image/jpeg;base64 URL")
    face_box: BoundingBox
    liveness_hint: str | None = Field(
        default=None,
        description="Set when the photo looks like a photo of a screen or a print "
        "(it can still be enrolled)",
    )

    @classmethod
    def of(cls, preview: FoundFace) -> FacePreview:
        # A data URL is shown by an <img> as is (the CSP allows data: images), never stored.
        encoded = base64.b64encode(preview.face_jpeg).decode("ascii")
        box = preview.box
        return cls(
            face_data_url=f"data:image/jpeg;base64,{encoded}",
            face_box=BoundingBox(x=box.x, y=box.y, width=box.width, height=box.height),
            liveness_hint=preview.liveness_hint,
        )


class Employee(ResponseModel):
    """An employee and their enrolment photos."""

    employee_id: str
    name: str
    registered_at: IsoDateTime
    photo_ids: list[str]
    photo_urls: list[str]

    @classmethod
    def fields_of(cls, employee: StoredEmployee) -> dict[str, Any]:
        return {
            "employee_id": employee.employee_id,
            "name": employee.name,
            "registered_at": employee.created_at.isoformat(),
            "photo_ids": list(employee.photo_ids),
            "photo_urls": [f"/api/v1/pictures/{p}" for p in employee.photo_ids],
        }

    @classmethod
    def of(cls, employee: StoredEmployee) -> Employee:
        return cls(**cls.fields_of(employee))


class EmployeeSummary(Employee):
    """An employee in the full list: with today's status and when they were last seen."""

    last_seen: IsoDateTime | None
    today_status: str
    presence: str | None


class EmployeeList(ResponseModel):
    """Every employee with today's status, or (when searching by name) the matches alone."""

    employees: list[EmployeeSummary | Employee]


# -- attendance -----------------------------------------------------------------------------------
class Correction(ResponseModel):
    """What a correction set: a local ISO time, null (there was none) or "recorded"."""

    arrival: str | None
    departure: str | None
    mark: str | None
    reason: str
    by: str
    at: IsoDateTime | None


class AttendanceRow(ResponseModel):
    """One person on one day; times are ISO 8601 in the site's zone."""

    employee_id: str
    employee_name: str
    day: IsoDate
    status: str
    record_id: str | None
    arrival: IsoDateTime | None
    arrival_picture_id: str | None
    arrival_camera_id: str | None
    departure: IsoDateTime | None
    departure_picture_id: str | None
    departure_camera_id: str | None
    last_seen: IsoDateTime | None
    presence: str | None
    departure_label: str | None
    hours: float | None
    late_minutes: int | None
    holiday: str | None
    corrected: bool
    arrival_corrected: bool
    departure_corrected: bool
    # A time taken from a track the liveness check flagged as a photo or a screen.
    arrival_flagged: bool
    departure_flagged: bool
    correction: Correction | None


class PersonTotals(ResponseModel):
    """One person's totals over a period."""

    employee_id: str
    employee_name: str
    days_present: int
    late_arrivals: int
    absences: int
    leave_days: int
    remote_days: int
    hours: float
    corrected_days: int


class EmployeeAttendance(ResponseModel):
    """An employee's days over a period, newest first, with the period's totals."""

    employee: Employee
    first: IsoDate = Field(serialization_alias="from")
    last: IsoDate = Field(serialization_alias="to")
    time_zone: str
    days: list[AttendanceRow]
    totals: PersonTotals | None


class AttendanceDay(ResponseModel):
    """Every employee's attendance on one day, and how many are in."""

    day: IsoDate
    time_zone: str
    head_count: int
    rows: list[AttendanceRow]


class AttendancePeriod(ResponseModel):
    """A page of attendance rows over a period, and each person's totals."""

    first: IsoDate = Field(serialization_alias="from")
    last: IsoDate = Field(serialization_alias="to")
    time_zone: str
    page: int
    pages: int
    total_rows: int
    rows: list[AttendanceRow]
    totals: list[PersonTotals]
