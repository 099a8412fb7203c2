"""An in-process transport with the same semantics as the RabbitMQ one.

Used by the all-in-one mode (every service in one process, no broker installed) and by unit
tests. One :class:`InMemoryBroker` is shared; each service gets its own
:class:`InMemoryCommunicator` on it, as it would get its own connection to RabbitMQ.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter

from services.common.bus.base import (
    DEFAULT_MAX_ATTEMPTS,
    BatchHandler,
    Communicator,
    DeadLetter,
    Delivery,
    M,
    QueueFull,
    R,
    RequestTimeout,
    Subscription,
    decode,
    handle_batch,
    reply_channel,
    waits_for_a_dependency,
)
from services.common.bus.topology import Channel
from services.common.outages import OutageBackoff

QUEUE_DROPPED = Counter(
    "attendance_queue_dropped_total",
    "Messages a bounded in-process queue dropped or refused (full, or expired)",
    ["queue"],
)


@dataclass
class _Queue:
    name: str
    max_length: int | None = None
    ttl_s: float | None = None
    # "drop_head": the oldest message goes when full; "reject": the new one is refused.
    overflow: str = "drop_head"
    items: deque[tuple[float, Delivery]] = field(default_factory=deque)
    dropped: int = 0

    def __post_init__(self) -> None:
        if self.max_length is not None or self.ttl_s is not None:
            QUEUE_DROPPED.labels(self.name)  # shown at 0 from the start, not once it drops

    def put(self, delivery: Delivery, *, refusable: bool = True) -> None:
        """Queue a delivery; :class:`QueueFull` if the queue refuses it (a retry, a requeue
        or a reply is never refused: it was queued once already, or is awaited)."""
        full = self.max_length is not None and len(self.items) >= self.max_length
        if full and self.overflow == "reject" and refusable:
            self._drop()
            raise QueueFull(f"the {self.name} queue is full")
        self.items.append((time.monotonic(), delivery))
        while self.max_length is not None and len(self.items) > self.max_length:
            if self.overflow == "reject":
                break
            self.items.popleft()  # drop the oldest, as RabbitMQ's default overflow does
            self._drop()

    def _drop(self) -> None:
        self.dropped += 1
        QUEUE_DROPPED.labels(self.name).inc()

    def take(self, limit: int) -> list[Delivery]:
        taken: list[Delivery] = []
        now = time.monotonic()
        while self.items and len(taken) < limit:
            enqueued_at, delivery = self.items.popleft()
            if self.ttl_s is not None and now - enqueued_at > self.ttl_s:
                self._drop()
                continue
            taken.append(delivery)
        return taken


class InMemoryBroker:
    """Shared exchanges, queues and dead letters for the communicators of one process."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self._queues: dict[str, _Queue] = {}
        self._bindings: dict[str, set[str]] = {}
        self.dead_letters: list[DeadLetter] = []

    def declare(self, channel: Channel[Any], queue_name: str | None = None) -> _Queue:
        name = queue_name or channel.work_queue
        with self.condition:
            queue = self._queues.get(name)
            if queue is None:
                ttl = channel.ttl_ms / 1000 if channel.ttl_ms else None
                queue = _Queue(name, channel.max_length, ttl, channel.overflow)
                self._queues[name] = queue
                self._bindings.setdefault(channel.name, set()).add(name)
            return queue

    def reply_queue(self, name: str) -> _Queue:
        with self.condition:
            return self._queues.setdefault(name, _Queue(name))

    def route(self, channel: Channel[Any], delivery: Delivery) -> None:
        if channel.name not in self._bindings and not channel.name.startswith("_"):
            self.declare(channel)
        refused: QueueFull | None = None
        with self.condition:
            for queue_name in self._bindings.get(channel.name, ()):
                try:
                    self._queues[queue_name].put(delivery)
                except QueueFull as exc:
                    refused = exc
            self.condition.notify_all()
        if refused is not None:
            raise refused

    def send_to_queue(self, queue_name: str, delivery: Delivery) -> None:
        with self.condition:
            queue = self._queues.get(queue_name)
            if queue is not None:
                queue.put(delivery, refusable=False)
                self.condition.notify_all()

    def remove_queue(self, name: str) -> None:
        with self.condition:
            self._queues.pop(name, None)
            for bound in self._bindings.values():
                bound.discard(name)

    def depth(self, queue_name: str) -> int:
        with self.condition:
            queue = self._queues.get(queue_name)
            return len(queue.items) if queue else 0

    def dropped(self, queue_name: str) -> int:
        with self.condition:
            queue = self._queues.get(queue_name)
            return queue.dropped if queue else 0


class InMemoryCommunicator(Communicator):
    """One service's view of an :class:`InMemoryBroker`."""

    def __init__(
        self,
        broker: InMemoryBroker,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        *,
        outage_backoff: OutageBackoff | None = None,
    ) -> None:
        self.broker = broker
        self.max_attempts = max_attempts
        self._subscriptions: list[tuple[Subscription[Any], str]] = []
        self._stopping = threading.Event()
        self._outage = outage_backoff or OutageBackoff()

    def publish(self, channel: Channel[M], message: M, *, routing_key: str = "") -> None:
        self.broker.route(channel, Delivery(message.to_bytes()))

    def subscribe(
        self,
        channel: Channel[M],
        handler: BatchHandler[M],
        *,
        batch_size: int = 1,
        broadcast: bool = False,
    ) -> None:
        queue_name = f"{channel.work_queue}.{uuid.uuid4().hex[:8]}" if broadcast else None
        queue = self.broker.declare(channel, queue_name)
        self._subscriptions.append(
            (Subscription(channel, handler, batch_size, broadcast), queue.name)
        )

    def request(self, channel: Channel[M], message: M, reply_type: type[R], timeout: float) -> R:
        reply_queue = self.broker.reply_queue(f"reply.{uuid.uuid4().hex}")
        correlation_id = uuid.uuid4().hex
        try:
            self.broker.declare(channel)
            self.broker.route(
                channel, Delivery(message.to_bytes(), 0, reply_queue.name, correlation_id)
            )
            deadline = time.monotonic() + timeout
            with self.broker.condition:
                while True:
                    for delivery in reply_queue.take(1):
                        if delivery.correlation_id == correlation_id:
                            return decode(reply_channel(reply_type), delivery.body)
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise RequestTimeout(f"no reply on {channel.name} within {timeout:.0f}s")
                    self.broker.condition.wait(remaining)
        finally:
            self.broker.remove_queue(reply_queue.name)

    def run(self) -> None:
        self._stopping.clear()
        while not self._stopping.is_set():
            if not self.drain_once():
                with self.broker.condition:
                    self.broker.condition.wait(0.05)

    def drain_once(self) -> bool:
        """Process at most one batch per subscription; return whether anything was processed."""
        worked = False
        for subscription, queue_name in self._subscriptions:
            with self.broker.condition:
                queue = self.broker._queues.get(queue_name)
                deliveries = queue.take(subscription.batch_size) if queue else []
            if deliveries:
                worked = True
                self._settle(subscription, queue_name, deliveries)
        return worked

    def _settle(
        self, subscription: Subscription[Any], queue_name: str, deliveries: Sequence[Delivery]
    ) -> None:
        outcomes = handle_batch(
            subscription.channel, subscription.handler, deliveries, self.max_attempts
        )
        for delivery, outcome in zip(deliveries, outcomes, strict=True):
            if outcome.action == "requeue":
                self.broker.send_to_queue(queue_name, delivery)
            elif outcome.action == "retry":
                self.broker.send_to_queue(
                    queue_name,
                    Delivery(
                        delivery.body,
                        delivery.attempts + 1,
                        delivery.reply_to,
                        delivery.correlation_id,
                    ),
                )
            elif outcome.action == "dead_letter":
                with self.broker.condition:
                    self.broker.dead_letters.append(
                        DeadLetter(queue_name, delivery.body, outcome.reason, delivery.attempts + 1)
                    )
            elif outcome.reply is not None and delivery.reply_to:
                self.broker.send_to_queue(
                    delivery.reply_to,
                    Delivery(outcome.reply.to_bytes(), 0, None, delivery.correlation_id),
                )
        if waits_for_a_dependency(outcomes):
            # Give the server time to come back instead of spinning on the queue.
            self._stopping.wait(self._outage.failed())
        else:
            self._outage.succeeded()

    def stop(self) -> None:
        self._stopping.set()
        with self.broker.condition:
            self.broker.condition.notify_all()

    def close(self) -> None:
        self.stop()
        for subscription, queue_name in self._subscriptions:
            if subscription.broadcast:
                self.broker.remove_queue(queue_name)

    def queue_depth(self, channel: Channel[Any]) -> int | None:
        return self.broker.depth(channel.work_queue)
