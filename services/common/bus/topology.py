"""Channels: the exchanges and work queues of the pipeline, named once for every service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from services.common.contracts import (
    AttendanceEvent,
    EnrolmentRequest,
    FaceEvent,
    FrameMessage,
    Message,
    SightingMessage,
)

M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class Channel(Generic[M]):
    """An exchange carrying one message type, and the work queue its consumers share.

    ``lossy`` channels (camera frames) favour freshness: transient messages, a bounded queue that
    drops the oldest message when full, and a short time to live. The others are durable:
    persistent messages, publisher confirms, acknowledged only after the work is stored; a
    durable channel with a ``max_length`` refuses a message when full (``overflow`` "reject":
    the publisher gets :class:`~services.common.bus.base.QueueFull` and chooses what to drop,
    as the queue cannot tell which message matters).

    A channel with a ``partition_key`` (the name of a message field) has no shared work queue:
    each consumer gets a queue of its own, and all messages with one value of that field go to
    one consumer at a time (on RabbitMQ through a consistent-hash exchange; when a consumer
    goes, its values move to the others). Camera frames are partitioned by camera, so that one
    detector follows each camera's faces from frame to frame. The in-memory transport has one
    consumer per channel, so it needs no partitioning.
    """

    name: str
    message_type: type[M]
    work_queue: str
    lossy: bool = False
    max_length: int | None = None
    ttl_ms: int | None = None
    overflow: Literal["drop_head", "reject"] = "drop_head"
    partition_key: str | None = None

    def exchange_name(self, prefix: str) -> str:
        return f"{prefix}.{self.name}"

    def queue_name(self, prefix: str) -> str:
        """The shared work queue; for a partitioned channel, the start of each consumer's own
        queue's name (see :meth:`consumer_queue_name`)."""
        return f"{prefix}.{self.work_queue}"

    def __post_init__(self) -> None:
        if self.partition_key is not None and not self.lossy:
            # A partitioned channel has no queue until a consumer declares its own: what is
            # published before then is dropped, which only a lossy channel may do.
            raise ValueError(f"channel {self.name}: only a lossy channel can be partitioned")

    @property
    def partitioned(self) -> bool:
        return self.partition_key is not None

    def partition_exchange_name(self, prefix: str) -> str:
        """The exchange that spreads a partitioned channel's messages over its consumers."""
        return f"{self.exchange_name(prefix)}.consistent-hash"

    def consumer_queue_name(self, prefix: str, suffix: str) -> str:
        """One consumer's own queue of a partitioned channel (``suffix`` tells them apart)."""
        return f"{self.queue_name(prefix)}.{suffix}"

    def routing_key(self, message: Message, default: str = "") -> str:
        """The routing key ``message`` is published with: its partition value on a partitioned
        channel (so that no caller can break the partitioning), else ``default``."""
        if self.partition_key is None:
            return default
        value = getattr(message, self.partition_key)
        if value is None or value == "":
            raise ValueError(f"{self.name} messages need a {self.partition_key} to be routed")
        return str(value)


# Each detector gets a queue of its own and each camera's frames go to one of them, so that
# the detector sees every frame of its cameras and their tracks stay whole; every queue keeps
# the freshness bound (8 frames, oldest dropped, 3 s).
FRAMES: Channel[FrameMessage] = Channel(
    "frames",
    FrameMessage,
    "frames.detect",
    lossy=True,
    max_length=8,
    ttl_ms=3000,
    partition_key="camera_id",
)
# Faces and the ends of their tracks share one queue, so a track's end comes after its faces.
# Bounded: a detector sends a few faces per track, so it fills only when the recognizers fall
# far behind (128 faces are several seconds of a recognizer's work); then the detector drops
# new faces (a later face of the track replaces one) and holds track ends until there is room.
FACES: Channel[Any] = Channel(
    "faces", FaceEvent, "faces.recognize", max_length=128, overflow="reject"
)
SIGHTINGS: Channel[SightingMessage] = Channel("sightings", SightingMessage, "sightings.record")
ENROLMENTS: Channel[EnrolmentRequest] = Channel(
    "enrolments", EnrolmentRequest, "enrolments.process"
)
# Live notifications for dashboards and kiosks: nobody must wait for them, so they are lossy.
ATTENDANCE_EVENTS: Channel[AttendanceEvent] = Channel(
    "attendance-events",
    AttendanceEvent,
    "attendance-events.none",
    lossy=True,
    max_length=100,
    ttl_ms=60_000,
)

ALL_CHANNELS: tuple[Channel[Any], ...] = (FRAMES, FACES, SIGHTINGS, ENROLMENTS, ATTENDANCE_EVENTS)
DEAD_LETTER_NAME = "dead-letter"


def dead_letter_exchange(prefix: str) -> str:
    return f"{prefix}.{DEAD_LETTER_NAME}"


def dead_letter_queue(prefix: str) -> str:
    return f"{prefix}.{DEAD_LETTER_NAME}"
