"""The bench's own corner of a RabbitMQ broker: a prefix no service uses, removed after the run.

Every exchange and queue a bench run declares starts with its prefix, so a run never touches
a deployment's queues on the same broker (or another run's); the consumers' own frames queues
are exclusive and go with their connections, the rest is deleted here.
"""

from __future__ import annotations

import logging
import uuid

import pika
import pika.exceptions

from services.common.bus.topology import ALL_CHANNELS, dead_letter_exchange, dead_letter_queue

logger = logging.getLogger(__name__)

PREFIX_START = "bench-"


def fresh_prefix() -> str:
    return f"{PREFIX_START}{uuid.uuid4().hex[:10]}"


def declared_names(prefix: str) -> tuple[list[str], list[str]]:
    """(queues, exchanges) the services may declare under ``prefix`` (exclusive queues aside)."""
    queues = [channel.queue_name(prefix) for channel in ALL_CHANNELS]
    exchanges = [channel.exchange_name(prefix) for channel in ALL_CHANNELS]
    exchanges += [
        channel.partition_exchange_name(prefix) for channel in ALL_CHANNELS if channel.partitioned
    ]
    return [*queues, dead_letter_queue(prefix)], [*exchanges, dead_letter_exchange(prefix)]


def dead_letters(url: str, prefix: str) -> int | None:
    """Messages in the run's dead-letter queue (None if it cannot be read)."""
    try:
        connection = pika.BlockingConnection(pika.URLParameters(url))
    except pika.exceptions.AMQPError:
        return None
    try:
        declared = connection.channel().queue_declare(dead_letter_queue(prefix), passive=True)
        return declared.method.message_count
    except pika.exceptions.ChannelClosedByBroker:
        return 0  # never declared: nothing was dead-lettered
    finally:
        if connection.is_open:
            connection.close()


def remove(url: str, prefix: str) -> None:
    """Delete the run's queues and exchanges (deleting one that was never declared is no
    error on RabbitMQ); a failure is logged, not raised: the figures are already measured."""
    if not prefix.startswith(PREFIX_START):
        raise ValueError(f"{prefix!r} is not a bench prefix: refusing to delete its queues")
    queues, exchanges = declared_names(prefix)
    try:
        connection = pika.BlockingConnection(pika.URLParameters(url))
    except pika.exceptions.AMQPError as exc:
        logger.warning("could not remove the bench's queues (prefix %s): %r", prefix, exc)
        return
    try:
        channel = connection.channel()
        for queue in queues:
            channel.queue_delete(queue)
        for exchange in exchanges:
            channel.exchange_delete(exchange)
    except pika.exceptions.AMQPError as exc:
        logger.warning("could not remove all the bench's queues (prefix %s): %r", prefix, exc)
    finally:
        if connection.is_open:
            connection.close()
