"""The RabbitMQ transport: :class:`RabbitMQCommunicator`, a :class:`Communicator` on pika.

pika's BlockingConnection is not thread-safe, so the communicator keeps its connections apart:

* the consuming connection belongs to whichever thread runs :meth:`run` (``subscribe`` may set
  it up beforehand, while ``run`` is not running);
* one publishing connection, behind a lock, serves :meth:`publish` from any thread;
* requests borrow a connection of their own from a small pool, so a web handler thread can wait
  for a reply without holding up publishers or the consumer.

Delivery is at least once: a message is acknowledged only after its outcome is settled (the
handler succeeded, or its retry or dead letter was confirmed by the broker), and whatever was
unacknowledged when a connection died is redelivered by the broker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import pika.exceptions
from pika.adapters.blocking_connection import BlockingConnection
from pika.spec import Basic, BasicProperties

from services.common.bus.base import (
    DEFAULT_MAX_ATTEMPTS,
    BatchHandler,
    BusUnavailable,
    Communicator,
    Delivery,
    M,
    Outcome,
    R,
    RequestTimeout,
    RoutingPluginMissing,
    Subscription,
    decode,
    handle_batch,
    reply_channel,
    waits_for_a_dependency,
)
from services.common.bus.rabbitmq_links import (
    REFUSED,
    Connector,
    Consumer,
    Publisher,
    RequestPool,
    close_quietly,
    is_transient,
)
from services.common.bus.rabbitmq_topology import (
    attempts_of,
    dead_letter_properties,
    declare_broadcast_queue,
    declare_dead_letters,
    declare_partitioned_queue,
    declare_work_queue,
    reply_properties,
    retire_shared_queue,
    retry_properties,
)
from services.common.bus.topology import Channel, dead_letter_exchange
from services.common.outages import OutageBackoff

logger = logging.getLogger(__name__)

# A consuming connection that lived this long before dying is not flapping: reconnect at once.
_HEALTHY_SPELL_S = 60.0
# How often a consumer reads the depth of its own queue (for readiness and /metrics).
_DEPTH_EVERY_S = 1.0


class RabbitMQCommunicator(Communicator):
    """A :class:`Communicator` on a RabbitMQ broker; see the module documentation.

    ``url`` is an AMQP URL naming the vhost (``amqp://user:pass@host:5672/%2F``); every exchange
    and queue name starts with ``prefix``. A handler that fails is retried until a message has
    been tried ``max_attempts`` times, then dead-lettered. ``prefetch`` bounds unacknowledged
    deliveries per subscription (raised to the batch size where that is larger; a lossy
    channel's is its batch size, so that its bound stays the bound). Connecting is
    tried ``connect_attempts`` times, waiting ``backoff_initial`` seconds, doubling up to
    ``backoff_max``, before :class:`BusUnavailable`; a publish that meets a dead connection is
    tried ``publish_attempts`` times in all. A batch is handed over when full, when no delivery
    came for ``batch_wait`` seconds, or ``batch_max_delay`` after its first message; ``run``
    looks at :meth:`stop` at least every ``poll_interval`` seconds.
    """

    def __init__(
        self,
        url: str,
        prefix: str = "attendance",
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        prefetch: int = 16,
        connect_attempts: int = 10,
        backoff_initial: float = 0.5,
        backoff_max: float = 10.0,
        heartbeat: int = 30,
        publish_attempts: int = 3,
        batch_wait: float = 0.015,
        batch_max_delay: float = 0.1,
        poll_interval: float = 0.2,
    ) -> None:
        self.prefix = prefix
        self.max_attempts = max_attempts
        self._prefetch = prefetch
        self._batch_wait = batch_wait
        self._batch_max_delay = batch_max_delay
        self._poll_interval = poll_interval
        self._connector = Connector(
            url,
            prefix,
            attempts=connect_attempts,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            heartbeat=heartbeat,
        )
        self._stopping = threading.Event()
        self._outage = OutageBackoff(backoff_initial, backoff_max)
        self._state_lock = threading.Lock()  # subscriptions, consuming connection, _running
        self._running = False
        self._subscriptions: list[Subscription[Any]] = []
        self._consuming: BlockingConnection | None = None
        self._consumers: list[Consumer] = []
        self._missing_plugin_told = False
        self._publisher = Publisher(self._connector, prefix, publish_attempts)
        self._requests = RequestPool(self._connector)
        # Idle publishing and request connections answer the broker's heartbeats only when
        # something calls into them; a small thread does, so that they are not dropped.
        self._keepalive_interval = heartbeat / 3 if heartbeat > 0 else None
        self._keepalive: threading.Thread | None = None
        self._keepalive_lock = threading.Lock()
        self._closed = threading.Event()

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, channel: Channel[M], message: M, *, routing_key: str = "") -> None:
        self._publisher.publish(
            channel, message.to_bytes(), channel.routing_key(message, routing_key)
        )
        self._start_keepalive()

    def queue_depth(self, channel: Channel[Any]) -> int | None:
        """The shared work queue's depth; for a partitioned channel, that of this
        communicator's own queue(s), None while it consumes none (as read by the consuming
        thread, at most a second ago)."""
        if channel.partitioned:
            depths = [
                consumer.depth
                for consumer in list(self._consumers)
                if consumer.own_queue and consumer.subscription.channel == channel
            ]
            known = [depth for depth in depths if depth is not None]
            return sum(known) if known else None
        return self._publisher.queue_depth(channel.queue_name(self.prefix))

    def broker_answers(self) -> bool:
        return self._publisher.answers()

    def _start_keepalive(self) -> None:
        with self._keepalive_lock:
            if self._keepalive_interval is None or self._keepalive is not None:
                return
            self._keepalive = threading.Thread(
                target=self._keep_alive, name=f"{self.prefix}-bus-keepalive", daemon=True
            )
            self._keepalive.start()

    def _keep_alive(self) -> None:
        assert self._keepalive_interval is not None
        while not self._closed.wait(self._keepalive_interval):
            self._publisher.serve_heartbeats()
            self._requests.serve_heartbeats()

    # -- requests -----------------------------------------------------------------------------

    def request(self, channel: Channel[M], message: M, reply_type: type[R], timeout: float) -> R:
        body = message.to_bytes()
        for attempt in (1, 2):
            link = self._requests.borrow()
            try:
                reply = link.call(channel, self.prefix, body, timeout)
            except REFUSED as exc:
                link.forget(channel)
                self._requests.give_back(link)
                raise BusUnavailable(
                    f"RabbitMQ refused the request on {channel.name}: {exc!r}"
                ) from exc
            except pika.exceptions.AMQPError as exc:
                link.close()
                # A pooled connection may have died while idle: try once more on a fresh one,
                # unless the request already went out (its reply would go to the dead one).
                if link.sent or attempt == 2 or not is_transient(exc):
                    raise BusUnavailable(
                        f"lost RabbitMQ at {self._connector.where} during a request on "
                        f"{channel.name}: {exc!r}"
                    ) from exc
                continue
            except BaseException:
                link.close()
                raise
            self._requests.give_back(link)
            self._start_keepalive()
            if reply is None:
                raise RequestTimeout(f"no reply on {channel.name} within {timeout:g}s")
            return decode(reply_channel(reply_type), reply)
        raise AssertionError("unreachable")

    # -- consuming ----------------------------------------------------------------------------

    def subscribe(
        self,
        channel: Channel[M],
        handler: BatchHandler[M],
        *,
        batch_size: int = 1,
        broadcast: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        with self._state_lock:
            self._subscriptions.append(Subscription(channel, handler, batch_size, broadcast))
            if not self._running:
                # Declare the queue now, so that what is published from here on is kept for
                # this subscriber (broadcast ones included); run() then takes the connection
                # over. While run() runs, only its own thread may touch the connection: it
                # starts the new subscription on its next turn.
                try:
                    self._start_consumers()
                except RoutingPluginMissing as exc:
                    # Not the subscriber's mistake, and curable on the broker: run() waits for it.
                    self._tell_missing_plugin(exc)
                    self._close_consuming()

    def run(self) -> None:
        with self._state_lock:
            if self._running:
                raise RuntimeError("run() is already running")
            self._running = True
        failures, last_failure = 0, float("-inf")
        try:
            while not self._stopping.is_set():
                try:
                    if self._consuming is None and not self._reconnect():
                        break
                    self._start_consumers()
                    self._pump()
                except RoutingPluginMissing as exc:
                    self._close_consuming()
                    self._tell_missing_plugin(exc)
                    # The plugin can be enabled on a running broker: look again now and then.
                    self._stopping.wait(self._connector.longest_delay)
                except pika.exceptions.AMQPError as exc:
                    if not is_transient(exc):
                        raise
                    self._close_consuming()
                    # Back off when the connection keeps dying soon after it was made, so a
                    # flapping broker is not hammered; a long healthy spell starts over.
                    now = time.monotonic()
                    failures = failures + 1 if now - last_failure < _HEALTHY_SPELL_S else 1
                    last_failure = now
                    delay = self._connector.delay(failures) if failures > 1 else 0.0
                    logger.warning(
                        "lost the consuming connection to RabbitMQ at %s (%r); "
                        "reconnecting in %.1fs",
                        self._connector.where,
                        exc,
                        delay,
                    )
                    self._stopping.wait(delay)
        finally:
            with self._state_lock:
                # Whatever was prefetched but not handled goes back to the queue now.
                self._close_consuming()
                self._running = False
            self._stopping.clear()

    def _tell_missing_plugin(self, exc: RoutingPluginMissing) -> None:
        # Once: the line says what to do, and repeating it every few seconds would bury the rest.
        if not self._missing_plugin_told:
            logger.error("cannot consume yet from RabbitMQ at %s: %s", self._connector.where, exc)
            self._missing_plugin_told = True

    def _reconnect(self) -> bool:
        connection = self._connector.connect("consumer", stop=self._stopping)
        if connection is None:
            return False
        self._consuming = connection
        if self._subscriptions:
            logger.info("consuming from RabbitMQ at %s again", self._connector.where)
        return True

    def _start_consumers(self) -> None:
        """Start every subscription not yet consuming on the current connection."""
        if self._consuming is None:
            connection = self._connector.connect("consumer")
            assert connection is not None
            self._consuming = connection
        started = {id(consumer.subscription) for consumer in self._consumers}
        for subscription in list(self._subscriptions):
            if id(subscription) not in started:
                self._consumers.append(self._start_consumer(self._consuming, subscription))
                if self._missing_plugin_told and subscription.channel.partitioned:
                    logger.info("the consistent-hash exchange is there now: consuming")
                    self._missing_plugin_told = False

    def _start_consumer(
        self, connection: BlockingConnection, subscription: Subscription[Any]
    ) -> Consumer:
        channel = subscription.channel
        pika_channel = connection.channel()
        # Confirms on the consuming channel: retries and dead letters are confirmed before
        # the original is acknowledged, so a message is never lost in between.
        pika_channel.confirm_delivery()
        # A lossy queue's bound is what keeps its messages fresh: a consumer holding more than
        # one batch of it would add that many stale messages to the bound.
        prefetch = subscription.batch_size
        if not channel.lossy:
            prefetch = max(self._prefetch, subscription.batch_size)
        pika_channel.basic_qos(prefetch_count=prefetch)
        declare_dead_letters(pika_channel, self.prefix)
        own_queue = channel.partitioned and not subscription.broadcast
        if subscription.broadcast:
            queue = declare_broadcast_queue(pika_channel, channel, self.prefix)
        elif own_queue:
            queue = declare_partitioned_queue(pika_channel, channel, self.prefix)
            retire_shared_queue(connection, channel, self.prefix)
        else:
            queue = declare_work_queue(pika_channel, channel, self.prefix)
        consumer = Consumer(subscription, pika_channel, queue, own_queue=own_queue)
        consumer.refresh_depth(_DEPTH_EVERY_S)
        pika_channel.basic_consume(queue, consumer.on_message)
        logger.debug("consuming %s from %s", channel.name, queue)
        return consumer

    def _pump(self) -> None:
        """Wait briefly for deliveries, then handle every batch that is due."""
        assert self._consuming is not None
        now = time.monotonic()
        wait = self._poll_interval
        for consumer in self._consumers:
            if consumer.pending:
                due = consumer.flush_at(self._batch_wait, self._batch_max_delay)
                wait = min(wait, max(0.0, due - now))
        self._consuming.process_data_events(time_limit=wait)
        for consumer in self._consumers:
            consumer.refresh_depth(_DEPTH_EVERY_S)
            while (
                consumer.pending
                and not self._stopping.is_set()
                and time.monotonic() >= consumer.flush_at(self._batch_wait, self._batch_max_delay)
            ):
                self._handle(consumer, consumer.take())

    def _handle(
        self, consumer: Consumer, batch: Sequence[tuple[Basic.Deliver, BasicProperties, bytes]]
    ) -> None:
        deliveries = [
            Delivery(body, attempts_of(props), props.reply_to, props.correlation_id)
            for _, props, body in batch
        ]
        subscription = consumer.subscription
        outcomes = handle_batch(
            subscription.channel, subscription.handler, deliveries, self.max_attempts
        )
        for (method, props, _), delivery, outcome in zip(batch, deliveries, outcomes, strict=True):
            self._settle(consumer, method, props, delivery, outcome)
        if waits_for_a_dependency(outcomes):
            self._pause_for_outage()
        else:
            self._outage.succeeded()

    def _pause_for_outage(self) -> None:
        """A dependency of the handler is away: give it time instead of spinning on the queue,
        serving the connection meanwhile so that the broker's heartbeats are answered."""
        assert self._consuming is not None
        deadline = time.monotonic() + self._outage.failed()
        while not self._stopping.is_set() and (left := deadline - time.monotonic()) > 0:
            self._consuming.process_data_events(time_limit=min(self._poll_interval, left))

    def _settle(
        self,
        consumer: Consumer,
        method: Basic.Deliver,
        props: BasicProperties,
        delivery: Delivery,
        outcome: Outcome,
    ) -> None:
        pika_channel = consumer.pika_channel
        channel = consumer.subscription.channel
        attempts = delivery.attempts + 1
        if outcome.action == "requeue":
            # Back where it was, its attempts uncounted: the message is not at fault.
            pika_channel.basic_nack(method.delivery_tag, requeue=True)
            return
        try:
            if outcome.action == "retry":
                properties = retry_properties(channel, props, attempts)
                pika_channel.basic_publish(
                    "", consumer.queue, delivery.body, properties, mandatory=True
                )
            elif outcome.action == "dead_letter":
                properties = dead_letter_properties(
                    channel,
                    props,
                    prefix=self.prefix,
                    queue=consumer.queue,
                    reason=outcome.reason,
                    attempts=attempts,
                )
                pika_channel.basic_publish(
                    dead_letter_exchange(self.prefix),
                    consumer.queue,
                    delivery.body,
                    properties,
                    mandatory=True,
                )
            elif outcome.reply is not None and delivery.reply_to:
                # Not mandatory: a requester that gave up and left is not the handler's failure.
                pika_channel.basic_publish(
                    "",
                    delivery.reply_to,
                    outcome.reply.to_bytes(),
                    reply_properties(outcome.reply.kind, delivery.correlation_id),
                )
        except REFUSED as exc:
            logger.error(
                "RabbitMQ refused the %s of a message from %s (%r); requeueing it",
                outcome.action,
                consumer.queue,
                exc,
            )
            pika_channel.basic_nack(method.delivery_tag, requeue=True)
            return
        pika_channel.basic_ack(method.delivery_tag)

    def _close_consuming(self) -> None:
        connection, self._consuming = self._consuming, None
        self._consumers = []
        if connection is not None:
            close_quietly(connection)

    # -- life cycle ---------------------------------------------------------------------------

    def stop(self) -> None:
        # Only an Event.set(): safe from a signal handler and from any thread; run() looks at
        # it at least every poll_interval.
        self._stopping.set()

    def close(self) -> None:
        self.stop()
        self._closed.set()
        self._publisher.close()
        self._requests.close()
        with self._state_lock:
            # A running run() owns the consuming connection and closes it on its way out.
            if not self._running:
                self._close_consuming()
