"""What every service entrypoint does: logging, connections with retries, clean shutdown."""

from __future__ import annotations

import json
import logging
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from services.common.redact import redact_url

if TYPE_CHECKING:
    # Imported where used: commands configure logging and report a mistake in a flag before
    # the bus's modules (pymongo, redis, prometheus) load.
    from services.common.bus.base import Communicator
    from services.common.bus.topology import Channel
    from services.common.settings import CommonSettings

logger = logging.getLogger(__name__)


class RedactingFormatter(logging.Formatter):
    """Hides the credentials of every URL in a line, whoever logged it: our code redacts what
    it logs, and this catches what a library or an exception message lets through."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_url(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_url(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = redact_url(self.formatException(record.exc_info))
        return json.dumps(entry)


def configure_logging(level: str = "INFO", as_json: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if as_json
        else RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("pika", "PIL", "matplotlib", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def connect_bus(settings: CommonSettings) -> Communicator:
    from services.common.bus.rabbitmq import RabbitMQCommunicator

    return RabbitMQCommunicator(
        settings.rabbitmq_url,
        settings.attendance_bus_prefix,
        max_attempts=settings.attendance_max_attempts,
    )


def serve_worker_health(
    settings: CommonSettings,
    bus: Communicator,
    channel: Channel[Any],
    *extra_checks: Callable[[], bool],
) -> None:
    """Health and metrics of a worker consuming ``channel``: ready while its queue can be
    seen (and any extra dependency answers); each scrape refreshes the depth of its queue.

    That queue is the channel's shared work queue, or, on a partitioned channel (frames), the
    worker's own: then ready only while it consumes (a detector waiting for the broker's
    consistent-hash plugin is not), and the depth is its own backlog, not the camera's."""
    if not settings.health_port:
        return
    from services.common.health import serve_health
    from services.common.metrics import QUEUE_DEPTH

    def ready() -> bool:
        return bus.queue_depth(channel) is not None and all(check() for check in extra_checks)

    def refresh_depth() -> None:
        depth = bus.queue_depth(channel)
        if depth is not None:
            QUEUE_DEPTH.labels(channel.work_queue).set(depth)

    serve_health(settings.health_port, ready, before_scrape=refresh_depth)


def serve_publisher_health(
    settings: CommonSettings, bus: Communicator, *extra_checks: Callable[[], bool]
) -> None:
    """Health and metrics of a process that only publishes (capture): ready while the broker
    (and any extra dependency) answers. It has no queue of its own to report."""
    if not settings.health_port:
        return
    from services.common.health import serve_health

    def ready() -> bool:
        return bus.broker_answers() and all(check() for check in extra_checks)

    serve_health(settings.health_port, ready)


def stop_on_signals(stop: Callable[[], None]) -> None:
    """SIGTERM (docker stop) and SIGINT (Ctrl-C) finish the current message, then exit."""

    def handler(signum: int, _frame: object) -> None:
        logger.info("received %s; stopping", signal.Signals(signum).name)
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def run_worker(
    settings: CommonSettings,
    bus: Communicator,
    channel: Channel[Any],
    *extra_checks: Callable[[], bool],
    on_stop: Callable[[], None] | None = None,
) -> int:
    """The life of a worker whose handler is subscribed: health on HEALTH_PORT, SIGTERM and
    SIGINT end it after the current message, ``on_stop`` runs (with the bus still open, so a
    last word can be published), then the bus closes."""
    try:
        serve_worker_health(settings, bus, channel, *extra_checks)
        stop_on_signals(bus.stop)
        bus.run()
    finally:
        try:
            if on_stop is not None:
                on_stop()
        finally:
            bus.close()
    return 0
