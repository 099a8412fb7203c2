"""The Accounts page: admins create accounts, reset passwords, change roles, end sessions and
remove accounts; every change is audited and locks out the sessions it should."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from services.common.settings import SettingsError
from services.web.app import create_app
from tests.helpers.logins import post_login
from tests.integration.web.conftest import ADMIN_PASSWORD, VIEWER_PASSWORD, LoggedIn

pytestmark = pytest.mark.integration

NEW_PASSWORD = "a-brand-new-passphrase"


def _audit(mongo_db, action: str) -> list[dict]:
    return list(mongo_db.audit_log.find({"action": action}))


def _create(admin, name: str, role: str, password: str = NEW_PASSWORD, again: str | None = None):
    return admin.post(
        "/accounts",
        data={
            "name": name,
            "role": role,
            "password": password,
            "password_again": password if again is None else again,
        },
    )


def _sessions_of(mongo_db, user: str) -> int:
    return mongo_db.web_sessions.count_documents({"user": user})


def test_the_page_lists_the_accounts_and_links_to_api_tokens(admin):
    page = admin.get("/accounts")
    assert page.status_code == 200
    assert "<td>admin <span" in page.text and "(you)" in page.text
    assert "<td>viewer</td>" in page.text and 'href="/tokens"' in page.text
    assert 'href="/accounts"' in admin.get("/").text


@pytest.mark.parametrize("role", ["viewer", "kiosk", "admin"])
def test_an_admin_creates_an_account_that_can_log_in(app, admin, mongo_db, role):
    response = _create(admin, "maria", role)
    assert response.status_code == 302
    stored = mongo_db.users.find_one({"_id": "maria"})
    assert stored["role"] == role and NEW_PASSWORD not in str(stored)
    [entry] = _audit(mongo_db, "account.create")
    assert entry["actor"] == "admin" and entry["target"] == "maria"
    assert entry["client"] == "127.0.0.1" and entry["details"] == {"role": role}
    assert post_login(app.test_client(), "maria", NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"role": "root"}, "role"),
        ({"role": ""}, "role"),
        ({"name": '{"$gt": ""}'}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"password_again": "something-else-entirely"}, "password_again"),
        ({"password": "short", "password_again": "short"}, "password"),
        ({"password": "password12345", "password_again": "password12345"}, "password"),
        ({"password": "maria-maria!", "password_again": "maria-maria!"}, "password"),
    ],
)
def test_a_bad_new_account_is_refused_naming_the_field_and_nothing_is_stored(
    admin, mongo_db, fields, named
):
    form = {"name": "maria", "role": "viewer", "password": NEW_PASSWORD}
    form["password_again"] = form["password"]
    form.update(fields)
    response = admin.post("/accounts", data=form)
    assert response.status_code == 400
    assert named in response.text
    assert mongo_db.users.count_documents({}) == 2
    assert _audit(mongo_db, "account.create") == []


def test_a_second_account_with_the_same_name_is_a_conflict(admin, mongo_db):
    response = _create(admin, "viewer", "admin")
    assert response.status_code == 409
    assert mongo_db.users.find_one({"_id": "viewer"})["role"] == "viewer"


def test_resetting_a_password_ends_that_accounts_sessions(app, admin, viewer, mongo_db):
    assert _sessions_of(mongo_db, "viewer") == 1
    response = admin.post(
        "/accounts/viewer/password",
        data={"password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert _sessions_of(mongo_db, "viewer") == 0
    assert viewer.get("/api/v1/me").status_code == 401
    assert post_login(app.test_client(), "viewer", VIEWER_PASSWORD).status_code == 401
    assert post_login(app.test_client(), "viewer", NEW_PASSWORD).status_code == 302
    [entry] = _audit(mongo_db, "account.set_password")
    assert entry["target"] == "viewer" and entry["details"] == {"sessions_ended": 1}
    assert NEW_PASSWORD not in str(entry)


def test_an_admin_changing_their_own_password_keeps_their_session_only(app, admin, mongo_db):
    elsewhere = LoggedIn(app.test_client(), "admin", ADMIN_PASSWORD)
    assert _sessions_of(mongo_db, "admin") == 2
    response = admin.post(
        "/accounts/admin/password",
        data={"password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert _sessions_of(mongo_db, "admin") == 1
    assert admin.get("/api/v1/me").status_code == 200
    assert elsewhere.get("/api/v1/me").status_code == 401


def test_a_weak_new_password_is_refused_and_nothing_changes(admin, viewer, mongo_db):
    before = mongo_db.users.find_one({"_id": "viewer"})["password_hash"]
    response = admin.post(
        "/accounts/viewer/password",
        data={"password": "qwertyuiop123", "password_again": "qwertyuiop123"},
    )
    assert response.status_code == 400 and "well-known" in response.text
    assert mongo_db.users.find_one({"_id": "viewer"})["password_hash"] == before
    assert _sessions_of(mongo_db, "viewer") == 1
    assert _audit(mongo_db, "account.set_password") == []


def test_changing_a_role_ends_the_accounts_sessions(admin, viewer, mongo_db):
    response = admin.post("/accounts/viewer/role", data={"role": "admin"})
    assert response.status_code == 302
    assert mongo_db.users.find_one({"_id": "viewer"})["role"] == "admin"
    assert viewer.get("/api/v1/me").status_code == 401
    [entry] = _audit(mongo_db, "account.set_role")
    assert entry["details"] == {"role": "admin", "previous_role": "viewer", "sessions_ended": 1}


def test_the_last_admin_can_be_neither_demoted_nor_removed(admin, mongo_db):
    demoted = admin.post("/accounts/admin/role", data={"role": "viewer"})
    assert demoted.status_code == 409 and "last admin" in demoted.text
    removed = admin.post("/accounts/admin/remove")
    assert removed.status_code == 409
    assert mongo_db.users.find_one({"_id": "admin"})["role"] == "admin"
    assert _sessions_of(mongo_db, "admin") == 1
    assert _audit(mongo_db, "account.set_role") == _audit(mongo_db, "account.remove") == []


def test_an_admin_may_step_down_when_another_admin_remains(admin, mongo_db):
    admin.post("/accounts/viewer/role", data={"role": "admin"})
    response = admin.post("/accounts/admin/role", data={"role": "viewer"})
    assert response.status_code == 302
    assert mongo_db.users.find_one({"_id": "admin"})["role"] == "viewer"
    # Their own session survives, with the new role from the next request on.
    assert admin.get("/api/v1/me").get_json()["role"] == "viewer"
    assert admin.get("/accounts").status_code == 403


def test_removing_an_account_ends_its_sessions(admin, viewer, mongo_db):
    response = admin.post("/accounts/viewer/remove")
    assert response.status_code == 302
    assert mongo_db.users.find_one({"_id": "viewer"}) is None
    assert _sessions_of(mongo_db, "viewer") == 0
    assert viewer.get("/api/v1/me").status_code == 401
    [entry] = _audit(mongo_db, "account.remove")
    assert entry["target"] == "viewer"
    assert entry["details"] == {"role": "viewer", "sessions_ended": 1}


def test_an_admin_ends_an_accounts_sessions(app, admin, viewer, mongo_db):
    LoggedIn(app.test_client(), "viewer", VIEWER_PASSWORD)
    response = admin.post("/accounts/viewer/sessions/revoke")
    assert response.status_code == 302
    assert _sessions_of(mongo_db, "viewer") == 0
    assert viewer.get("/api/v1/me").status_code == 401
    [entry] = _audit(mongo_db, "account.revoke_sessions")
    assert entry["details"] == {"sessions_ended": 2}


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/accounts/nobody/role", 404),
        ("/accounts/nobody/remove", 404),
        ("/accounts/nobody/sessions/revoke", 404),
        ("/accounts/%24gt/role", 400),
        ("/accounts/a%20b/remove", 400),
    ],
)
def test_an_unknown_or_malformed_account_name_changes_nothing(admin, mongo_db, url, status):
    response = admin.post(url, data={"role": "viewer"})
    assert response.status_code == status
    assert sorted(u["_id"] for u in mongo_db.users.find({})) == ["admin", "viewer"]
    assert mongo_db.audit_log.count_documents({}) == 0


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/accounts"),
        ("post", "/accounts"),
        ("post", "/accounts/admin/password"),
        ("post", "/accounts/admin/role"),
        ("post", "/accounts/admin/remove"),
        ("post", "/accounts/admin/sessions/revoke"),
    ],
)
def test_a_viewer_cannot_touch_accounts(viewer, mongo_db, method, url):
    data = {"role": "viewer", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
    response = getattr(viewer, method)(url, data=data) if method == "post" else viewer.get(url)
    assert response.status_code == 403
    assert mongo_db.users.find_one({"_id": "admin"})["role"] == "admin"
    assert mongo_db.audit_log.count_documents({}) == 0


def test_an_account_form_without_its_csrf_token_is_refused(admin, mongo_db):
    response = admin.client.post("/accounts/viewer/remove")
    assert response.status_code == 400 and "CSRF" in response.text
    assert mongo_db.users.find_one({"_id": "viewer"}) is not None


# -- accounts named by the settings ------------------------------------------------------------
def test_a_weak_password_in_the_settings_stops_the_start(settings, mongo_db, cache, bus):
    weak = settings.model_copy(update={"web_admin_password": SecretStr("admin1234")})
    with pytest.raises(SettingsError, match=r"WEB_ADMIN_PASSWORD: .*at least 12 characters"):
        create_app(weak, db=mongo_db, cache=cache, bus=bus, start_live=False)
    assert mongo_db.users.count_documents({}) == 0


def test_a_changed_admin_password_in_the_settings_is_ignored_with_one_warning(
    app, settings, mongo_db, cache, bus, caplog
):
    stored = mongo_db.users.find_one({"_id": "admin"})["password_hash"]
    changed = settings.model_copy(
        update={"web_admin_password": SecretStr("a-rotated-admin-secret")}
    )
    with caplog.at_level(logging.WARNING, logger="services.common.storage.accounts"):
        second = create_app(changed, db=mongo_db, cache=cache, bus=bus, start_live=False)
    warnings = [r.getMessage() for r in caplog.records if "WEB_ADMIN_PASSWORD" in r.getMessage()]
    assert len(warnings) == 1
    assert "ignored" in warnings[0] and "attendance users set-password admin" in warnings[0]
    assert mongo_db.users.find_one({"_id": "admin"})["password_hash"] == stored
    assert post_login(second.test_client(), "admin", ADMIN_PASSWORD).status_code == 302


def test_an_unchanged_admin_password_in_the_settings_logs_nothing(
    app, settings, mongo_db, cache, bus, caplog
):
    with caplog.at_level(logging.WARNING, logger="services.common.storage.accounts"):
        create_app(settings, db=mongo_db, cache=cache, bus=bus, start_live=False)
    assert not [r for r in caplog.records if "WEB_ADMIN_PASSWORD" in r.getMessage()]
