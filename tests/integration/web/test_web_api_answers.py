"""The API answers what its OpenAPI document says it answers: each answer below is checked
against the schema the document gives for that operation and status (made from the same models
the views answer with), and any field the document does not name is refused."""

from __future__ import annotations

import jsonschema_rs
import pytest

from services.web import responses
from tests.integration.web.conftest import ONE_FACE, PreviewingEnroller, paris, see, upload

pytestmark = pytest.mark.integration


@pytest.fixture
def enroller(employees, gallery) -> PreviewingEnroller:
    return PreviewingEnroller(employees, gallery)


@pytest.fixture
def document(admin) -> dict:
    return admin.get("/api/v1/openapi.json").get_json()


def assert_documented(document: dict, response, path: str, method: str = "get") -> None:
    """The answer's status is listed for the operation, and its JSON fits the listed schema."""
    status = str(response.status_code)
    listed = document["paths"][path][method]["responses"]
    assert status in listed, f"{method} {path} answered {status}, not in the document"
    schema = listed[status]["content"]["application/json"]["schema"]
    # References point into the document's components: validate with them at hand.
    validator = jsonschema_rs.Draft202012Validator({**schema, "components": document["components"]})
    errors = [error.message for error in validator.iter_errors(response.get_json())]
    assert errors == [], f"{method} {path}: {errors}"


def test_employee_answers_fit_the_employee_schemas(admin, document):
    created = admin.post(
        "/api/v1/employees",
        data={"name": "Ana", "photo": upload(ONE_FACE)},
        content_type="multipart/form-data",
    )
    assert created.status_code == 201
    assert_documented(document, created, "/employees", "post")
    employee_id = created.get_json()["employee_id"]
    listed = admin.get("/api/v1/employees")
    assert listed.get_json()["employees"][0]["today_status"]
    assert_documented(document, listed, "/employees")
    found = admin.get("/api/v1/employees?q=An")
    assert [e["name"] for e in found.get_json()["employees"]] == ["Ana"]
    assert_documented(document, found, "/employees")
    one = admin.get(f"/api/v1/employees/{employee_id}")
    assert one.get_json()["photo_urls"] == [
        f"/api/v1/pictures/{p}" for p in one.get_json()["photo_ids"]
    ]
    assert_documented(document, one, "/employees/{employee_id}")


def test_attendance_answers_fit_the_attendance_schemas(admin, document, staff, clock):
    ids = staff("Ana", "Bo")
    clock.set(paris(0, 18))
    see(admin.client.application, ids["Ana"], "Ana", paris(0, 8, 55))
    see(admin.client.application, ids["Ana"], "Ana", paris(0, 17, 30))
    day = admin.get("/api/v1/attendance/2026-11-23")
    assert {row["employee_name"] for row in day.get_json()["rows"]} == {"Ana", "Bo"}
    assert_documented(document, day, "/attendance/{day}")
    week = admin.get("/api/v1/attendance?from=2026-11-23&to=2026-11-23")
    assert week.get_json()["from"] == "2026-11-23"
    assert_documented(document, week, "/attendance")
    corrected = admin.post(
        "/api/v1/attendance/corrections",
        json={"employee_id": ids["Bo"], "day": "2026-11-23", "arrival": "09:10", "reason": "badge"},
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.get_json()["correction"]["reason"] == "badge"
    assert_documented(document, corrected, "/attendance/corrections", "post")
    history = admin.get(f"/api/v1/employees/{ids['Ana']}/attendance?from=2026-11-23&to=2026-11-23")
    assert history.get_json()["totals"]["days_present"] == 1
    assert_documented(document, history, "/employees/{employee_id}/attendance")


def test_the_face_preview_fits_its_schema(admin, document):
    preview = admin.post(
        "/api/v1/employees/preview",
        data={"photo": upload(ONE_FACE)},
        content_type="multipart/form-data",
    )
    assert preview.status_code == 200, preview.text
    assert preview.get_json()["face_data_url"].startswith("data:image/jpeg;base64,")
    assert_documented(document, preview, "/employees/preview", "post")


def test_errors_fit_the_error_schema_with_their_specifics(admin, document):
    missing = admin.get("/api/v1/employees/0123456789ab")
    assert missing.status_code == 404
    assert_documented(document, missing, "/employees/{employee_id}")
    invalid = admin.get("/api/v1/employees?limit=0")
    assert invalid.get_json()["error"]["field"] == "limit"
    assert_documented(document, invalid, "/employees")


def test_a_field_the_document_does_not_name_is_refused():
    # The answer models are closed: a view cannot add a field the document would not show.
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        responses.BoundingBox(x=1, y=2, width=3, height=4, depth=5)
