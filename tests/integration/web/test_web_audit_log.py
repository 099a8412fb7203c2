"""Every admin action is in the audit log: who, when, what, from where (issue 10, "Also")."""

from __future__ import annotations

import pytest

from services.common.storage.audit import AuditLog

pytestmark = pytest.mark.integration


def _actions(mongo_db) -> list[str]:
    return [entry.action for entry in AuditLog(mongo_db).recent()]


def test_registering_and_deleting_an_employee_are_recorded_with_who_and_where(
    admin, registered, mongo_db
):
    ana = registered("Ana")
    assert admin.delete(f"/api/v1/employees/{ana['employee_id']}").status_code == 200
    deleted, enrolled = AuditLog(mongo_db).recent()
    assert (enrolled.action, deleted.action) == ("employee.enrol", "employee.delete")
    assert enrolled.actor == deleted.actor == "admin"
    assert enrolled.client == "127.0.0.1"
    assert deleted.target == ana["employee_id"]
    # The entry outlives the employee: it keeps the name, not the face.
    assert deleted.details["name"] == "Ana"
    assert mongo_db.employees.count_documents({}) == 0
    stored = mongo_db.audit_log.find_one({"action": "employee.delete"})
    assert "vector" not in str(stored) and "jpeg" not in str(stored)


def test_assigning_and_dismissing_unknown_faces_and_tokens_are_recorded(
    admin, registered, unknown, mongo_db
):
    ana = registered("Ana")
    assigned = unknown()
    admin.post(f"/api/v1/unknown-faces/{assigned}/assign", json={"employee_id": ana["employee_id"]})
    admin.post(f"/api/v1/unknown-faces/{unknown()}/dismiss")
    token = admin.post("/api/v1/tokens", json={"name": "lobby", "role": "kiosk"}).get_json()
    admin.delete(f"/api/v1/tokens/{token['token_id']}")
    assert _actions(mongo_db)[:4] == [
        "token.revoke",
        "token.create",
        "unknown_face.dismiss",
        "unknown_face.assign",
    ]


def test_a_refused_action_is_not_recorded(admin, unknown, mongo_db):
    admin.post(f"/api/v1/unknown-faces/{unknown()}/assign", json={"employee_id": {"$gt": ""}})
    admin.delete("/api/v1/employees/0123456789ab")
    assert _actions(mongo_db) == []


def test_admins_read_the_log_newest_first_filtered_by_action(admin, viewer, registered):
    registered("Ana")
    registered("Bo")
    admin.post("/api/v1/tokens", json={"name": "lobby", "role": "kiosk"})
    entries = admin.get("/api/v1/audit").get_json()["entries"]
    assert [e["action"] for e in entries] == ["token.create", "employee.enrol", "employee.enrol"]
    enrolments = admin.get("/api/v1/audit?action=employee.enrol").get_json()["entries"]
    assert [e["details"]["name"] for e in enrolments] == ["Bo", "Ana"]
    assert admin.get("/api/v1/audit?action=drop_database").status_code == 400
    page = admin.get("/audit?action=employee.enrol")
    assert page.status_code == 200
    assert "Bo" in page.text and "lobby" not in page.text
    assert viewer.get("/api/v1/audit").status_code == 403
    assert viewer.get("/audit").status_code == 403
