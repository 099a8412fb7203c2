"""The transport interface every service talks to, and the delivery policy all transports share.

Services never touch pika or an in-memory queue directly: they receive a :class:`Communicator`
in their constructor, so one service runs unchanged on RabbitMQ, in the all-in-one process, or in
a unit test.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from services.common.bus.topology import Channel
from services.common.contracts import SCHEMA_VERSION, Message
from services.common.metrics import HANDLER_ERRORS, MESSAGES_DEAD_LETTERED
from services.common.outages import is_outage

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=Message)
R = TypeVar("R", bound=Message)

# A handler gets every message of a batch (one, unless the subscription asked for more) and may
# return replies, one per message (None where there is nothing to answer).
BatchHandler = Callable[[Sequence[M]], Sequence[Message | None] | None]

DEFAULT_MAX_ATTEMPTS = 5


class PermanentError(Exception):
    """Raised by a handler for a message that can never succeed: dead-letter it at once."""


class InvalidMessage(PermanentError):
    """The body is not a valid message of the channel's type and schema version."""


class BusUnavailable(Exception):
    """The broker cannot be reached (after the transport's own retries)."""


class RoutingPluginMissing(BusUnavailable):
    """The broker lacks the exchange type a partitioned channel's consumers need (RabbitMQ's
    consistent-hash exchange plugin); consuming waits until it is enabled."""


class QueueNeedsDraining(BusUnavailable):
    """A durable queue exists with other arguments than this version declares, and still
    holds messages: it can be replaced only once it is empty."""


class QueueFull(Exception):
    """A bounded durable queue is full and refused the message (nothing was queued): the
    publisher decides what to drop, as the queue cannot tell what matters."""


class RequestTimeout(Exception):
    """No reply came to a request in time."""


@dataclass(frozen=True)
class Delivery:
    """A message body as the transport received it."""

    body: bytes
    attempts: int = 0
    reply_to: str | None = None
    correlation_id: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What the transport must do with one delivery after the handler ran."""

    # "ack" | "retry" (counts an attempt) | "dead_letter" | "requeue" (a dependency is away:
    # put it back without counting an attempt, and pause before consuming more)
    action: str
    reason: str = ""
    reply: Message | None = None

    @classmethod
    def ack(cls, reply: Message | None = None) -> Outcome:
        return cls("ack", reply=reply)


@dataclass
class DeadLetter:
    """A message that was given up on, with the reason (kept by the in-memory transport)."""

    queue: str
    body: bytes
    reason: str
    attempts: int


def decode(channel: Channel[M], body: bytes) -> M:
    """Parse a body into the channel's message type, refusing unknown schema versions."""
    try:
        message = channel.message_type.model_validate_json(body)
    except ValidationError as exc:
        version = _declared_version(body)
        if version is not None and version != SCHEMA_VERSION:
            raise InvalidMessage(
                f"unsupported schema_version {version!r} for {channel.name} "
                f"(this service reads version {SCHEMA_VERSION})"
            ) from exc
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "body"
        raise InvalidMessage(
            f"invalid {channel.name} message: {where}: {first.get('msg')} "
            f"({exc.error_count()} error(s))"
        ) from exc
    return message


def _declared_version(body: bytes) -> object | None:
    import json

    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed.get("schema_version") if isinstance(parsed, dict) else None


def handle_batch(
    channel: Channel[M],
    handler: BatchHandler[M],
    deliveries: Sequence[Delivery],
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> list[Outcome]:
    """Run a handler over a batch and decide each delivery's fate.

    Undecodable messages are dead-lettered without reaching the handler. If the handler fails
    on a batch, each message is tried alone, so one poison message cannot sink its neighbours.
    """
    outcomes: list[Outcome | None] = [None] * len(deliveries)
    decoded: list[tuple[int, M]] = []
    for index, delivery in enumerate(deliveries):
        try:
            decoded.append((index, decode(channel, delivery.body)))
        except InvalidMessage as exc:
            logger.warning("dead-lettering message on %s: %s", channel.name, exc)
            outcomes[index] = Outcome("dead_letter", str(exc))
    if decoded:
        groups = [decoded] if len(decoded) == 1 else [decoded, *([item] for item in decoded)]
        try:
            _apply(handler, decoded, outcomes)
        except Exception as exc:
            if is_outage(exc):
                # Every message would fail the same way: none of them is to blame.
                _wait_for_dependency(channel, exc, [index for index, _ in decoded], outcomes)
            elif len(decoded) == 1:
                _record_failure(channel, deliveries, decoded[0][0], exc, outcomes, max_attempts)
            else:
                logger.warning(
                    "batch of %d failed on %s (%s); retrying one by one",
                    len(decoded),
                    channel.name,
                    exc,
                )
                for single in groups[1:]:
                    try:
                        _apply(handler, single, outcomes)
                    except Exception as single_exc:
                        _record_failure(
                            channel, deliveries, single[0][0], single_exc, outcomes, max_attempts
                        )
    settled = [outcome or Outcome.ack() for outcome in outcomes]
    for outcome in settled:
        if outcome.action == "dead_letter":
            MESSAGES_DEAD_LETTERED.labels(channel.name).inc()
        elif outcome.action in ("retry", "requeue"):
            HANDLER_ERRORS.labels(channel.name).inc()
    return settled


def waits_for_a_dependency(outcomes: Sequence[Outcome]) -> bool:
    """Whether a batch was put back because a dependency is away (the consumer should pause)."""
    return any(outcome.action == "requeue" for outcome in outcomes)


def _apply(
    handler: BatchHandler[M], items: list[tuple[int, M]], outcomes: list[Outcome | None]
) -> None:
    replies = handler([message for _, message in items])
    if replies is None:
        replies = [None] * len(items)
    if len(replies) != len(items):
        raise RuntimeError(f"handler returned {len(replies)} replies for {len(items)} messages")
    for (index, _), reply in zip(items, replies, strict=True):
        outcomes[index] = Outcome.ack(reply)


def _wait_for_dependency(
    channel: Channel[Any], exc: Exception, indices: list[int], outcomes: list[Outcome | None]
) -> None:
    reason = f"{type(exc).__name__}: {exc}"
    logger.warning(
        "%s: a dependency is unavailable (%s); %d message(s) wait for it",
        channel.name,
        reason,
        len(indices),
    )
    for index in indices:
        outcomes[index] = Outcome("requeue", reason)


def _record_failure(
    channel: Channel[Any],
    deliveries: Sequence[Delivery],
    index: int,
    exc: Exception,
    outcomes: list[Outcome | None],
    max_attempts: int,
) -> None:
    attempts = deliveries[index].attempts + 1
    reason = f"{type(exc).__name__}: {exc}"
    if is_outage(exc):
        _wait_for_dependency(channel, exc, [index], outcomes)
    elif isinstance(exc, PermanentError):
        logger.warning("dead-lettering message on %s: %s", channel.name, reason)
        outcomes[index] = Outcome("dead_letter", reason)
    elif attempts >= max_attempts:
        logger.error(
            "giving up on message on %s after %d attempts: %s", channel.name, attempts, reason
        )
        outcomes[index] = Outcome("dead_letter", f"{reason} (after {attempts} attempts)")
    else:
        logger.warning(
            "handler failed on %s (attempt %d of %d): %s",
            channel.name,
            attempts,
            max_attempts,
            reason,
            exc_info=exc,
        )
        outcomes[index] = Outcome("retry", reason)


class Communicator(ABC):
    """Publish and consume typed messages on channels.

    ``subscribe`` registers handlers; ``run`` consumes until ``stop`` is called (from any
    thread). A subscription is either to the channel's shared work queue (competing consumers,
    the default) or, with ``broadcast=True``, to a private queue that sees every message.
    """

    @abstractmethod
    def publish(self, channel: Channel[M], message: M, *, routing_key: str = "") -> None:
        """Publish; for durable channels, return only once the broker has confirmed it."""

    @abstractmethod
    def subscribe(
        self,
        channel: Channel[M],
        handler: BatchHandler[M],
        *,
        batch_size: int = 1,
        broadcast: bool = False,
    ) -> None:
        """Deliver messages of ``channel`` to ``handler`` while :meth:`run` runs."""

    @abstractmethod
    def request(self, channel: Channel[M], message: M, reply_type: type[R], timeout: float) -> R:
        """Publish a message and wait for the reply its handler returns; where the transport
        can, the message expires unconsumed after ``timeout`` (nobody waits for it then)."""

    @abstractmethod
    def run(self) -> None:
        """Consume until :meth:`stop` is called."""

    @abstractmethod
    def stop(self) -> None:
        """Make :meth:`run` return soon; safe to call from another thread or a signal handler."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    def queue_depth(self, channel: Channel[Any]) -> int | None:
        """Messages waiting in the channel's work queue, if the transport can tell; for a
        partitioned channel, in this communicator's own queue (None while it consumes none)."""
        return None

    def broker_answers(self) -> bool:
        """Whether the transport can reach its broker now (a process has none: always)."""
        return True


@dataclass
class Publisher(Generic[M]):
    """A typed publisher bound to one channel."""

    bus: Communicator
    channel: Channel[M]

    def publish(self, message: M, *, routing_key: str = "") -> None:
        self.bus.publish(self.channel, message, routing_key=routing_key)


@dataclass
class Subscription(Generic[M]):
    """A typed subscription to one channel (see :meth:`Communicator.subscribe`)."""

    channel: Channel[M]
    handler: BatchHandler[M]
    batch_size: int = 1
    broadcast: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def reply_channel(reply_type: type[R]) -> Channel[R]:
    """The pseudo-channel a reply of ``reply_type`` is decoded with (replies travel on a
    requester's own queue, not through the topology)."""
    return Channel(f"_reply.{reply_type.kind}", reply_type, "_reply")
