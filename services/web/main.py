"""Entry point of the web service: real MongoDB, Redis and RabbitMQ; served by waitress."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Sequence

from flask import Flask
from pymongo.database import Database

from services.common.bus.base import Communicator, M, R
from services.common.bus.topology import Channel
from services.common.cache import RedisCache
from services.common.preflight import check_account_password
from services.common.runtime import configure_logging, connect_bus
from services.common.settings import SettingsError
from services.common.storage.accounts import UserStore
from services.common.storage.employees import EmployeeRepository
from services.common.storage.mongo import connect
from services.web.app import create_app
from services.web.enrolment_client import BusEnrolmentClient
from services.web.server import serve_until_signalled
from services.web.settings import WebSettings

logger = logging.getLogger(__name__)


class SerializedBus(Communicator):
    """A communicator used from many request threads, one call at a time.

    A broker connection is not safe to share between threads; the web server runs each
    request in its own thread, so publishing and requests take a lock.
    """

    def __init__(self, inner: Communicator) -> None:
        self._inner = inner
        self._lock = threading.Lock()

    def publish(self, channel: Channel[M], message: M, *, routing_key: str = "") -> None:
        with self._lock:
            self._inner.publish(channel, message, routing_key=routing_key)

    def subscribe(self, channel, handler, *, batch_size: int = 1, broadcast: bool = False) -> None:
        self._inner.subscribe(channel, handler, batch_size=batch_size, broadcast=broadcast)

    def request(self, channel: Channel[M], message: M, reply_type: type[R], timeout: float) -> R:
        with self._lock:
            return self._inner.request(channel, message, reply_type, timeout)

    def run(self) -> None:
        self._inner.run()

    def stop(self) -> None:
        self._inner.stop()

    def close(self) -> None:
        self._inner.close()


def build_app(settings: WebSettings, db: Database) -> tuple[Flask, list[Communicator]]:
    """The dashboard on the real Redis and RabbitMQ; the buses are returned for closing."""
    cache = RedisCache(settings.redis_url, settings.attendance_bus_prefix)
    cache.wait_until_ready()
    # Three connections: frames published by kiosks, enrolment requests (which wait for the
    # recognizer) and the live consumer thread never block one another.
    frames_bus = SerializedBus(connect_bus(settings))
    enrol_bus = SerializedBus(connect_bus(settings))
    enroller = BusEnrolmentClient(enrol_bus, EmployeeRepository(db), settings.enrolment_timeout)
    app = create_app(
        settings,
        db=db,
        cache=cache,
        bus=frames_bus,
        enroller=enroller,
        live_bus_factory=lambda: connect_live_bus(settings),
    )
    # The live feed closes its own connection when it stops.
    return app, [frames_bus, enrol_bus]


def connect_live_bus(settings: WebSettings) -> Communicator:
    """The live feed's connection, tried once: while the broker is away the feed retries with
    its own back-off and reports itself not running, so /readyz says so at once."""
    from services.common.bus.rabbitmq import RabbitMQCommunicator

    return RabbitMQCommunicator(
        settings.rabbitmq_url,
        settings.attendance_bus_prefix,
        max_attempts=settings.attendance_max_attempts,
        connect_attempts=1,
    )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = WebSettings.from_env()
        # Checked before any server is contacted: a weak password stops the first start.
        check_account_password(settings.web_admin_password, "admin", "WEB_ADMIN_PASSWORD")
        check_account_password(settings.web_viewer_password, "viewer", "WEB_VIEWER_PASSWORD")
    except SettingsError as exc:
        sys.stderr.write(f"attendance web: {exc}\n")
        return 2
    configure_logging(settings.log_level, settings.log_json)
    db = connect(settings.mongo_url, settings.mongo_db)
    if UserStore(db).has_admin():
        logger.info(
            "an admin account exists; a forgotten password is reset with "
            "`attendance users set-password NAME` (with this MONGO_URL and MONGO_DB)"
        )
    elif not settings.web_admin_password:
        logger.error("no admin account exists yet: set WEB_ADMIN_PASSWORD for the first start")
        return 2
    app, buses = build_app(settings, db)
    try:
        serve_until_signalled(app, settings)
    finally:
        app.extensions["attendance"].live.stop()
        for bus in buses:
            bus.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
