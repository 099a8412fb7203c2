from __future__ import annotations

import pika
import pytest

from services.common.bus.topology import FACES, FRAMES, SIGHTINGS
from tests.fixtures.rabbitmq import consumer_queues
from tests.helpers.processes import ServiceProcess, wait_until
from tests.helpers.redis_keys import delete_prefixed_keys


@pytest.fixture
def pipeline_env(
    rabbitmq_url, bus_prefix, redis_url, mongo_server_url, mongo_db_name, models_dir, cache_prefix
):
    """Environment for service processes: one vhost, prefix, Redis prefix and database."""
    return {
        "RABBITMQ_URL": rabbitmq_url,
        "ATTENDANCE_BUS_PREFIX": bus_prefix,
        "REDIS_URL": redis_url,
        "MONGO_URL": mongo_server_url,
        "MONGO_DB": mongo_db_name,
        "ATTENDANCE_MODELS_DIR": str(models_dir),
        "LOG_LEVEL": "INFO",
        "SITE_TIMEZONE": "UTC",
    }
    # The services name their cache keys with the bus prefix: remove them afterwards.
    delete_prefixed_keys(redis_url, bus_prefix)


@pytest.fixture
def services(pipeline_env, tmp_path):
    """Start service processes by name; all are stopped at the end of the test."""
    started: list[ServiceProcess] = []

    def start(name: str, *args: str, **extra_env: str) -> ServiceProcess:
        process = ServiceProcess(name, {**pipeline_env, **extra_env}, tmp_path, *args)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def consumers_on(rabbitmq_url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    try:
        channel = connection.channel()
        try:
            return channel.queue_declare(queue, passive=True).method.consumer_count
        except pika.exceptions.ChannelClosedByBroker:
            return 0
    finally:
        if connection.is_open:
            connection.close()


def consumers_of(rabbitmq_url: str, channel, prefix: str) -> int:
    """Consumers of a channel: of its shared work queue, or, for a partitioned channel (frames:
    each detector has a queue of its own), of all its consumers' own queues."""
    if channel.partitioned:
        queues = consumer_queues(rabbitmq_url, channel, prefix)
        return sum(consumers for _, consumers in queues.values())
    return consumers_on(rabbitmq_url, channel.queue_name(prefix))


@pytest.fixture
def frames_waiting(rabbitmq_url, bus_prefix):
    """Frames waiting in the detectors' own queues (a camera cannot see into them: only the
    detector that owns a queue, and rabbitmqctl)."""

    def waiting() -> int:
        queues = consumer_queues(rabbitmq_url, FRAMES, bus_prefix)
        return sum(ready for ready, _ in queues.values())

    return waiting


@pytest.fixture
def wait_for_consumers(rabbitmq_url, bus_prefix):
    def wait(*channels, timeout: float = 120.0, at_least: int = 1) -> None:
        for channel in channels or (FRAMES, FACES, SIGHTINGS):
            wait_until(
                lambda c=channel: consumers_of(rabbitmq_url, c, bus_prefix) >= at_least,
                timeout,
                f"{at_least} consumer(s) of {channel.name}",
                interval=0.5,
            )

    return wait
