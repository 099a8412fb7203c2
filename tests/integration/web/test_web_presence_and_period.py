"""Presence ("In now"), the kiosk's greeting, attendance over a period with totals, schedules and
holidays, on the real database."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.integration.web.conftest import paris, see

pytestmark = pytest.mark.integration


def rows_by_name(data: dict) -> dict[str, dict]:
    return {row["employee_name"]: row for row in data["rows"]}


# -- presence ---------------------------------------------------------------------------------
def test_someone_still_in_front_of_the_camera_is_in_and_their_departure_only_last_seen(
    admin, app, staff, clock
):
    ids = staff("Ana", "Bo")
    see(app, ids["Ana"], "Ana", paris(1, 8, 50))
    see(app, ids["Ana"], "Ana", paris(1, 8, 52))  # two minutes later, still there
    clock.set(paris(1, 8, 55))
    ana = rows_by_name(admin.get("/api/v1/attendance/today").get_json())["Ana"]
    assert ana["presence"] == "in" and ana["departure_label"] == "last seen"
    assert ana["last_seen"] == "2026-11-24T08:52:00+01:00"
    page = admin.get("/").text
    assert "In now: <strong>1</strong> of 2" in page
    assert "last seen" in page and ">left<" not in page
    # The last entries list the arrival only: no "departure" while the person is there.
    entries = admin.get("/api/v1/entries/latest").get_json()["entries"]
    assert [e["event"] for e in entries] == ["arrival"]

    clock.set(paris(1, 9, 3))  # eleven minutes without a sighting: out
    ana = rows_by_name(admin.get("/api/v1/attendance/today").get_json())["Ana"]
    assert ana["presence"] == "out" and ana["departure_label"] == "left"
    assert "In now: <strong>0</strong> of 2" in admin.get("/fragments/headcount").text
    entries = admin.get("/api/v1/entries/latest").get_json()["entries"]
    assert [e["event"] for e in entries] == ["departure", "arrival"]


def test_the_kiosk_welcomes_stays_quiet_then_says_welcome_back_and_goodbye(admin, app, staff):
    ana = staff("Ana")["Ana"]

    def greet(moment: datetime):
        see(app, ana, "Ana", moment)
        query = {"employee_id": ana, "seen_at": moment.isoformat()}
        response = admin.get("/api/v1/kiosk/greeting", query_string=query)
        assert response.status_code == 200, response.text
        return response.get_json()["greeting"]

    assert greet(paris(1, 8, 50)) == "welcome"
    assert greet(paris(1, 8, 51)) is None  # still standing there: never "goodbye"
    assert greet(paris(1, 12, 30)) == "welcome_back"
    assert greet(paris(1, 17, 2)) == "goodbye"
    unknown = admin.get(
        "/api/v1/kiosk/greeting",
        query_string={"employee_id": "0123456789ab", "seen_at": paris(1, 9).isoformat()},
    )
    assert unknown.status_code == 404


# -- the period view --------------------------------------------------------------------------
def test_the_period_has_a_row_per_person_per_day_with_hours_status_and_totals(
    admin, app, staff, clock
):
    ids = staff("Ana", "Bo")
    see(app, ids["Ana"], "Ana", paris(0, 8, 58))
    see(app, ids["Ana"], "Ana", paris(0, 17, 3))
    see(app, ids["Ana"], "Ana", paris(1, 9, 20))  # late
    see(app, ids["Ana"], "Ana", paris(1, 16, 20))
    see(app, ids["Bo"], "Bo", paris(0, 9, 0))
    see(app, ids["Bo"], "Bo", paris(0, 12, 0))
    clock.set(paris(2, 12))  # Wednesday noon
    data = admin.get("/api/v1/attendance").get_json()  # this week by default
    assert (data["from"], data["to"]) == ("2026-11-23", "2026-11-29")
    assert data["total_rows"] == 14 and data["time_zone"] == "Europe/Paris"
    ana = {r["day"]: r for r in data["rows"] if r["employee_name"] == "Ana"}
    assert ana["2026-11-23"]["status"] == "present" and ana["2026-11-23"]["hours"] == 8.08
    assert ana["2026-11-24"]["status"] == "late" and ana["2026-11-24"]["late_minutes"] == 20
    assert ana["2026-11-25"]["status"] == "absent"  # Wednesday noon, never seen
    assert ana["2026-11-26"]["status"] == "upcoming"
    assert ana["2026-11-28"]["status"] == "off"
    totals = {t["employee_name"]: t for t in data["totals"]}
    assert totals["Ana"] == {
        "employee_id": ids["Ana"],
        "employee_name": "Ana",
        "days_present": 2,
        "late_arrivals": 1,
        "absences": 1,
        "leave_days": 0,
        "remote_days": 0,
        "hours": 15.08,
        "corrected_days": 0,
    }
    assert (totals["Bo"]["days_present"], totals["Bo"]["absences"]) == (1, 2)
    page = admin.get("/attendance").text
    assert "2026-11-23 to 2026-11-29" in page and "8:05" in page and "15:05" in page


def test_the_period_is_filtered_by_person_sorted_and_paged(admin, app, staff, clock):
    ids = staff("Ana", "Bo")
    see(app, ids["Ana"], "Ana", paris(0, 9))
    see(app, ids["Ana"], "Ana", paris(0, 18))
    see(app, ids["Bo"], "Bo", paris(0, 9))
    see(app, ids["Bo"], "Bo", paris(0, 10))
    clock.set(paris(7, 12))
    week = "from=2026-11-23&to=2026-11-29"
    mine = admin.get(f"/api/v1/attendance?{week}&employee={ids['Bo']}").get_json()
    assert {r["employee_name"] for r in mine["rows"]} == {"Bo"} and len(mine["rows"]) == 7
    assert [t["employee_name"] for t in mine["totals"]] == ["Bo"]
    by_hours = admin.get(f"/api/v1/attendance?{week}&sort=hours&order=desc").get_json()
    assert [(r["employee_name"], r["hours"]) for r in by_hours["rows"][:2]] == [
        ("Ana", 9.0),
        ("Bo", 1.0),
    ]
    newest = admin.get(f"/api/v1/attendance?{week}&sort=day&order=desc").get_json()["rows"]
    # The direction is the day's only: a day's names stay in order.
    assert [(r["day"], r["employee_name"]) for r in newest[:3]] == [
        ("2026-11-29", "Ana"),
        ("2026-11-29", "Bo"),
        ("2026-11-28", "Ana"),
    ]
    by_name = admin.get(f"/api/v1/attendance?{week}&sort=name").get_json()["rows"]
    assert [r["employee_name"] for r in by_name] == ["Ana"] * 7 + ["Bo"] * 7
    long = admin.get("/api/v1/attendance?from=2026-11-01&to=2026-11-30").get_json()
    assert (long["total_rows"], long["pages"], len(long["rows"])) == (60, 2, 50)
    second = admin.get("/api/v1/attendance?from=2026-11-01&to=2026-11-30&page=2").get_json()
    assert len(second["rows"]) == 10
    nobody = admin.get(f"/api/v1/attendance?{week}&employee=0123456789ab")
    assert nobody.status_code == 404
    assert admin.get("/api/v1/attendance?sort=salary").status_code == 400
    assert admin.get("/api/v1/attendance?from=2026-11-30&to=2026-11-01").status_code == 400
    assert "Page 1 of 2" in admin.get("/attendance?from=2026-11-01&to=2026-11-30").text


# -- schedules and holidays -------------------------------------------------------------------
def test_a_holiday_is_neither_absent_nor_late_and_is_audited(admin, app, staff, clock, mongo_db):
    ids = staff("Ana")
    clock.set(paris(7, 12))
    response = admin.post("/schedule/holidays", data={"day": "2026-11-25", "name": "Founders' day"})
    assert response.status_code == 302
    assert mongo_db.holidays.find_one({"_id": "2026-11-25"})["name"] == "Founders' day"
    rows = admin.get(f"/api/v1/attendance?employee={ids['Ana']}").get_json()
    assert (
        admin.get("/api/v1/attendance?from=2026-11-25&to=2026-11-25").get_json()["rows"][0][
            "status"
        ]
        == "holiday"
    )
    assert rows["from"] == "2026-11-30"
    entry = mongo_db.audit_log.find_one({"action": "holiday.add"})
    assert entry["target"] == "2026-11-25" and entry["actor"] == "admin"
    assert admin.post("/schedule/holidays/2026-11-25/remove").status_code == 302
    assert mongo_db.holidays.count_documents({}) == 0
    assert mongo_db.audit_log.count_documents({"action": "holiday.remove"}) == 1
    # A malformed day stores nothing and says why.
    admin.post("/schedule/holidays", data={"day": "2026-13-01", "name": "x"})
    assert mongo_db.holidays.count_documents({}) == 0


def test_an_employees_own_schedule_decides_when_they_are_late(admin, app, staff, clock, mongo_db):
    ids = staff("Ana")
    see(app, ids["Ana"], "Ana", paris(5, 10, 30))  # Saturday
    see(app, ids["Ana"], "Ana", paris(0, 10, 30))  # Monday
    clock.set(paris(7, 12))
    form = {"employee_id": ids["Ana"], "sat": "on", "mon": "on", "start": "10:00"}
    response = admin.post("/schedule/employees", data={**form, "end": "14:00", "grace_minutes": 15})
    assert response.status_code == 302
    stored = mongo_db.work_schedules.find_one({"_id": ids["Ana"]})
    assert (stored["working_days"], stored["start"], stored["grace_minutes"]) == (
        [0, 5],
        "10:00",
        15,
    )
    week = {
        r["day"]: r["status"]
        for r in admin.get("/api/v1/attendance?from=2026-11-23&to=2026-11-29").get_json()["rows"]
    }
    assert week["2026-11-28"] == "late" and week["2026-11-23"] == "late"
    assert week["2026-11-24"] == "off"  # a Tuesday, not one of hers
    assert "sat" in admin.get("/schedule").text and "Ana" in admin.get("/schedule").text
    assert mongo_db.audit_log.count_documents({"action": "schedule.set"}) == 1
    admin.post(f"/schedule/employees/{ids['Ana']}/remove")
    assert mongo_db.work_schedules.count_documents({}) == 0
    # Erasing an employee takes their schedule with them.
    admin.post("/schedule/employees", data={**form, "end": "14:00"})
    admin.delete(f"/api/v1/employees/{ids['Ana']}")
    assert mongo_db.work_schedules.count_documents({}) == 0


def test_the_schedule_page_is_for_admins(viewer):
    assert viewer.get("/schedule").status_code == 403
    assert (
        viewer.post("/schedule/holidays", data={"day": "2026-12-25", "name": "x"}).status_code
        == 403
    )


def test_a_time_taken_from_a_flagged_track_is_marked_in_the_api(admin, app, staff, clock):
    ids = staff("Ana", "Bo")
    see(app, ids["Ana"], "Ana", paris(1, 8, 50), flagged=True)
    see(app, ids["Ana"], "Ana", paris(1, 17, 5))
    see(app, ids["Bo"], "Bo", paris(1, 9, 0))
    clock.set(paris(1, 18, 0))
    rows = rows_by_name(admin.get("/api/v1/attendance/today").get_json())
    assert (rows["Ana"]["arrival_flagged"], rows["Ana"]["departure_flagged"]) == (True, False)
    assert (rows["Bo"]["arrival_flagged"], rows["Bo"]["departure_flagged"]) == (False, False)
