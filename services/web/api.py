"""JSON REST API under /api/v1. Every view's docstring is its summary in the OpenAPI document."""

from __future__ import annotations

import base64

from flask import Blueprint, Response, jsonify, request

from services.common.storage.employees import Employee
from services.common.storage.sightings import LoggedSighting
from services.recognizer.enrolment import FacePreview
from services.web import actions, frames, queries
from services.web.audit import audit
from services.web.auth import admin_required, current_identity, kiosk_allowed
from services.web.context import WebContext, ctx
from services.web.errors import ApiError
from services.web.input_models import (
    AddPhotosForm,
    AssignUnknownFace,
    AuditQuery,
    DateRangeQuery,
    DayPath,
    EmployeeListQuery,
    EmployeePath,
    EnrolmentForm,
    EventsQuery,
    FrameQuery,
    LatestEntriesQuery,
    NewToken,
    PicturePath,
    PreviewForm,
    SightingPath,
    TokenPath,
    UnknownFacesQuery,
)
from services.web.inputs import FORM, JSON, MULTIPART, accepts, parse_form
from services.web.live import enrolment_photos, event_json
from services.web.openapi import build_document

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


def employee_json(c: WebContext, employee: Employee) -> dict:
    return {
        "employee_id": employee.employee_id,
        "name": employee.name,
        "registered_at": employee.created_at.isoformat(),
        "photo_ids": list(employee.photo_ids),
        "photo_urls": [f"/api/v1/pictures/{p}" for p in employee.photo_ids],
    }


def preview_json(preview: FacePreview) -> dict:
    # A data URL is shown by an <img> as is (the CSP allows data: images) and is never stored.
    encoded = base64.b64encode(preview.face_jpeg).decode("ascii")
    return {
        "face_data_url": f"data:image/jpeg;base64,{encoded}",
        "face_box": preview.box.model_dump(),
    }


def row_json(row: queries.DayRow) -> dict:
    return {
        "employee_id": row.employee_id,
        "employee_name": row.employee_name,
        "day": row.day.isoformat(),
        "status": row.status,
        "record_id": row.record_id,
        "arrival": _iso(row.arrival),
        "arrival_picture_id": row.arrival_picture,
        "arrival_camera_id": row.arrival_camera,
        "departure": _iso(row.departure),
        "departure_picture_id": row.departure_picture,
        "departure_camera_id": row.departure_camera,
    }


def sighting_json(c: WebContext, sighting: LoggedSighting) -> dict:
    return {
        "sighting_id": sighting.sighting_id,
        "camera_id": sighting.camera_id,
        "seen_at": sighting.seen_at.isoformat(),
        "local_time": sighting.seen_at.astimezone(c.zone).isoformat(),
        "similarity": sighting.similarity,
        "snapshot_id": sighting.snapshot_id,
        "face_id": sighting.face_id,
    }


FRAME_BODY = {
    "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "required": ["frame"],
            "properties": {
                "frame": {"type": "string", "format": "binary"},
                "camera_id": {"type": "string", "pattern": "^[A-Za-z0-9._:@/-]{1,64}$"},
            },
        }
    },
}
PHOTO_FILES = {"photo": "One or more photos of the person's face (JPEG, PNG, WebP or BMP)"}


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document of this API."""
    return jsonify(build_document())


@bp.get("/me")
@kiosk_allowed
def me():
    """Who is calling, and with which role."""
    identity = current_identity()
    assert identity is not None
    return jsonify({"name": identity.name, "role": identity.role, "via": identity.via})


@bp.get("/employees")
@accepts(query=EmployeeListQuery)
def list_employees(query: EmployeeListQuery):
    """All employees with today's status and last sighting; ``q`` filters by name (suggestions)."""
    c = ctx()
    text = query.q.strip()
    if text:
        return jsonify(
            {"employees": [employee_json(c, e) for e in c.employees.search(text, query.limit)]}
        )
    items = []
    for summary in queries.employee_summaries(c):
        item = employee_json(c, summary.employee)
        item["last_seen"] = _iso(summary.last_seen)
        item["today_status"] = summary.today_status
        items.append(item)
    return jsonify({"employees": items})


@bp.post("/employees")
@admin_required
@accepts(body=EnrolmentForm, media=(MULTIPART, FORM), files=PHOTO_FILES)
def create_employee(body: EnrolmentForm):
    """Register an employee: multipart form with ``name`` and one or more ``photo`` files, or
    ``camera_id`` instead of files to use that camera's latest live frame.

    A face that matches another employee is refused (409 ``face_already_enrolled``, naming
    them) unless ``allow_duplicate_face`` is true; that override is recorded in the audit log.
    """
    c = ctx()
    # Name errors come first, then the photos (the order a person fixes them in).
    actions.check_name(c, body.name)
    photos = enrolment_photos(request.files.getlist("photo"), body.camera_id)
    employee = actions.enrol_employee(
        c, body.name, photos, allow_duplicate_face=body.allow_duplicate_face
    )
    return jsonify(employee_json(c, employee)), 201


@bp.post("/employees/preview")
@admin_required
@accepts(body=PreviewForm, media=(MULTIPART, FORM), files={"photo": "One photo"})
def preview_employee_face(body: PreviewForm):
    """Show the face a registration would take from a photo, storing nothing.

    Multipart ``photo`` (one file), or ``camera_id`` instead to use that camera's latest live
    frame, as for registering. The face is found and aligned by the recognizer's enrolment code
    and answered as ``face_data_url`` (a 160x160 JPEG ``data:`` URL) with ``face_box``, its box
    in the photo in pixels. A photo that could not be registered gets the same error (status
    and code) as registering it would.
    """
    photos = enrolment_photos(request.files.getlist("photo"), body.camera_id)
    return jsonify(preview_json(actions.preview_face(ctx(), photos)))


@bp.get("/employees/<employee_id>")
@accepts(path=EmployeePath)
def get_employee(employee_id: str):
    """One employee."""
    c = ctx()
    return jsonify(employee_json(c, actions.require_employee(c, employee_id)))


@bp.delete("/employees/<employee_id>")
@admin_required
@accepts(path=EmployeePath)
def delete_employee(employee_id: str):
    """Delete an employee completely (embeddings, pictures, attendance, sightings)."""
    report = actions.erase(ctx(), employee_id)
    return jsonify(
        {
            "deleted": report.employee_deleted,
            "attendance_records": report.attendance_records,
            "sightings": report.sightings,
            "pictures": report.pictures,
        }
    )


@bp.post("/employees/<employee_id>/photos")
@admin_required
@accepts(path=EmployeePath, body=AddPhotosForm, media=(MULTIPART,), files=PHOTO_FILES)
def add_employee_photos(employee_id: str, body: AddPhotosForm):
    """Add enrolment photos (multipart ``photo`` files) to an employee."""
    c = ctx()
    actions.require_employee(c, employee_id)
    employee = actions.add_photos(
        c,
        employee_id,
        actions.read_photos(request.files.getlist("photo")),
        allow_duplicate_face=body.allow_duplicate_face,
    )
    return jsonify(employee_json(c, employee))


@bp.get("/employees/<employee_id>/attendance")
@accepts(path=EmployeePath, query=DateRangeQuery)
def employee_attendance(employee_id: str, query: DateRangeQuery):
    """An employee's arrivals and departures per day.

    ``from`` and ``to`` (YYYY-MM-DD) bound the range; the last 31 days by default.
    """
    c = ctx()
    employee = actions.require_employee(c, employee_id)
    first, last = queries.date_range(c, query.first, query.last, 31)
    rows = queries.employee_history(c, employee, first, last)
    return jsonify(
        {
            "employee": employee_json(c, employee),
            "from": first.isoformat(),
            "to": last.isoformat(),
            "days": [row_json(r) for r in rows],
        }
    )


@bp.get("/attendance/<day>")
@accepts(path=DayPath)
def attendance_day(day):
    """Every employee's arrival and departure on a day (``today`` or YYYY-MM-DD)."""
    c = ctx()
    when = queries.resolve_day(c, day)
    rows = queries.day_table(c, when)
    return jsonify(
        {
            "day": when.isoformat(),
            "time_zone": c.settings.site_timezone,
            "rows": [row_json(r) for r in rows],
        }
    )


@bp.get("/attendance/export.csv")
@accepts(query=DateRangeQuery)
def attendance_export(query: DateRangeQuery):
    """CSV timesheet, one row per employee per day, for ``from``..``to`` (YYYY-MM-DD)."""
    c = ctx()
    first, last = queries.date_range(c, query.first, query.last, 7)
    body = queries.export_csv(c, first, last)
    filename = f"attendance-{first.isoformat()}-{last.isoformat()}.csv"
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/entries/latest")
@accepts(query=LatestEntriesQuery)
def latest_entries(query: LatestEntriesQuery):
    """The last arrivals and departures (``limit``, 5 by default)."""
    c = ctx()
    return jsonify(
        {
            "entries": [
                {
                    "employee_id": e.employee_id,
                    "employee_name": e.employee_name,
                    "event": e.event,
                    "seen_at": e.seen_at.isoformat(),
                    "local_time": e.local_time.isoformat(),
                    "camera_id": e.camera_id,
                    "picture_id": e.picture_id,
                    "record_id": e.record_id,
                }
                for e in queries.latest_entries(c, query.limit)
            ]
        }
    )


@bp.get("/unknown-faces")
@accepts(query=UnknownFacesQuery)
def list_unknown_faces(query: UnknownFacesQuery):
    """Recent sightings of faces nobody was matched to."""
    c = ctx()
    return jsonify(
        {"unknown_faces": [sighting_json(c, s) for s in queries.unknown_faces(c, query.limit)]}
    )


@bp.post("/unknown-faces/<sighting_id>/assign")
@admin_required
@accepts(path=SightingPath, body=AssignUnknownFace, media=(JSON,))
def assign_unknown_face(sighting_id: str, body: AssignUnknownFace):
    """Enrol an unknown face as a photo of an employee.

    JSON ``{"employee_id": ...}`` for an existing employee or ``{"name": ...}`` for a new one.
    """
    c = ctx()
    employee = actions.assign_unknown(
        c,
        sighting_id,
        employee_id=body.employee_id,
        new_name=body.name,
        allow_duplicate_face=body.allow_duplicate_face,
    )
    return jsonify(employee_json(c, employee))


@bp.post("/unknown-faces/<sighting_id>/dismiss")
@admin_required
@accepts(path=SightingPath)
def dismiss_unknown_face(sighting_id: str):
    """Forget an unknown face (the sighting and its pictures)."""
    actions.dismiss_unknown(ctx(), sighting_id)
    return jsonify({"dismissed": sighting_id})


@bp.post("/frames")
@kiosk_allowed
@accepts(query=FrameQuery, raw_body=FRAME_BODY)
def upload_frame(query: FrameQuery):
    """Send a kiosk's camera frame; it is published on the FRAMES channel.

    Body: the image (image/jpeg), or multipart with a ``frame`` file; query: ``camera_id``.
    """
    identity = current_identity()
    if identity is None or identity.role not in ("admin", "kiosk"):
        raise ApiError(403, "forbidden", "sending frames needs the admin or kiosk role")
    camera_id = query.camera_id
    if camera_id is None and request.mimetype == MULTIPART:
        camera_id = parse_form(FrameQuery).camera_id
    if request.mimetype.startswith("multipart/form-data"):
        file = request.files.get("frame")
        data = file.read() if file else b""
    elif request.mimetype.startswith("image/") or request.mimetype == "application/octet-stream":
        data = request.get_data(cache=False)
    else:
        raise ApiError(415, "unsupported_media_type", "send image/jpeg (or multipart 'frame')")
    message = frames.publish_frame(ctx(), camera_id or "", data)
    return jsonify({"frame_id": message.frame_id, "camera_id": message.camera_id}), 202


@bp.get("/events")
@kiosk_allowed
@accepts(query=EventsQuery)
def recent_events(query: EventsQuery):
    """Live attendance events after sequence ``after`` (polling alternative to /live/events)."""
    c = ctx()
    items = c.live.events_after(query.after, query.camera)
    return jsonify(
        {"last_sequence": c.live.last_sequence(), "events": [event_json(i, c.zone) for i in items]}
    )


@bp.get("/cameras")
@kiosk_allowed
def cameras():
    """Cameras that sent a frame in the last minute."""
    return jsonify({"cameras": ctx().live.cameras()})


@bp.get("/pictures/<picture_id>")
@accepts(path=PicturePath)
def picture(picture_id: str):
    """A stored JPEG (enrolment photo, arrival/departure snapshot, face crop)."""
    data = ctx().pictures.get(picture_id)
    if data is None:
        raise ApiError(404, "not_found", f"no picture {picture_id}")
    return Response(data, mimetype="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


@bp.get("/tokens")
@admin_required
def list_tokens():
    """API tokens (never their secret)."""
    return jsonify(
        {
            "tokens": [
                {
                    "token_id": t.token_id,
                    "name": t.name,
                    "role": t.role,
                    "created_at": t.created_at.isoformat(),
                    "created_by": t.created_by,
                }
                for t in ctx().users.tokens()
            ]
        }
    )


@bp.post("/tokens")
@admin_required
@accepts(body=NewToken, media=(JSON,))
def create_token(body: NewToken):
    """Create an API token; the secret is returned once and only its hash is stored.

    JSON ``name`` and ``role`` (admin, viewer or kiosk).
    """
    identity = current_identity()
    assert identity is not None
    token, secret = ctx().users.create_token(body.name, body.role, identity.name)
    audit("token.create", token.token_id, name=token.name, role=token.role)
    return jsonify(
        {"token_id": token.token_id, "name": token.name, "role": token.role, "token": secret}
    ), 201


@bp.delete("/tokens/<token_id>")
@admin_required
@accepts(path=TokenPath)
def revoke_token(token_id: str):
    """Revoke an API token."""
    if not ctx().users.revoke_token(token_id):
        raise ApiError(404, "not_found", f"no token {token_id}")
    audit("token.revoke", token_id)
    return jsonify({"revoked": token_id})


@bp.get("/audit")
@admin_required
@accepts(query=AuditQuery)
def audit_entries(query: AuditQuery):
    """The audit log, newest first: who did what, when and from where (100 a page)."""
    size = 100
    entries = ctx().audit.recent(size, query.action, (query.page - 1) * size)
    return jsonify(
        {
            "entries": [
                {
                    "entry_id": e.entry_id,
                    "at": e.at.isoformat(),
                    "actor": e.actor,
                    "action": e.action,
                    "target": e.target,
                    "client": e.client,
                    "details": e.details,
                }
                for e in entries
            ]
        }
    )
