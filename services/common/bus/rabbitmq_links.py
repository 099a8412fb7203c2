"""Connection-level pieces of the RabbitMQ transport: connecting with retries, publishing and
request links, and the per-subscription batching state of the consuming connection.

Each object here is used by one thread at a time (pika's BlockingConnection is not
thread-safe); :mod:`services.common.bus.rabbitmq` decides which thread that is.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import urlsplit

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.spec import Basic, BasicProperties

from services.common.bus.base import BusUnavailable, QueueFull, Subscription
from services.common.bus.rabbitmq_topology import (
    declare_for_publishing,
    has_work_queue,
    message_properties,
)
from services.common.bus.topology import Channel
from services.common.outages import OutageBackoff

logger = logging.getLogger(__name__)

DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"
REFUSED = (pika.exceptions.NackError, pika.exceptions.UnroutableError)


def is_transient(exc: pika.exceptions.AMQPError) -> bool:
    """Whether reconnecting can cure the error (a lost connection, a deleted queue), as opposed
    to a configuration mistake such as a queue declared elsewhere with other arguments."""
    if isinstance(exc, pika.exceptions.ChannelClosedByBroker):
        return exc.reply_code not in (403, 406)
    return isinstance(exc, pika.exceptions.AMQPConnectionError | pika.exceptions.AMQPChannelError)


class Connector:
    """Opens connections to one broker, retrying with exponential backoff."""

    def __init__(
        self,
        url: str,
        prefix: str,
        *,
        attempts: int,
        backoff_initial: float,
        backoff_max: float,
        heartbeat: int,
    ) -> None:
        self._url = url
        self._prefix = prefix
        self._attempts = max(1, attempts)
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._heartbeat = heartbeat
        self._query = urlsplit(url).query
        parameters = pika.URLParameters(url)  # fails early on a malformed URL
        self.where = f"{parameters.host}:{parameters.port} (vhost {parameters.virtual_host!r})"

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failure in a row."""
        return OutageBackoff(self._backoff_initial, self._backoff_max).delay_after(failures)

    @property
    def longest_delay(self) -> float:
        return self._backoff_max

    def _parameters(self, purpose: str) -> pika.URLParameters:
        parameters = pika.URLParameters(self._url)
        if "heartbeat" not in self._query:
            parameters.heartbeat = self._heartbeat
        if "blocked_connection_timeout" not in self._query:
            # A broker out of memory or disk blocks publishers; give up instead of hanging.
            parameters.blocked_connection_timeout = 60
        parameters.connection_attempts = 1  # retried here, with backoff and logging
        parameters.client_properties = {"connection_name": f"{self._prefix} {purpose}"}
        return parameters

    def connect(
        self, purpose: str, *, attempts: int | None = None, stop: threading.Event | None = None
    ) -> BlockingConnection | None:
        """Connect, or return None if ``stop`` is set while waiting between attempts."""
        attempts = attempts or self._attempts
        for attempt in range(1, attempts + 1):
            try:
                connection = BlockingConnection(self._parameters(purpose))
            except (
                pika.exceptions.ProbableAuthenticationError,
                pika.exceptions.AuthenticationError,
                pika.exceptions.ProbableAccessDeniedError,
            ) as exc:
                # Wrong credentials or vhost: retrying cannot help.
                raise BusUnavailable(
                    f"RabbitMQ at {self.where} refused the {purpose} connection: {exc!r}"
                ) from exc
            except pika.exceptions.AMQPConnectionError as exc:
                delay = self.delay(attempt)
                if attempt == attempts:
                    raise BusUnavailable(
                        f"cannot reach RabbitMQ at {self.where} for the {purpose} connection "
                        f"after {attempts} attempt(s): {exc!r}"
                    ) from exc
                logger.warning(
                    "cannot reach RabbitMQ at %s (%r); retrying in %.1fs (attempt %d of %d)",
                    self.where,
                    exc,
                    delay,
                    attempt,
                    attempts,
                )
                if stop is not None:
                    if stop.wait(delay):
                        return None
                else:
                    time.sleep(delay)
            else:
                if attempt > 1:
                    logger.info("connected to RabbitMQ at %s (%s)", self.where, purpose)
                return connection
        raise AssertionError("unreachable")


class Link:
    """A connection with a confirmed and a plain channel, used by one thread at a time."""

    def __init__(self, connection: BlockingConnection) -> None:
        self.connection = connection
        self.confirmed = connection.channel()
        self.confirmed.confirm_delivery()
        # Lossy messages need no confirms: waiting for one would only slow the camera down.
        self.plain = connection.channel()
        self._declared: set[str] = set()

    @classmethod
    def open(cls, connection: BlockingConnection) -> Self:
        """Wrap a fresh connection, closing it if its channels cannot be opened."""
        try:
            return cls(connection)
        except BaseException:
            close_quietly(connection)
            raise

    def prepare(self, channel: Channel[Any], prefix: str) -> None:
        # Serve heartbeats and notice a connection the broker closed while we were idle.
        self.connection.process_data_events(time_limit=0)
        if channel.name not in self._declared:
            declare_for_publishing(self.confirmed, channel, prefix)
            self._declared.add(channel.name)

    def forget(self, channel: Channel[Any]) -> None:
        """Declare the channel again next time (its queue may have been deleted)."""
        self._declared.discard(channel.name)

    def publish(
        self,
        channel: Channel[Any],
        prefix: str,
        body: bytes,
        routing_key: str,
        properties: BasicProperties,
        *,
        confirmed: bool,
    ) -> None:
        self.prepare(channel, prefix)
        target = self.confirmed if confirmed else self.plain
        # mandatory: a durable message that reaches no queue is an error, not a silent loss.
        target.basic_publish(
            channel.exchange_name(prefix),
            routing_key,
            body,
            properties,
            mandatory=confirmed and has_work_queue(channel),
        )

    def close(self) -> None:
        close_quietly(self.connection)


def refuses_when_full(channel: Channel[Any]) -> bool:
    return channel.max_length is not None and not channel.lossy and channel.overflow == "reject"


class Publisher:
    """The publishing connection: shared by every thread behind a lock, reconnected on failure."""

    def __init__(self, connector: Connector, prefix: str, attempts: int) -> None:
        self._connector = connector
        self._prefix = prefix
        self._attempts = max(1, attempts)
        self._lock = threading.Lock()
        self._link: Link | None = None

    def publish(self, channel: Channel[Any], body: bytes, routing_key: str) -> None:
        """Publish; on a durable channel, return once confirmed. Retried on a new connection
        when the old one died (a duplicate is possible then: delivery is at least once)."""
        properties = message_properties(channel)
        failure: Exception | None = None
        with self._lock:
            for attempt in range(1, self._attempts + 1):
                link = None
                try:
                    link = self._current()
                    link.publish(
                        channel,
                        self._prefix,
                        body,
                        routing_key,
                        properties,
                        confirmed=not channel.lossy,
                    )
                    return
                except REFUSED as exc:
                    if isinstance(exc, pika.exceptions.NackError) and refuses_when_full(channel):
                        # The queue is full: trying again at once would be refused again.
                        raise QueueFull(f"the {channel.name} queue is full") from exc
                    if link is not None:
                        link.forget(channel)  # maybe its queue was deleted: declare it again
                    failure = exc
                except pika.exceptions.AMQPError as exc:
                    self._drop()
                    if not is_transient(exc):
                        raise
                    failure = exc
                logger.warning(
                    "publishing on %s failed (%r); retrying (attempt %d of %d)",
                    channel.name,
                    failure,
                    attempt,
                    self._attempts,
                )
        raise BusUnavailable(
            f"could not publish on {channel.name} to RabbitMQ at {self._connector.where}: "
            f"{failure!r}"
        )

    def queue_depth(self, queue: str) -> int | None:
        """Messages ready in ``queue``; None if it does not exist or the broker is away."""
        with self._lock:
            try:
                connection = self._current(attempts=1).connection
                probe = connection.channel()
                try:
                    # A passive declare of a missing queue closes the channel: hence a new one.
                    result = probe.queue_declare(queue, passive=True)
                finally:
                    if probe.is_open:
                        probe.close()
                return int(result.method.message_count)
            except pika.exceptions.ChannelClosedByBroker:
                return None  # no such queue
            except (BusUnavailable, pika.exceptions.AMQPError) as exc:
                logger.debug("depth of queue %s unavailable: %r", queue, exc)
                self._drop()
                return None

    def answers(self) -> bool:
        """Whether the broker can be reached (connecting once if need be)."""
        with self._lock:
            try:
                self._current(attempts=1).connection.process_data_events(time_limit=0)
                return True
            except (BusUnavailable, pika.exceptions.AMQPError) as exc:
                logger.debug("RabbitMQ does not answer: %r", exc)
                self._drop()
                return False

    def serve_heartbeats(self) -> None:
        with self._lock:
            if self._link is None:
                return
            try:
                self._link.connection.process_data_events(time_limit=0)
            except pika.exceptions.AMQPError as exc:
                logger.info("publishing connection lost while idle (%r)", exc)
                self._drop()

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _current(self, attempts: int | None = None) -> Link:
        if self._link is None or not self._link.connection.is_open:
            connection = self._connector.connect("publisher", attempts=attempts)
            assert connection is not None  # no stop event: connect raises or connects
            self._link = Link.open(connection)
        return self._link

    def _drop(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None


class RequestLink(Link):
    """A link that also receives replies through RabbitMQ's direct reply-to."""

    def __init__(self, connection: BlockingConnection) -> None:
        super().__init__(connection)
        self.replies: dict[str, bytes] = {}
        self.sent = False  # whether the current request went out (its reply comes here only)
        # Direct reply-to needs the consumer on the channel the request is published on.
        self.confirmed.basic_consume(DIRECT_REPLY_TO, self._on_reply, auto_ack=True)

    def _on_reply(
        self, _ch: BlockingChannel, _method: Basic.Deliver, props: BasicProperties, body: bytes
    ) -> None:
        if props.correlation_id:
            self.replies[props.correlation_id] = body

    def call(self, channel: Channel[Any], prefix: str, body: bytes, timeout: float) -> bytes | None:
        """Publish a request and wait for its reply body; None if none came in time."""
        self.replies.clear()  # late replies to earlier, timed-out requests
        self.sent = False
        correlation_id = uuid.uuid4().hex
        # Nobody waits for the reply after the timeout: the broker drops a request still
        # queued by then instead of having it served for nobody.
        properties = message_properties(
            channel,
            reply_to=DIRECT_REPLY_TO,
            correlation_id=correlation_id,
            expiration_ms=max(1, math.ceil(timeout * 1000)),
        )
        self.publish(channel, prefix, body, "", properties, confirmed=True)
        self.sent = True
        deadline = time.monotonic() + timeout
        while correlation_id not in self.replies:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.connection.process_data_events(time_limit=min(remaining, 0.2))
        return self.replies.pop(correlation_id)


class RequestPool:
    """Request links for any thread: each request borrows one, so concurrent requests (web
    handler threads) never share a connection, and a few idle ones are kept for the next."""

    def __init__(self, connector: Connector, keep_idle: int = 4) -> None:
        self._connector = connector
        self._keep_idle = keep_idle
        self._lock = threading.Lock()
        self._idle: list[RequestLink] = []

    def borrow(self) -> RequestLink:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        connection = self._connector.connect("requests")
        assert connection is not None  # no stop event: connect raises or connects
        return RequestLink.open(connection)

    def give_back(self, link: RequestLink) -> None:
        with self._lock:
            if len(self._idle) < self._keep_idle:
                self._idle.append(link)
                return
        link.close()

    def serve_heartbeats(self) -> None:
        """Keep idle links alive (a BlockingConnection answers heartbeats only when used)."""
        with self._lock:
            for link in list(self._idle):
                try:
                    link.connection.process_data_events(time_limit=0)
                except pika.exceptions.AMQPError:
                    self._idle.remove(link)
                    link.close()

    def close(self) -> None:
        with self._lock:
            links, self._idle = self._idle, []
        for link in links:
            link.close()


@dataclass
class Consumer:
    """One subscription consuming on the live consuming connection."""

    subscription: Subscription[Any]
    pika_channel: BlockingChannel
    queue: str
    pending: list[tuple[Basic.Deliver, BasicProperties, bytes]] = field(default_factory=list)
    first_at: float = 0.0
    last_at: float = 0.0
    # A queue of this consumer's own (a partitioned channel's): only its connection may look
    # into it, so its depth is read there now and then and kept for other threads.
    own_queue: bool = False
    depth: int | None = None
    depth_read_at: float = float("-inf")

    def refresh_depth(self, every: float) -> None:
        """Read the depth of the consumer's own queue, at most once per ``every`` seconds."""
        now = time.monotonic()
        if self.own_queue and now - self.depth_read_at >= every:
            result = self.pika_channel.queue_declare(self.queue, passive=True)
            self.depth, self.depth_read_at = result.method.message_count, now

    def on_message(
        self, _ch: BlockingChannel, method: Basic.Deliver, props: BasicProperties, body: bytes
    ) -> None:
        now = time.monotonic()
        if not self.pending:
            self.first_at = now
        self.last_at = now
        self.pending.append((method, props, body))

    def flush_at(self, batch_wait: float, max_delay: float) -> float:
        """When the pending batch is due even if it is not full."""
        if len(self.pending) >= self.subscription.batch_size:
            return 0.0
        return min(self.last_at + batch_wait, self.first_at + max_delay)

    def take(self) -> list[tuple[Basic.Deliver, BasicProperties, bytes]]:
        size = self.subscription.batch_size
        batch, self.pending = self.pending[:size], self.pending[size:]
        self.first_at = time.monotonic()
        return batch


def close_quietly(connection: BlockingConnection) -> None:
    """Close a connection that may already be dead; there is nothing left to save on it."""
    try:
        if connection.is_open:
            connection.close()
    except (pika.exceptions.AMQPError, OSError) as exc:
        logger.debug("ignoring error while closing a RabbitMQ connection: %r", exc)
