"""Inputs a fuzzer seldom tries get a 4xx, never a 500, and tokens do not outlive the trust they
were made with (review of issue 10)."""

from __future__ import annotations

import pytest

from services.common.storage.accounts import UserStore
from tests.integration.web.conftest import LoggedIn

pytestmark = pytest.mark.integration

SECOND_ADMIN_PASSWORD = "second-admin-pass-for-tests"


def test_a_csrf_token_beyond_ascii_is_a_400(admin, mongo_db):
    response = admin.client.post(
        "/api/v1/tokens", json={"name": "lobby"}, headers={"X-CSRF-Token": "é"}
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"
    assert mongo_db.api_tokens.count_documents({}) == 0
    login = admin.client.post("/login", data={"username": "x", "password": "y", "csrf_token": "ü"})
    assert login.status_code == 400


def test_a_last_event_id_of_superscript_digits_is_ignored(admin):
    response = admin.client.get(
        "/live/events?max=1", headers={"Last-Event-ID": "²"}, buffered=False
    )
    assert response.status_code == 200
    response.close()


def test_json_nested_deeper_than_the_parser_goes_is_a_400(admin, mongo_db):
    response = admin.post("/api/v1/tokens", data="[" * 100_000, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"
    assert mongo_db.api_tokens.count_documents({}) == 0


@pytest.mark.parametrize("text", ["a\x00b", "line\r\nbreak", "\u202eevil"])
def test_control_characters_in_a_search_or_a_token_name_are_refused(admin, mongo_db, text):
    assert admin.get("/api/v1/employees", query_string={"q": text}).status_code == 400
    response = admin.post("/api/v1/tokens", json={"name": text, "role": "viewer"})
    assert response.status_code == 400
    assert mongo_db.api_tokens.count_documents({}) == 0


@pytest.fixture
def second_admin(app) -> LoggedIn:
    app.extensions["attendance"].users.create_account("boss2", SECOND_ADMIN_PASSWORD, "admin")
    return LoggedIn(app.test_client(), "boss2", SECOND_ADMIN_PASSWORD)


def _token(client: LoggedIn, name: str, role: str = "admin", **headers: str) -> str:
    response = client.post("/api/v1/tokens", json={"name": name, "role": role}, headers=headers)
    assert response.status_code == 201, response.text
    return response.get_json()["token"]


def test_demoting_an_admin_revokes_the_tokens_they_made_and_those_made_with_them(
    app, admin, second_admin, mongo_db
):
    made = _token(second_admin, "made by boss2")
    chained = _token(second_admin, "made with that token", Authorization=f"Bearer {made}")
    kept = _token(admin, "made by admin")
    assert mongo_db.api_tokens.count_documents({"owner": "boss2"}) == 2
    users: UserStore = app.extensions["attendance"].users
    users.set_role("boss2", "viewer")
    for secret in (made, chained):
        refused = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
        assert refused.status_code == 401
    assert mongo_db.api_tokens.count_documents({"owner": "boss2"}) == 0
    still = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {kept}"})
    assert still.status_code == 200


def test_removing_an_admin_revokes_their_tokens(app, second_admin, mongo_db):
    made = _token(second_admin, "made by boss2", role="kiosk")
    app.extensions["attendance"].users.remove("boss2")
    refused = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {made}"})
    assert refused.status_code == 401
    assert mongo_db.api_tokens.count_documents({}) == 0
