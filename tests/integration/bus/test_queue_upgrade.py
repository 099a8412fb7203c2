"""A work queue an earlier version declared with other arguments (the faces queue before it had
a bound), on the real broker: replaced when empty, left alone with one clear line when not."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pika
import pika.exceptions
import pytest

from services.common.bus.base import QueueNeedsDraining
from services.common.bus.rabbitmq import RabbitMQCommunicator
from services.common.bus.rabbitmq_topology import queue_arguments
from services.common.bus.topology import FACES
from tests.fixtures.bus import Inbox, face, running

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]

TOPOLOGY_LOGGER = "services.common.bus.rabbitmq_topology"


def told_by_the_bus(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the transport logged (pika also logs the broker's refusals, in its own words)."""
    return [r.getMessage() for r in caplog.records if r.name == TOPOLOGY_LOGGER]


@pytest.fixture
def broker(rabbitmq_url: str) -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    yield connection.channel()
    if connection.is_open:
        connection.close()


def declare_as_the_earlier_version(channel, prefix: str, waiting: int = 0) -> str:
    """The faces exchange and queue as the version before the bound declared them, with
    ``waiting`` faces in the queue."""
    queue, exchange = FACES.queue_name(prefix), FACES.exchange_name(prefix)
    channel.exchange_declare(exchange, "topic", durable=True)
    channel.queue_declare(queue, durable=True)
    channel.queue_bind(queue, exchange, "#")
    for index in range(waiting):
        channel.basic_publish(exchange, "", face(f"old-{index}").to_bytes())
    return queue


def declared_with(rabbitmq_url: str, queue: str, arguments: dict | None) -> bool:
    """Whether RabbitMQ takes a declaration of ``queue`` with exactly these arguments."""
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    try:
        connection.channel().queue_declare(queue, durable=True, arguments=arguments)
        return True
    except pika.exceptions.ChannelClosedByBroker as exc:
        assert exc.reply_code == 406
        return False
    finally:
        if connection.is_open:
            connection.close()


def test_an_empty_faces_queue_of_the_earlier_version_is_declared_again_with_its_bound(
    broker, rabbitmq_url: str, bus_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    queue = declare_as_the_earlier_version(broker, bus_prefix)
    recognizer, detector, inbox = (
        RabbitMQCommunicator(rabbitmq_url, bus_prefix),
        RabbitMQCommunicator(rabbitmq_url, bus_prefix),
        Inbox(),
    )
    try:
        with caplog.at_level(logging.WARNING, logger=TOPOLOGY_LOGGER):
            recognizer.subscribe(FACES, inbox)
        with running(recognizer):
            detector.publish(FACES, face("new-1"))
            assert [message.face_id for message in inbox.wait_for(1)] == ["new-1"]
    finally:
        recognizer.close()
        detector.close()

    assert declared_with(rabbitmq_url, queue, queue_arguments(FACES))
    assert not declared_with(rabbitmq_url, queue, None)
    [told] = told_by_the_bus(caplog)
    assert queue in told and "deleted and declared again" in told and "x-max-length" in told


def test_a_faces_queue_of_the_earlier_version_still_holding_faces_is_left_to_drain(
    broker, rabbitmq_url: str, bus_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    queue = declare_as_the_earlier_version(broker, bus_prefix, waiting=3)
    recognizer = RabbitMQCommunicator(rabbitmq_url, bus_prefix)
    try:
        with (
            caplog.at_level(logging.ERROR, logger=TOPOLOGY_LOGGER),
            pytest.raises(QueueNeedsDraining) as refused,
        ):
            recognizer.subscribe(FACES, Inbox())
    finally:
        recognizer.close()

    line = str(refused.value)
    assert "\n" not in line and queue in line and "3 message(s)" in line and "drain" in line
    assert told_by_the_bus(caplog) == [line]
    # Nothing was lost: the queue and its faces are as the earlier version left them.
    assert broker.queue_declare(queue, passive=True).method.message_count == 3
    assert declared_with(rabbitmq_url, queue, None)


def test_a_publisher_meeting_the_undrained_queue_is_refused_and_nothing_is_published(
    broker, rabbitmq_url: str, bus_prefix: str
) -> None:
    queue = declare_as_the_earlier_version(broker, bus_prefix, waiting=1)
    detector = RabbitMQCommunicator(rabbitmq_url, bus_prefix)
    try:
        with pytest.raises(QueueNeedsDraining, match="drain"):
            detector.publish(FACES, face("new-1"))
    finally:
        detector.close()
    assert broker.queue_declare(queue, passive=True).method.message_count == 1
