"""A face already enrolled as someone else is refused, naming them, unless an admin overrides it
on purpose, which the audit log records (issue 10, item 4)."""

from __future__ import annotations

import pytest

from services.common.storage.audit import AuditLog
from tests.integration.web.conftest import FakeEnroller, counts, upload

pytestmark = pytest.mark.integration

SAME_FACE = FakeEnroller.FIRST_EMPLOYEES_FACE


def _register(admin, name: str, **fields):
    return admin.post(
        "/api/v1/employees",
        data={"name": name, "photo": upload(SAME_FACE), **fields},
        content_type="multipart/form-data",
    )


def test_the_same_face_under_a_second_name_is_a_409_naming_the_employee(
    admin, registered, mongo_db
):
    ana = registered("Ana")
    before = counts(mongo_db)
    response = _register(admin, "Not Ana")
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "face_already_enrolled"
    assert error["employee_id"] == ana["employee_id"] and "Ana" in error["message"]
    assert counts(mongo_db) == before


def test_the_same_face_added_to_another_employee_is_refused(admin, registered, mongo_db):
    registered("Ana")
    bo = registered("Bo")
    before = counts(mongo_db)
    response = admin.post(
        f"/api/v1/employees/{bo['employee_id']}/photos",
        data={"photo": upload(SAME_FACE)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "face_already_enrolled"
    assert counts(mongo_db) == before


def test_an_admin_may_override_and_the_override_is_audited(admin, registered, mongo_db):
    registered("Ana")
    response = _register(admin, "Ana's twin", allow_duplicate_face="true")
    assert response.status_code == 201
    assert mongo_db.employees.count_documents({}) == 2
    latest = AuditLog(mongo_db).recent(1)[0]
    assert latest.action == "employee.enrol" and latest.details["allow_duplicate_face"] is True


def test_the_register_page_shows_who_the_face_belongs_to(admin, registered, mongo_db):
    registered("Ana")
    page = admin.client.post(
        "/employees/new",
        data={"name": "Not Ana", "photo": upload(SAME_FACE), "csrf_token": admin.csrf},
        content_type="multipart/form-data",
    )
    assert page.status_code == 409
    assert "already enrolled as Ana" in page.text
    assert 'name="allow_duplicate_face"' in page.text
    assert mongo_db.employees.count_documents({}) == 1
