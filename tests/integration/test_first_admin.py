"""The first admin of ``attendance run``: its generated password survives a start that fails,
is shown once, and a later start says how to reset a forgotten one."""

from __future__ import annotations

import io
import logging
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest

from services.allinone import (
    ADMIN_PASSWORD_FILE,
    AllInOne,
    Options,
    first_admin_password,
    forget_first_admin_password,
)
from services.common.settings import SettingsError
from services.common.storage.accounts import UserStore

pytestmark = pytest.mark.integration


@pytest.fixture
def users(mongo_db) -> UserStore:
    return UserStore(mongo_db)


def test_the_first_start_creates_the_admin_and_keeps_its_password_privately(users, tmp_path):
    password = first_admin_password(users, tmp_path)
    assert users.authenticate("admin", password).role == "admin"
    kept = tmp_path / ADMIN_PASSWORD_FILE
    assert kept.read_text().strip() == password
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_a_start_after_a_failed_one_shows_the_same_password(users, tmp_path):
    password = first_admin_password(users, tmp_path)
    # The start failed before showing it; the next one finds the account and the kept password.
    assert first_admin_password(users, tmp_path) == password
    assert len(users.accounts()) == 1


def test_once_shown_the_password_is_forgotten_for_good(users, tmp_path):
    first_admin_password(users, tmp_path)
    forget_first_admin_password(tmp_path)
    assert first_admin_password(users, tmp_path) is None
    assert not (tmp_path / ADMIN_PASSWORD_FILE).exists()


def test_a_kept_password_that_no_longer_opens_the_account_is_dropped(users, tmp_path):
    first_admin_password(users, tmp_path)
    users.set_password("admin", "a-new-admin-passphrase")
    assert first_admin_password(users, tmp_path) is None
    assert not (tmp_path / ADMIN_PASSWORD_FILE).exists()


def test_an_admin_name_taken_by_another_role_says_how_to_fix_it(users, tmp_path):
    users.create_account("admin", "a-long-viewer-passphrase", "viewer")
    with pytest.raises(SettingsError, match="attendance users set-role admin admin"):
        first_admin_password(users, tmp_path)


def _plan(source=None, source_name=None):
    return SimpleNamespace(
        source=source, source_name=source_name, capture=SimpleNamespace(camera_id="entrance")
    )


def test_a_start_with_an_admin_logs_how_to_reset_its_password(caplog, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    run = AllInOne(Options(data_dir=Path("data"), out=out, environ={}))
    run.web_url = "http://127.0.0.1:8080"
    with caplog.at_level(logging.INFO, logger="services.allinone"):
        run.welcome(_plan(), None)
    assert "`attendance users set-password admin` (run in this folder)" in caplog.text
    assert "Dashboard: http://127.0.0.1:8080" in out.getvalue()
    assert "password" not in out.getvalue()


def test_kiosk_mode_and_a_camera_found_by_itself_are_each_said_in_one_line(tmp_path):
    for plan, expected in (
        (_plan(), "kiosk and upload pages only"),
        (_plan("0"), "Watching camera 0 as 'entrance'"),
    ):
        out = io.StringIO()
        run = AllInOne(Options(data_dir=tmp_path, out=out, environ={}))
        run.web_url = "http://127.0.0.1:8080"
        run.welcome(plan, "a-generated-password")
        lines = out.getvalue().splitlines()
        assert sum(expected in line for line in lines) == 1, lines
        assert "Log in as 'admin' with password a-generated-password" in out.getvalue()
