"""Writes shared by the pages and the API: enrolment, unknown faces, erasure."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

from werkzeug.datastructures import FileStorage

from services.common.bus.base import BusUnavailable, RequestTimeout
from services.common.domain.enrolment import (
    FACE_REFUSALS,
    EmployeeError,
    FacePreview,
    normalize_name,
)
from services.common.image_headers import ImageError
from services.common.picture_codec import decode_picture
from services.common.storage.employees import Employee
from services.common.storage.spoof_attempts import SpoofAttemptLog
from services.web.audit import audit
from services.web.context import EnrolmentService, WebContext
from services.web.erase import ErasureReport, erase_employee
from services.web.errors import ApiError
from services.web.live_feed import STALE_CAMERA_S

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_PHOTOS = 20


def read_photos(files: Sequence[FileStorage]) -> list[bytes]:
    photos = [f.read() for f in files if f and (f.filename or f.content_length)]
    photos = [photo for photo in photos if photo]
    if not photos:
        raise ApiError(400, "photo_required", "choose a photo of the person's face")
    if len(photos) > MAX_PHOTOS:
        raise ApiError(400, "too_many_photos", f"send at most {MAX_PHOTOS} photos at once")
    return photos


def check_photos(ctx: WebContext, photos: list[bytes]) -> None:
    """Refuse what is obviously not a usable image before asking the recognizer."""
    for number, photo in enumerate(photos, 1):
        if len(photo) > ctx.settings.web_max_upload_bytes:
            raise ApiError(
                413,
                "image_too_large",
                f"photo {number} is {len(photo) / 1_048_576:.1f} MB; the limit is "
                f"{ctx.settings.web_max_upload_bytes / 1_048_576:.0f} MB",
            )
        try:
            decode_picture(photo)
        except ImageError as exc:
            raise ApiError(415, "not_an_image", f"photo {number}: {exc}") from exc


def live_photo(ctx: WebContext, camera_id: str) -> bytes:
    """The latest raw frame of ``camera_id`` as an enrolment photo (ApiError if there is none)."""
    camera_id = (camera_id or "").strip()
    frame = ctx.live.latest_frame(camera_id) if camera_id else None
    if frame is None or time.monotonic() - frame.received >= STALE_CAMERA_S:
        raise ApiError(
            409, "no_live_frame", f"camera {camera_id!r} has no recent frame to register from"
        )
    return frame.jpeg


def enrolment_photos(
    ctx: WebContext, files: Sequence[FileStorage], camera_id: str | None
) -> list[bytes]:
    """The uploaded photos or, when none is uploaded and a camera is named, its latest frame."""
    if camera_id and not any(f and f.filename for f in files):
        return [live_photo(ctx, camera_id)]
    return read_photos(files)


def _enroller(ctx: WebContext) -> EnrolmentService:
    if ctx.enrol is None:
        raise ApiError(503, "enrolment_unavailable", "enrolment is not available right now")
    return ctx.enrol


def call_enroller(action: Callable[[], T]) -> T:
    """Run an enrolment call, turning its failures into the API's errors."""
    try:
        return action()
    except EmployeeError as exc:
        raise ApiError.from_refusal(exc) from exc
    except RequestTimeout as exc:
        # The request expires when the wait ends (RabbitMQ drops it, the recognizer skips it),
        # so "nothing was registered" is true, and trying again cannot register twice.
        raise ApiError(
            504,
            "enrolment_timeout",
            "the recognizer did not answer in time; nothing was registered and the request "
            "was withdrawn, so it is safe to try again",
        ) from exc
    except BusUnavailable as exc:
        raise ApiError(503, "bus_unavailable", "the message broker cannot be reached") from exc


def check_name(ctx: WebContext, name: str) -> str:
    """Validate a new employee's name (the error a person fixes most easily comes first)."""
    clean = call_enroller(lambda: normalize_name(name))
    if ctx.employees.find_by_name(clean) is not None:
        raise ApiError(409, "duplicate_name", f"an employee named {clean!r} is already registered")
    return clean


def enrol_employee(
    ctx: WebContext, name: str, photos: list[bytes], *, allow_duplicate_face: bool = False
) -> Employee:
    check_name(ctx, name)
    check_photos(ctx, photos)
    employee = call_enroller(
        lambda: _enroller(ctx).enroll(name, photos, allow_duplicate_face=allow_duplicate_face)
    )
    logger.info("registered %s (%s)", employee.name, employee.employee_id)
    audit(
        "employee.enrol",
        employee.employee_id,
        name=employee.name,
        photos=len(photos),
        allow_duplicate_face=allow_duplicate_face,
    )
    return employee


def preview_face(ctx: WebContext, photos: list[bytes]) -> FacePreview:
    """The face enrolment would take from the one photo (checked as enrolment checks it)."""
    if len(photos) != 1:
        raise ApiError(400, "one_photo_only", "a preview shows the face of one photo at a time")
    check_photos(ctx, photos)
    return call_enroller(lambda: _enroller(ctx).preview(photos[0]))


def add_photos(
    ctx: WebContext, employee_id: str, photos: list[bytes], *, allow_duplicate_face: bool = False
) -> Employee:
    require_employee(ctx, employee_id)
    check_photos(ctx, photos)
    employee = call_enroller(
        lambda: _enroller(ctx).add_photos(
            employee_id, photos, allow_duplicate_face=allow_duplicate_face
        )
    )
    audit(
        "employee.add_photos",
        employee_id,
        name=employee.name,
        photos=len(photos),
        allow_duplicate_face=allow_duplicate_face,
    )
    return employee


def require_employee(ctx: WebContext, employee_id: str) -> Employee:
    employee = ctx.employees.get(employee_id)
    if employee is None:
        raise ApiError(404, "not_found", f"no employee with id {employee_id}")
    return employee


def erase(ctx: WebContext, employee_id: str) -> ErasureReport:
    employee = require_employee(ctx, employee_id)
    model_ids = [ctx.settings.gallery_model_id] if ctx.settings.gallery_model_id else []
    report = erase_employee(
        employee_id,
        employees=ctx.employees,
        attendance=ctx.attendance,
        sightings=ctx.sightings,
        spoof_attempts=SpoofAttemptLog(ctx.db, ctx.pictures),
        cache=ctx.cache,
        model_ids=model_ids,
    )
    # The entry keeps the name (not the face) so the log still says who was erased.
    audit(
        "employee.delete",
        employee_id,
        name=employee.name,
        attendance_records=report.attendance_records,
        sightings=report.sightings,
        pictures=report.pictures,
    )
    return report


def _unknown_photos(ctx: WebContext, sighting_id: str) -> list[list[bytes]]:
    sighting = ctx.sightings.get(sighting_id)
    if sighting is None or sighting.employee_id is not None:
        raise ApiError(404, "not_found", f"no unknown face {sighting_id}")
    candidates = []
    # The face crop shows only this person; the full snapshot is the fallback when the crop
    # is too tight for the detector.
    for picture_id in (sighting.face_id, sighting.snapshot_id):
        picture = ctx.pictures.get(picture_id)
        if picture:
            candidates.append([picture])
    if not candidates:
        raise ApiError(404, "not_found", "the pictures of this face were already removed")
    return candidates


def _with_fallback(
    candidates: list[list[bytes]], action: Callable[[list[bytes]], Employee]
) -> Employee:
    error: ApiError | None = None
    for photos in candidates:
        try:
            return call_enroller(partial(action, photos))
        except ApiError as exc:
            if exc.code not in FACE_REFUSALS:
                raise
            error = exc
    assert error is not None
    raise error


def assign_unknown(
    ctx: WebContext,
    sighting_id: str,
    *,
    employee_id: str | None,
    new_name: str | None,
    allow_duplicate_face: bool = False,
) -> Employee:
    """Add an unknown face as an enrolment photo of an employee (existing or new)."""
    if employee_id is None and new_name is None:
        raise ApiError(400, "target_required", "choose an employee or give a new name")
    candidates = _unknown_photos(ctx, sighting_id)
    enroller = _enroller(ctx)
    if employee_id is not None:
        require_employee(ctx, employee_id)
        employee = _with_fallback(
            candidates,
            lambda p: enroller.add_photos(
                employee_id, p, allow_duplicate_face=allow_duplicate_face
            ),
        )
    else:
        assert new_name is not None
        check_name(ctx, new_name)
        employee = _with_fallback(
            candidates,
            lambda p: enroller.enroll(new_name, p, allow_duplicate_face=allow_duplicate_face),
        )
    ctx.sightings.remove(sighting_id)
    logger.info("unknown face %s assigned to %s", sighting_id, employee.employee_id)
    audit(
        "unknown_face.assign",
        employee.employee_id,
        name=employee.name,
        sighting_id=sighting_id,
        new_employee=employee_id is None,
        allow_duplicate_face=allow_duplicate_face,
    )
    return employee


def dismiss_unknown(ctx: WebContext, sighting_id: str) -> None:
    sighting = ctx.sightings.get(sighting_id)
    if sighting is None or sighting.employee_id is not None:
        raise ApiError(404, "not_found", f"no unknown face {sighting_id}")
    ctx.sightings.remove(sighting_id)
    audit("unknown_face.dismiss", sighting_id, camera_id=sighting.camera_id)
