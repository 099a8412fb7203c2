"""The production server (waitress) in front of the real app, over real HTTP on a free port."""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from services.common.bus.topology import ATTENDANCE_EVENTS
from services.common.contracts import AttendanceEvent, new_id
from services.web.server import WebServer, web_server
from tests.helpers.messages import MORNING
from tests.helpers.processes import ServiceProcess, wait_until
from tests.integration.web.conftest import ADMIN_PASSWORD, csrf_from

pytestmark = pytest.mark.integration


class Running:
    """A server serving in a thread of its own, and its address."""

    def __init__(self, server: WebServer) -> None:
        self.server = server
        self.base = f"http://127.0.0.1:{server.port}"
        self.thread = threading.Thread(target=server.serve_forever, name="test-web-server")
        self.thread.start()


@pytest.fixture
def serve() -> Iterator:
    started: list[Running] = []

    def start(server: WebServer) -> Running:
        running = Running(server)
        started.append(running)
        return running

    yield start
    for running in started:
        running.server.stop()
        running.thread.join(timeout=10)


@pytest.fixture
def dashboard(app, settings, serve) -> Running:
    """The real app, as ``attendance web`` serves it, on a free port of the loopback."""
    settings = settings.model_copy(update={"web_host": "127.0.0.1", "web_port": 0})
    return serve(web_server(app, settings))


def log_in(base: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/login", timeout=5)
    answer = session.post(
        f"{base}/login",
        data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": csrf_from(page.text)},
        timeout=5,
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.text
    return session


def open_event_stream(base: str, session: requests.Session) -> http.client.HTTPResponse:
    """A Server-Sent Events client: a plain HTTP/1.1 connection read line by line."""
    port = int(base.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    cookie = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
    connection.request(
        "GET", "/live/events", headers={"Accept": "text/event-stream", "Cookie": cookie}
    )
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type", "").startswith("text/event-stream")
    return response


def next_event(stream: http.client.HTTPResponse) -> dict[str, str]:
    """Read lines until a blank line ends an event that has data; its fields."""
    fields: dict[str, str] = {}
    while True:
        line = stream.readline().decode().rstrip("\n")
        if not line:
            if "data" in fields:
                return fields
            continue
        name, _, value = line.partition(": ")
        fields[name] = value


def attendance_event(camera: str) -> AttendanceEvent:
    return AttendanceEvent(
        sighting_id=new_id(),
        record_id="r1",
        employee_id="e1",
        employee_name="Ana",
        camera_id=camera,
        seen_at=MORNING,
        day="2026-11-24",
        event="arrival",
    )


def refuses_connections(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_the_dashboard_under_waitress_logs_in_streams_an_event_at_once_and_stops(
    dashboard, bus, mongo_db
):
    session = log_in(dashboard.base)
    health = session.get(f"{dashboard.base}/healthz", timeout=5)
    assert health.json() == {"status": "ok"}
    assert health.headers["Server"] == "attendance"  # not Werkzeug's development server
    me = session.get(f"{dashboard.base}/api/v1/me", timeout=5)
    assert me.status_code == 200 and "admin" in me.text

    stream = open_event_stream(dashboard.base, session)
    assert stream.readline() == b"retry: 3000\n"  # the stream's first write arrives unbuffered
    published = time.monotonic()
    bus.publish(ATTENDANCE_EVENTS, attendance_event("hall"))
    event = next_event(stream)
    assert time.monotonic() - published < 1.0, "the event waited in a buffer"
    assert event["event"] == "attendance"
    assert json.loads(event["data"])["camera_id"] == "hall"

    port = dashboard.server.port
    assert dashboard.server.stop(timeout=10)
    dashboard.thread.join(timeout=10)
    assert not dashboard.thread.is_alive()
    assert refuses_connections(port)
    # The open stream was cut off by the server at once (a socket timeout if left hanging).
    with pytest.raises(http.client.IncompleteRead):
        stream.read()
    assert mongo_db.users.count_documents({"_id": "admin"}) == 1


def echo_client_address(environ, start_response):
    """What the app would believe about the caller."""
    body = f"{environ['REMOTE_ADDR']} {environ['wsgi.url_scheme']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


FORWARDED = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}


def test_forwarded_headers_are_ignored_when_no_proxy_is_trusted(serve):
    running = serve(WebServer(echo_client_address, "127.0.0.1", 0, threads=4))
    answer = requests.get(running.base, headers=FORWARDED, timeout=5)
    assert answer.text == "127.0.0.1 http"


def test_forwarded_headers_are_believed_from_the_trusted_proxy_only(serve):
    trusted = serve(
        WebServer(echo_client_address, "127.0.0.1", 0, threads=4, trusted_proxy="127.0.0.1")
    )
    assert requests.get(trusted.base, headers=FORWARDED, timeout=5).text == "203.0.113.9 https"
    elsewhere = serve(
        WebServer(echo_client_address, "127.0.0.1", 0, threads=4, trusted_proxy="192.0.2.1")
    )
    assert requests.get(elsewhere.base, headers=FORWARDED, timeout=5).text == "127.0.0.1 http"


def test_a_body_far_above_the_upload_limit_is_refused_by_the_server(serve):
    running = serve(WebServer(echo_client_address, "127.0.0.1", 0, threads=4, max_body_bytes=1024))
    answer = requests.post(running.base, data=b"x" * 4096, timeout=5)
    assert answer.status_code == 413


def test_a_stream_learns_at_once_that_its_client_went_away(serve):
    waited: list[float] = []

    def stream_until_the_client_leaves(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        gone = environ["waitress.client_disconnected"]

        def parts():
            yield b"started\n"
            started = time.monotonic()
            while not gone() and time.monotonic() - started < 10:
                time.sleep(0.02)
            waited.append(time.monotonic() - started)

        return parts()

    running = serve(WebServer(stream_until_the_client_leaves, "127.0.0.1", 0, threads=4))
    with socket.create_connection(("127.0.0.1", running.server.port), timeout=5) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        received = b""
        while b"started" not in received:
            chunk = client.recv(4096)
            assert chunk, received
            received += chunk
        left = time.monotonic()
    wait_until(lambda: waited, 5, "the stream to notice", interval=0.02)
    assert time.monotonic() - left < 2 and waited[0] < 2


def test_a_server_stopped_before_serving_closes_its_port(serve):
    server = WebServer(echo_client_address, "127.0.0.1", 0, threads=4)
    port = server.port
    assert not refuses_connections(port)
    assert server.stop()
    assert refuses_connections(port)
    server.serve_forever()  # returns at once: it was stopped


@pytest.mark.timeout(120)
def test_attendance_web_serves_with_waitress_and_stops_on_sigterm_with_a_stream_open(
    tmp_path, rabbitmq_url, bus_prefix, redis_url, mongo_server_url, mongo_db_name
):
    from tests.conftest import free_port

    port = free_port()
    env = {
        "RABBITMQ_URL": rabbitmq_url,
        "ATTENDANCE_BUS_PREFIX": bus_prefix,
        "REDIS_URL": redis_url,
        "MONGO_URL": mongo_server_url,
        "MONGO_DB": mongo_db_name,
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": str(port),
        "WEB_SECRET_KEY": "a-test-secret-key-that-is-long-enough",
        "WEB_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "WEB_THREADS": "8",
        "WEB_MAX_STREAMS": "4",
    }
    web = ServiceProcess("web", env, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: web.process.poll() is not None or _healthy(base), 60, "/healthz")
        assert web.process.poll() is None, web.log()
        assert requests.get(f"{base}/healthz", timeout=5).headers["Server"] == "attendance"
        stream = open_event_stream(base, log_in(base))
        assert stream.readline() == b"retry: 3000\n"
        stopping = time.monotonic()
        web.process.terminate()
        assert web.wait(timeout=15) == 0
        assert time.monotonic() - stopping < 12
        with pytest.raises(http.client.IncompleteRead):
            stream.read()
    finally:
        web.stop()
    log = web.log_path.read_text(errors="replace")
    assert "received SIGTERM; stopping" in log
    assert re.search(rf"web dashboard on http://127\.0\.0\.1:{port} \(8 threads\)", log), log
    assert "development server" not in log


def _healthy(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False
