"""The live feed reconnects after the broker was away, and /readyz says so meanwhile."""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlsplit, urlunsplit

import pytest

from services.common.bus.base import BusUnavailable, Communicator
from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
from services.common.bus.rabbitmq import RabbitMQCommunicator
from services.common.bus.topology import FRAMES
from services.common.contracts import FrameMessage, new_id
from services.web import live_feed
from services.web.live_feed import LiveFeed
from services.web.main import build_app
from services.web.settings import WebSettings
from tests.conftest import free_port
from tests.helpers.messages import MORNING
from tests.helpers.processes import wait_until
from tests.helpers.redis_keys import delete_prefixed_keys
from tests.integration.web.conftest import ADMIN_PASSWORD, LoggedIn, photo

pytestmark = pytest.mark.integration

FRAME = photo(size=32)


def frame(camera: str) -> FrameMessage:
    return FrameMessage(
        frame_id=new_id(), camera_id=camera, captured_at=MORNING, width=32, height=32, jpeg=FRAME
    )


@pytest.fixture(autouse=True)
def quick_reconnection(monkeypatch):
    monkeypatch.setattr(live_feed, "RECONNECT_FIRST_S", 0.05)
    monkeypatch.setattr(live_feed, "RECONNECT_MAX_S", 0.5)


class FlakyFactory:
    """Makes communicators on one in-memory broker; the first ``failures`` calls fail, as
    connecting to a broker that is away does."""

    def __init__(self, broker: InMemoryBroker, failures: int) -> None:
        self.broker = broker
        self.failures = failures
        self.made: list[InMemoryCommunicator] = []
        self.calls = 0

    def __call__(self) -> Communicator:
        self.calls += 1
        if self.calls <= self.failures:
            raise BusUnavailable("cannot reach the broker (test)")
        bus = InMemoryCommunicator(self.broker)
        self.made.append(bus)
        return bus


class FailingOnce(InMemoryCommunicator):
    """An in-memory communicator whose first run() dies, as a lost connection does."""

    runs = 0

    def run(self) -> None:
        self.runs += 1
        if self.runs == 1:
            raise BusUnavailable("lost the connection (test)")
        super().run()


def test_the_feed_keeps_trying_until_the_bus_can_be_reached():
    broker = InMemoryBroker()
    factory = FlakyFactory(broker, failures=4)
    feed = LiveFeed()
    feed.start(factory)
    try:
        assert not feed.running
        wait_until(lambda: feed.running, 10, "the live feed to connect", interval=0.02)
        assert factory.calls == 5
        InMemoryCommunicator(broker).publish(FRAMES, frame("door"))
        wait_until(lambda: feed.cameras() == ["door"], 5, "the frame", interval=0.02)
    finally:
        feed.stop()
    assert not feed.running


def test_a_reused_bus_is_run_again_without_subscribing_twice():
    broker = InMemoryBroker()
    bus = FailingOnce(broker)
    received: list[str] = []
    feed = LiveFeed()
    feed.on_frames = lambda batch: received.extend(m.camera_id for m in batch)  # type: ignore[method-assign]
    feed.start(live_feed.reusing(bus))
    try:
        wait_until(lambda: bus.runs >= 2 and feed.running, 10, "a second run", interval=0.02)
        InMemoryCommunicator(broker).publish(FRAMES, frame("door"))
        wait_until(lambda: received, 5, "the frame", interval=0.02)
        # One subscription per channel: a second one would deliver each frame twice.
        assert len(bus._subscriptions) == 3
    finally:
        feed.stop()
    assert received == ["door"]


class BrokerLink:
    """A TCP relay to the broker that the test cuts and restores, as a network outage would:
    while it is down, every relayed connection is closed and new ones are refused."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _close(sock)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the link went down
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    _close(source)
    _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the other side
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@pytest.fixture
def link(rabbitmq_url):
    parts = urlsplit(rabbitmq_url)
    relay = BrokerLink((parts.hostname or "127.0.0.1", parts.port or 5672))
    relay.up()
    yield relay
    relay.down()


def through(url: str, port: int) -> str:
    parts = urlsplit(url)
    credentials = parts.netloc.rsplit("@", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{credentials}@127.0.0.1:{port}"))


@pytest.fixture
def web(link, rabbitmq_url, bus_prefix, redis_url, mongo_db):
    settings = WebSettings.from_env(
        {},
        web_secret_key="a-test-secret-key-that-is-long-enough",
        web_admin_password=ADMIN_PASSWORD,
        rabbitmq_url=through(rabbitmq_url, link.port),
        redis_url=redis_url,
        attendance_bus_prefix=bus_prefix,
    )
    app, buses = build_app(settings, mongo_db)
    app.config.update(TESTING=True)
    yield app
    app.extensions["attendance"].live.stop()
    for bus in buses:
        bus.close()
    delete_prefixed_keys(redis_url, bus_prefix)


def test_the_live_feed_comes_back_after_the_broker_was_unreachable(
    web, link, rabbitmq_url, bus_prefix
):
    client = web.test_client()
    admin = LoggedIn(web.test_client(), "admin", ADMIN_PASSWORD)
    capture = RabbitMQCommunicator(rabbitmq_url, bus_prefix)  # straight to the broker

    def ready() -> int:
        return client.get("/readyz").status_code

    def sees(camera: str) -> bool:
        capture.publish(FRAMES, frame(camera))
        return camera in admin.get("/api/v1/cameras").get_json()["cameras"]

    try:
        wait_until(lambda: ready() == 200, 10, "/readyz before the outage", interval=0.05)
        wait_until(lambda: sees("door"), 10, "frames before the outage", interval=0.1)

        link.down()
        wait_until(lambda: ready() == 503, 10, "/readyz during the outage", interval=0.05)
        assert client.get("/readyz").get_json()["checks"]["live_feed"] is False
        # Long enough for several reconnection attempts to fail, each refused by the link.
        threading.Event().wait(2.0)
        assert ready() == 503

        link.up()
        wait_until(lambda: ready() == 200, 15, "/readyz after the outage", interval=0.05)
        wait_until(lambda: sees("hall"), 10, "frames after the outage", interval=0.1)
    finally:
        capture.close()
