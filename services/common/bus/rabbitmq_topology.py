"""Exchanges, queues and message properties of the RabbitMQ transport.

Every declaration here is idempotent: each service declares what it uses when it first uses it,
so services can start in any order and a broker that lost its state is rebuilt on reconnect.
"""

from __future__ import annotations

from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel

from services.common.bus.topology import (
    ATTENDANCE_EVENTS,
    Channel,
    dead_letter_exchange,
    dead_letter_queue,
)

# Headers the transport writes; the reason and queue let an operator see why a message was
# given up on without digging through logs.
ATTEMPTS_HEADER = "x-attempts"
REASON_HEADER = "x-dead-letter-reason"
ORIGINAL_QUEUE_HEADER = "x-original-queue"
ORIGINAL_EXCHANGE_HEADER = "x-original-exchange"

CONTENT_TYPE = "application/json"
PERSISTENT = 2
TRANSIENT = 1

# Channels whose messages are only for broadcast subscribers (live views): nobody consumes a
# shared work queue, so none is declared and messages with no listener are simply dropped.
BROADCAST_ONLY = frozenset({ATTENDANCE_EVENTS.name})


def queue_arguments(channel: Channel) -> dict[str, Any] | None:
    """Arguments bounding a channel's queues: when full, a lossy channel's oldest message goes;
    a bounded durable one refuses the new message (the publisher is told, by a negative
    confirm)."""
    arguments: dict[str, Any] = {}
    if channel.max_length is not None:
        arguments["x-max-length"] = channel.max_length
        arguments["x-overflow"] = "reject-publish" if channel.overflow == "reject" else "drop-head"
    if channel.lossy and channel.ttl_ms is not None:
        arguments["x-message-ttl"] = channel.ttl_ms
    return arguments or None


def has_work_queue(channel: Channel) -> bool:
    return channel.name not in BROADCAST_ONLY


def declare_exchange(pika_channel: BlockingChannel, channel: Channel, prefix: str) -> str:
    name = channel.exchange_name(prefix)
    # Durable even for lossy channels: the exchange is shared by every service, and durability
    # of the messages themselves is decided per message (delivery mode).
    pika_channel.exchange_declare(name, exchange_type="topic", durable=True)
    return name


def declare_work_queue(pika_channel: BlockingChannel, channel: Channel, prefix: str) -> str:
    """Declare the channel's exchange and the shared work queue bound to all of it."""
    exchange = declare_exchange(pika_channel, channel, prefix)
    queue = channel.queue_name(prefix)
    # Lossy work queues are durable too (their messages are not): transient shared queues are
    # deprecated by RabbitMQ, and the TTL keeps stale frames from piling up across a restart.
    pika_channel.queue_declare(queue, durable=True, arguments=queue_arguments(channel))
    pika_channel.queue_bind(queue, exchange, routing_key="#")
    return queue


def declare_broadcast_queue(pika_channel: BlockingChannel, channel: Channel, prefix: str) -> str:
    """A private, server-named queue that sees every message of the channel while connected."""
    exchange = declare_exchange(pika_channel, channel, prefix)
    result = pika_channel.queue_declare(
        "", exclusive=True, auto_delete=True, arguments=queue_arguments(channel)
    )
    queue = result.method.queue
    pika_channel.queue_bind(queue, exchange, routing_key="#")
    return queue


def declare_dead_letters(pika_channel: BlockingChannel, prefix: str) -> str:
    exchange = dead_letter_exchange(prefix)
    queue = dead_letter_queue(prefix)
    pika_channel.exchange_declare(exchange, exchange_type="fanout", durable=True)
    pika_channel.queue_declare(queue, durable=True)
    pika_channel.queue_bind(queue, exchange)
    return exchange


def declare_for_publishing(pika_channel: BlockingChannel, channel: Channel, prefix: str) -> None:
    """What a publisher needs so that no message of a durable channel is lost before a consumer
    has ever started: the exchange and, unless broadcast-only, the work queue."""
    if has_work_queue(channel):
        declare_work_queue(pika_channel, channel, prefix)
    else:
        declare_exchange(pika_channel, channel, prefix)


def message_properties(
    channel: Channel,
    *,
    headers: dict[str, Any] | None = None,
    reply_to: str | None = None,
    correlation_id: str | None = None,
    persistent: bool | None = None,
    expiration_ms: int | None = None,
) -> pika.BasicProperties:
    """Properties for a message of ``channel``: persistent unless the channel is lossy; the
    broker drops it unconsumed after ``expiration_ms``, if given."""
    if persistent is None:
        persistent = not channel.lossy
    return pika.BasicProperties(
        content_type=CONTENT_TYPE,
        delivery_mode=PERSISTENT if persistent else TRANSIENT,
        headers=headers or None,
        reply_to=reply_to,
        correlation_id=correlation_id,
        type=channel.message_type.kind,
        expiration=str(expiration_ms) if expiration_ms is not None else None,
    )


def attempts_of(properties: pika.BasicProperties) -> int:
    """How many times a delivery was already tried (0 for a fresh message)."""
    value = (properties.headers or {}).get(ATTEMPTS_HEADER, 0)
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def retry_properties(
    channel: Channel, properties: pika.BasicProperties, attempts: int
) -> pika.BasicProperties:
    """Properties of a message sent back to its queue after its ``attempts``-th failure.

    Classic queues do not count redeliveries, so the count travels in a header.
    """
    headers = dict(properties.headers or {})
    headers[ATTEMPTS_HEADER] = attempts
    return message_properties(
        channel,
        headers=headers,
        reply_to=properties.reply_to,
        correlation_id=properties.correlation_id,
    )


def dead_letter_properties(
    channel: Channel,
    properties: pika.BasicProperties,
    *,
    prefix: str,
    queue: str,
    reason: str,
    attempts: int,
) -> pika.BasicProperties:
    """Properties of a message given up on: always persistent, with why and where from."""
    headers = dict(properties.headers or {})
    headers.update(
        {
            ATTEMPTS_HEADER: attempts,
            REASON_HEADER: reason,
            ORIGINAL_QUEUE_HEADER: queue,
            ORIGINAL_EXCHANGE_HEADER: channel.exchange_name(prefix),
        }
    )
    return message_properties(
        channel,
        headers=headers,
        reply_to=properties.reply_to,
        correlation_id=properties.correlation_id,
        persistent=True,
    )


def reply_properties(reply_kind: str, correlation_id: str | None) -> pika.BasicProperties:
    return pika.BasicProperties(
        content_type=CONTENT_TYPE, correlation_id=correlation_id, type=reply_kind
    )
