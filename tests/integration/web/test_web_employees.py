"""Registering, listing, looking up, escaping and deleting employees."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from services.common.domain.attendance import Observation
from services.common.storage.attendance import AttendanceRepository
from services.common.storage.sightings import SightingLog
from services.common.storage.spoof_attempts import SpoofAttemptLog
from services.web.erase import erase_employee
from tests.helpers.messages import MORNING, sighting
from tests.integration.web.conftest import (
    MAX_UPLOAD,
    NO_FACE,
    ONE_FACE,
    TWO_FACES,
    counts,
    photo,
    registered_since,
    upload,
)

pytestmark = pytest.mark.integration

BAD_ENROLMENTS = [
    # (name, photo bytes or None, status, code, words in the message)
    ("", ONE_FACE, 400, "name_required", "name is required"),
    ("   ", ONE_FACE, 400, "name_required", "name is required"),
    ("x" * 121, ONE_FACE, 400, "name_too_long", "at most 120"),
    ("Ana\x00", ONE_FACE, 400, "name_invalid", "control characters"),
    ("Ana", None, 400, "photo_required", "photo"),
    ("Ana", b"%PDF-1.4 not a picture", 415, "not_an_image", "not an image"),
    ("Ana", b"\xff\xd8\xff" + b"\0" * (MAX_UPLOAD // 2), 415, "not_an_image", "not an image"),
    ("Ana", NO_FACE, 422, "no_face", "no face"),
    ("Ana", TWO_FACES, 422, "several_faces", "2 faces"),
]


def _enrol(admin, name, data):
    form = {"name": name}
    if data is not None:
        form["photo"] = upload(data)
    return admin.post("/api/v1/employees", data=form, content_type="multipart/form-data")


@pytest.mark.parametrize(("name", "data", "status", "code", "words"), BAD_ENROLMENTS)
def test_a_bad_enrolment_says_why_and_stores_nothing(
    admin, mongo_db, name, data, status, code, words
):
    before = counts(mongo_db)
    response = _enrol(admin, name, data)
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["code"] == code and words in error["message"]
    assert counts(mongo_db) == before


@pytest.mark.parametrize(("name", "data", "status", "code", "words"), BAD_ENROLMENTS)
def test_the_registration_form_shows_the_specific_error(
    admin, mongo_db, name, data, status, code, words
):
    form = {"name": name, "csrf_token": admin.csrf}
    if data is not None:
        form["photo"] = upload(data)
    response = admin.client.post("/employees/new", data=form, content_type="multipart/form-data")
    assert response.status_code == status
    assert f'data-error-code="{code}"' in response.text
    # Said as a sentence to a person who sent one photo: no "photo 1:".
    alert = re.search(r'data-error-code="[a-z_]+">([^<]*)<', response.text).group(1)
    assert words.lower() in alert.lower() and "photo 1" not in alert
    assert not alert[0].islower() and alert.endswith(".")
    assert counts(mongo_db) == {"employees": 0, "embeddings": 0, "pictures": 0}


def test_a_duplicate_name_is_refused_in_any_case(admin, registered, mongo_db):
    registered("Ana Lopez")
    before = counts(mongo_db)
    response = _enrol(admin, "  ana   LOPEZ ", ONE_FACE)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "duplicate_name"
    assert counts(mongo_db) == before


def test_an_upload_over_the_size_limit_is_refused(admin, mongo_db):
    response = _enrol(admin, "Ana", b"\xff\xd8\xff" + b"\0" * (MAX_UPLOAD + 10))
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"
    page = admin.client.post(
        "/employees/new",
        data={"name": "Ana", "csrf_token": admin.csrf, "photo": upload(b"\0" * (MAX_UPLOAD + 10))},
        content_type="multipart/form-data",
    )
    assert page.status_code == 413 and "larger than the limit" in page.text
    assert counts(mongo_db) == {"employees": 0, "embeddings": 0, "pictures": 0}


def test_create_needs_multipart(admin):
    response = admin.post("/api/v1/employees", json={"name": "Ana"})
    assert response.status_code == 415


def test_registering_stores_the_employee_and_refreshes_the_gallery(
    admin, registered, mongo_db, gallery
):
    data = registered("Ana Lopez")
    assert data["name"] == "Ana Lopez" and len(data["photo_ids"]) == 1
    assert counts(mongo_db) == {"employees": 1, "embeddings": 1, "pictures": 2}
    assert gallery.current().names == {data["employee_id"]: "Ana Lopez"}
    assert admin.get(f"/api/v1/employees/{data['employee_id']}").get_json()["name"] == "Ana Lopez"
    picture = admin.get(data["photo_urls"][0])
    assert picture.status_code == 200 and picture.mimetype == "image/jpeg"


def test_the_form_registers_and_shows_the_employee(admin, mongo_db):
    response = admin.client.post(
        "/employees/new",
        data={"name": "Bo Chen", "photo": upload(ONE_FACE), "csrf_token": admin.csrf},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Bo Chen is registered." in response.text
    assert mongo_db.employees.count_documents({}) == 1


def test_more_photos_can_be_added(admin, registered, mongo_db):
    data = registered("Ana")
    url = f"/api/v1/employees/{data['employee_id']}/photos"
    added = admin.post(url, data={"photo": upload(ONE_FACE)}, content_type="multipart/form-data")
    assert added.status_code == 200 and len(added.get_json()["photo_ids"]) == 2
    refused = admin.post(url, data={"photo": upload(NO_FACE)}, content_type="multipart/form-data")
    assert refused.status_code == 422
    assert mongo_db.embeddings.count_documents({}) == 2
    missing = admin.post(
        "/api/v1/employees/0123456789ab/photos",
        data={"photo": upload(ONE_FACE)},
        content_type="multipart/form-data",
    )
    assert missing.status_code == 404


def test_unknown_employee_is_a_json_404(admin):
    response = admin.get("/api/v1/employees/0123456789ab")
    assert response.status_code == 404
    assert response.get_json() == {
        "error": {"code": "not_found", "message": "no employee with id 0123456789ab"}
    }


def test_a_name_with_markup_is_escaped_everywhere(admin, registered, app):
    evil = "<script>alert(1)</script>"
    data = registered(evil)
    _attend(app, data["employee_id"], evil)
    for url in [
        "/",
        "/employees",
        f"/employees/{data['employee_id']}",
        "/attendance?day=2026-11-24",
        "/fragments/latest",
        "/fragments/today",
        "/unknown",
        f"/employees/search?q={evil[:5]}",
    ]:
        page = admin.get(url).text
        assert evil not in page, url
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in admin.get("/employees").text


def test_search_suggests_and_finds_by_name(admin, registered):
    ana = registered("Ana Lopez")
    registered("Anatole Roy")
    names = [e["name"] for e in admin.get("/api/v1/employees?q=ana").get_json()["employees"]]
    assert names == ["Ana Lopez", "Anatole Roy"]
    exact = admin.get("/employees/search?q=ana lopez")
    assert exact.headers["Location"] == f"/employees/{ana['employee_id']}"


def test_the_list_shows_registration_last_seen_and_todays_status(
    admin, registered, app, clock, mongo_db
):
    ana = registered("Ana")
    bo = registered("Bo")
    for person in (ana, bo):
        registered_since(mongo_db, person["employee_id"], MORNING - timedelta(days=7))
    _attend(app, ana["employee_id"], "Ana", gap_s=60)
    clock.set(MORNING + timedelta(minutes=5))  # Tuesday 09:05 in Paris
    listed = {e["name"]: e for e in admin.get("/api/v1/employees").get_json()["employees"]}
    assert listed["Ana"]["last_seen"].startswith("2026-11-24T")
    assert (listed["Ana"]["today_status"], listed["Ana"]["presence"]) == ("present", "in")
    assert listed["Bo"]["last_seen"] is None
    assert (listed["Bo"]["today_status"], listed["Bo"]["presence"]) == ("expected", "out")
    clock.set(MORNING + timedelta(hours=3))
    listed = {e["name"]: e for e in admin.get("/api/v1/employees").get_json()["employees"]}
    assert listed["Ana"]["presence"] == "out" and listed["Bo"]["today_status"] == "absent"
    assert "absent" in admin.get("/employees").text


def _attend(app, employee_id: str, name: str, day_offset: int = 0, gap_s: int = 3600):
    """Record an arrival and a departure through the real repositories (with pictures)."""
    c = app.extensions["attendance"]
    records = AttendanceRepository(c.db)
    log = SightingLog(c.db, c.pictures)
    record = None
    for seconds in (0, gap_s):
        message = sighting(employee_id, day_offset * 86400 + seconds, employee_name=name)
        log.add(message)
        observation = Observation(
            message.seen_at,
            message.sighting_id,
            message.camera_id,
            f"sighting-{message.sighting_id}",
        )
        day = (MORNING + timedelta(days=day_offset)).date()
        record = records.record_sighting(employee_id, name, observation, day, timedelta(minutes=1))
    return record


def test_deleting_removes_every_trace_and_frees_the_name(
    admin, registered, app, mongo_db, cache, gallery
):
    ana = registered("Ana")
    bo = registered("Bo")
    employee_id = ana["employee_id"]
    _attend(app, employee_id, "Ana")
    _attend(app, bo["employee_id"], "Bo")
    assert gallery.current().names.keys() == {employee_id, bo["employee_id"]}
    version = gallery.current().version

    response = admin.delete(f"/api/v1/employees/{employee_id}")
    assert response.status_code == 200
    assert response.get_json()["attendance_records"] == 1

    assert mongo_db.employees.count_documents({"_id": employee_id}) == 0
    assert mongo_db.embeddings.count_documents({"employee_id": employee_id}) == 0
    assert mongo_db.pictures.count_documents({"owner_id": employee_id}) == 0
    assert mongo_db.attendance.count_documents({"employee_id": employee_id}) == 0
    assert mongo_db.sightings.count_documents({"employee_id": employee_id}) == 0
    assert not any(employee_id in str(d) for d in mongo_db.pictures.find({}, {"jpeg": 0}))
    # The cached gallery moved on and no longer holds the person; Bo is untouched.
    snapshot = gallery.current()
    assert snapshot.version != version and employee_id not in snapshot.employee_ids
    assert bo["employee_id"] in snapshot.employee_ids
    assert mongo_db.attendance.count_documents({"employee_id": bo["employee_id"]}) == 1
    assert admin.delete(f"/api/v1/employees/{employee_id}").status_code == 404
    assert registered("ana")["name"] == "ana"


def test_erase_employee_cleans_each_collection(app, registered, mongo_db, cache, employees):
    ana = registered("Ana")
    _attend(app, ana["employee_id"], "Ana")
    report = erase_employee(
        ana["employee_id"],
        employees=employees,
        attendance=AttendanceRepository(mongo_db),
        sightings=SightingLog(mongo_db, employees.pictures),
        spoof_attempts=SpoofAttemptLog(mongo_db, employees.pictures),
        cache=cache,
    )
    assert report.employee_deleted and report.sightings == 2 and report.attendance_records == 1
    for collection in ("employees", "embeddings", "pictures", "attendance", "sightings"):
        assert mongo_db[collection].count_documents({}) == 0, collection


def test_the_delete_page_asks_for_the_name_before_deleting(admin, registered, mongo_db):
    ana = registered("Ana")
    url = f"/employees/{ana['employee_id']}/delete"
    assert "Type the name to confirm" in admin.get(url).text
    refused = admin.post(url, data={"confirm_name": "Bo"})
    assert refused.status_code == 400 and mongo_db.employees.count_documents({}) == 1
    done = admin.post(url, data={"confirm_name": "ana"})
    assert done.status_code == 302 and mongo_db.employees.count_documents({}) == 0


def test_the_register_page_takes_several_photos_of_the_person(admin, mongo_db):
    assert 'name="photo" multiple' in admin.get("/employees/new").text
    response = admin.client.post(
        "/employees/new",
        data={
            "name": "Ana",
            "photo": [upload(ONE_FACE, "front.jpg"), upload(photo((210, 50, 40)), "side.jpg")],
            "csrf_token": admin.csrf,
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.text
    employee = mongo_db.employees.find_one({"name": "Ana"})
    assert len(employee["photo_ids"]) == 2
    assert mongo_db.embeddings.count_documents({"employee_id": employee["_id"]}) == 2
