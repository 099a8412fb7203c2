"""Who may reach what: login, roles, CSRF, API tokens."""

from __future__ import annotations

import re

import pytest

from services.common.bus.memory import InMemoryCommunicator
from services.common.bus.topology import FRAMES
from tests.integration.web.conftest import ADMIN_PASSWORD, ONE_FACE, csrf_from, upload

pytestmark = pytest.mark.integration

PUBLIC = {"/login", "/healthz", "/readyz", "/metrics"}


def _concrete(rule) -> str:
    return re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", "x", rule.rule)


def test_nothing_but_login_and_probes_is_reachable_anonymously(app, client):
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        url = _concrete(rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            if url in PUBLIC:
                continue
            checked += 1
            if url.startswith(("/api/", "/live/")):
                assert response.status_code == 401, (method, url)
                assert response.get_json()["error"]["code"] == "unauthenticated"
            else:
                assert response.status_code == 302, (method, url)
                assert response.headers["Location"].startswith("/login")
    assert checked > 30


def test_probes_answer_without_login(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"]["mongodb"] is True
    assert b"web_requests_total" in client.get("/metrics").data


def test_wrong_password_is_refused_and_right_one_logs_in(client):
    token = csrf_from(client.get("/login").text)
    bad = client.post("/login", data={"username": "admin", "password": "no", "csrf_token": token})
    assert bad.status_code == 401 and "Wrong user name or password" in bad.text
    good = client.post(
        "/login", data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token}
    )
    assert good.status_code == 302
    assert client.get("/api/v1/me").get_json()["role"] == "admin"


def test_login_redirects_only_to_local_paths(client):
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login?next=//evil.example/",
        data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/"


def test_the_admin_password_is_stored_hashed(mongo_db, app):
    document = mongo_db.users.find_one({"_id": "admin"})
    assert document["role"] == "admin"
    assert ADMIN_PASSWORD not in document["password_hash"]


def test_a_login_form_without_csrf_token_is_refused(client):
    client.get("/login")
    response = client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.text


def test_a_session_write_without_csrf_token_is_refused(admin, mongo_db):
    response = admin.client.post(
        "/employees/new",
        data={"name": "Ana", "photo": upload(ONE_FACE)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "CSRF" in response.text
    api = admin.client.delete("/api/v1/tokens/abc")
    assert api.get_json()["error"]["code"] == "csrf_failed"
    assert mongo_db.employees.count_documents({}) == 0


ADMIN_ONLY = [
    ("post", "/api/v1/employees"),
    ("post", "/api/v1/employees/preview"),
    ("delete", "/api/v1/employees/x"),
    ("post", "/api/v1/employees/x/photos"),
    ("post", "/api/v1/unknown-faces/x/assign"),
    ("post", "/api/v1/unknown-faces/x/dismiss"),
    ("post", "/api/v1/frames?camera_id=door"),
    ("get", "/api/v1/tokens"),
    ("post", "/api/v1/tokens"),
    ("delete", "/api/v1/tokens/x"),
    ("get", "/employees/new"),
    ("post", "/employees/new"),
    ("get", "/employees/x/delete"),
    ("post", "/employees/x/delete"),
    ("post", "/employees/x/photos"),
    ("post", "/unknown/x/assign"),
    ("post", "/unknown/x/dismiss"),
    ("get", "/tokens"),
]


@pytest.mark.parametrize(("method", "url"), ADMIN_ONLY)
def test_a_viewer_cannot_change_anything(viewer, method, url):
    response = getattr(viewer, method)(url)
    assert response.status_code == 403
    if url.startswith("/api/"):
        assert response.get_json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    "url",
    ["/", "/employees", "/attendance", "/unknown", "/api/v1/employees", "/api/v1/attendance/today"],
)
def test_a_viewer_can_read(viewer, url):
    assert viewer.get(url).status_code == 200


def _token(admin, role: str) -> str:
    response = admin.post("/api/v1/tokens", json={"name": f"{role} script", "role": role})
    assert response.status_code == 201
    return response.get_json()["token"]


def test_api_tokens_are_stored_as_hashes_and_can_be_revoked(admin, client, mongo_db):
    secret = _token(admin, "viewer")
    stored = mongo_db.api_tokens.find_one({})
    assert secret not in str(stored)
    bearer = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/employees", headers=bearer).status_code == 200
    # A token is not a session: no CSRF token needed, but the role still applies.
    assert client.post("/api/v1/tokens", json={"name": "x"}, headers=bearer).status_code == 403
    admin.delete(f"/api/v1/tokens/{stored['_id']}")
    revoked = client.get("/api/v1/employees", headers=bearer)
    assert revoked.status_code == 401
    assert revoked.get_json()["error"]["code"] == "invalid_token"


def test_a_kiosk_token_sends_frames_and_nothing_else(admin, client, broker):
    detector = InMemoryCommunicator(broker)
    received = []
    detector.subscribe(FRAMES, lambda batch: received.extend(batch))
    secret = _token(admin, "kiosk")
    bearer = {"Authorization": f"Bearer {secret}"}
    sent = client.post(
        "/api/v1/frames?camera_id=lobby-kiosk",
        data=ONE_FACE,
        headers=bearer,
        content_type="image/jpeg",
    )
    assert sent.status_code == 202
    detector.drain_once()
    assert [m.camera_id for m in received] == ["lobby-kiosk"]
    assert received[0].jpeg == ONE_FACE
    assert client.get("/api/v1/employees", headers=bearer).status_code == 403
    assert client.get("/api/v1/events", headers=bearer).status_code == 200


def test_a_frame_that_is_not_an_image_is_refused(admin):
    response = admin.post("/api/v1/frames?camera_id=door", data=b"hello", content_type="image/jpeg")
    assert response.status_code == 415
    assert (
        admin.post(
            "/api/v1/frames?camera_id=bad id!", data=ONE_FACE, content_type="image/jpeg"
        ).status_code
        == 400
    )
    assert (
        admin.post("/api/v1/frames?camera_id=door", data="x", content_type="text/plain").status_code
        == 415
    )


def test_logout_ends_the_session(admin):
    admin.post("/logout")
    assert admin.get("/api/v1/me").status_code == 401
