"""Every mistake in a flag or a variable of ``attendance run`` is one line naming what the user
typed, exit status 2, before any model or server is touched."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services import allinone, cli
from tests.helpers.processes import REPO_ROOT

pytestmark = pytest.mark.unit

SERVER_VARIABLES = ("RABBITMQ_URL", "REDIS_URL", "MONGO_URL", "WEB_SECRET_KEY")


class Loaded(AssertionError):
    """Raised when a run got as far as loading models or starting servers."""


@pytest.fixture
def run_here(monkeypatch, tmp_path, capsys):
    """``attendance ARGS`` in this process, in an empty folder, with no camera plugged in and
    no server named; returns (exit status, lines on standard error)."""
    monkeypatch.chdir(tmp_path)
    for variable in (*SERVER_VARIABLES, "WEB_ADMIN_PASSWORD", "WEB_PORT"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(allinone, "camera_present", lambda index: False)
    monkeypatch.setattr(allinone, "configure_logging", lambda *args: None)

    def run(*argv: str, **env: str) -> tuple[int, list[str]]:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        try:
            status = cli.main(list(argv))
        except SystemExit as exit_:
            status = exit_.code
        return status, capsys.readouterr().err.splitlines()

    return run


@pytest.fixture
def attendance(run_here, monkeypatch):
    """As :func:`run_here`, and reaching a model file or a server fails the test."""

    def loaded(*args, **kwargs):
        raise Loaded("a model or server was reached before the mistake was reported")

    monkeypatch.setattr("services.common.model_files.ensure_models", loaded)
    monkeypatch.setattr(allinone.AllInOne, "start", loaded)
    return run_here


@pytest.fixture
def busy_port():
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _refused(result: tuple[int, list[str]], *expected: str) -> str:
    status, lines = result
    assert status == 2, lines
    assert len(lines) == 1, lines
    for text in expected:
        assert text in lines[0], lines
    return lines[0]


def test_a_port_out_of_range_names_the_flag_not_the_setting(attendance):
    line = _refused(attendance("run", "--port", "99999"), "--port 99999", "65535")
    assert "web_port" not in line


def test_a_port_that_is_not_a_number_is_one_line(attendance):
    _refused(attendance("run", "--port", "eighty"), "--port", "'eighty'")


def test_a_port_in_use_is_named_with_where_to_change_it(attendance, busy_port):
    _refused(attendance("run", "--port", str(busy_port)), f"--port {busy_port}", "in use")


def test_a_port_from_the_environment_names_the_variable(attendance):
    _refused(attendance("run", WEB_PORT="70000"), "WEB_PORT=70000")


def test_a_missing_video_is_named(attendance):
    _refused(attendance("run", "--video", "door.mp4"), "--video door.mp4", "no such file")


def test_a_file_that_is_not_a_video_is_refused(attendance, tmp_path):
    (tmp_path / "notes.mp4").write_text("not a video")
    _refused(attendance("run", "--video", "notes.mp4"), "--video notes.mp4", "not a video")


def test_a_missing_camera_is_named(attendance):
    _refused(attendance("run", "--camera", "3"), "--camera 3", "no camera")


def test_a_stream_with_an_unknown_scheme_is_refused(attendance):
    _refused(attendance("run", "--rtsp", "ftp://door/stream"), "--rtsp", "ftp")


def test_a_missing_enrolment_folder_is_named(attendance):
    _refused(attendance("run", "--enroll-dir", "people"), "--enroll-dir people", "no such folder")


def test_an_enrolment_folder_without_people_says_how_it_is_laid_out(attendance, tmp_path):
    (tmp_path / "people").mkdir()
    _refused(attendance("run", "--enroll-dir", "people"), "--enroll-dir people", "<name>")


def test_an_enrolment_folder_without_photos_is_refused(attendance, tmp_path):
    (tmp_path / "people" / "Ada").mkdir(parents=True)
    (tmp_path / "people" / "Ada" / "notes.txt").write_text("no photo here")
    _refused(attendance("run", "--enroll-dir", "people"), "--enroll-dir people", "photo")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--fps", "0"], "--fps 0"),
        (["--fps", "100"], "--fps 100"),
        (["--camera-id", "front door"], "--camera-id front door"),
        (["--loop"], "--loop"),
    ],
)
def test_capture_flags_are_checked_by_name(attendance, argv, expected):
    _refused(attendance("run", *argv), expected)


def test_a_data_dir_that_is_a_file_is_refused(attendance, tmp_path):
    (tmp_path / "data").write_text("")
    _refused(attendance("run", "--data-dir", "data"), "--data-dir data", "not a folder")


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("SITE_TIMEZONE", "Europe/Pariss", "SITE_TIMEZONE=Europe/Pariss"),
        ("MATCH_THRESHOLD", "2", "MATCH_THRESHOLD=2"),
        ("DETECTOR_MODEL", "medium", "DETECTOR_MODEL=medium"),
        ("DAY_START_HOUR", "25", "DAY_START_HOUR=25"),
        ("WEB_MAX_STREAMS", "64", "WEB_MAX_STREAMS"),
        ("ATTENDANCE_MODEL_DIR", "/models", "did you mean ATTENDANCE_MODELS_DIR"),
        ("FACENET_WEIGHTS", "/nowhere/weights.pt", "FACENET_WEIGHTS=/nowhere/weights.pt"),
    ],
)
def test_settings_are_checked_by_variable_name(attendance, variable, value, expected):
    _refused(attendance("run", **{variable: value}), expected)


def test_a_weak_admin_password_stops_the_start_without_being_repeated(attendance):
    line = _refused(
        attendance("run", WEB_ADMIN_PASSWORD="sunshine"), "WEB_ADMIN_PASSWORD", "12 characters"
    )
    assert "sunshine" not in line


def test_missing_models_without_a_network_are_one_line_naming_file_folder_and_variable(
    run_here, tmp_path, monkeypatch, unreachable_downloads
):
    empty = tmp_path / "models"
    empty.mkdir()
    unreachable_downloads(monkeypatch)
    started = []
    monkeypatch.setattr(allinone.AllInOne, "start", lambda self, plan: started.append(plan))

    _refused(
        run_here("run", ATTENDANCE_MODELS_DIR=str(empty)),
        "face_detection_short_range.tflite",
        "facenet-casia-webface.pt",
        str(empty),
        "ATTENDANCE_MODELS_DIR",
        "no network",
    )
    assert started == []
    assert list(empty.iterdir()) == []


@pytest.fixture
def unreachable_downloads():
    """Point every model URL at a local port nobody listens on: a machine without network."""

    def patch(monkeypatch) -> None:
        from services.common import model_files

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        for name, spec in list(model_files.MODEL_FILES.items()):
            monkeypatch.setitem(
                model_files.MODEL_FILES,
                name,
                spec.__class__(**{**spec.__dict__, "url": f"http://127.0.0.1:{port}/{name}"}),
            )

    return patch


def test_models_download_without_a_network_prints_url_hash_and_destination_per_file(
    unreachable_downloads, monkeypatch, tmp_path, capsys
):
    from services.common.model_files import MODEL_FILES

    unreachable_downloads(monkeypatch)
    status = cli.main(["models", "download", "--models-dir", str(tmp_path)])
    lines = capsys.readouterr().err.splitlines()
    assert status == 1
    assert len(lines) == len(MODEL_FILES), lines
    for line, spec in zip(lines, MODEL_FILES.values(), strict=True):
        assert line.startswith(f"{spec.name}: ")
        assert spec.url in line and spec.sha256[0] in line
        assert str(tmp_path / spec.name) in line
    assert list(tmp_path.iterdir()) == []


# -- as the person runs it: a process of its own ----------------------------------------------
def _attendance_process(tmp_path: Path, *argv: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in SERVER_VARIABLES}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *argv],
        cwd=tmp_path,
        env={**environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["run", "--port", "99999"], {}, "--port 99999"),
        (["run", "--enroll-dir", "people/"], {}, "--enroll-dir people"),
        (["run", "--video", "door.mp4"], {}, "--video door.mp4"),
        (["run"], {"SITE_TIMEZONE": "Mars/Olympus"}, "SITE_TIMEZONE=Mars/Olympus"),
    ],
)
def test_a_mistake_ends_the_command_in_under_two_seconds_with_one_line(
    tmp_path, argv, env, expected
):
    started = time.monotonic()
    result = _attendance_process(tmp_path, *argv, **env)
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [result.stderr.strip()], result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert elapsed < 2.0, f"took {elapsed:.2f}s"
    assert not (tmp_path / "data").exists(), "nothing is created before the checks pass"


# -- the services one by one -------------------------------------------------------------------
@pytest.fixture
def no_connections(monkeypatch):
    """Reaching the broker or the database fails the test: the mistake must come first."""
    import services.capture.main
    import services.common.storage.mongo
    import services.detector.main
    import services.recognizer.main
    import services.recorder.main
    import services.web.main

    def connect(*args, **kwargs):
        raise Loaded("a server was contacted before the mistake was reported")

    for module in (
        services.capture.main,
        services.detector.main,
        services.recognizer.main,
        services.recorder.main,
    ):
        monkeypatch.setattr(module, "connect_bus", connect)
    for module in (
        services.common.storage.mongo,
        services.recognizer.main,
        services.recorder.main,
        services.web.main,
    ):
        monkeypatch.setattr(module, "connect", connect)


@pytest.mark.parametrize(
    ("argv", "missing"),
    [
        (["detector"], ["face_detection_short_range.tflite"]),
        (["recognizer"], ["face_detection_short_range.tflite", "facenet-casia-webface.pt"]),
        (["enroll", "--name", "Ada", "ada.jpg"], ["facenet-casia-webface.pt"]),
    ],
)
def test_a_service_without_its_models_and_network_stops_in_one_line_before_connecting(
    run_here, no_connections, tmp_path, monkeypatch, unreachable_downloads, argv, missing
):
    unreachable_downloads(monkeypatch)
    line = _refused(
        run_here(*argv, ATTENDANCE_MODELS_DIR=str(tmp_path)), f"attendance {argv[0]}: ", *missing
    )
    assert "no network" in line


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["capture", "--source", "door.mp4"], {}, "--source"),
        (["capture", "--fps", "0"], {}, "--fps 0"),
        (["capture"], {"CAPTURE_SOURCE": "ftp://door"}, "CAPTURE_SOURCE"),
        (["recorder"], {"SITE_TIMEZONE": "Mars/Olympus"}, "SITE_TIMEZONE=Mars/Olympus"),
        (
            ["web"],
            {"WEB_SECRET_KEY": "k" * 32, "WEB_ADMIN_PASSWORD": "short"},
            "WEB_ADMIN_PASSWORD",
        ),
        (["web"], {}, "WEB_SECRET_KEY is required but not set"),
    ],
)
def test_a_service_reports_a_bad_setting_by_name_before_connecting(
    run_here, no_connections, monkeypatch, argv, env, expected
):
    monkeypatch.delenv("WEB_SECRET_KEY", raising=False)
    _refused(run_here(*argv, **env), expected)
