"""Channels: the exchanges and work queues of the pipeline, named once for every service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

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
    """

    name: str
    message_type: type[M]
    work_queue: str
    lossy: bool = False
    max_length: int | None = None
    ttl_ms: int | None = None
    overflow: Literal["drop_head", "reject"] = "drop_head"

    def exchange_name(self, prefix: str) -> str:
        return f"{prefix}.{self.name}"

    def queue_name(self, prefix: str) -> str:
        return f"{prefix}.{self.work_queue}"


FRAMES: Channel[FrameMessage] = Channel(
    "frames", FrameMessage, "frames.detect", lossy=True, max_length=8, ttl_ms=3000
)
# Faces and the ends of their tracks share one queue, so a track's end comes after its faces.
# Bounded: a detector sends a few faces per track, so it fills only when the recognizers fall
# far behind (128 faces are several seconds of a recognizer's work); then the detector drops
# new faces (a later face of the track replaces one) and holds track ends until there is room.
FACES: Channel = Channel("faces", FaceEvent, "faces.recognize", max_length=128, overflow="reject")
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

ALL_CHANNELS: tuple[Channel, ...] = (FRAMES, FACES, SIGHTINGS, ENROLMENTS, ATTENDANCE_EVENTS)
DEAD_LETTER_NAME = "dead-letter"


def dead_letter_exchange(prefix: str) -> str:
    return f"{prefix}.{DEAD_LETTER_NAME}"


def dead_letter_queue(prefix: str) -> str:
    return f"{prefix}.{DEAD_LETTER_NAME}"
