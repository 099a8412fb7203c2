"""Login under attack: the throttle holds against parallel guesses, the redirect after login stays
on this site, sessions live on the server and end there, kiosks see only the kiosk page."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from services.common.cache import InMemoryCache
from services.common.contracts import utc_now
from services.common.storage.sessions import session_key
from services.web.auth import allowed_roles
from services.web.login_throttle import LOGIN_WINDOW_S, MAX_LOGIN_CHECKS
from tests.helpers.logins import page_csrf, post_kiosk_token, post_login, session_cookie
from tests.integration.web.conftest import ADMIN_PASSWORD, ONE_FACE, VIEWER_PASSWORD, csrf_from

pytestmark = pytest.mark.integration

KIOSK_PASSWORD = "lobby-tablet-secret-42"


@pytest.fixture
def cache(request):
    # The throttle test runs on both caches the services use; every other test on memory.
    if getattr(request, "param", "memory") == "redis":
        return request.getfixturevalue("redis_cache")
    return InMemoryCache()


@pytest.fixture
def checks(app):
    """Count the password checks the app makes."""
    users = app.extensions["attendance"].users
    authenticate = users.authenticate
    made = []
    lock = threading.Lock()

    def counting(username, password):
        with lock:
            made.append(username)
        return authenticate(username, password)

    users.authenticate = counting
    return made


@pytest.fixture
def kiosk_page(app):
    assert "kiosk" in allowed_roles(app.view_functions["pages.kiosk"])
    return "/kiosk"


@pytest.fixture
def kiosk_account(app, kiosk_page):
    app.extensions["attendance"].users.create_account("lobby", KIOSK_PASSWORD, "kiosk")
    return "lobby"


# -- throttle -----------------------------------------------------------------------------------
@pytest.mark.parametrize("cache", ["memory", "redis"], indirect=True)
def test_fifty_parallel_wrong_passwords_get_ten_checks_and_the_rest_429(app, checks):
    clients = [app.test_client() for _ in range(50)]
    tokens = [csrf_from(c.get("/login").text) for c in clients]
    start = threading.Barrier(len(clients))
    responses = [None] * len(clients)

    def guess(number: int) -> None:
        start.wait()
        responses[number] = clients[number].post(
            "/login",
            data={"username": "admin", "password": f"guess-{number}", "csrf_token": tokens[number]},
        )

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(r.status_code for r in responses)
    assert len(checks) == MAX_LOGIN_CHECKS
    assert statuses == [401] * MAX_LOGIN_CHECKS + [429] * (50 - MAX_LOGIN_CHECKS)
    for refused in (r for r in responses if r.status_code == 429):
        assert 0 < int(refused.headers["Retry-After"]) <= LOGIN_WINDOW_S
        assert "Too many login attempts" in refused.text
    # The right password is refused too while the account is throttled: it is not even checked.
    assert post_login(app.test_client(), "admin", ADMIN_PASSWORD).status_code == 429
    assert len(checks) == MAX_LOGIN_CHECKS


def test_one_address_gets_ten_checks_across_all_accounts(app, client, checks):
    for number in range(MAX_LOGIN_CHECKS):
        assert post_login(client, f"user{number}", "wrong-password").status_code == 401
    refused = post_login(client, "viewer", VIEWER_PASSWORD)
    assert refused.status_code == 429 and "from this address" in refused.text
    assert len(checks) == MAX_LOGIN_CHECKS
    # Another address is not concerned.
    assert post_login(client, "viewer", VIEWER_PASSWORD, address="10.0.0.9").status_code == 302


def test_one_account_gets_ten_checks_across_all_addresses(app, client, checks):
    for number in range(MAX_LOGIN_CHECKS):
        response = post_login(client, "admin", "wrong-password", address=f"10.0.0.{number}")
        assert response.status_code == 401
    refused = post_login(client, "Admin ", ADMIN_PASSWORD, address="10.0.1.1")
    assert refused.status_code == 429 and "for this account" in refused.text
    assert len(checks) == MAX_LOGIN_CHECKS


def test_a_successful_login_does_not_give_an_address_its_attempts_back(app, client, checks):
    # Someone with a valid account of their own must not interleave it with guesses.
    for _ in range(MAX_LOGIN_CHECKS // 2):
        assert post_login(client, "admin", "wrong-password").status_code == 401
        assert post_login(client, "viewer", VIEWER_PASSWORD).status_code == 302
    assert post_login(client, "admin", "wrong-password").status_code == 429
    assert len(checks) == MAX_LOGIN_CHECKS


def test_a_login_form_of_the_wrong_shape_is_refused_naming_the_field(app, client, checks):
    token = csrf_from(client.get("/login").text)
    response = client.post("/login", data={"username": "admin", "csrf_token": token})
    assert response.status_code == 400 and "password" in response.text
    long_name = client.post(
        "/login", data={"username": "a" * 500, "password": "x", "csrf_token": token}
    )
    assert long_name.status_code == 400 and "username" in long_name.text
    assert checks == []


# -- redirect after login -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example/phish",
        "//evil.example/phish",
        "/\\evil.example",
        "\\\\evil.example",
        "/\r\n/evil.example",
        " //evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "///evil.example",
        "evil.example",
    ],
)
def test_login_never_redirects_to_another_site(client, target):
    response = post_login(client, "admin", ADMIN_PASSWORD, next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_the_reported_open_redirect_goes_home(client):
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login?next=/%09/evil.example/phish",
        data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/"


def test_login_follows_a_path_of_this_site(client):
    response = post_login(client, "admin", ADMIN_PASSWORD, next="/attendance?day=2025-01-02")
    assert response.headers["Location"] == "/attendance?day=2025-01-02"


# -- sessions -----------------------------------------------------------------------------------
def test_the_cookie_carries_only_a_session_id_that_the_store_knows(app, client, mongo_db):
    before = utc_now()
    post_login(client, "admin", ADMIN_PASSWORD, address="10.1.2.3")
    content = app.session_interface.get_signing_serializer(app).loads(session_cookie(client))
    assert set(content) - {"_permanent"} == {"sid"}
    assert len(content["sid"]) == 43  # 256 random bits
    stored = mongo_db.web_sessions.find_one({})
    assert stored["_id"] == session_key(content["sid"]) != content["sid"]
    assert stored["user"] == "admin" and stored["client"] == "10.1.2.3"
    assert before <= stored["created"] <= stored["last_seen"] < stored["expires"]
    assert stored["expires"] - stored["created"] == timedelta(hours=12)


def test_a_logout_ends_the_session_on_the_server(app, admin, mongo_db):
    copied = app.test_client()
    copied.set_cookie("session", session_cookie(admin.client))
    assert copied.get("/api/v1/me").get_json()["name"] == "admin"
    assert admin.post("/logout").status_code == 302
    assert mongo_db.web_sessions.count_documents({}) == 0
    assert copied.get("/api/v1/me").status_code == 401
    assert copied.get("/").status_code == 302


def test_an_expired_session_is_refused_and_deleted(admin, mongo_db):
    mongo_db.web_sessions.update_many({}, {"$set": {"expires": utc_now() - timedelta(seconds=1)}})
    assert admin.get("/api/v1/me").status_code == 401
    assert mongo_db.web_sessions.count_documents({}) == 0


def test_logging_in_again_gets_a_fresh_session_id_and_ends_the_old_one(client, mongo_db):
    post_login(client, "viewer", VIEWER_PASSWORD)
    planted = session_cookie(client)
    post_login(client, "admin", ADMIN_PASSWORD)
    assert session_cookie(client) != planted
    assert [s["user"] for s in mongo_db.web_sessions.find({})] == ["admin"]
    assert client.get("/api/v1/me").get_json()["name"] == "admin"


def test_a_session_from_before_server_side_sessions_is_not_trusted(app, client):
    # Cookies used to name the user directly; such a cookie must not log anyone in.
    old = app.session_interface.get_signing_serializer(app).dumps({"user": "admin", "csrf": "x"})
    client.set_cookie("session", old)
    assert client.get("/api/v1/me").status_code == 401


# -- kiosk accounts -----------------------------------------------------------------------------
def test_a_kiosk_account_lands_on_the_kiosk_and_can_send_frames(app, client, kiosk_account):
    response = post_login(client, kiosk_account, KIOSK_PASSWORD)
    assert response.headers["Location"] == "/kiosk"
    page = client.get("/kiosk?camera=lobby")
    assert page.status_code == 200 and 'data-can-send="yes"' in page.text
    sent = client.post(
        "/api/v1/frames?camera_id=lobby",
        data=ONE_FACE,
        content_type="image/jpeg",
        headers={"X-CSRF-Token": csrf_from(page.text)},
    )
    assert sent.status_code == 202
    assert client.get("/api/v1/events").status_code == 200


def test_a_kiosk_account_keeps_the_camera_it_asked_for(client, kiosk_account):
    response = post_login(client, kiosk_account, KIOSK_PASSWORD, next="/kiosk?camera=door-2")
    assert response.headers["Location"] == "/kiosk?camera=door-2"
    other = post_login(client, kiosk_account, KIOSK_PASSWORD, next="/employees")
    assert other.headers["Location"] == "/kiosk"


@pytest.mark.parametrize(
    "url", ["/", "/employees", "/attendance", "/unknown", "/tokens", "/accounts"]
)
def test_a_kiosk_account_gets_a_friendly_403_on_every_other_page(client, kiosk_account, url):
    post_login(client, kiosk_account, KIOSK_PASSWORD)
    response = client.get(url)
    assert response.status_code == 403
    assert "can show the kiosk page and nothing else" in response.text
    assert 'href="/kiosk"' in response.text


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/v1/employees"),
        ("get", "/api/v1/attendance/today"),
        ("get", "/api/v1/tokens"),
        ("post", "/api/v1/tokens"),
        ("delete", "/api/v1/employees/3f2a9c0d1e4b"),
    ],
)
def test_a_kiosk_account_gets_403_from_every_other_api(client, kiosk_account, method, url):
    post_login(client, kiosk_account, KIOSK_PASSWORD)
    csrf = page_csrf(client)
    response = getattr(client, method)(url, headers={"X-CSRF-Token": csrf}, json={})
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def test_a_kiosk_account_can_log_out(client, kiosk_account, mongo_db):
    post_login(client, kiosk_account, KIOSK_PASSWORD)
    response = client.post("/logout", data={"csrf_token": page_csrf(client)})
    assert response.status_code == 302
    assert mongo_db.web_sessions.count_documents({}) == 0


def _token(admin, role: str) -> tuple[str, str]:
    created = admin.post("/api/v1/tokens", json={"name": f"{role} tablet", "role": role})
    assert created.status_code == 201
    return created.get_json()["token_id"], created.get_json()["token"]


def test_a_kiosk_token_opens_a_kiosk_session_that_ends_with_the_token(
    admin, client, kiosk_page, mongo_db
):
    token_id, secret = _token(admin, "kiosk")
    response = post_kiosk_token(client, secret, next="/kiosk?camera=lobby")
    assert response.headers["Location"] == "/kiosk?camera=lobby"
    stored = mongo_db.web_sessions.find_one({"token_id": token_id})
    assert stored["user"] == "token:kiosk tablet"
    page = client.get("/kiosk")
    assert page.status_code == 200 and 'data-can-send="yes"' in page.text
    assert client.get("/").status_code == 403
    assert admin.delete(f"/api/v1/tokens/{token_id}").status_code == 200
    assert mongo_db.web_sessions.count_documents({"token_id": token_id}) == 0
    assert client.get("/kiosk").status_code == 302
    assert client.get("/api/v1/events").status_code == 401


@pytest.mark.parametrize("role", ["viewer", "admin"])
def test_only_kiosk_tokens_can_open_a_session(admin, client, mongo_db, role):
    _, secret = _token(admin, role)
    response = post_kiosk_token(client, secret)
    assert response.status_code == 401 and "not a valid kiosk token" in response.text
    assert mongo_db.web_sessions.count_documents({"user": {"$ne": "admin"}}) == 0
    assert client.get("/api/v1/me").status_code == 401


def test_an_unknown_kiosk_token_is_refused(client, mongo_db):
    response = post_kiosk_token(client, "att_" + "x" * 43)
    assert response.status_code == 401
    assert mongo_db.web_sessions.count_documents({}) == 0
