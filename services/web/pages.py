"""Server-rendered pages (Jinja autoescaping on; user data is never marked safe)."""

from __future__ import annotations

import logging
from datetime import time, timedelta

from flask import (
    Blueprint,
    Response,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from services.common.domain.accounts import AccountError
from services.common.storage.audit import AUDIT_ACTIONS
from services.common.workday import WEEKDAYS, Schedule, format_hours, weekday_names
from services.web import (
    actions,
    charts,
    corrections,
    period,
    queries,
    unknown_groups,
    views,
)
from services.web.attendance_inputs import (
    AssignGroupForm,
    CorrectionForm,
    CorrectionPageQuery,
    GroupPath,
    HolidayForm,
    HolidayPath,
    PeriodQuery,
    ScheduleForm,
    UnknownGroupsQuery,
)
from services.web.audit import audit
from services.web.auth import ALL_ROLES, current_identity, require_role
from services.web.context import ctx
from services.web.errors import ApiError
from services.web.input_models import (
    AssignUnknownFaceForm,
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

logger = logging.getLogger(__name__)

bp = Blueprint("pages", __name__)

AUDIT_PAGE_SIZE = 100


@bp.get("/")
def dashboard():
    c = ctx()
    today = queries.today(c)
    rows = queries.day_rows(c, today)
    return render_template(
        "dashboard.html",
        entries=queries.latest_entries(c, 5),
        rows=rows,
        heads=queries.head_count(rows, len(c.employees.list_all())),
        today=today,
        cameras=c.live.cameras(),
    )


@bp.get("/fragments/latest")
def fragment_latest():
    return render_template("_latest.html", entries=queries.latest_entries(ctx(), 5))


@bp.get("/fragments/today")
def fragment_today():
    c = ctx()
    rows = queries.day_rows(c, queries.today(c))
    return render_template("_today_rows.html", rows=rows)


@bp.get("/fragments/headcount")
def fragment_headcount():
    c = ctx()
    rows = queries.day_rows(c, queries.today(c))
    heads = queries.head_count(rows, len(c.employees.list_all()))
    return render_template("_headcount.html", heads=heads)


@bp.route("/employees/new", methods=["GET", "POST"])
@require_role("admin")
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
            photos = actions.enrolment_photos(c, files, camera_id if use_camera else None)
            employee = actions.enrol_employee(
                c, name, photos, allow_duplicate_face=form.allow_duplicate_face
            )
        except ApiError as exc:
            page = render_template(
                "register.html", error=exc, name=name, cameras=cameras, camera_id=camera_id
            )
            return page, exc.status
        flash(f"{employee.name} is registered.", "success")
        target = url_for("pages.employee", employee_id=employee.employee_id)
        if request.headers.get("X-Requested-With") == "fetch":
            # Sent in the background (the page keeps the chosen file if this fails): the page
            # goes there itself, and the message above is shown there.
            return jsonify({"redirect": target})
        return redirect(target)
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
    found = period.build_period(c, first, last, person.employee_id)
    work = period.calendar(c)
    return render_template(
        "employee.html",
        employee=person,
        registered=person.created_at.astimezone(c.zone),
        rows=list(reversed(found.rows)),
        totals=found.summaries[0].totals if found.summaries else None,
        schedule_text=schedule_text(work.schedule_for(person.employee_id)),
        own_schedule=person.employee_id in work.own_schedules(),
        first=first,
        last=last,
    )


@bp.post("/employees/<employee_id>/photos")
@require_role("admin")
@accepts(path=EmployeePath)
def employee_photos(employee_id: str):
    c = ctx()
    person = actions.require_employee(c, employee_id)
    try:
        actions.add_photos(c, employee_id, actions.read_photos(request.files.getlist("photo")))
    except ApiError as exc:
        flash(_sentence(exc.message), "error")
    else:
        flash("Photo added.", "success")
    return redirect(url_for("pages.employee", employee_id=person.employee_id))


@bp.route("/employees/<employee_id>/delete", methods=["GET", "POST"])
@require_role("admin")
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
@accepts(query=UnknownGroupsQuery)
def unknown(query: UnknownGroupsQuery):
    c = ctx()
    found = unknown_groups.groups(c, query.day)
    size = unknown_groups.PAGE_SIZE
    return render_template(
        "unknown.html",
        groups=found[(query.page - 1) * size : query.page * size],
        total_groups=len(found),
        total_faces=sum(g.count for g in found),
        page=query.page,
        pages=max(1, -(-len(found) // size)),
        day=query.day,
        employees=c.employees.list_all(),
    )


@bp.post("/unknown/groups/<group_id>/assign")
@require_role("admin")
@accepts(path=GroupPath)
def unknown_group_assign(group_id: str):
    c = ctx()
    try:
        form = parse_form(AssignGroupForm)
        done = unknown_groups.assign_group(
            c,
            group_id,
            employee_id=form.employee_id,
            new_name=form.name if form.employee_id is None else None,
            make_attendance=form.make_attendance,
        )
    except ApiError as exc:
        flash(_sentence(exc.message), "error")
    else:
        said = [f"{done.sightings} sightings were given to {done.employee.name}"]
        if done.attendance_days:
            said.append("and recorded as attendance")
        message = " ".join(said) + "."
        if done.face_added:
            message += " The best face was added to their photos."
        elif done.face_problem:
            message += f" The best face was not added: {done.face_problem}."
        flash(message, "success")
    return redirect(url_for("pages.unknown"))


@bp.post("/unknown/groups/<group_id>/dismiss")
@require_role("admin")
@accepts(path=GroupPath)
def unknown_group_dismiss(group_id: str):
    count = unknown_groups.dismiss_group(ctx(), group_id)
    flash(f"Dismissed {count} sighting{'s' if count != 1 else ''}.", "success")
    return redirect(url_for("pages.unknown"))


@bp.app_context_processor
def _unknown_badge() -> dict:
    """The number of unknown visitors for the navigation's badge (logged-in pages only)."""
    identity = current_identity()
    if identity is None or identity.is_kiosk:
        return {"unknown_count": 0}
    try:
        return {"unknown_count": unknown_groups.badge_count(ctx())}
    except Exception as exc:  # the error page itself must render while the database is away
        logger.warning("the unknown faces badge could not be counted: %s", exc)
        return {"unknown_count": 0}


@bp.post("/unknown/<sighting_id>/assign")
@require_role("admin")
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
        flash(_sentence(exc.message), "error")
    else:
        flash(f"The face was added to {person.name}.", "success")
    return redirect(url_for("pages.unknown"))


@bp.post("/unknown/<sighting_id>/dismiss")
@require_role("admin")
@accepts(path=SightingPath)
def unknown_dismiss(sighting_id: str):
    actions.dismiss_unknown(ctx(), sighting_id)
    flash("Dismissed.", "success")
    return redirect(url_for("pages.unknown"))


@bp.get("/attendance")
@accepts(query=PeriodQuery)
def attendance(query: PeriodQuery):
    c = ctx()
    found, first, last = views.period_for(c, query)
    rows = period.sort_rows(found.rows, query.sort, query.order == "desc")
    span = last - first + timedelta(days=1)
    return render_template(
        "attendance.html",
        period=found,
        first=first,
        last=last,
        rows=rows[(query.page - 1) * period.PAGE_SIZE : query.page * period.PAGE_SIZE],
        total_rows=len(rows),
        page=query.page,
        pages=found.pages(),
        query=query,
        employees=c.employees.list_all(),
        previous=(first - span, last - span),
        following=(first + span, last + span),
        single_day=first == last,
    )


@bp.route("/attendance/correct", methods=["GET", "POST"])
@require_role("admin")
@accepts(query=CorrectionPageQuery)
def correct(query: CorrectionPageQuery):
    c = ctx()
    person = actions.require_employee(c, query.employee)
    error = None
    status = 200
    if request.method == "POST":
        try:
            form = parse_form(CorrectionForm)
            identity = current_identity()
            assert identity is not None
            corrections.correct_day(
                c,
                person,
                query.day,
                arrival=_form_time(form.arrival_choice, form.arrival_time),
                departure=_form_time(form.departure_choice, form.departure_time),
                mark=form.mark,
                reason=form.reason,
                actor=identity.name,
            )
        except ApiError as exc:
            error, status = exc, exc.status
        else:
            flash(f"{person.name}'s {query.day.isoformat()} is corrected.", "success")
            return redirect(
                url_for("pages.attendance", employee=person.employee_id, day=query.day.isoformat())
            )
    found = period.build_period(c, query.day, query.day, person.employee_id)
    stored = c.attendance.for_period(query.day, query.day, person.employee_id)
    return render_template(
        "correct.html",
        employee=person,
        day=query.day,
        row=found.rows[0] if found.rows else None,
        recorded=period.sighted(stored[0]) if stored else None,
        form=request.form if request.method == "POST" else None,
        error=error,
    ), status


def _form_time(choice: str, value: str | None) -> corrections.TimeChange:
    if choice == "set":
        assert value is not None  # the form model requires it
        return time.fromisoformat(value)
    return "none" if choice == "none" else "recorded"


@bp.get("/kiosk")
@require_role(*ALL_ROLES)
@accepts(query=KioskPageQuery)
def kiosk(query: KioskPageQuery):
    camera_id = query.camera
    identity = current_identity()
    can_send = identity is not None and identity.has_role("admin", "kiosk")
    return render_template("kiosk.html", camera_id=camera_id, can_send=can_send)


@bp.route("/tokens", methods=["GET", "POST"])
@require_role("admin")
def tokens():
    c = ctx()
    secret = None
    if request.method == "POST":
        identity = current_identity()
        assert identity is not None
        try:
            form = parse_form(NewTokenForm)
            token, secret = c.users.create_token(
                form.name, form.role, identity.name, owner=identity.owner
            )
            audit("token.create", token.token_id, name=token.name, role=token.role)
        except ApiError as exc:
            flash(_sentence(exc.message), "error")
        except AccountError as exc:
            flash(_sentence(str(exc)), "error")
    return render_template("tokens.html", tokens=c.users.tokens(), secret=secret)


@bp.post("/tokens/<token_id>/revoke")
@require_role("admin")
@accepts(path=TokenPath)
def revoke(token_id: str):
    if ctx().users.revoke_token(token_id):
        audit("token.revoke", token_id)
    flash("Token revoked.", "success")
    return redirect(url_for("pages.tokens"))


@bp.get("/audit")
@require_role("admin")
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


# -- schedules and holidays -------------------------------------------------------------------
def schedule_text(schedule: Schedule) -> str:
    days = weekday_names(schedule.working_days) or "no working days"
    grace = int(schedule.grace.total_seconds() // 60)
    return f"{days}, {schedule.start:%H:%M}-{schedule.end:%H:%M}, late after {grace} min of grace"


@bp.get("/schedule")
@require_role("admin")
def schedule():
    c = ctx()
    work = period.calendar(c)
    employees = {e.employee_id: e for e in c.employees.list_all()}
    own = [
        (employees[employee_id], schedule_text(s), s)
        for employee_id, s in work.own_schedules().items()
        if employee_id in employees
    ]
    own.sort(key=lambda item: item[0].name.casefold())
    return render_template(
        "schedule.html",
        site_schedule=schedule_text(work.site_schedule),
        defaults=work.site_schedule,
        own=own,
        employees=sorted(employees.values(), key=lambda e: e.name.casefold()),
        holidays=work.holidays(),
        today=queries.today(c),
        weekdays=WEEKDAYS,
    )


@bp.post("/schedule/employees")
@require_role("admin")
def schedule_set():
    c = ctx()
    try:
        form = parse_form(ScheduleForm)
        if form.employee_id is None:
            raise ApiError(400, "employee_required", "choose whose schedule this is")
        person = actions.require_employee(c, form.employee_id)
        if not form.working_days:
            raise ApiError(400, "no_working_days", "tick at least one working day")
        own = Schedule(
            form.working_days, form.start, form.end, timedelta(minutes=form.grace_minutes)
        )
        period.calendar(c).set_own_schedule(person.employee_id, own)
    except ApiError as exc:
        flash(_sentence(exc.message), "error")
    else:
        audit("schedule.set", person.employee_id, name=person.name, schedule=schedule_text(own))
        flash(f"{person.name} now works {schedule_text(own)}.", "success")
    return redirect(url_for("pages.schedule"))


@bp.post("/schedule/employees/<employee_id>/remove")
@require_role("admin")
@accepts(path=EmployeePath)
def schedule_remove(employee_id: str):
    c = ctx()
    person = actions.require_employee(c, employee_id)
    if period.calendar(c).remove_own_schedule(employee_id):
        audit("schedule.remove", employee_id, name=person.name)
    flash(f"{person.name} follows the site's schedule again.", "success")
    return redirect(url_for("pages.schedule"))


@bp.post("/schedule/holidays")
@require_role("admin")
def holiday_add():
    try:
        form = parse_form(HolidayForm)
    except ApiError as exc:
        flash(_sentence(exc.message), "error")
    else:
        period.calendar(ctx()).add_holiday(form.day, form.name)
        audit("holiday.add", form.day.isoformat(), name=form.name)
        flash(f"{form.day.isoformat()} is a holiday: {form.name}.", "success")
    return redirect(url_for("pages.schedule"))


@bp.post("/schedule/holidays/<day>/remove")
@require_role("admin")
@accepts(path=HolidayPath)
def holiday_remove(day):
    if period.calendar(ctx()).remove_holiday(day):
        audit("holiday.remove", day.isoformat())
    flash(f"{day.isoformat()} is no longer a holiday.", "success")
    return redirect(url_for("pages.schedule"))


def _sentence(message: str) -> str:
    """An error message as a sentence: a capital first, a full stop last, and "the photo"
    rather than "photo 1" (the pages send one photo at a time)."""
    text = message.strip().removeprefix("photo 1: ")
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


@bp.app_template_filter("hours")
def _hours(duration) -> str:
    return format_hours(duration)


@bp.app_template_filter("sentence")
def _sentence_filter(message: str) -> str:
    return _sentence(message)


# -- charts -----------------------------------------------------------------------------------
CHART_DAYS = 28


def _svg(body: bytes) -> Response:
    return Response(body, mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})


@bp.get("/charts/arrivals-today.svg")
def arrivals_chart():
    c = ctx()
    rows = queries.day_rows(c, queries.today(c))
    hours = [r.facts.arrival.astimezone(c.zone).hour for r in rows if r.facts.arrival]
    return _svg(charts.arrivals_per_hour(hours))


@bp.get("/employees/<employee_id>/hours.svg")
@accepts(path=EmployeePath)
def hours_chart(employee_id: str):
    c = ctx()
    person = actions.require_employee(c, employee_id)
    last = queries.today(c)
    found = period.build_period(c, last - timedelta(days=CHART_DAYS - 1), last, person.employee_id)
    bars = [
        charts.DayBar(
            r.day, (r.facts.hours or timedelta(0)).total_seconds() / 3600, r.status == "late"
        )
        for r in found.rows
    ]
    return _svg(charts.hours_per_day(bars))
