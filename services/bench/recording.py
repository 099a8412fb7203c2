"""An in-memory bus that tells the bench what each service publishes, and when."""

from __future__ import annotations

from collections.abc import Callable

from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
from services.common.bus.topology import Channel
from services.common.contracts import Message

# Called with the channel and the message just before it is routed.
PublishListener = Callable[[Channel, Message], None]


class RecordingCommunicator(InMemoryCommunicator):
    def __init__(self, broker: InMemoryBroker, listener: PublishListener) -> None:
        super().__init__(broker)
        self._listener = listener

    def publish(self, channel: Channel, message: Message, *, routing_key: str = "") -> None:
        self._listener(channel, message)
        super().publish(channel, message, routing_key=routing_key)
