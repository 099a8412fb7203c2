"""Exchanges, queues and message properties of the RabbitMQ transport.

Every declaration here is idempotent: each service declares what it uses when it first uses it,
so services can start in any order and a broker that lost its state is rebuilt on reconnect.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection

from services.common.bus.base import QueueNeedsDraining, RoutingPluginMissing
from services.common.bus.topology import (
    ATTENDANCE_EVENTS,
    Channel,
    dead_letter_exchange,
    dead_letter_queue,
)

logger = logging.getLogger(__name__)

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

# The exchange type of RabbitMQ's consistent-hash plugin (shipped with RabbitMQ, off by default).
CONSISTENT_HASH = "x-consistent-hash"
PLUGIN = "rabbitmq_consistent_hash_exchange"
# Points each consumer queue takes on the hash ring (the binding key is the weight). Equal for
# every consumer; several points each split the ring more evenly than one.
CONSUMER_WEIGHT = "20"

PRECONDITION_FAILED = 406
COMMAND_INVALID = 503


class _PluginMissingSaidOnce(logging.Filter):
    """Drops pika's own error line about the missing consistent-hash exchange type: the
    consumer logs one line of its own that says what to do, and pika would repeat its line at
    every look for the plugin."""

    def filter(self, record: logging.LogRecord) -> bool:
        said = record.getMessage()
        return not ("unknown exchange type" in said and CONSISTENT_HASH in said)


logging.getLogger("pika.adapters.blocking_connection").addFilter(_PluginMissingSaidOnce())


def queue_arguments(channel: Channel[Any]) -> dict[str, Any] | None:
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


def has_work_queue(channel: Channel[Any]) -> bool:
    """Whether the channel has one queue shared by its consumers (not so for broadcast-only
    and partitioned channels)."""
    return channel.name not in BROADCAST_ONLY and not channel.partitioned


def declare_exchange(pika_channel: BlockingChannel, channel: Channel[Any], prefix: str) -> str:
    name = channel.exchange_name(prefix)
    # Durable even for lossy channels: the exchange is shared by every service, and durability
    # of the messages themselves is decided per message (delivery mode).
    pika_channel.exchange_declare(name, exchange_type="topic", durable=True)
    return name


def declare_work_queue(pika_channel: BlockingChannel, channel: Channel[Any], prefix: str) -> str:
    """Declare the channel's exchange and the shared work queue bound to all of it."""
    exchange = declare_exchange(pika_channel, channel, prefix)
    queue = channel.queue_name(prefix)
    arguments = queue_arguments(channel)
    # On a channel of its own: a refused declaration closes the channel it was made on.
    replace_if_declared_otherwise(pika_channel.connection, queue, arguments)
    # Lossy work queues are durable too (their messages are not): transient shared queues are
    # deprecated by RabbitMQ, and the TTL keeps stale frames from piling up across a restart.
    pika_channel.queue_declare(queue, durable=True, arguments=arguments)
    pika_channel.queue_bind(queue, exchange, routing_key="#")
    return str(queue)


def replace_if_declared_otherwise(
    connection: BlockingConnection, queue: str, arguments: dict[str, Any] | None
) -> None:
    """Make sure the durable ``queue`` can be declared with ``arguments``.

    An earlier version may have declared it otherwise (the faces queue had no length bound),
    and RabbitMQ refuses to declare a queue again with other arguments. An empty one is deleted
    and declared anew (nothing is lost); one still holding messages is left alone, and
    :class:`QueueNeedsDraining` says to let the earlier version's consumers empty it first.
    """
    probe = connection.channel()
    try:
        probe.queue_declare(queue, durable=True, arguments=arguments)
        return
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code != PRECONDITION_FAILED:
            raise
        refusal = exc.reply_text
    finally:
        _close_channel(probe)
    probe = connection.channel()
    try:
        waiting = probe.queue_declare(queue, passive=True).method.message_count
        if waiting:
            raise _needs_draining(queue, waiting, arguments, refusal)
        try:
            # if_empty: a message that arrived since the count above is not deleted with it.
            probe.queue_delete(queue, if_empty=True)
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code != PRECONDITION_FAILED:
                raise
            raise _needs_draining(queue, None, arguments, refusal) from exc
        probe.queue_declare(queue, durable=True, arguments=arguments)
        logger.warning(
            "queue %s had other arguments than this version declares (%s); it was empty, so "
            "it was deleted and declared again with %s",
            queue,
            refusal,
            arguments or "none",
        )
    finally:
        _close_channel(probe)


def _needs_draining(
    queue: str, waiting: int | None, arguments: dict[str, Any] | None, refusal: str
) -> QueueNeedsDraining:
    held = f"{waiting} message(s)" if waiting is not None else "messages"
    error = QueueNeedsDraining(
        f"queue {queue} was declared by an earlier version with other arguments ({refusal}) "
        f"and still holds {held}: let the earlier version's consumers drain it, then start "
        f"this version again (it then declares the queue with {arguments or 'no arguments'})"
    )
    # Logged here, where it is found: the process using the queue stops on it.
    logger.error("%s", error)
    return error


def _close_channel(pika_channel: BlockingChannel) -> None:
    if pika_channel.is_open:
        pika_channel.close()


def declare_partition_exchange(
    pika_channel: BlockingChannel, channel: Channel[Any], prefix: str
) -> str:
    """The consistent-hash exchange of a partitioned channel, fed by its ordinary exchange.

    Publishers need only the ordinary exchange (and so never the plugin): the consumers declare
    this one. Raises :class:`RoutingPluginMissing` (the connection is closed by then) when the
    broker does not know the exchange type.
    """
    source = declare_exchange(pika_channel, channel, prefix)
    name = channel.partition_exchange_name(prefix)
    try:
        pika_channel.exchange_declare(name, exchange_type=CONSISTENT_HASH, durable=True)
    except pika.exceptions.ConnectionClosedByBroker as exc:
        if exc.reply_code == COMMAND_INVALID and CONSISTENT_HASH in str(exc.reply_text):
            raise RoutingPluginMissing(
                f"RabbitMQ has no {CONSISTENT_HASH} exchange type: enable the plugin that "
                f"sends all {channel.name} of one {channel.partition_key} to one consumer "
                f"with `rabbitmq-plugins enable {PLUGIN}` on the broker (no restart needed; "
                f"docker-compose.yml enables it)"
            ) from exc
        raise
    # Exchange to exchange: the routing key (the partition value) is kept, and hashed there.
    pika_channel.exchange_bind(name, source, routing_key="#")
    return name


def declare_partitioned_queue(
    pika_channel: BlockingChannel, channel: Channel[Any], prefix: str
) -> str:
    """This consumer's own queue of a partitioned channel, with the channel's bounds.

    Exclusive and auto-deleted: when the consumer's connection goes (the process died, or the
    broker dropped it), so does the queue with its binding, and the partition values it held
    are hashed to the queues left. A fresh name each time, so that a reconnection never waits
    for the broker to let go of the old queue.
    """
    exchange = declare_partition_exchange(pika_channel, channel, prefix)
    queue = channel.consumer_queue_name(prefix, uuid.uuid4().hex[:12])
    pika_channel.queue_declare(
        queue, exclusive=True, auto_delete=True, arguments=queue_arguments(channel)
    )
    pika_channel.queue_bind(queue, exchange, routing_key=CONSUMER_WEIGHT)
    return queue


def retire_shared_queue(connection: BlockingConnection, channel: Channel[Any], prefix: str) -> None:
    """Delete the shared work queue an earlier version declared for a channel that is now
    partitioned, unless something still consumes it: it would keep collecting messages that
    nobody reads."""
    queue = channel.queue_name(prefix)
    probe = connection.channel()
    try:
        probe.queue_declare(queue, passive=True)
    except pika.exceptions.ChannelClosedByBroker:
        return  # not there: nothing to retire
    try:
        probe.queue_delete(queue, if_unused=True)
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code != PRECONDITION_FAILED:
            raise
        logger.info("left queue %s in place: an earlier version still consumes it", queue)
        return
    finally:
        _close_channel(probe)
    logger.info(
        "deleted queue %s of an earlier version: each consumer of %s now has a queue of its own",
        queue,
        channel.name,
    )


def declare_broadcast_queue(
    pika_channel: BlockingChannel, channel: Channel[Any], prefix: str
) -> str:
    """A private, server-named queue that sees every message of the channel while connected."""
    exchange = declare_exchange(pika_channel, channel, prefix)
    result = pika_channel.queue_declare(
        "", exclusive=True, auto_delete=True, arguments=queue_arguments(channel)
    )
    queue = result.method.queue
    pika_channel.queue_bind(queue, exchange, routing_key="#")
    return str(queue)


def declare_dead_letters(pika_channel: BlockingChannel, prefix: str) -> str:
    exchange = dead_letter_exchange(prefix)
    queue = dead_letter_queue(prefix)
    pika_channel.exchange_declare(exchange, exchange_type="fanout", durable=True)
    pika_channel.queue_declare(queue, durable=True)
    pika_channel.queue_bind(queue, exchange)
    return exchange


def declare_for_publishing(
    pika_channel: BlockingChannel, channel: Channel[Any], prefix: str
) -> None:
    """What a publisher needs so that no message of a durable channel is lost before a consumer
    has ever started: the exchange and, where there is one, the shared work queue (a
    partitioned channel's consumers declare their own queues, and what is published before
    any consumer exists is dropped: only lossy channels are partitioned)."""
    if has_work_queue(channel):
        declare_work_queue(pika_channel, channel, prefix)
    else:
        declare_exchange(pika_channel, channel, prefix)


def message_properties(
    channel: Channel[Any],
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
    channel: Channel[Any], properties: pika.BasicProperties, attempts: int
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
    channel: Channel[Any],
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
