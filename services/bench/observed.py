"""A communicator that tells the bench what a service publishes and handles, on any transport.

It wraps the service's real communicator (in-memory or RabbitMQ) and passes everything through;
the bench's listeners run in the thread that publishes or handles, so a listener knows which
messages that thread is handling while it publishes (:attr:`ObservedCommunicator.handling`).
"""

from __future__ import annotations

from collections.abc import Sequence

from services.common.bus.base import BatchHandler, Communicator, M, QueueFull, R
from services.common.bus.topology import Channel
from services.common.contracts import Message


class BusListener:
    """What the bench wants to hear; each method does nothing unless overridden."""

    def published(self, bus: ObservedCommunicator, channel: Channel, message: Message) -> None:
        """After the transport accepted ``message``."""

    def refused(self, bus: ObservedCommunicator, channel: Channel, message: Message) -> None:
        """The transport refused ``message`` because its bounded queue is full."""

    def handled(self, bus: ObservedCommunicator, channel: Channel, messages: Sequence) -> None:
        """After the service's handler returned for a batch of ``channel``."""


class ObservedCommunicator(Communicator):
    def __init__(self, inner: Communicator, listener: BusListener, role: str) -> None:
        self.inner = inner
        self.role = role
        self._listener = listener
        # The batch this communicator's consuming thread is handling now (empty between
        # batches): what a message published from a handler was caused by.
        self.handling: Sequence[Message] = ()

    def publish(self, channel: Channel[M], message: M, *, routing_key: str = "") -> None:
        try:
            self.inner.publish(channel, message, routing_key=routing_key)
        except QueueFull:
            self._listener.refused(self, channel, message)
            raise
        self._listener.published(self, channel, message)

    def subscribe(
        self,
        channel: Channel[M],
        handler: BatchHandler[M],
        *,
        batch_size: int = 1,
        broadcast: bool = False,
    ) -> None:
        self.inner.subscribe(
            channel, self._observing(channel, handler), batch_size=batch_size, broadcast=broadcast
        )

    def _observing(self, channel: Channel[M], handler: BatchHandler[M]) -> BatchHandler[M]:
        def observed(messages: Sequence[M]) -> Sequence[Message | None] | None:
            self.handling = messages
            try:
                replies = handler(messages)
            finally:
                self.handling = ()
            self._listener.handled(self, channel, messages)
            return replies

        return observed

    def request(self, channel: Channel[M], message: M, reply_type: type[R], timeout: float) -> R:
        return self.inner.request(channel, message, reply_type, timeout)

    def run(self) -> None:
        self.inner.run()

    def stop(self) -> None:
        self.inner.stop()

    def close(self) -> None:
        self.inner.close()

    def queue_depth(self, channel: Channel) -> int | None:
        return self.inner.queue_depth(channel)

    def broker_answers(self) -> bool:
        return self.inner.broker_answers()
