"""Corrections with a trail (API and page) and the CSV / XLSX timesheets, on the real database."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from tests.integration.web.conftest import paris, see

pytestmark = pytest.mark.integration

TUESDAY = "2026-11-24"


@pytest.fixture
def ana(app, staff, clock):
    """Ana, seen late on Tuesday (09:40 to 17:00), looked at on Wednesday."""
    employee_id = staff("Ana")["Ana"]
    see(app, employee_id, "Ana", paris(1, 9, 40))
    see(app, employee_id, "Ana", paris(1, 17, 0))
    clock.set(paris(2, 12))
    return employee_id


def tuesday(admin, employee_id: str) -> dict:
    url = f"/api/v1/attendance?from={TUESDAY}&to={TUESDAY}&employee={employee_id}"
    return admin.get(url).get_json()["rows"][0]


def correct(client, employee_id: str, **body):
    return client.post(
        "/api/v1/attendance/corrections", json={"employee_id": employee_id, "day": TUESDAY, **body}
    )


def test_an_admin_sets_the_arrival_with_a_reason_and_the_record_is_kept(admin, ana, mongo_db):
    record_before = mongo_db.attendance.find_one({"employee_id": ana})
    response = correct(admin, ana, arrival="08:55", reason="Badge reader was down")
    assert response.status_code == 200, response.text
    day = response.get_json()
    assert day["arrival"] == "2026-11-24T08:55:00+01:00" and day["status"] == "present"
    assert day["corrected"] and day["arrival_corrected"] and not day["departure_corrected"]
    assert day["correction"]["reason"] == "Badge reader was down"
    assert day["correction"]["by"] == "admin" and day["hours"] == 8.08
    # The cameras' record is untouched; the correction is stored beside it.
    assert mongo_db.attendance.find_one({"employee_id": ana}) == record_before
    stored = mongo_db.attendance_corrections.find_one({"employee_id": ana})
    assert stored["reason"] == "Badge reader was down" and stored["departure"] is None
    entry = mongo_db.audit_log.find_one({"action": "attendance.correct"})
    assert entry["target"] == f"20261124-{ana}" and entry["actor"] == "admin"
    assert entry["details"]["before"]["arrival"] == "recorded"
    assert entry["details"]["after"]["arrival"] == "2026-11-24T08:55:00+01:00"
    # Shown with a mark and its reason.
    page = admin.get(f"/attendance?day={TUESDAY}").text
    assert "✎ corrected" in page and "Badge reader was down" in page


def test_a_later_sighting_never_overwrites_a_manual_value(admin, app, ana):
    correct(admin, ana, arrival="08:55", departure="17:30", reason="Forgot the camera")
    see(app, ana, "Ana", paris(1, 8, 0))  # delivered late, earlier than anything
    see(app, ana, "Ana", paris(1, 19, 0))
    day = tuesday(admin, ana)
    assert day["arrival"] == "2026-11-24T08:55:00+01:00"
    assert day["departure"] == "2026-11-24T17:30:00+01:00"


def test_corrections_merge_and_can_restore_the_record(admin, ana, mongo_db):
    correct(admin, ana, arrival="08:55", reason="Badge reader was down")
    correct(admin, ana, departure=None, reason="Left through the back")
    day = tuesday(admin, ana)
    assert day["arrival"] == "2026-11-24T08:55:00+01:00" and day["departure"] is None
    correct(admin, ana, arrival="recorded", departure="recorded", reason="Mistake, undo")
    day = tuesday(admin, ana)
    assert not day["corrected"] and day["status"] == "late"
    assert mongo_db.attendance_corrections.count_documents({}) == 0
    assert mongo_db.audit_log.count_documents({"action": "attendance.correct"}) == 3


def test_a_day_is_marked_as_leave_or_remote(admin, ana, staff):
    bo = staff("Bo")["Bo"]
    assert correct(admin, bo, mark="leave", reason="Annual leave").status_code == 200
    assert tuesday(admin, bo)["status"] == "leave"
    correct(admin, bo, mark="remote", reason="Worked from home")
    assert tuesday(admin, bo)["status"] == "remote"
    totals = admin.get(f"/api/v1/attendance?from={TUESDAY}&to={TUESDAY}").get_json()["totals"]
    assert {t["employee_name"]: t["remote_days"] for t in totals} == {"Ana": 0, "Bo": 1}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"arrival": "08:55"}, "invalid_input"),  # no reason
        ({"arrival": "08:55", "reason": "  "}, "invalid_input"),
        ({"arrival": "8:55", "reason": "typo"}, "invalid_input"),
        ({"arrival": "18:00", "reason": "after the departure"}, "departure_before_arrival"),
        ({"arrival": None, "reason": "departure stays"}, "departure_without_arrival"),
        ({"mark": "sick", "reason": "not a mark"}, "invalid_input"),
    ],
)
def test_a_bad_correction_is_refused_and_stores_nothing(admin, ana, mongo_db, body, code):
    response = correct(admin, ana, **body)
    assert response.status_code == 400, response.text
    assert response.get_json()["error"]["code"] == code
    assert mongo_db.attendance_corrections.count_documents({}) == 0
    assert mongo_db.audit_log.count_documents({"action": "attendance.correct"}) == 0


def test_times_in_the_future_and_days_before_registration_are_refused(admin, ana, mongo_db):
    future = admin.post(
        "/api/v1/attendance/corrections",
        json={"employee_id": ana, "day": "2026-11-25", "arrival": "13:00", "reason": "soon"},
    )
    assert future.get_json()["error"]["code"] == "time_in_future"
    early = admin.post(
        "/api/v1/attendance/corrections",
        json={"employee_id": ana, "day": "2026-01-05", "mark": "leave", "reason": "before"},
    )
    assert early.get_json()["error"]["code"] == "not_yet_employed"
    assert mongo_db.attendance_corrections.count_documents({}) == 0


def test_erasing_an_employee_erases_their_corrections(admin, ana, mongo_db):
    correct(admin, ana, arrival="08:55", reason="Badge reader was down")
    assert admin.delete(f"/api/v1/employees/{ana}").status_code == 200
    assert mongo_db.attendance_corrections.count_documents({}) == 0


def test_only_admins_correct(viewer, ana, mongo_db):
    assert correct(viewer, ana, mark="leave", reason="no right").status_code == 403
    assert viewer.get(f"/attendance/correct?employee={ana}&day={TUESDAY}").status_code == 403
    assert mongo_db.attendance_corrections.count_documents({}) == 0


def test_the_correction_page_saves_and_keeps_the_form_on_an_error(admin, ana, mongo_db):
    url = f"/attendance/correct?employee={ana}&day={TUESDAY}"
    page = admin.get(url)
    assert page.status_code == 200 and "As recorded" in page.text and "09:40" in page.text
    refused = admin.post(
        url,
        data={"arrival_choice": "set", "arrival_time": "08:50", "departure_choice": "recorded"},
    )
    assert refused.status_code == 400 and "Say why the day is corrected" in refused.text
    assert 'value="08:50"' in refused.text  # what was typed is kept
    assert mongo_db.attendance_corrections.count_documents({}) == 0
    saved = admin.post(
        url,
        data={
            "arrival_choice": "set",
            "arrival_time": "08:50",
            "departure_choice": "recorded",
            "mark": "",
            "reason": "Came in by the side door",
        },
    )
    assert saved.status_code == 302
    assert mongo_db.attendance_corrections.find_one({})["reason"] == "Came in by the side door"


# -- exports ----------------------------------------------------------------------------------
def test_the_csv_export_has_hours_status_and_a_corrected_column(admin, ana):
    correct(admin, ana, departure="17:30", reason="Stayed for the audit")
    body = admin.get(f"/api/v1/attendance/export.csv?from=2026-11-23&to={TUESDAY}").text
    rows = {r["date"]: r for r in csv.DictReader(io.StringIO(body))}
    assert rows[TUESDAY]["status"] == "late" and rows[TUESDAY]["late_minutes"] == "40"
    assert rows[TUESDAY]["hours"] == "7:50" and rows[TUESDAY]["corrected"] == "yes"
    assert rows[TUESDAY]["correction_reason"] == "Stayed for the audit"
    assert rows[TUESDAY]["departure_time"] == "2026-11-24T17:30:00+01:00"
    assert rows["2026-11-23"]["status"] == "absent" and rows["2026-11-23"]["corrected"] == "no"
    summary = admin.get(
        f"/api/v1/attendance/export.csv?from=2026-11-23&to={TUESDAY}&sheet=summary"
    ).text
    (ana_total,) = list(csv.DictReader(io.StringIO(summary)))
    assert (ana_total["days_present"], ana_total["late_arrivals"], ana_total["absences"]) == (
        "1",
        "1",
        "1",
    )
    assert ana_total["hours"] == "7:50" and ana_total["time_zone"] == "Europe/Paris"


def test_the_xlsx_export_has_a_days_and_a_summary_sheet(admin, app, staff, ana):
    staff('=HYPERLINK("http://x")')
    response = admin.get(f"/api/v1/attendance/export.xlsx?from=2026-11-23&to={TUESDAY}")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert "attendance-2026-11-23-2026-11-24.xlsx" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["Days", "Summary"]
    days = list(book["Days"].iter_rows(values_only=True))
    header = days[0]
    rows = [dict(zip(header, values, strict=True)) for values in days[1:]]
    mine = next(r for r in rows if r["employee_name"] == "Ana" and r["status"] == "late")
    assert mine["arrival_time"].strftime("%H:%M") == "09:40"  # local wall time
    assert mine["time_zone"] == "Europe/Paris" and mine["corrected"] == "no"
    # A name that looks like a formula stays text.
    names = {r["employee_name"] for r in rows}
    assert '=HYPERLINK("http://x")' in names
    cell = next(c for c in book["Days"]["C"] if c.value == '=HYPERLINK("http://x")')
    assert cell.data_type == "s"
    summary = list(book["Summary"].iter_rows(values_only=True))
    assert summary[0][:2] == ("employee_id", "employee_name") and len(summary) == 3
