"""The whole system as operators deploy it: docker-compose.yml on a container engine.

Run by ``tools/stack_test.sh``, which builds the images and starts podman's Docker-compatible
socket first. The stack is docker-compose.yml with deploy/compose.test.yml on top (stand-in
servers where no registry can be reached); every step goes through what an operator has: the
web API, ``docker-compose`` and the services' /metrics.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from services.common.bus.topology import FACES, SIGHTINGS
from tests.conftest import REPO_ROOT, SHARED, free_port

CLIP = SHARED / "faces/face_recognition/examples/short_hamilton_clip.mp4"
LIN_PHOTO = SHARED / "faces/face_recognition/examples/lin-manuel-miranda.png"
# The compose file leaves ATTENDANCE_BUS_PREFIX at its default.
BUS_PREFIX = "attendance"
WORKERS = ("detector", "recognizer", "recorder", "web")

missing_tools = [t for t in ("podman", "docker-compose") if shutil.which(t) is None]
if missing_tools:
    pytest.skip(
        f"{' and '.join(missing_tools)} not installed: the container stack test needs podman and "
        "docker-compose (apt-get install podman debootstrap docker-compose)",
        allow_module_level=True,
    )
if os.environ.get("ATTENDANCE_STACK_TEST") != "1" or not os.environ.get("DOCKER_HOST"):
    pytest.skip(
        "builds images and runs the whole compose stack (minutes): run tools/stack_test.sh",
        allow_module_level=True,
    )

pytestmark = [pytest.mark.e2e, pytest.mark.containers, pytest.mark.timeout(1500)]


def wait_until(check: Callable[[], object], timeout: float, what: str, interval: float = 2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"no {what} after {timeout:.0f} s")


class Stack:
    """One docker-compose project: its own containers, network and volumes, removed at the end."""

    def __init__(self, project: str, env: dict[str, str], env_file: Path) -> None:
        self.project = project
        self.env = {**os.environ, **env}
        self.base = [
            "docker-compose",
            "--project-name",
            project,
            "--env-file",
            str(env_file),
            "-f",
            str(REPO_ROOT / "docker-compose.yml"),
            "-f",
            str(REPO_ROOT / "deploy/compose.test.yml"),
        ]

    def compose(self, *args: str, timeout: float = 600, check: bool = True) -> str:
        result = subprocess.run(
            [*self.base, *args],
            env=self.env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"docker-compose {' '.join(args)}: {result.stderr[-3000:]}")
        return result.stdout

    def containers(self, service: str) -> list[str]:
        return self.compose("ps", "-q", service).split()

    def inspect(self, container: str, template: str) -> str:
        return subprocess.run(
            ["podman", "inspect", "--format", template, container],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()

    def health(self, container: str) -> str:
        return self.inspect(container, "{{.State.Health.Status}}")

    def all_healthy(self, services: tuple[str, ...]) -> bool:
        found = {s: self.containers(s) for s in services}
        return all(found.values()) and all(
            self.health(c) == "healthy" for ids in found.values() for c in ids
        )

    def exec(self, container: str, *command: str) -> str:
        return subprocess.run(
            ["podman", "exec", container, *command],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout

    def metric(self, container: str, name: str) -> float:
        """A worker's figure, read from its /metrics inside the container (not published)."""
        page = self.exec(
            container,
            "python",
            "-c",
            "import urllib.request; print(urllib.request.urlopen("
            "'http://127.0.0.1:9100/metrics', timeout=5).read().decode())",
        )
        pattern = rf"^{re.escape(name)}(?:\{{[^}}]*\}})? (\S+)$"
        return sum(float(value) for value in re.findall(pattern, page, re.M))

    def queues(self) -> dict[str, dict[str, int]]:
        """Every queue's ready messages and consumers, as rabbitmqctl lists them."""
        (rabbitmq,) = self.containers("rabbitmq")
        text = self.exec(
            rabbitmq, "rabbitmqctl", "-q", "list_queues", "name", "messages", "consumers"
        )
        table: dict[str, dict[str, int]] = {}
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1].isdigit():
                table[parts[0]] = {"messages": int(parts[1]), "consumers": int(parts[2])}
        return table

    def stored_sightings(self) -> int:
        (mongo,) = self.containers("mongo")
        return int(
            self.exec(
                mongo,
                "/opt/nx/bin/python",
                "-c",
                "from pymongo import MongoClient; "
                "print(MongoClient('mongodb://127.0.0.1:27017').attendance.sightings"
                ".count_documents({}))",
            )
        )

    def logs(self) -> str:
        return self.compose("logs", "--no-color", "--tail", "40", timeout=120, check=False)

    def play_clip(self) -> None:
        """Start the capture service (it plays the clip once and exits) and wait for the end."""
        self.compose("up", "-d", "--no-deps", "capture")
        (capture,) = self.containers("capture")
        wait_until(
            lambda: self.inspect(capture, "{{.State.Status}}") == "exited",
            300,
            "end of the clip",
        )
        code = self.inspect(capture, "{{.State.ExitCode}}")
        assert code == "0", self.compose("logs", "--no-color", "capture", check=False)


class HealthChecks(threading.Thread):
    """Runs each container's health check at its own interval, as the engine would.

    podman schedules health checks with systemd timers; on a machine without systemd (these
    sandboxes) they never run by themselves, and `depends_on: service_healthy` would wait
    forever. Docker, and podman under systemd, need none of this.
    """

    def __init__(self, project: str) -> None:
        super().__init__(daemon=True)
        self.project = project
        self.stopped = threading.Event()

    @staticmethod
    def podman(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["podman", *args], capture_output=True, text=True, check=False, timeout=60
        )

    def run(self) -> None:
        label = f"label=com.docker.compose.project={self.project}"
        due: dict[str, float] = {}
        intervals: dict[str, float] = {}
        while not self.stopped.wait(1.0):
            for container in self.podman("ps", "-q", "--filter", label).stdout.split():
                if container not in intervals:
                    nanoseconds = self.podman(
                        "inspect", "--format", "{{.Config.Healthcheck.Interval}}", container
                    ).stdout.strip()
                    seconds = int(nanoseconds) / 1e9 if nanoseconds.isdigit() else 0.0
                    intervals[container] = seconds or 30.0
                if due.get(container, 0.0) <= time.monotonic():
                    self.podman("healthcheck", "run", container)
                    due[container] = time.monotonic() + intervals[container]

    def stop(self) -> None:
        self.stopped.set()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    env_file = tmp_path_factory.mktemp("stack") / "empty.env"
    env_file.write_text("")
    port = free_port()
    env = {
        "WEB_SECRET_KEY": secrets.token_hex(32),
        "WEB_ADMIN_PASSWORD": secrets.token_urlsafe(18),
        "WEB_PUBLISH": f"127.0.0.1:{port}",
        "CAPTURE_SOURCE": f"/videos/{CLIP.name}",
        "CAMERA_ID": "stage",
        "CAPTURE_FPS": "6",
        "VIDEOS_DIR": str(CLIP.parent),
        "MODELS_DIR": str(
            Path(os.environ.get("ATTENDANCE_MODELS_DIR", SHARED / "models")).resolve()
        ),
        # Two cores for the whole stack: one torch thread per recognizer.
        "RECOGNIZER_THREADS": "1",
    }
    stack = Stack(f"attendance-stack-test-{secrets.token_hex(3)}", env, env_file)
    stack.url = f"http://127.0.0.1:{port}"
    checks = None if Path("/run/systemd/system").exists() else HealthChecks(stack.project)
    if checks:
        checks.start()
    try:
        yield stack
    finally:
        if checks:
            checks.stop()
        stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "20", check=False)


def test_the_compose_stack_records_lin_manuel_miranda_scales_and_loses_nothing(stack):
    started = time.monotonic()
    figures: dict[str, float] = {}

    # Everything but the camera comes up and turns healthy, in the order of depends_on.
    stack.compose("up", "-d", "rabbitmq", "redis", "mongo", *WORKERS)
    try:
        wait_until(
            lambda: stack.all_healthy(("rabbitmq", "redis", "mongo", *WORKERS)),
            600,
            "healthy stack",
            interval=5,
        )
    except AssertionError:
        raise AssertionError(stack.logs()) from None
    figures["healthy_s"] = round(time.monotonic() - started, 1)

    # An admin token from the web container's CLI, as the README tells an operator.
    (web,) = stack.containers("web")
    token = stack.exec(web, "attendance", "tokens", "create", "--role", "admin", "stack-test")
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token.strip()}"

    with LIN_PHOTO.open("rb") as photo:
        answer = api.post(
            f"{stack.url}/api/v1/employees",
            data={"name": "Lin-Manuel Miranda"},
            files={"photo": (LIN_PHOTO.name, photo, "image/png")},
            timeout=120,
        )
    assert answer.status_code == 201, answer.text
    lin = answer.json()["employee_id"]

    def arrival():
        days = api.get(f"{stack.url}/api/v1/employees/{lin}/attendance", timeout=30).json()
        return next((d for d in days["days"] if d.get("arrival")), None)

    stack.play_clip()
    try:
        day = wait_until(arrival, 180, "attendance record for Lin-Manuel Miranda")
    except AssertionError as missing:
        raise AssertionError(f"{missing}\n{stack.logs()}") from None
    assert day["arrival_camera_id"] == "stage", day
    figures["first_record_s"] = round(time.monotonic() - started, 1)

    # A second recognizer joins the faces queue, and both take work from it.
    stack.compose("up", "-d", "--no-deps", "--no-recreate", "--scale", "recognizer=2", "recognizer")
    wait_until(lambda: len(stack.containers("recognizer")) == 2, 120, "second recognizer")
    wait_until(lambda: stack.all_healthy(("recognizer",)), 300, "healthy recognizers", 5)
    faces_queue = FACES.queue_name(BUS_PREFIX)
    wait_until(
        lambda: stack.queues().get(faces_queue, {}).get("consumers", 0) >= 2,
        120,
        f"two consumers on {faces_queue}",
    )
    recognizers = stack.containers("recognizer")
    before = {c: stack.metric(c, "attendance_faces_embedded_total") for c in recognizers}

    # The recorder is away while the clip plays again: the sightings wait in their queue.
    (recorder,) = stack.containers("recorder")
    stack.compose("stop", "recorder")
    # A play yields only a few faces messages (the best faces of each track), and the queue
    # hands them out in turn: up to three plays for both copies to have had work.
    for _ in range(3):
        stack.play_clip()
        after = {c: stack.metric(c, "attendance_faces_embedded_total") for c in recognizers}
        if all(after[c] > before[c] for c in recognizers):
            break
    assert all(after[c] > before[c] for c in recognizers), (before, after)

    sightings_queue = SIGHTINGS.queue_name(BUS_PREFIX)

    def published() -> float:
        return sum(stack.metric(c, "attendance_sightings_published_total") for c in recognizers)

    waiting = stack.queues()[sightings_queue]["messages"]
    assert waiting > 0, stack.queues()
    stored_before_restart = stack.stored_sightings()

    stack.compose("start", "recorder")
    wait_until(lambda: stack.queues()[sightings_queue]["messages"] == 0, 300, "drained queue")
    # Every sighting any recognizer published is in the database, those that waited included.
    stored = wait_until(
        lambda: (n := stack.stored_sightings()) == published() and n, 120, "all sightings stored"
    )
    assert stored >= stored_before_restart + waiting
    assert stack.containers("recorder") == [recorder]
    day = wait_until(arrival, 60, "Lin-Manuel Miranda's record after the restart")
    assert day["arrival_camera_id"] == "stage"

    figures.update(
        total_s=round(time.monotonic() - started, 1),
        sightings_stored=stored,
        sightings_waited_for_recorder=waiting,
        faces_embedded_per_recognizer=[after[c] for c in recognizers],
    )
    print(json.dumps({"stack_test": figures}))
