"""The README's first command, as a new user runs it: ``attendance run`` with no arguments.

Models come from ATTENDANCE_MODELS_DIR, the port from WEB_PORT, and the data folder is ./data of
a fresh working folder. A first start that fails after the admin account was created keeps its
password for the next start, which shows it once everything runs.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port
from tests.helpers.processes import REPO_ROOT, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.models, pytest.mark.timeout(300)]

SERVER_VARIABLES = ("RABBITMQ_URL", "REDIS_URL", "MONGO_URL", "WEB_SECRET_KEY")
NOISE = ("Traceback", "Exception ignored")
# The port is checked free before anything loads; taking it after that check makes the start
# fail where it is hardest: models loaded, the admin account created, the web not yet up.
FAILS_AFTER_LOADING = textwrap.dedent(
    """
    import sys
    import services.allinone as allinone
    from services import cli

    allinone.check_port_free = lambda *args, **kwargs: None
    sys.exit(cli.main(["run"]))
    """
)


def attendance_command() -> list[str]:
    script = Path(sys.executable).parent / "attendance"
    return [str(script)] if script.exists() else [sys.executable, "-m", "services.cli"]


@pytest.fixture
def first_run_env(tmp_path, models_dir) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SERVER_VARIABLES}
    env.pop("WEB_ADMIN_PASSWORD", None)
    env.update(
        ATTENDANCE_MODELS_DIR=str(models_dir),
        WEB_PORT=str(free_port()),
        WEB_HOST="127.0.0.1",
        LOG_LEVEL="INFO",
        PYTHONPATH=str(REPO_ROOT),
    )
    return env


def healthy(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=2).json() == {"status": "ok"}
    except (requests.ConnectionError, ValueError):
        return False


def test_attendance_run_with_no_arguments_serves_the_dashboard_and_shows_the_password_once(
    tmp_path, first_run_env
):
    port = int(first_run_env["WEB_PORT"])
    base = f"http://127.0.0.1:{port}"
    kept = tmp_path / "data" / "admin_password"

    # 1. A first start that fails late: one line, exit 2, no traceback, and no password lost.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        failed = subprocess.run(
            [sys.executable, "-c", FAILS_AFTER_LOADING],
            cwd=tmp_path,
            env=first_run_env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    assert failed.returncode == 2, failed.stderr
    assert f"attendance run: port {port}: cannot listen" in failed.stderr
    assert not any(noise in failed.stderr for noise in NOISE), failed.stderr
    assert "password" not in failed.stdout
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    password = kept.read_text().strip()

    # 2. The README's command, word for word: it comes up and says where, and the password.
    out_path, err_path = tmp_path / "run.out", tmp_path / "run.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(
            [*attendance_command(), "run"], cwd=tmp_path, env=first_run_env, stdout=out, stderr=err
        )
    try:
        wait_until(lambda: process.poll() is not None or healthy(base), 120, "/healthz")
        assert process.poll() is None, err_path.read_text(errors="replace")
        shown = wait_until(lambda: "Log in as" in out_path.read_text(), 10, "the password")
        assert shown
        text = out_path.read_text()
        assert f"Dashboard: {base}" in text
        assert re.findall(r"'admin' with password (\S+)", text) == [password]
        if not Path("/dev/video0").exists():
            assert "kiosk and upload pages only" in text
        assert not kept.exists(), "the password is forgotten once it was shown"
        _log_in(base, password)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    log = err_path.read_text(errors="replace")
    assert process.returncode == 0, log
    assert "stopped" in log
    assert not any(noise in log for noise in NOISE), log


def _log_in(base: str, password: str) -> None:
    session = requests.Session()
    page = session.get(f"{base}/login", timeout=5).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    login = session.post(
        f"{base}/login",
        data={"username": "admin", "password": password, "csrf_token": csrf},
        timeout=5,
        allow_redirects=False,
    )
    assert login.status_code in (302, 303), login.text
    assert session.get(f"{base}/api/v1/employees", timeout=5).status_code == 200
