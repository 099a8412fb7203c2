"""Server-rendered pages (Jinja autoescaping on; user data is never marked safe)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for

from services.web import actions, live, queries
from services.web.auth import admin_required, current_identity
from services.web.context import ctx
from services.web.errors import ApiError

bp = Blueprint("pages", __name__)


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
            actions.check_name(c, name)
            # The "Use live camera" button means the camera even if a file was chosen too.
            use_camera = request.form.get("source") == "camera"
            files = [] if use_camera else request.files.getlist("photo")
            # The camera picker is always submitted; only its own button means "use it".
            photos = live.enrolment_photos(files, camera_id if use_camera else None)
            employee = actions.enrol_employee(c, name, photos)
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
def search():
    c = ctx()
    text = request.args.get("q", "").strip()
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
def employee(employee_id: str):
    c = ctx()
    person = actions.require_employee(c, employee_id)
    first, last = queries.parse_range(c, request.args.get("from"), request.args.get("to"), 31)
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
def delete(employee_id: str):
    c = ctx()
    person = actions.require_employee(c, employee_id)
    if request.method == "POST":
        # The name typed back is the confirmation: a stray click cannot delete anyone.
        if request.form.get("confirm_name", "").strip().casefold() != person.name.casefold():
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
def unknown_assign(sighting_id: str):
    c = ctx()
    employee_id = request.form.get("employee_id") or None
    new_name = request.form.get("name") if not employee_id else None
    try:
        person = actions.assign_unknown(c, sighting_id, employee_id=employee_id, new_name=new_name)
    except ApiError as exc:
        flash(exc.message, "error")
    else:
        flash(f"The face was added to {person.name}.", "success")
    return redirect(url_for("pages.unknown"))


@bp.post("/unknown/<sighting_id>/dismiss")
@admin_required
def unknown_dismiss(sighting_id: str):
    actions.dismiss_unknown(ctx(), sighting_id)
    flash("Dismissed.", "success")
    return redirect(url_for("pages.unknown"))


@bp.get("/attendance")
def attendance():
    c = ctx()
    day = queries.parse_day(c, request.args.get("day"))
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
def kiosk():
    camera_id = request.args.get("camera", "kiosk-1")
    if not actions.CAMERA_ID.match(camera_id):
        raise ApiError(400, "invalid_camera", "camera: 1-64 letters, digits or . _ : @ / -")
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
            _, secret = c.users.create_token(
                request.form.get("name", ""), request.form.get("role", "kiosk"), identity.name
            )
        except ApiError as exc:
            flash(exc.message, "error")
    return render_template("tokens.html", tokens=c.users.tokens(), secret=secret)


@bp.post("/tokens/<token_id>/revoke")
@admin_required
def revoke(token_id: str):
    ctx().users.revoke_token(token_id)
    flash("Token revoked.", "success")
    return redirect(url_for("pages.tokens"))
