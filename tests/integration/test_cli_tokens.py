"""``attendance tokens``: API tokens from a shell, on the MongoDB-wire server, audited as
cli:<os user>; and ``users``/``tokens`` find the all-in-one database without MONGO_URL."""

from __future__ import annotations

import pytest

from services import cli
from services.allinone import MONGO_FOLDER
from services.common.storage.accounts import UserStore
from services.common.storage.mongo import connect
from services.common.storage.mongo_wire import MongoWireServer

pytestmark = pytest.mark.integration


@pytest.fixture
def tokens_db(mongo_server_url, mongo_db_name, mongo_db, monkeypatch):
    monkeypatch.setenv("MONGO_URL", mongo_server_url)
    monkeypatch.setenv("MONGO_DB", mongo_db_name)
    monkeypatch.setenv("LOGNAME", "alice")
    return mongo_db


def attendance(*argv: str) -> int:
    try:
        return cli.main(["tokens", *argv])
    except SystemExit as exit_:
        return exit_.code


def test_create_prints_only_the_secret_and_stores_only_its_hash(tokens_db, capsys):
    assert attendance("create", "--role", "viewer", "payroll export") == 0
    out, err = capsys.readouterr()
    [secret] = out.splitlines()
    [stored] = tokens_db.api_tokens.find()
    assert secret not in str(stored)
    assert stored["name"] == "payroll export" and stored["role"] == "viewer"
    assert stored["created_by"] == "cli:alice" and stored["owner"] == "cli:alice"
    assert stored["_id"] in err and "only this once" in err
    token = UserStore(tokens_db).find_token(secret)
    assert token is not None and token.token_id == stored["_id"]


def test_creating_a_token_is_audited_as_the_os_user(tokens_db, capsys):
    assert attendance("create", "--role", "kiosk", "lobby tablet") == 0
    [stored] = tokens_db.api_tokens.find()
    [entry] = tokens_db.audit_log.find({"action": "token.create"})
    assert entry["actor"] == "cli:alice" and entry["client"] is None
    assert entry["target"] == stored["_id"]
    assert entry["details"] == {"name": "lobby tablet", "role": "kiosk"}


@pytest.mark.parametrize(
    "argv",
    [
        ["create", "--role", "owner", "x"],
        ["create", "--role", "viewer", "   "],
        ["create", "--role", "viewer", "bell\x07"],
        ["create", "--role", "viewer", "n" * 81],
        ["create", "x"],
        ["revoke", "not-an-id"],
    ],
)
def test_a_bad_argument_is_one_line_and_stores_nothing(tokens_db, capsys, argv):
    assert attendance(*argv) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("attendance tokens"), lines
    assert tokens_db.api_tokens.count_documents({}) == 0
    assert tokens_db.audit_log.count_documents({}) == 0


def test_list_shows_every_token_without_its_secret(tokens_db, capsys):
    attendance("create", "--role", "viewer", "first")
    attendance("create", "--role", "admin", "second")
    secrets = capsys.readouterr().out.split()
    assert attendance("list") == 0
    listed = capsys.readouterr().out
    for stored in tokens_db.api_tokens.find():
        assert stored["_id"] in listed and stored["name"] in listed
    assert "viewer" in listed and "admin" in listed and "cli:alice" in listed
    assert not any(secret in listed for secret in secrets)


def test_revoke_deletes_the_token_and_is_audited(tokens_db, capsys):
    attendance("create", "--role", "viewer", "old script")
    secret = capsys.readouterr().out.strip()
    [stored] = tokens_db.api_tokens.find()
    assert attendance("revoke", stored["_id"]) == 0
    assert tokens_db.api_tokens.count_documents({}) == 0
    assert UserStore(tokens_db).find_token(secret) is None
    [entry] = tokens_db.audit_log.find({"action": "token.revoke"})
    assert entry["actor"] == "cli:alice" and entry["target"] == stored["_id"]


def test_revoking_an_unknown_token_is_refused_and_not_audited(tokens_db, capsys):
    assert attendance("revoke", "0123456789ab") == 1
    assert "no token with id 0123456789ab" in capsys.readouterr().err
    assert tokens_db.audit_log.count_documents({}) == 0


def test_without_mongo_url_the_database_of_attendance_run_in_data_is_used(
    tmp_path, monkeypatch, capsys
):
    folder = tmp_path / "data" / MONGO_FOLDER
    folder.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MONGO_URL", raising=False)
    monkeypatch.setenv("MONGO_DB", "attendance")
    monkeypatch.setenv("LOGNAME", "alice")

    # Not running: a server is started on its files for the command, and stopped after it.
    assert attendance("create", "--role", "viewer", "from the shell") == 0
    assert "database of `attendance run` in ./data" in capsys.readouterr().err
    server = MongoWireServer(folder)
    server.start()
    try:
        db = connect(server.url, "attendance", attempts=3)
        [stored] = db.api_tokens.find()
        assert stored["name"] == "from the shell"
        # Running (its port announced): the command uses that server.
        (folder / "port").write_text(f"{server.port}\n")
        assert attendance("revoke", stored["_id"]) == 0
        assert db.api_tokens.count_documents({}) == 0
        db.client.close()
    finally:
        server.stop()
