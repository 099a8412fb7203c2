"""JSON REST API under /api/v1. Every view's docstring is its summary in the OpenAPI document."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from flask import Blueprint, Response, jsonify, request

from services.common.storage.employees import Employee
from services.common.storage.sightings import LoggedSighting
from services.common.workday import Correction
from services.web import (
    actions,
    corrections,
    exports,
    frames,
    period,
    queries,
    responses,
    unknown_groups,
    views,
)
from services.web.attendance_inputs import (
    AssignGroup,
    CorrectionBody,
    ExportQuery,
    GreetingQuery,
    GroupPath,
    PeriodQuery,
    UnknownGroupsQuery,
    XlsxExportQuery,
)
from services.web.audit import audit
from services.web.auth import ALL_ROLES, current_identity, require_role
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
from services.web.live import event_json
from services.web.openapi import build_document
from services.web.period import PeriodRow, PersonSummary
from services.web.responses import answer, responds

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def employee_json(employee: Employee) -> dict[str, Any]:
    return responses.Employee.of(employee).model_dump(mode="json")


def _local_iso(c: WebContext, moment: datetime | None) -> str | None:
    return moment.astimezone(c.zone).isoformat() if moment is not None else None


def correction_model(c: WebContext, correction: Correction | None) -> responses.Correction | None:
    if correction is None:
        return None
    return responses.Correction(
        **corrections.describe(correction, c),
        reason=correction.reason,
        by=correction.made_by,
        at=_iso(correction.made_at),
    )


def row_model(c: WebContext, row: PeriodRow) -> responses.AttendanceRow:
    facts = row.facts
    return responses.AttendanceRow(
        employee_id=row.employee_id,
        employee_name=row.employee_name,
        day=row.day.isoformat(),
        status=row.status,
        record_id=row.record_id,
        arrival=_local_iso(c, facts.arrival),
        arrival_picture_id=row.arrival_picture,
        arrival_camera_id=row.arrival_camera,
        departure=_local_iso(c, facts.departure),
        departure_picture_id=row.departure_picture,
        departure_camera_id=row.departure_camera,
        last_seen=_local_iso(c, facts.last_seen),
        presence=facts.presence,
        departure_label=facts.departure_label,
        hours=round(facts.hours.total_seconds() / 3600, 2) if facts.hours else None,
        late_minutes=int(facts.late_by.total_seconds() // 60) if facts.late_by else None,
        holiday=row.holiday,
        corrected=facts.corrected,
        arrival_corrected=facts.arrival_corrected,
        departure_corrected=facts.departure_corrected,
        arrival_flagged=row.arrival_flagged,
        departure_flagged=row.departure_flagged,
        correction=correction_model(c, facts.correction),
    )


def totals_model(summary: PersonSummary) -> responses.PersonTotals:
    t = summary.totals
    return responses.PersonTotals(
        employee_id=summary.employee_id,
        employee_name=summary.employee_name,
        days_present=t.days_present,
        late_arrivals=t.late_arrivals,
        absences=t.absences,
        leave_days=t.leave_days,
        remote_days=t.remote_days,
        hours=t.hours_decimal,
        corrected_days=t.corrected_days,
    )


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
@require_role(*ALL_ROLES)
def me():
    """Who is calling, and with which role."""
    identity = current_identity()
    assert identity is not None
    return jsonify({"name": identity.name, "role": identity.role, "via": identity.via})


@bp.get("/employees")
@accepts(query=EmployeeListQuery)
@responds(responses.EmployeeList)
def list_employees(query: EmployeeListQuery):
    """All employees with today's status and last sighting; ``q`` filters by name (suggestions)."""
    c = ctx()
    text = query.q.strip()
    items: list[responses.EmployeeSummary | responses.Employee]
    if text:
        items = [responses.Employee.of(e) for e in c.employees.search(text, query.limit)]
    else:
        items = [
            responses.EmployeeSummary(
                **responses.Employee.fields_of(summary.employee),
                last_seen=_iso(summary.last_seen),
                today_status=summary.today_status,
                presence=summary.presence,
            )
            for summary in queries.employee_summaries(c)
        ]
    return answer(responses.EmployeeList(employees=items))


@bp.post("/employees")
@require_role("admin")
@accepts(body=EnrolmentForm, media=(MULTIPART, FORM), files=PHOTO_FILES)
@responds(responses.Employee)
def create_employee(body: EnrolmentForm):
    """Register an employee: multipart form with ``name`` and one or more ``photo`` files, or
    ``camera_id`` instead of files to use that camera's latest live frame.

    A face that matches another employee is refused (409 ``face_already_enrolled``, naming
    them) unless ``allow_duplicate_face`` is true; that override is recorded in the audit log.
    """
    c = ctx()
    # Name errors come first, then the photos (the order a person fixes them in).
    actions.check_name(c, body.name)
    photos = actions.enrolment_photos(c, request.files.getlist("photo"), body.camera_id)
    employee = actions.enrol_employee(
        c, body.name, photos, allow_duplicate_face=body.allow_duplicate_face
    )
    return answer(responses.Employee.of(employee), 201)


@bp.post("/employees/preview")
@require_role("admin")
@accepts(body=PreviewForm, media=(MULTIPART, FORM), files={"photo": "One photo"})
@responds(responses.FacePreview)
def preview_employee_face(body: PreviewForm):
    """Show the face a registration would take from a photo, storing nothing.

    Multipart ``photo`` (one file), or ``camera_id`` instead to use that camera's latest live
    frame, as for registering. The face is found and aligned by the recognizer's enrolment code
    and answered as ``face_data_url`` (a 160x160 JPEG ``data:`` URL) with ``face_box``, its box
    in the photo in pixels. A photo that could not be registered gets the same error (status
    and code) as registering it would.
    """
    c = ctx()
    photos = actions.enrolment_photos(c, request.files.getlist("photo"), body.camera_id)
    return answer(responses.FacePreview.of(actions.preview_face(c, photos)))


@bp.get("/employees/<employee_id>")
@accepts(path=EmployeePath)
@responds(responses.Employee)
def get_employee(employee_id: str):
    """One employee."""
    c = ctx()
    return answer(responses.Employee.of(actions.require_employee(c, employee_id)))


@bp.delete("/employees/<employee_id>")
@require_role("admin")
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
@require_role("admin")
@accepts(path=EmployeePath, body=AddPhotosForm, media=(MULTIPART,), files=PHOTO_FILES)
@responds(responses.Employee)
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
    return answer(responses.Employee.of(employee))


@bp.get("/employees/<employee_id>/attendance")
@accepts(path=EmployeePath, query=DateRangeQuery)
@responds(responses.EmployeeAttendance)
def employee_attendance(employee_id: str, query: DateRangeQuery):
    """An employee's days, newest first: arrival, departure, hours, status, corrections.

    ``from`` and ``to`` (YYYY-MM-DD) bound the range; the last 31 days by default.
    """
    c = ctx()
    employee = actions.require_employee(c, employee_id)
    first, last = queries.date_range(c, query.first, query.last, 31)
    found = period.build_period(c, first, last, employee.employee_id)
    return answer(
        responses.EmployeeAttendance(
            employee=responses.Employee.of(employee),
            first=first.isoformat(),
            last=last.isoformat(),
            time_zone=c.settings.site_timezone,
            days=[row_model(c, r) for r in reversed(found.rows)],
            totals=totals_model(found.summaries[0]) if found.summaries else None,
        )
    )


@bp.get("/attendance/<day>")
@accepts(path=DayPath)
@responds(responses.AttendanceDay)
def attendance_day(day: date | Literal["today"]):
    """Every employee's arrival and departure on a day (``today`` or YYYY-MM-DD)."""
    c = ctx()
    when = queries.resolve_day(c, day)
    rows = queries.day_rows(c, when)
    return answer(
        responses.AttendanceDay(
            day=when.isoformat(),
            time_zone=c.settings.site_timezone,
            head_count=queries.head_count(rows, len(c.employees.list_all())).present,
            rows=[row_model(c, r) for r in rows],
        )
    )


@bp.get("/attendance")
@accepts(query=PeriodQuery)
@responds(responses.AttendancePeriod)
def attendance_period(query: PeriodQuery):
    """Attendance over a period: one row per person per day, and each person's totals.

    ``from``/``to`` (YYYY-MM-DD; this week by default), ``employee`` to see one person,
    ``sort`` (day, name, status, hours, arrival) and ``order`` (asc, desc), ``page`` (50 rows a
    page). Statuses: present, late, absent, expected (today, before the grace ends), off,
    holiday, leave, remote, upcoming, not yet employed.
    """
    c = ctx()
    found, first, last = views.period_for(c, query)
    rows = period.sort_rows(found.rows, query.sort, query.order == "desc")
    start = (query.page - 1) * period.PAGE_SIZE
    return answer(
        responses.AttendancePeriod(
            first=first.isoformat(),
            last=last.isoformat(),
            time_zone=c.settings.site_timezone,
            page=query.page,
            pages=found.pages(),
            total_rows=len(rows),
            rows=[row_model(c, r) for r in rows[start : start + period.PAGE_SIZE]],
            totals=[totals_model(s) for s in found.summaries],
        )
    )


def _download(body: str | bytes, mimetype: str, filename: str) -> Response:
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/attendance/export.csv")
@accepts(query=ExportQuery)
def attendance_export(query: ExportQuery):
    """CSV timesheet for ``from``..``to`` (YYYY-MM-DD; the last 7 days by default).

    ``sheet=days`` (default): one row per employee per day with hours, status and a
    ``corrected`` column; ``sheet=summary``: one row per employee with the period's totals.
    Times are in the site's zone, named in the ``time_zone`` column.
    """
    c = ctx()
    first, last = queries.date_range(c, query.first, query.last, 7)
    found = period.build_period(c, first, last, views.known_employee(c, query.employee))
    zone = c.settings.site_timezone
    if query.sheet == "summary":
        body = exports.summary_csv(found, zone)
    else:
        body = exports.days_csv(found, c.zone, zone)
    suffix = "-summary" if query.sheet == "summary" else ""
    return _download(body, "text/csv", f"attendance-{first}-{last}{suffix}.csv")


@bp.get("/attendance/export.xlsx")
@accepts(query=XlsxExportQuery)
def attendance_export_xlsx(query: XlsxExportQuery):
    """XLSX workbook for ``from``..``to``: a Days sheet (one row per employee per day) and a
    Summary sheet (one row per employee); local times, the zone named in every row."""
    c = ctx()
    first, last = queries.date_range(c, query.first, query.last, 7)
    found = period.build_period(c, first, last, views.known_employee(c, query.employee))
    body = exports.workbook(found, c.zone, c.settings.site_timezone)
    return _download(body, exports.XLSX_MIMETYPE, f"attendance-{first}-{last}.xlsx")


@bp.post("/attendance/corrections")
@require_role("admin")
@accepts(body=CorrectionBody, media=(JSON,))
@responds(responses.AttendanceRow)
def correct_attendance(body: CorrectionBody):
    """Correct one employee's day, with a required ``reason`` (kept and audited).

    ``arrival``/``departure``: "HH:MM" (local) sets it, null says there was none, "recorded"
    goes back to the cameras' value, left out keeps it as it stands; ``mark``: leave, holiday
    or remote (null removes it). The cameras' record is kept; later sightings never change a
    corrected value. Answers the day as it now stands.
    """
    c = ctx()
    employee = actions.require_employee(c, body.employee_id)
    given = body.model_fields_set
    identity = current_identity()
    assert identity is not None
    corrections.correct_day(
        c,
        employee,
        body.day,
        arrival=views.time_change(body.arrival, "arrival" in given),
        departure=views.time_change(body.departure, "departure" in given),
        mark=body.mark if "mark" in given else "unchanged",
        reason=body.reason,
        actor=identity.name,
    )
    found = period.build_period(c, body.day, body.day, employee.employee_id)
    return answer(row_model(c, found.rows[0]))


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
                    "corrected": e.corrected,
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
@require_role("admin")
@accepts(path=SightingPath, body=AssignUnknownFace, media=(JSON,))
@responds(responses.Employee)
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
    return answer(responses.Employee.of(employee))


@bp.post("/unknown-faces/<sighting_id>/dismiss")
@require_role("admin")
@accepts(path=SightingPath)
def dismiss_unknown_face(sighting_id: str):
    """Forget an unknown face (the sighting and its pictures)."""
    actions.dismiss_unknown(ctx(), sighting_id)
    return jsonify({"dismissed": sighting_id})


def group_json(c: WebContext, group: unknown_groups.FaceGroup) -> dict:
    best = group.best
    return {
        "group_id": group.group_id,
        "count": group.count,
        "first_seen": _local_iso(c, group.first_seen),
        "last_seen": _local_iso(c, group.last_seen),
        "camera_ids": group.camera_ids,
        "best": sighting_json(c, best),
        "sighting_ids": [s.sighting_id for s in group.sightings],
    }


@bp.get("/unknown-face-groups")
@accepts(query=UnknownGroupsQuery)
def list_unknown_face_groups(query: UnknownGroupsQuery):
    """Unknown faces grouped by visitor (one track, or tracks following closely on one camera),
    newest first, 24 a page; ``day`` (YYYY-MM-DD) keeps one day's."""
    c = ctx()
    found = unknown_groups.groups(c, query.day)
    size = unknown_groups.PAGE_SIZE
    shown = found[(query.page - 1) * size : query.page * size]
    return jsonify(
        {
            "total_groups": len(found),
            "total_faces": sum(g.count for g in found),
            "page": query.page,
            "pages": max(1, -(-len(found) // size)),
            "groups": [group_json(c, g) for g in shown],
        }
    )


@bp.post("/unknown-face-groups/<group_id>/assign")
@require_role("admin")
@accepts(path=GroupPath, body=AssignGroup, media=(JSON,))
def assign_unknown_face_group(group_id: str, body: AssignGroup):
    """Give a group of unknown faces to an employee (``employee_id``) or a new one (``name``).

    The group's best face is added to the employee's photos if it passes the enrolment checks
    (``face_added``; a new employee needs it to). With ``make_attendance`` the group's sightings
    become that day's attendance of the employee; without, they are removed.
    """
    c = ctx()
    done = unknown_groups.assign_group(
        c,
        group_id,
        employee_id=body.employee_id,
        new_name=body.name,
        make_attendance=body.make_attendance,
        allow_duplicate_face=body.allow_duplicate_face,
    )
    return jsonify(
        {
            "employee": employee_json(done.employee),
            "face_added": done.face_added,
            "face_problem": done.face_problem,
            "sightings": done.sightings,
            "attendance_days": [d.isoformat() for d in done.attendance_days],
        }
    )


@bp.post("/unknown-face-groups/<group_id>/dismiss")
@require_role("admin")
@accepts(path=GroupPath)
def dismiss_unknown_face_group(group_id: str):
    """Forget a whole group of unknown faces (its sightings and their pictures)."""
    return jsonify({"dismissed": unknown_groups.dismiss_group(ctx(), group_id)})


@bp.post("/frames")
@require_role("admin", "kiosk", action="sending frames")
@accepts(query=FrameQuery, raw_body=FRAME_BODY)
def upload_frame(query: FrameQuery):
    """Send a kiosk's camera frame; it is published on the FRAMES channel.

    Body: the image (image/jpeg), or multipart with a ``frame`` file; query: ``camera_id``.
    """
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
@require_role(*ALL_ROLES)
@accepts(query=EventsQuery)
def recent_events(query: EventsQuery):
    """Live attendance events after sequence ``after`` (polling alternative to /live/events)."""
    c = ctx()
    items = c.live.events_after(query.after, query.camera)
    return jsonify(
        {"last_sequence": c.live.last_sequence(), "events": [event_json(i, c.zone) for i in items]}
    )


@bp.get("/kiosk/greeting")
@require_role(*ALL_ROLES)
@accepts(query=GreetingQuery)
def kiosk_greeting(query: GreetingQuery):
    """What a kiosk says to an employee seen at ``seen_at`` (from an attendance event).

    ``greeting``: "welcome" (their first sighting of the day), "welcome_back" (seen again
    after being out for the presence timeout, earlier in their day), "goodbye" (the same, in
    the last hour of their scheduled day or after), or null (seen within the presence
    timeout: still there, nothing to say).
    """
    return jsonify(views.greeting_for(ctx(), query.employee_id, query.seen_at))


@bp.get("/cameras")
@require_role(*ALL_ROLES)
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
@require_role("admin")
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
@require_role("admin")
@accepts(body=NewToken, media=(JSON,))
def create_token(body: NewToken):
    """Create an API token; the secret is returned once and only its hash is stored.

    JSON ``name`` and ``role`` (admin, viewer or kiosk).
    """
    identity = current_identity()
    assert identity is not None
    token, secret = ctx().users.create_token(
        body.name, body.role, identity.name, owner=identity.owner
    )
    audit("token.create", token.token_id, name=token.name, role=token.role)
    return jsonify(
        {"token_id": token.token_id, "name": token.name, "role": token.role, "token": secret}
    ), 201


@bp.delete("/tokens/<token_id>")
@require_role("admin")
@accepts(path=TokenPath)
def revoke_token(token_id: str):
    """Revoke an API token."""
    if not ctx().users.revoke_token(token_id):
        raise ApiError(404, "not_found", f"no token {token_id}")
    audit("token.revoke", token_id)
    return jsonify({"revoked": token_id})


@bp.get("/audit")
@require_role("admin")
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
