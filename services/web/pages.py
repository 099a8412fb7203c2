"""Server-rendered pages (Jinja autoescaping on; user data is never marked safe)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for

from services.common.storage.audit import AUDIT_ACTIONS
from services.web import actions, live, queries
from services.web.audit import audit
from services.web.auth import admin_required, current_identity, kiosk_allowed
from services.web.context import ctx
from services.web.errors import ApiError
from services.web.input_models import (
    AssignUnknownFaceForm,
    AttendancePageQuery,
    AuditQuery,
    DateRangeQuery,
    DeleteConfirmationForm,
    EmployeePath,
    EnrolmentForm,
    KioskPageQuery,
    NewTokenForm,
    SearchPageQuery,
    SightingPath,
    TokenPath,
)
from services.web.inputs import accepts, parse_form

bp = Blueprint("pages", __name__)

AUDIT_PAGE_SIZE = 100


@bp.get("/")
def dashboard():
    c = ctx()
    return render_template(
        "dashboard.html",
        entries=queries.latest_entries(c, 5),
        rows=queries.day_table(c, c.today(), include_absent=True),
        today=c.today(),
        cameras=c.live.cameras(),
    )


@bp.get("/fragments/latest")
def fragment_latest():
    return render_template("_latest.html", entries=queries.latest_entries(ctx(), 5))


@bp.get("/fragments/today")
def fragment_today():
    c = ctx()
    return render_template("_day_rows.html", rows=queries.day_table(c, c.today()), show_ids=False)


@bp.route("/employees/new", methods=["GET", "POST"])
@admin_required
def register():
    c = ctx()
    cameras = c.live.cameras()
    if request.method == "POST":
        name = request.form.get("name", "")
        camera_id = request.form.get("camera_id", "")
        try:
            form = parse_form(EnrolmentForm)
            name, camera_id = form.name, form.camera_id or ""
            actions.check_name(c, name)
            # The "Use live camera" button means the camera even if a file was chosen too.
            use_camera = request.form.get("source") == "camera"
            files = [] if use_camera else request.files.getlist("photo")
            # The camera picker is always submitted; only its own button means "use it".
            photos = live.enrolment_photos(files, camera_id if use_camera else None)
            employee = actions.enrol_employee(
                c, name, photos, allow_duplicate_face=form.allow_duplicate_face
            )
        except ApiError as exc:
            page = render_template(
                "register.html", error=exc, name=name, cameras=cameras, camera_id=camera_id
            )
            return page, exc.status
        flash(f"{employee.name} is registered.", "success")
        return redirect(url_for("pages.employee", employee_id=employee.employee_id))
    return render_template("register.html", error=None, name="", cameras=cameras, camera_id="")


@bp.get("/employees")
def employees():
    c = ctx()
    return render_template("employees.html", summaries=queries.employee_summaries(c))


@bp.get("/employees/search")
@accepts(query=SearchPageQuery)
def search(query: SearchPageQuery):
    c = ctx()
    text = query.q.strip()
    if text:
        exact = c.employees.find_by_name(text) if len(text) <= 120 else None
        if exact is not None:
            return redirect(url_for("pages.employee", employee_id=exact.employee_id))
        matches = c.employees.search(text, 50)
        if len(matches) == 1:
            return redirect(url_for("pages.employee", employee_id=matches[0].employee_id))
    else:
        matches = []
    return render_template("search.html", q=text, matches=matches)


@bp.get("/employees/<employee_id>")
@accepts(path=EmployeePath, query=DateRangeQuery)
def employee(employee_id: str, query: DateRangeQuery):
    c = ctx()
    person = actions.require_employee(c, employee_id)
    first, last = queries.date_range(c, query.first, query.last, 31)
    return render_template(
        "employee.html",
        employee=person,
        registered=person.created_at.astimezone(c.zone),
        rows=queries.employee_history(c, person, first, last),
        first=first,
        last=last,
    )


@bp.post("/employees/<employee_id>/photos")
@admin_required
@accepts(path=EmployeePath)
def employee_photos(employee_id: str):
    c = ctx()
    person = actions.require_employee(c, employee_id)
    try:
        actions.add_photos(c, employee_id, actions.read_photos(request.files.getlist("photo")))
    except ApiError as exc:
        flash(exc.message, "error")
    else:
        flash("Photo added.", "success")
    return redirect(url_for("pages.employee", employee_id=person.employee_id))


@bp.route("/employees/<employee_id>/delete", methods=["GET", "POST"])
@admin_required
@accepts(path=EmployeePath)
def delete(employee_id: str):
    c = ctx()
    person = actions.require_employee(c, employee_id)
    if request.method == "POST":
        confirmation = parse_form(DeleteConfirmationForm).confirm_name
        # The name typed back is the confirmation: a stray click cannot delete anyone.
        if confirmation.strip().casefold() != person.name.casefold():
            return render_template(
                "delete.html", employee=person, error="Type the employee's name to confirm."
            ), 400
        actions.erase(c, employee_id)
        flash(f"{person.name} and all their data were deleted.", "success")
        return redirect(url_for("pages.employees"))
    return render_template("delete.html", employee=person, error=None)


@bp.get("/unknown")
def unknown():
    c = ctx()
    return render_template(
        "unknown.html", faces=queries.unknown_faces(c), employees=c.employees.list_all()
    )


@bp.post("/unknown/<sighting_id>/assign")
@admin_required
@accepts(path=SightingPath)
def unknown_assign(sighting_id: str):
    c = ctx()
    try:
        form = parse_form(AssignUnknownFaceForm)
        # The page offers both a picker and a name box: a chosen employee wins.
        person = actions.assign_unknown(
            c,
            sighting_id,
            employee_id=form.employee_id,
            new_name=form.name if form.employee_id is None else None,
        )
    except ApiError as exc:
        flash(exc.message, "error")
    else:
        flash(f"The face was added to {person.name}.", "success")
    return redirect(url_for("pages.unknown"))


@bp.post("/unknown/<sighting_id>/dismiss")
@admin_required
@accepts(path=SightingPath)
def unknown_dismiss(sighting_id: str):
    actions.dismiss_unknown(ctx(), sighting_id)
    flash("Dismissed.", "success")
    return redirect(url_for("pages.unknown"))


@bp.get("/attendance")
@accepts(query=AttendancePageQuery)
def attendance(query: AttendancePageQuery):
    c = ctx()
    day = queries.resolve_day(c, query.day)
    return render_template(
        "attendance.html",
        day=day,
        previous=day - timedelta(days=1),
        following=day + timedelta(days=1),
        rows=queries.day_table(c, day),
        export_from=day - timedelta(days=6),
        export_to=day,
    )


@bp.get("/kiosk")
@kiosk_allowed
@accepts(query=KioskPageQuery)
def kiosk(query: KioskPageQuery):
    camera_id = query.camera
    identity = current_identity()
    can_send = identity is not None and identity.role in ("admin", "kiosk")
    return render_template("kiosk.html", camera_id=camera_id, can_send=can_send)


@bp.route("/tokens", methods=["GET", "POST"])
@admin_required
def tokens():
    c = ctx()
    secret = None
    if request.method == "POST":
        identity = current_identity()
        assert identity is not None
        try:
            form = parse_form(NewTokenForm)
            token, secret = c.users.create_token(form.name, form.role, identity.name)
            audit("token.create", token.token_id, name=token.name, role=token.role)
        except ApiError as exc:
            flash(exc.message, "error")
    return render_template("tokens.html", tokens=c.users.tokens(), secret=secret)


@bp.post("/tokens/<token_id>/revoke")
@admin_required
@accepts(path=TokenPath)
def revoke(token_id: str):
    if ctx().users.revoke_token(token_id):
        audit("token.revoke", token_id)
    flash("Token revoked.", "success")
    return redirect(url_for("pages.tokens"))


@bp.get("/audit")
@admin_required
@accepts(query=AuditQuery)
def audit_page(query: AuditQuery):
    entries = ctx().audit.recent(
        AUDIT_PAGE_SIZE + 1, query.action, (query.page - 1) * AUDIT_PAGE_SIZE
    )
    return render_template(
        "audit.html",
        entries=entries[:AUDIT_PAGE_SIZE],
        has_more=len(entries) > AUDIT_PAGE_SIZE,
        page=query.page,
        action=query.action or "",
        actions=AUDIT_ACTIONS,
    )
