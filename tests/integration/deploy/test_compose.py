"""docker-compose.yml and deploy/Dockerfile agree with the code: commands, settings, health checks.

No Docker engine runs here, so the file is checked statically (and with ``docker-compose config``
when that binary is installed).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from services.capture.settings import CaptureSettings
from services.cli import build_parser
from services.detector.settings import DetectorSettings
from services.recognizer.settings import RecognizerSettings
from services.recorder.settings import RecorderSettings
from services.web.settings import WebSettings

yaml = pytest.importorskip("yaml")

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
SETTINGS = {
    "capture": CaptureSettings,
    "detector": DetectorSettings,
    "recognizer": RecognizerSettings,
    "recorder": RecorderSettings,
    "web": WebSettings,
}
SERVERS = ("rabbitmq", "redis", "mongo")
SCALABLE = ("detector", "recognizer")
REQUIRED_ENV = {"WEB_SECRET_KEY": "s" * 64, "WEB_ADMIN_PASSWORD": "p" * 16, "CAPTURE_SOURCE": "x"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def subcommands() -> set[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return set(action.choices)


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def health_command(service: dict) -> str:
    test = service["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else test


def test_every_app_service_and_server_is_defined(services):
    assert set(SETTINGS) | set(SERVERS) <= set(services)
    assert services["rabbitmq"]["image"] == "rabbitmq:3.13-management"
    assert services["redis"]["image"] == "redis:7-alpine"
    assert services["mongo"]["image"] == "mongo:7"


def test_app_services_run_a_real_attendance_subcommand_from_one_image(services):
    known = subcommands()
    for name in SETTINGS:
        command = services[name]["command"]
        assert command[0] == "attendance", name
        assert command[1] in known, f"{name}: 'attendance {command[1]}' does not exist"
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert services[name]["image"] == services["web"]["image"]


def test_every_variable_is_a_setting_of_that_service(services):
    for name, settings in SETTINGS.items():
        fields = {field.upper() for field in settings.model_fields}
        unknown = set(environment(services[name])) - fields
        assert not unknown, f"{name} sets {sorted(unknown)}, unknown to {settings.__name__}"


def test_every_required_setting_is_provided(services):
    for name, settings in SETTINGS.items():
        required = {n.upper() for n, f in settings.model_fields.items() if f.is_required()}
        missing = required - set(environment(services[name]))
        assert not missing, f"{name} lacks required {sorted(missing)}"


def test_secrets_have_no_default_and_fail_with_a_message(services):
    web = environment(services["web"])
    for variable in ("WEB_SECRET_KEY", "WEB_ADMIN_PASSWORD"):
        assert re.fullmatch(rf"\$\{{{variable}:\?.+\}}", web[variable]), web[variable]


def test_servers_have_health_checks_and_named_volumes(compose, services):
    checks = {
        "rabbitmq": "rabbitmq-diagnostics -q ping",
        "redis": "redis-cli ping",
        "mongo": "mongosh --quiet --eval db.adminCommand('ping')",
    }
    for name, expected in checks.items():
        assert expected in health_command(services[name]), name
        for volume in services[name]["volumes"]:
            assert volume.split(":")[0] in compose["volumes"], f"{name}: {volume} is not named"


def test_every_app_service_has_a_health_check_on_the_port_it_listens_on(services):
    for name in SETTINGS:
        service = services[name]
        assert "healthcheck" in service, f"{name} has no health check"
        env = environment(service)
        port = env["WEB_PORT"] if name == "web" else env["HEALTH_PORT"]
        path = "/healthz" if name == "web" else "/readyz"
        assert f"http://127.0.0.1:{port}{path}" in health_command(service), name
    assert services["web"]["ports"] == ["${WEB_PUBLISH:-8080}:8080"]


def test_dependencies_wait_for_healthy_services(services):
    for name in SETTINGS:
        depends = services[name]["depends_on"]
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        for target, condition in depends.items():
            assert "healthcheck" in services[target], f"{name} waits on {target}, unchecked"
            assert condition == {"condition": "service_healthy"}, f"{name} -> {target}"
        assert "rabbitmq" in depends, name
    assert {"mongo", "redis"} <= set(services["recognizer"]["depends_on"])
    assert "mongo" in services["recorder"]["depends_on"]


def test_detector_and_recognizer_can_be_scaled(services):
    for name in SCALABLE:
        assert "container_name" not in services[name], name
        assert "ports" not in services[name], name


def test_models_are_mounted_read_only_where_they_are_used(services):
    for name in ("detector", "recognizer"):
        assert "${MODELS_DIR:-./models}:/models:ro" in services[name]["volumes"], name
        assert environment(services[name])["ATTENDANCE_MODELS_DIR"] == "/models"


def test_env_example_names_every_variable_the_compose_file_reads():
    text = COMPOSE.read_text()
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", example, re.M))
    assert used <= documented, f"not in .env.example: {sorted(used - documented)}"


def test_dockerfile_installs_with_the_script_and_runs_as_a_user():
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim$", text, re.M)
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", text, re.M)
    install = re.search(r"^RUN .*install\.sh.*$", text, re.M).group(0)
    assert "https://download.pytorch.org/whl/cpu" in text and "TORCH_INDEX_URL" in text
    assert "INSTALL_DEV=0" in install, "the image must not carry the test tools"
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0"), "the image must not run as root"
    command = re.findall(r"^(?:ENTRYPOINT|CMD)\s+(\[.*\])", text, re.M)
    assert command and '"attendance"' in command[-1]
    assert "ATTENDANCE_MODELS_DIR=/models" in text


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_accepts_the_file_and_refuses_missing_secrets(tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    base = {k: v for k, v in os.environ.items() if k not in REQUIRED_ENV}

    def config(env: dict[str, str]) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["docker-compose", "--env-file", str(empty), "-f", str(COMPOSE), "config"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    result = config({**base, **REQUIRED_ENV})
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)["services"]
    assert environment(resolved["web"])["WEB_SECRET_KEY"] == "s" * 64
    # The defaults the file resolves to are valid values for each service.
    for name, settings in SETTINGS.items():
        settings.from_env(environment(resolved[name]))

    missing = config({**base, **{k: v for k, v in REQUIRED_ENV.items() if k != "WEB_SECRET_KEY"}})
    assert missing.returncode != 0
    assert "set WEB_SECRET_KEY in .env" in missing.stderr
