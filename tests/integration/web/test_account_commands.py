"""``attendance users``: accounts from a shell, on the real database, audited as cli:<os user>."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from services import cli
from services.common.storage.accounts import UserStore
from services.web.login_throttle import MAX_LOGIN_CHECKS, LoginThrottle

pytestmark = pytest.mark.integration

PASSWORD = "a-long-cli-passphrase"
OTHER_PASSWORD = "another-cli-passphrase"


@pytest.fixture
def users(mongo_server_url, mongo_db_name, mongo_db, monkeypatch) -> UserStore:
    monkeypatch.setenv("MONGO_URL", mongo_server_url)
    monkeypatch.setenv("MONGO_DB", mongo_db_name)
    monkeypatch.setenv("LOGNAME", "alice")
    store = UserStore(mongo_db)
    store.ensure_indexes()
    store.create_account("root-admin", PASSWORD, "admin")
    return store


def attendance(monkeypatch, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return cli.main(["users", *argv])


def _session(users: UserStore, name: str) -> str:
    return users.sessions.create(name, lifetime=timedelta(hours=1), client="10.0.0.1")


def _audit(mongo_db, action: str) -> list[dict]:
    return list(mongo_db.audit_log.find({"action": action}))


def test_add_reads_the_password_from_standard_input(users, mongo_db, monkeypatch, capsys):
    assert attendance(monkeypatch, "add", "bob", "--role", "kiosk", stdin=PASSWORD + "\n") == 0
    assert "created kiosk account bob" in capsys.readouterr().out
    stored = mongo_db.users.find_one({"_id": "bob"})
    assert stored["role"] == "kiosk" and PASSWORD not in str(stored)
    assert users.authenticate("bob", PASSWORD) is not None
    [entry] = _audit(mongo_db, "account.create")
    assert entry["actor"] == "cli:alice" and entry["client"] is None
    assert entry["target"] == "bob" and entry["details"] == {"role": "kiosk"}


def test_a_password_is_never_taken_from_the_command_line(users, mongo_db, monkeypatch):
    with pytest.raises(SystemExit) as exit_:
        attendance(monkeypatch, "add", "bob", "--role", "viewer", "--password", PASSWORD)
    assert exit_.value.code == 2
    assert mongo_db.users.find_one({"_id": "bob"}) is None


def test_on_a_terminal_the_password_is_asked_twice(users, mongo_db, monkeypatch, capsys):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers = iter([PASSWORD, "something-else-entirely"])
    monkeypatch.setattr("getpass.getpass", lambda prompt, stream=None: next(answers))
    monkeypatch.setattr("sys.stdin", Terminal())
    assert cli.main(["users", "add", "bob", "--role", "viewer"]) == 1
    assert "differ" in capsys.readouterr().err
    assert mongo_db.users.find_one({"_id": "bob"}) is None


@pytest.mark.parametrize(
    ("name", "password", "code"),
    [
        ("bob", "short", "weak_password"),
        ("bob", "password123456", "weak_password"),
        ("bob", "bob-bob-bob-bob", "weak_password"),
        ("bad name", PASSWORD, "invalid_name"),
        ("root-admin", PASSWORD, "duplicate_account"),
    ],
)
def test_a_refused_account_stores_nothing(
    users, mongo_db, monkeypatch, capsys, name, password, code
):
    assert attendance(monkeypatch, "add", name, "--role", "viewer", stdin=password + "\n") == 1
    assert f"refused ({code})" in capsys.readouterr().err
    assert [u["_id"] for u in mongo_db.users.find({})] == ["root-admin"]
    assert mongo_db.audit_log.count_documents({}) == 0


def test_list_shows_every_account_with_its_role_and_sessions(users, monkeypatch, capsys):
    users.create_account("bob", OTHER_PASSWORD, "viewer")
    _session(users, "bob")
    assert attendance(monkeypatch, "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["bob", "viewer"], ["root-admin", "admin"]]
    assert lines[0].endswith("sessions 1") and lines[1].endswith("sessions 0")


def test_set_password_rotates_it_and_ends_the_sessions(users, mongo_db, monkeypatch):
    _session(users, "root-admin")
    assert attendance(monkeypatch, "set-password", "root-admin", stdin=OTHER_PASSWORD) == 0
    assert users.authenticate("root-admin", OTHER_PASSWORD) is not None
    assert users.authenticate("root-admin", PASSWORD) is None
    assert mongo_db.web_sessions.count_documents({}) == 0
    [entry] = _audit(mongo_db, "account.set_password")
    assert entry["actor"] == "cli:alice" and entry["details"] == {"sessions_ended": 1}


def test_set_role_changes_it_and_ends_the_sessions(users, mongo_db, monkeypatch):
    users.create_account("bob", OTHER_PASSWORD, "viewer")
    _session(users, "bob")
    assert attendance(monkeypatch, "set-role", "bob", "admin") == 0
    assert mongo_db.users.find_one({"_id": "bob"})["role"] == "admin"
    assert mongo_db.web_sessions.count_documents({}) == 0
    [entry] = _audit(mongo_db, "account.set_role")
    assert entry["details"] == {"role": "admin", "previous_role": "viewer", "sessions_ended": 1}


def test_remove_deletes_the_account_and_its_sessions(users, mongo_db, monkeypatch):
    users.create_account("bob", OTHER_PASSWORD, "viewer")
    _session(users, "bob")
    assert attendance(monkeypatch, "remove", "bob") == 0
    assert mongo_db.users.find_one({"_id": "bob"}) is None
    assert mongo_db.web_sessions.count_documents({}) == 0
    [entry] = _audit(mongo_db, "account.remove")
    assert entry["details"] == {"role": "viewer", "sessions_ended": 1}


@pytest.mark.parametrize("argv", [("set-role", "root-admin", "viewer"), ("remove", "root-admin")])
def test_the_last_admin_stays(users, mongo_db, monkeypatch, capsys, argv):
    _session(users, "root-admin")
    assert attendance(monkeypatch, *argv) == 1
    assert "refused (last_admin)" in capsys.readouterr().err
    assert mongo_db.users.find_one({"_id": "root-admin"})["role"] == "admin"
    assert mongo_db.web_sessions.count_documents({}) == 1
    assert mongo_db.audit_log.count_documents({}) == 0


@pytest.mark.parametrize(
    "argv", [("set-role", "nobody", "viewer"), ("remove", "nobody"), ("set-password", "nobody")]
)
def test_an_unknown_account_is_refused(users, mongo_db, monkeypatch, capsys, argv):
    assert attendance(monkeypatch, *argv, stdin=OTHER_PASSWORD) == 1
    assert "refused (not_found)" in capsys.readouterr().err
    assert mongo_db.audit_log.count_documents({}) == 0


def test_unlock_lets_an_account_locked_by_guesses_log_in_again(
    users, mongo_db, monkeypatch, capsys, redis_url, cache_prefix, redis_cache
):
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("ATTENDANCE_BUS_PREFIX", cache_prefix)
    throttle = LoginThrottle(redis_cache)
    for number in range(MAX_LOGIN_CHECKS):
        assert throttle.claim(account="root-admin", address=f"10.0.0.{number}") is None
    assert throttle.claim(account="root-admin", address="10.0.1.1") is not None
    assert attendance(monkeypatch, "unlock", "root-admin") == 0
    assert "root-admin may log in again" in capsys.readouterr().out
    assert throttle.claim(account="root-admin", address="10.0.1.2") is None
    [entry] = _audit(mongo_db, "account.unlock")
    assert entry["actor"] == "cli:alice" and entry["target"] == "root-admin"


def test_unlock_refuses_an_unknown_account(users, mongo_db, monkeypatch, capsys):
    assert attendance(monkeypatch, "unlock", "nobody") == 1
    assert "not_found" in capsys.readouterr().err
    assert _audit(mongo_db, "account.unlock") == []


def test_a_name_with_a_trailing_newline_is_not_an_account_name(users, mongo_db, monkeypatch):
    assert attendance(monkeypatch, "add", "bob\n", "--role", "viewer", stdin=PASSWORD + "\n") == 1
    assert mongo_db.users.count_documents({"_id": {"$regex": "^bob"}}) == 0
