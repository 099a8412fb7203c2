"""``attendance run``: the whole system in one process, with no RabbitMQ, Redis or MongoDB."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import time

import pytest
import requests
from pymongo import MongoClient

from tests.conftest import free_port
from tests.helpers.metrics import metric_total
from tests.helpers.processes import ATTENDANCE, REPO_ROOT, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.models, pytest.mark.timeout(300)]

EXAMPLES = "face_recognition/examples"
SERVER_VARIABLES = ("RABBITMQ_URL", "REDIS_URL", "MONGO_URL", "WEB_SECRET_KEY")


def ready(base: str) -> bool:
    try:
        return requests.get(f"{base}/readyz", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.fixture
def enroll_dir(tmp_path, faces_dir):
    folder = tmp_path / "enroll"
    for name, photo, copy in (
        ("Lin-Manuel Miranda", "lin-manuel-miranda.png", "lin.png"),
        ("Alex Lacamoire", "alex-lacamoire.png", "alex.png"),
    ):
        (folder / name).mkdir(parents=True)
        shutil.copy(faces_dir / EXAMPLES / photo, folder / name / copy)
    (folder / "Not A Face").mkdir()
    (folder / "Not A Face" / "note.jpg").write_bytes(b"not an image")
    return folder


def test_attendance_run_records_lin_manuel_miranda_with_no_servers(
    tmp_path, enroll_dir, faces_dir, models_dir
):
    web_port, mongo_port = free_port(), free_port()
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k not in SERVER_VARIABLES}
    env.pop("WEB_ADMIN_PASSWORD", None)
    env.update(ATTENDANCE_MODELS_DIR=str(models_dir), MONGO_DB="attendance", LOG_LEVEL="INFO")
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                *ATTENDANCE,
                "run",
                "--enroll-dir",
                str(enroll_dir),
                "--video",
                str(faces_dir / EXAMPLES / "short_hamilton_clip.mp4"),
                "--camera-id",
                "stage",
                "--fps",
                "6",
                "--port",
                str(web_port),
                "--host",
                "127.0.0.1",
                "--data-dir",
                str(data_dir),
                "--mongo-port",
                str(mongo_port),
            ],
            env=env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{web_port}"
    client = MongoClient(f"mongodb://127.0.0.1:{mongo_port}", tz_aware=True)
    try:
        wait_until(lambda: process.poll() is not None or ready(base), 120, "/readyz", interval=0.5)
        assert process.poll() is None, log_path.read_text(errors="replace")
        assert requests.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
        first = metric_total(base, "attendance_frames_published_total")
        time.sleep(2)
        assert metric_total(base, "attendance_frames_published_total") > first, "no frames"

        db = client["attendance"]
        record = wait_until(
            lambda: db.attendance.find_one(
                {"employee_name": "Lin-Manuel Miranda", "arrival": {"$ne": None}}
            ),
            120,
            "Lin-Manuel Miranda's arrival",
            interval=1,
        )
        assert record["arrival"]["camera_id"] == "stage"
        metrics = requests.get(f"{base}/metrics", timeout=5).text
        assert "attendance_records_written_total" in metrics
        assert "web_requests_total" in metrics
        # Queue depths and drops, as each worker of the broker mode shows its queue's depth.
        for queue in ("frames.detect", "faces.recognize", "sightings.record"):
            assert f'attendance_queue_depth{{queue="{queue}"}}' in metrics, queue
        for queue in ("frames.detect", "faces.recognize"):
            assert f'attendance_queue_dropped_total{{queue="{queue}"}}' in metrics, queue

        # First start: a session key file only we can read, and a one-time admin password.
        assert stat.S_IMODE((data_dir / "secret_key").stat().st_mode) == 0o600
        log_text = log_path.read_text(errors="replace")
        passwords = re.findall(r"'admin' with password (\S+)", log_text)
        assert len(passwords) == 1, log_text
        assert "enrolment of 'Not A Face' refused (not_an_image)" in log_text
        assert passwords[0] not in str(db.users.find_one({"_id": "admin"}))

        session = requests.Session()
        page = session.get(f"{base}/login", timeout=5).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        login = session.post(
            f"{base}/login",
            data={"username": "admin", "password": passwords[0], "csrf_token": csrf},
            timeout=5,
            allow_redirects=False,
        )
        assert login.status_code in (302, 303), login.text
        employees = session.get(f"{base}/api/v1/employees", timeout=5)
        assert employees.status_code == 200, employees.text
        assert {"Lin-Manuel Miranda", "Alex Lacamoire"} <= {
            e["name"] for e in _items(employees.json())
        }
        # The register page's face preview is answered by the in-process enroller.
        home = session.get(f"{base}/", timeout=5).text
        token = re.search(r'name="csrf-token" content="([^"]+)"', home).group(1)
        photo = (faces_dir / EXAMPLES / "alex-lacamoire.png").read_bytes()
        preview = session.post(
            f"{base}/api/v1/employees/preview",
            files={"photo": ("alex.png", photo)},
            headers={"X-CSRF-Token": token},
            timeout=60,
        )
        assert preview.status_code == 200, preview.text
        assert preview.json()["face_data_url"].startswith("data:image/jpeg;base64,")
    finally:
        client.close()
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
    assert process.returncode == 0, log_path.read_text(errors="replace")
    assert "stopped" in log_path.read_text(errors="replace")
    with pytest.raises(OSError):
        _connect(mongo_port)


def _items(payload):
    if isinstance(payload, list):
        return payload
    for key in ("employees", "items", "data"):
        if isinstance(payload.get(key), list):
            return payload[key]
    raise AssertionError(f"no list of employees in {payload!r}")


def _connect(port: int) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
