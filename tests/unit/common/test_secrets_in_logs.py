"""No password of a URL reaches a log line or an error message, whoever wrote it."""

import json
import logging
import socket

import pytest

from services.common.runtime import configure_logging
from services.common.settings import CommonSettings, SettingsError
from services.common.storage.mongo import DatabaseUnavailable, connect

pytestmark = pytest.mark.unit

SECRET = "s3cr:et@42"


@pytest.fixture
def restored_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("as_json", [False, True])
def test_service_logs_hide_passwords_a_library_logs(as_json, capsys, restored_logging):
    configure_logging("INFO", as_json=as_json)
    logging.getLogger("some.library").warning(
        "connecting to %s and %s", f"amqp://app:{SECRET}@rabbitmq/%2F", "redis://:pw@redis:6379"
    )
    try:
        raise ConnectionError(f"cannot open rtsp://admin:{SECRET}@10.0.0.7/live")
    except ConnectionError:
        logging.getLogger("some.library").exception("camera failed")
    written = capsys.readouterr().err
    if as_json:
        lines = [json.loads(line) for line in written.splitlines()]
        assert (
            lines[0]["message"]
            == "connecting to amqp://***@rabbitmq/%2F and redis://***@redis:6379"
        )
        assert "rtsp://***@10.0.0.7/live" in lines[1]["exception"]
    else:
        assert "amqp://***@rabbitmq/%2F" in written and "rtsp://***@10.0.0.7/live" in written
    assert "s3cr" not in written and ":pw@" not in written


def test_a_settings_error_does_not_quote_a_password():
    with pytest.raises(SettingsError) as error:
        CommonSettings.from_env({"HEALTH_PORT": f"http://admin:{SECRET}@cam.local/"})
    assert "HEALTH_PORT" in str(error.value)
    assert "http://***@cam.local/" in str(error.value) and "s3cr" not in str(error.value)


def test_an_unreachable_database_is_named_without_its_password():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DatabaseUnavailable) as error:
        connect(
            f"mongodb://app:s3cret@127.0.0.1:{port}/?serverSelectionTimeoutMS=200", "x", attempts=1
        )
    assert f"mongodb://***@127.0.0.1:{port}" in str(error.value)
    assert "s3cret" not in str(error.value)
