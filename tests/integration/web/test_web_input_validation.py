"""Every input is parsed before it touches anything: wrong types and shapes are 400s naming the
field, and nothing is stored (issue 10, item 1; dates, item 7)."""

from __future__ import annotations

import json

import pytest

from tests.integration.web.conftest import ONE_FACE, counts, upload

pytestmark = pytest.mark.integration


def _stored(db) -> dict[str, int]:
    return {**counts(db), "sightings": db.sightings.count_documents({})}


def test_an_operator_in_place_of_an_employee_id_is_refused_and_stores_nothing(
    admin, registered, unknown, mongo_db
):
    registered("Ana")
    sighting_id = unknown()
    before = _stored(mongo_db)
    response = admin.post(
        f"/api/v1/unknown-faces/{sighting_id}/assign", json={"employee_id": {"$gt": ""}}
    )
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_input" and error["field"] == "employee_id"
    assert _stored(mongo_db) == before
    assert mongo_db.embeddings.count_documents({"employee_id": {"$type": "object"}}) == 0
    # The gallery is intact: the next enrolment works as before.
    assert registered("Bo")["name"] == "Bo"


def test_a_number_in_place_of_a_name_is_refused(admin, unknown, mongo_db):
    sighting_id = unknown()
    before = _stored(mongo_db)
    response = admin.post(f"/api/v1/unknown-faces/{sighting_id}/assign", json={"name": 5})
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "name"
    assert _stored(mongo_db) == before


@pytest.mark.parametrize(
    "body",
    [
        [],
        "Ana",
        None,
        17,
        {"employee_id": ["3f2a9c0d1e4b"]},
        {"employee_id": "3F2A9C0D1E4B"},
        {"employee_id": "3f2a9c0d1e4"},
        {"name": ""},
        {"name": {"first": "Ana"}},
        {"name": "Ana", "employee_id": "3f2a9c0d1e4b"},
        {"name": "Ana", "role": "admin"},
        {"name": "Ana", "allow_duplicate_face": "yes"},
    ],
)
def test_malformed_json_of_any_shape_is_a_400(admin, unknown, mongo_db, body):
    sighting_id = unknown()
    before = _stored(mongo_db)
    response = admin.post(
        f"/api/v1/unknown-faces/{sighting_id}/assign",
        data=json.dumps(body),
        content_type="application/json",
    )
    assert response.status_code == 400, response.text
    assert response.get_json()["error"]["code"] in ("invalid_input", "invalid_json")
    assert _stored(mongo_db) == before


def test_a_body_that_is_not_json_at_all_is_refused(admin, unknown, mongo_db):
    sighting_id = unknown()
    response = admin.post(
        f"/api/v1/unknown-faces/{sighting_id}/assign",
        data="{not json",
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"
    assert mongo_db.sightings.count_documents({"_id": sighting_id}) == 1


@pytest.mark.parametrize(
    "body", [{"name": 5}, {"name": "lobby", "role": "root"}, {"name": "lobby", "role": ["admin"]}]
)
def test_a_token_of_a_wrong_shape_is_not_created(admin, mongo_db, body):
    response = admin.post("/api/v1/tokens", json=body)
    assert response.status_code == 400
    assert mongo_db.api_tokens.count_documents({}) == 0


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/employees?limit=abc&q=a", "limit"),
        ("/api/v1/employees?limit=0&q=a", "limit"),
        ("/api/v1/employees?limit=100000&q=a", "limit"),
        ("/api/v1/entries/latest?limit=-1", "limit"),
        ("/api/v1/unknown-faces?limit=1e9", "limit"),
        ("/api/v1/events?after=x", "after"),
        ("/api/v1/events?camera=%00", "camera"),
        ("/api/v1/employees/nobody", "employee_id"),
        ("/api/v1/employees/3f2a9c0d1e4b%7B/attendance", "employee_id"),
        ("/api/v1/pictures/a%20b", "picture_id"),
        ("/api/v1/attendance/yesterday", "day"),
        ("/live/a%20b.jpg", "camera_id"),
        ("/live/door.mjpg?frames=many", "frames"),
        ("/live/events?max=-3", "max"),
        ("/live/events?after=1e3", "after"),
    ],
)
def test_query_and_path_values_of_a_wrong_type_are_400s_naming_the_field(admin, url, field):
    response = admin.get(url)
    assert response.status_code == 400, response.text
    assert response.get_json()["error"]["field"] == field


def test_a_well_formed_id_of_nobody_is_still_a_404(admin):
    response = admin.get("/api/v1/employees/0123456789ab")
    assert response.status_code == 404


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1999-12-31", "2026-02-30"])
def test_dates_outside_the_calendar_the_system_keeps_are_400s(admin, registered, day):
    ana = registered("Ana")
    for url in (
        f"/api/v1/attendance/export.csv?from={day}&to=2026-11-30",
        f"/api/v1/attendance/export.csv?from=2026-11-01&to={day}",
        f"/api/v1/employees/{ana['employee_id']}/attendance?from={day}",
        f"/api/v1/employees/{ana['employee_id']}/attendance?to={day}",
        f"/api/v1/attendance/{day}",
    ):
        response = admin.get(url)
        assert response.status_code == 400, (url, response.text)
        assert "date" in response.get_json()["error"]["message"]
    for url in (f"/attendance?day={day}", f"/employees/{ana['employee_id']}?from={day}"):
        assert admin.get(url).status_code == 400, url


def test_the_first_and_last_days_kept_are_served(admin):
    assert admin.get("/api/v1/attendance/2000-01-01").status_code == 200
    assert admin.get("/api/v1/attendance/2099-12-31").status_code == 200
    export = admin.get("/api/v1/attendance/export.csv?from=2099-12-01&to=2099-12-31")
    assert export.status_code == 200


def test_a_register_form_with_a_malformed_camera_is_refused_and_stores_nothing(admin, mongo_db):
    response = admin.post(
        "/api/v1/employees",
        data={"name": "Ana", "camera_id": "no spaces allowed", "photo": upload(ONE_FACE)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "camera_id"
    assert counts(mongo_db)["employees"] == 0


def test_the_register_page_reports_a_malformed_field_on_the_page(admin, mongo_db):
    response = admin.post(
        "/employees/new",
        data={"name": "Ana", "camera_id": "bad camera", "csrf_token": admin.csrf},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "camera_id" in response.text
    assert counts(mongo_db)["employees"] == 0


def test_the_openapi_document_names_every_query_parameter_and_body(admin, app):
    document = admin.get("/api/v1/openapi.json").get_json()
    paths = document["paths"]

    def query_names(path: str, method: str = "get") -> set[str]:
        return {p["name"] for p in paths[path][method]["parameters"] if p["in"] == "query"}

    assert query_names("/employees") == {"q", "limit"}
    assert query_names("/attendance/export.csv") == {"from", "to", "employee", "sheet"}
    assert query_names("/attendance") == {"from", "to", "employee", "sort", "order", "page", "day"}
    assert query_names("/employees/{employee_id}/attendance") == {"from", "to"}
    assert query_names("/entries/latest") == {"limit"}
    assert query_names("/unknown-faces") == {"limit"}
    assert query_names("/events") == {"after", "camera"}
    assert query_names("/frames", "post") == {"camera_id"}
    employee_id = next(
        p for p in paths["/employees/{employee_id}"]["get"]["parameters"] if p["in"] == "path"
    )
    assert employee_id["schema"]["pattern"] == "^[0-9a-f]{12}$"
    # Every write that reads a body describes it, and every description resolves.
    schemas = document["components"]["schemas"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            if method == "post" and not path.endswith("/dismiss"):
                assert "requestBody" in operation, (path, method)
            for media in operation.get("requestBody", {}).get("content", {}).values():
                reference = media["schema"].get("$ref")
                if reference:
                    assert reference.rsplit("/", 1)[1] in schemas
    assign = paths["/unknown-faces/{sighting_id}/assign"]["post"]["requestBody"]["content"]
    assign_schema = schemas[assign["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
    assert {"employee_id", "name"} <= set(assign_schema["properties"])
    token_schema = schemas["NewToken"]
    assert token_schema["properties"]["role"]["enum"] == ["admin", "viewer", "kiosk"]
