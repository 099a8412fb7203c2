"""Attendance views, CSV export, unknown faces, live frames and events, OpenAPI."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest

from services.common.bus.topology import ATTENDANCE_EVENTS, FRAMES
from services.common.contracts import AttendanceEvent, FrameMessage, new_id
from services.web.live import BOUNDARY
from services.web.openapi import API_PREFIX, openapi_path
from tests.helpers.messages import MORNING
from tests.helpers.processes import wait_until
from tests.integration.web.conftest import NO_FACE, ONE_FACE, registered_since
from tests.integration.web.test_web_employees import _attend

pytestmark = pytest.mark.integration


def test_attendance_by_day_lists_everyone_with_record_ids(admin, registered, app, mongo_db):
    ana = registered("Ana")
    bo = registered("Bo")
    registered_since(mongo_db, bo["employee_id"], MORNING - timedelta(days=30))
    record = _attend(app, ana["employee_id"], "Ana")
    data = admin.get("/api/v1/attendance/2026-11-24").get_json()
    rows = {row["employee_name"]: row for row in data["rows"]}
    assert rows["Ana"]["record_id"] == record.record_id
    # Stored in UTC, shown in the site's zone (Paris is UTC+1 in November).
    assert rows["Ana"]["arrival"] == "2026-11-24T09:00:00+01:00"
    assert rows["Ana"]["departure"] == "2026-11-24T10:00:00+01:00"
    assert rows["Ana"]["status"] == "present" and rows["Ana"]["hours"] == 1.0
    assert rows["Bo"]["status"] == "absent" and rows["Bo"]["record_id"] is None
    page = admin.get("/attendance?day=2026-11-24").text
    assert record.record_id in page and "09:00" in page and "10:00" in page
    assert admin.get("/api/v1/attendance/24-11-2026").status_code == 400


def test_an_employees_history_is_filtered_by_date(admin, registered, app):
    ana = registered("Ana")
    _attend(app, ana["employee_id"], "Ana", day_offset=0)
    _attend(app, ana["employee_id"], "Ana", day_offset=2)
    url = f"/api/v1/employees/{ana['employee_id']}/attendance"
    both = admin.get(f"{url}?from=2026-11-20&to=2026-11-30").get_json()["days"]
    # Every day of the range, newest first; the recorded ones carry their record.
    assert len(both) == 11 and both[0]["day"] == "2026-11-30"
    assert [d["day"] for d in both if d["record_id"]] == ["2026-11-26", "2026-11-24"]
    one = admin.get(f"{url}?from=2026-11-25&to=2026-11-30").get_json()["days"]
    assert [d["day"] for d in one if d["record_id"]] == ["2026-11-26"]
    page = admin.get(f"/employees/{ana['employee_id']}?from=2026-11-25&to=2026-11-30").text
    assert "20261126-" in page and "20261124-" not in page
    assert admin.get(f"{url}?from=2026-11-30&to=2026-11-01").status_code == 400


def test_the_csv_export_has_one_row_per_employee_per_day(admin, registered, app):
    ana = registered("Ana")
    registered("=cmd()")  # registered today: no "not seen" or "absent" before that
    record = _attend(app, ana["employee_id"], "Ana")
    response = admin.get("/api/v1/attendance/export.csv?from=2026-11-24&to=2026-11-25")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 4
    first = next(row for row in rows if row["employee_name"] == "Ana")
    assert (first["date"], first["employee_name"], first["record_id"]) == (
        "2026-11-24",
        "Ana",
        record.record_id,
    )
    assert first["arrival_time"] == "2026-11-24T09:00:00+01:00"
    assert first["departure_time"] == "2026-11-24T10:00:00+01:00"
    assert first["status"] == "present" and first["time_zone"] == "Europe/Paris"
    assert (first["hours"], first["corrected"]) == ("1:00", "no")
    # A name that a spreadsheet would run as a formula is neutralised.
    assert {row["employee_name"] for row in rows} == {"Ana", "'=cmd()"}
    before = [row for row in rows if row["date"] == "2026-11-25"]
    assert all(row["status"] == "not yet employed" and row["arrival_time"] == "" for row in before)


def test_latest_entries_are_newest_first(admin, registered, app, clock):
    ana = registered("Ana")
    _attend(app, ana["employee_id"], "Ana")
    clock.set(MORNING + timedelta(hours=4))
    entries = admin.get("/api/v1/entries/latest").get_json()["entries"]
    assert [e["event"] for e in entries] == ["departure", "arrival"]
    assert entries[0]["local_time"] == "2026-11-24T10:00:00+01:00"
    assert entries[0]["camera_id"] == "door"
    fragment = admin.get("/fragments/latest").text
    assert "Ana" in fragment and "10:00" in fragment and "departure" in fragment


def test_unknown_faces_are_listed_and_can_be_dismissed(admin, unknown, mongo_db):
    sighting_id = unknown()
    listed = admin.get("/api/v1/unknown-faces").get_json()["unknown_faces"]
    assert [f["sighting_id"] for f in listed] == [sighting_id]
    assert sighting_id in admin.get("/unknown").text
    assert admin.post(f"/api/v1/unknown-faces/{sighting_id}/dismiss").status_code == 200
    assert mongo_db.sightings.count_documents({}) == 0
    assert mongo_db.pictures.count_documents({}) == 0
    assert admin.post(f"/api/v1/unknown-faces/{sighting_id}/dismiss").status_code == 404


def test_an_unknown_face_can_be_assigned_to_an_employee(admin, registered, unknown, mongo_db):
    ana = registered("Ana")
    sighting_id = unknown()
    response = admin.post(
        f"/api/v1/unknown-faces/{sighting_id}/assign", json={"employee_id": ana["employee_id"]}
    )
    assert response.status_code == 200
    assert len(response.get_json()["photo_ids"]) == 2
    assert mongo_db.embeddings.count_documents({"employee_id": ana["employee_id"]}) == 2
    assert mongo_db.sightings.count_documents({}) == 0


def test_an_unknown_face_can_become_a_new_employee(admin, unknown, mongo_db):
    sighting_id = unknown()
    page = admin.post(f"/unknown/{sighting_id}/assign", data={"name": "Cleo"})
    assert page.status_code == 302
    assert mongo_db.employees.find_one({"name": "Cleo"}) is not None
    faceless = unknown(NO_FACE)
    refused = admin.post(f"/api/v1/unknown-faces/{faceless}/assign", json={"name": "Dan"})
    assert refused.status_code == 422
    assert mongo_db.sightings.count_documents({"_id": faceless}) == 1


def _frame(camera: str, jpeg: bytes = ONE_FACE) -> FrameMessage:
    return FrameMessage(
        frame_id=new_id(), camera_id=camera, captured_at=MORNING, width=64, height=64, jpeg=jpeg
    )


def _wait(predicate, timeout: float = 5.0) -> None:
    wait_until(predicate, timeout, "the live feed", interval=0.02)


def test_the_live_view_streams_the_latest_frame_per_camera(admin, bus):
    bus.publish(FRAMES, _frame("door"))
    _wait(lambda: admin.get("/api/v1/cameras").get_json()["cameras"] == ["door"])
    snapshot = admin.get("/live/door.jpg")
    assert snapshot.data == ONE_FACE
    stream = admin.get("/live/door.mjpg?frames=1")
    assert stream.mimetype == "multipart/x-mixed-replace"
    assert b"Content-Type: image/jpeg" in stream.data and ONE_FACE in stream.data
    # The boundary right after the frame is what makes a browser show it without waiting.
    assert stream.data.endswith(ONE_FACE + f"\r\n--{BOUNDARY}\r\n".encode())
    assert admin.get("/live/nowhere.jpg").status_code == 404


def _event(camera: str, kind: str = "arrival") -> AttendanceEvent:
    return AttendanceEvent(
        sighting_id=new_id(),
        record_id="r1",
        employee_id="e1",
        employee_name="Ana <b>",
        camera_id=camera,
        seen_at=MORNING,
        day="2026-11-24",
        event=kind,
    )


def test_attendance_events_reach_the_kiosk_by_sse_and_polling(admin, bus):
    bus.publish(ATTENDANCE_EVENTS, _event("hall"))
    bus.publish(ATTENDANCE_EVENTS, _event("kiosk-1"))
    _wait(lambda: len(admin.get("/api/v1/events").get_json()["events"]) == 2)
    polled = admin.get("/api/v1/events?camera=kiosk-1").get_json()["events"]
    assert [e["camera_id"] for e in polled] == ["kiosk-1"]
    assert polled[0]["local_time"] == "09:00"
    stream = admin.get("/live/events?camera=kiosk-1&after=0&max=1").text
    assert "event: attendance" in stream
    data = re.search(r"data: (.*)", stream).group(1)
    assert '"employee_name": "Ana <b>"' in data and '"event": "arrival"' in data
    kiosk = admin.get("/kiosk?camera=kiosk-1").text
    assert 'data-camera="kiosk-1"' in kiosk and "kiosk.js" in kiosk


def test_the_openapi_document_lists_every_api_route(admin, app):
    document = admin.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    expected = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API_PREFIX):
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
                expected.add((openapi_path(rule.rule[len(API_PREFIX) :]), method.lower()))
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert documented == expected
    assert ("/employees/{employee_id}", "delete") in documented
    assert all(op["summary"] for item in document["paths"].values() for op in item.values())


def test_the_openapi_document_names_the_unavailable_and_timeout_answers(admin, app):
    document = admin.get("/api/v1/openapi.json").get_json()
    operations = [op for item in document["paths"].values() for op in item.values()]
    assert all("503" in op["responses"] for op in operations)
    waits = {op["operationId"] for op in operations if "504" in op["responses"]}
    assert waits == {
        "api_create_employee_post",
        "api_add_employee_photos_post",
        "api_preview_employee_face_post",
        "api_assign_unknown_face_post",
        "api_assign_unknown_face_group_post",
    }
