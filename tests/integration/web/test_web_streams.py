"""Live streams (MJPEG and Server-Sent Events) end soon after their client goes away, even on a
camera that sends nothing, and only so many are open at once; over real HTTP servers."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from werkzeug.serving import make_server

from services.web import live
from services.web.frame_annotation import placeholder_jpeg
from services.web.server import web_server
from tests.helpers.processes import wait_until

pytestmark = pytest.mark.integration

HEARTBEAT_S = 0.2
STREAMS = 50
WAITRESS_THREADS = 8


@pytest.fixture(autouse=True)
def quick_heartbeat(monkeypatch):
    monkeypatch.setattr(live, "HEARTBEAT_S", HEARTBEAT_S)


@pytest.fixture
def settings(settings):
    return settings.model_copy(
        update={
            "web_host": "127.0.0.1",
            "web_port": 0,
            "web_threads": WAITRESS_THREADS,
            "web_max_streams": STREAMS + 10,
        }
    )


@pytest.fixture
def web(app):
    return app.extensions["attendance"]


@pytest.fixture
def token(admin) -> str:
    response = admin.post("/api/v1/tokens", json={"name": "wall screen", "role": "viewer"})
    assert response.status_code == 201, response.text
    return response.get_json()["token"]


@pytest.fixture
def serve(app, settings) -> Iterator[Callable[[str], int]]:
    """Start the app on a real server of the kind asked for; its port."""
    stops: list[Callable[[], None]] = []

    def start(kind: str) -> int:
        if kind == "waitress":  # the production server
            server = web_server(app, settings)
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            stops.append(server.stop)
        else:  # one thread per connection, as the development server of the report
            server = make_server("127.0.0.1", 0, app, threaded=True)
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            stops.append(server.shutdown)
        thread.start()
        return server.port

    yield start
    for stop in stops:
        stop()


class RawRequest:
    """A GET over a plain socket, read no further than the test asks, closed like a browser
    tab: without a word to the server."""

    def __init__(self, port: int, path: str, token: str) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.socket.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\n\r\n".encode()
        )
        self.received = b""

    def read_until(self, marker: bytes, count: int = 1) -> bytes:
        while self.received.count(marker) < count:
            chunk = self.socket.recv(65536)
            if not chunk:
                break
            self.received += chunk
        return self.received

    def head(self) -> list[str]:
        return self.read_until(b"\r\n\r\n").split(b"\r\n\r\n")[0].decode().split("\r\n")

    def status(self) -> int:
        return int(self.head()[0].split(" ")[1])

    def close(self) -> None:
        self.socket.close()


@pytest.mark.parametrize("kind", ["waitress", "werkzeug"])
def test_streams_on_a_silent_camera_end_soon_after_their_clients_leave(serve, web, token, kind):
    port = serve(kind)
    baseline = threading.active_count()
    probe = RawRequest(port, "/healthz", token)
    assert probe.status() == 200
    probe.close()
    paths = ["/live/silent.mjpg", "/live/events?camera=silent"] * (STREAMS // 2)
    clients = [RawRequest(port, path, token) for path in paths]
    # Waitress serves as many streams as it has threads and queues the others; the
    # development server gives each its own thread.
    serving = WAITRESS_THREADS if kind == "waitress" else STREAMS
    wait_until(lambda: web.live.open_streams == serving, 10, "the streams to open", 0.02)
    if kind == "werkzeug":
        # A thread per open stream (background threads of earlier tests may end meanwhile,
        # so the count is compared with some slack).
        assert threading.active_count() - baseline >= STREAMS - 10
    for client in clients:
        client.close()

    wait_until(
        lambda: web.live.open_streams == 0 and threading.active_count() <= baseline,
        20 * HEARTBEAT_S * STREAMS / WAITRESS_THREADS,
        "the streams to end",
        0.05,
    )
    # The server is free for everybody else at once.
    probe = RawRequest(port, "/healthz", token)
    probe.socket.settimeout(2)
    assert probe.status() == 200
    probe.close()


def test_a_camera_without_frames_streams_a_placeholder_every_heartbeat(serve, token):
    stream = RawRequest(serve("waitress"), "/live/silent.mjpg", token)
    assert stream.status() == 200
    received = stream.read_until(b"Content-Type: image/jpeg", count=2)
    stream.close()
    assert received.count(placeholder_jpeg()) >= 1


def test_streams_past_the_cap_are_refused_until_one_closes(serve, web, token, monkeypatch):
    monkeypatch.setattr(web.settings, "web_max_streams", 3)
    port = serve("waitress")
    streams = [RawRequest(port, path, token) for path in ("/live/door.mjpg",) * 2]
    streams.append(RawRequest(port, "/live/events", token))
    assert [stream.status() for stream in streams] == [200] * 3

    refused = RawRequest(port, "/live/door.mjpg", token)
    assert refused.status() == 503
    assert "Retry-After: 10" in refused.head()
    assert b"too_many_streams" in refused.read_until(b"too_many_streams")
    refused.close()
    assert web.live.open_streams == 3

    streams.pop().close()
    wait_until(lambda: web.live.open_streams == 2, 10, "the closed stream to end", 0.05)
    again = RawRequest(port, "/live/events", token)
    assert again.status() == 200
    for stream in [*streams, again]:
        stream.close()
