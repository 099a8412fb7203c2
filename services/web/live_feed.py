"""The live feed: the latest frame per camera, recent sightings and attendance events.

The web process subscribes to FRAMES, SIGHTINGS and ATTENDANCE_EVENTS with private broadcast
queues, so it sees every message without taking frames away from the detectors. When the broker
goes away the feed reconnects with back-off, as the workers do, and says it is not running (so
/readyz is false) until it has.

Shared by every request thread; it knows nothing of HTTP (services/web/live.py serves it) and
counts the streams open, which the routes cap.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.common.bus.base import BatchHandler, Communicator, M
from services.common.bus.topology import ATTENDANCE_EVENTS, FRAMES, SIGHTINGS, Channel
from services.common.contracts import AttendanceEvent, BoundingBox, FrameMessage, SightingMessage
from services.common.image_headers import ImageError
from services.common.outages import OutageBackoff
from services.web.frame_annotation import annotate

logger = logging.getLogger(__name__)

MAX_EVENTS = 200
# A camera silent for this long is dropped from the list of live cameras.
STALE_CAMERA_S = 60.0
# Waits between reconnection attempts to the broker: short at first, then capped.
RECONNECT_FIRST_S = 0.5
RECONNECT_MAX_S = 10.0
# Face boxes are drawn on the live view for this long after their sighting arrives.
SIGHTING_TTL_S = 2.0
MAX_SIGHTINGS_PER_CAMERA = 64


@dataclass(frozen=True)
class LiveFrame:
    camera_id: str
    jpeg: bytes
    received: float  # monotonic
    sequence: int


@dataclass(frozen=True)
class RecentSighting:
    sighting_id: str
    frame_id: str
    box: BoundingBox
    name: str  # the employee's name, or "unknown"
    known: bool
    seen_at: datetime
    received: float  # monotonic


@dataclass(frozen=True)
class LiveEvent:
    sequence: int
    event: AttendanceEvent


class LiveFeed:
    """Latest frames and recent attendance events, shared by every request thread."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._frames: dict[str, LiveFrame] = {}
        self._events: deque[LiveEvent] = deque(maxlen=MAX_EVENTS)
        self._sightings: dict[str, deque[RecentSighting]] = {}
        # Per camera: ((frame sequence, sighting ids), annotated JPEG), so viewers share a drawing.
        self._annotated: dict[str, tuple[tuple[int, tuple[str, ...]], bytes]] = {}
        self._draw_lock = threading.Lock()
        self._sequence = 0
        self._thread: threading.Thread | None = None
        # The communicator consumed from; swapped by the consumer thread, stopped by stop().
        self._bus_lock = threading.Lock()
        self._bus: Communicator | None = None
        self._connect: Callable[[], Communicator] | None = None
        self._subscribed: set[str] = set()  # channels subscribed on self._bus
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._streams_lock = threading.Lock()
        self._streams = 0

    # -- feeding ---------------------------------------------------------------------------
    def on_frames(self, messages: Sequence[FrameMessage]) -> None:
        for message in messages:
            self.add_frame(message.camera_id, message.jpeg)

    def on_events(self, messages: Sequence[AttendanceEvent]) -> None:
        for message in messages:
            self.add_event(message)

    def on_sightings(self, messages: Sequence[SightingMessage]) -> None:
        for message in messages:
            self.add_sighting(message)

    def add_sighting(self, message: SightingMessage) -> None:
        known = message.is_known
        name = (message.employee_name or message.employee_id or "known") if known else "unknown"
        item = RecentSighting(
            sighting_id=message.sighting_id,
            frame_id=message.frame_id,
            box=message.box,
            name=name,
            known=known,
            seen_at=message.seen_at,
            received=time.monotonic(),
        )
        with self._condition:
            recent = self._sightings.setdefault(
                message.camera_id, deque(maxlen=MAX_SIGHTINGS_PER_CAMERA)
            )
            recent.append(item)
            self._prune(recent, item.received)

    @staticmethod
    def _prune(recent: deque[RecentSighting], now: float) -> None:
        while recent and now - recent[0].received > SIGHTING_TTL_S:
            recent.popleft()

    def add_frame(self, camera_id: str, jpeg: bytes) -> None:
        with self._condition:
            self._sequence += 1
            self._frames[camera_id] = LiveFrame(camera_id, jpeg, time.monotonic(), self._sequence)
            self._condition.notify_all()

    def add_event(self, event: AttendanceEvent) -> None:
        with self._condition:
            self._sequence += 1
            self._events.append(LiveEvent(self._sequence, event))
            self._condition.notify_all()

    # -- reading ---------------------------------------------------------------------------
    def cameras(self) -> list[str]:
        now = time.monotonic()
        with self._condition:
            return sorted(c for c, f in self._frames.items() if now - f.received < STALE_CAMERA_S)

    def latest_frame(self, camera_id: str) -> LiveFrame | None:
        with self._condition:
            return self._frames.get(camera_id)

    def recent_sightings(self, camera_id: str) -> list[RecentSighting]:
        """The camera's sightings of the last SIGHTING_TTL_S seconds, oldest first."""
        now = time.monotonic()
        with self._condition:
            recent = self._sightings.get(camera_id)
            if not recent:
                return []
            self._prune(recent, now)
            return list(recent)

    def display_jpeg(self, frame: LiveFrame) -> bytes:
        """The frame with recent face boxes drawn on it; the original bytes when there are none."""
        recent = self.recent_sightings(frame.camera_id)
        if not recent:
            return frame.jpeg
        key = (frame.sequence, tuple(item.sighting_id for item in recent))
        with self._draw_lock:
            cached = self._annotated.get(frame.camera_id)
            if cached is not None and cached[0] == key:
                return cached[1]
            try:
                jpeg = annotate(frame.jpeg, recent)
            except ImageError as exc:
                logger.warning("cannot draw boxes on a frame of %s: %s", frame.camera_id, exc)
                jpeg = frame.jpeg
            self._annotated[frame.camera_id] = (key, jpeg)
            return jpeg

    def wait_frame(self, camera_id: str, after: int, timeout: float) -> LiveFrame | None:
        """The camera's frame newer than sequence ``after``, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                frame = self._frames.get(camera_id)
                if frame is not None and frame.sequence > after:
                    return frame
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._condition.wait(remaining)

    def events_after(self, after: int, camera_id: str | None = None) -> list[LiveEvent]:
        with self._condition:
            return [
                item
                for item in self._events
                if item.sequence > after
                and (camera_id is None or item.event.camera_id == camera_id)
            ]

    def last_sequence(self) -> int:
        with self._condition:
            return self._sequence

    def wait_events(self, after: int, camera_id: str | None, timeout: float) -> list[LiveEvent]:
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                found = self.events_after(after, camera_id)
                remaining = deadline - time.monotonic()
                if found or remaining <= 0:
                    return found
                self._condition.wait(remaining)

    # -- streams ---------------------------------------------------------------------------
    def open_stream(self, limit: int) -> StreamSlot | None:
        """A slot for one more stream, or None when ``limit`` streams are open already."""
        with self._streams_lock:
            if self._streams >= limit:
                return None
            self._streams += 1
        return StreamSlot(self._close_stream)

    def _close_stream(self) -> None:
        with self._streams_lock:
            self._streams -= 1

    @property
    def open_streams(self) -> int:
        with self._streams_lock:
            return self._streams

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, connect: Callable[[], Communicator]) -> None:
        """Consume in a daemon thread from the communicator ``connect`` makes.

        After the communicator failed (the broker was away too long for its own retries), the
        feed waits, backing off, and asks ``connect`` again: a new communicator is subscribed
        and run; the same one handed back (an in-memory bus) is run again, keeping its
        subscriptions. The first connection is tried before returning, so that what is
        published from then on reaches the feed.
        """
        self._connect = connect
        self._stopping.clear()
        attached = self._attach()
        self._thread = threading.Thread(
            target=self._consume, args=(attached,), name="web-live-feed", daemon=True
        )
        self._thread.start()

    def _attach(self) -> bool:
        """Take a communicator from the factory and subscribe it; whether that worked."""
        assert self._connect is not None
        try:
            bus = self._connect()
        except Exception as exc:
            logger.warning("live feed: cannot make a bus connection: %s", exc)
            return False
        with self._bus_lock:
            previous, self._bus = self._bus, bus
        if bus is not previous:
            self._subscribed = set()
            if previous is not None:
                _close_quietly(previous)
        return self._subscribe(bus)

    def _subscribe(self, bus: Communicator) -> bool:
        return (
            self._subscribe_to(bus, FRAMES, self.on_frames)
            and self._subscribe_to(bus, ATTENDANCE_EVENTS, self.on_events)
            and self._subscribe_to(bus, SIGHTINGS, self.on_sightings)
        )

    def _subscribe_to(
        self, bus: Communicator, channel: Channel[M], handler: BatchHandler[M]
    ) -> bool:
        if channel.name in self._subscribed:
            return True
        # Counted even if it fails: a communicator keeps a subscription whose first start
        # failed and starts it when it runs, so subscribing twice would consume twice.
        self._subscribed.add(channel.name)
        try:
            bus.subscribe(channel, handler, broadcast=True)
        except Exception as exc:
            logger.warning("live feed: cannot subscribe to %s: %s", channel.name, exc)
            return False
        return True

    def _consume(self, attached: bool) -> None:
        backoff = OutageBackoff(RECONNECT_FIRST_S, RECONNECT_MAX_S)
        while not self._stopping.is_set():
            if not attached:
                delay = backoff.failed()
                logger.warning("live feed disconnected; reconnecting in %.1fs", delay)
                if self._stopping.wait(delay):
                    break
                attached = self._attach()
                if not attached:
                    continue
                logger.info("live feed reconnected")
            backoff.succeeded()
            with self._bus_lock:
                bus = self._bus
                if bus is None or self._stopping.is_set():
                    break
                self._connected.set()
            try:
                bus.run()
            except Exception as exc:
                logger.warning("live feed consumer failed: %s", exc)
            self._connected.clear()
            attached = False

    @property
    def running(self) -> bool:
        """Whether the feed consumes from a connected bus (False while it reconnects)."""
        return self._thread is not None and self._thread.is_alive() and self._connected.is_set()

    def stop(self) -> None:
        """Stop consuming and close the communicator consumed from."""
        self._stopping.set()
        with self._bus_lock:
            bus = self._bus
        if bus is not None:
            bus.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
        # The thread may have swapped in a new communicator meanwhile: close the last one.
        with self._bus_lock:
            bus, self._bus = self._bus, None
        if bus is not None:
            _close_quietly(bus)


class StreamSlot:
    """One open stream's place under the cap; released once, however often it is asked."""

    def __init__(self, release: Callable[[], None]) -> None:
        self._release: Callable[[], None] | None = release
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            release, self._release = self._release, None
        if release is not None:
            release()


def reusing(bus: Communicator) -> Callable[[], Communicator]:
    """A factory handing back ``bus`` itself: the live feed runs it again after a failure."""
    return lambda: bus


def _close_quietly(bus: Communicator) -> None:
    try:
        bus.close()
    except Exception as exc:  # a dead connection may fail to close; nothing is left to save
        logger.debug("live feed: ignoring an error while closing a bus: %r", exc)
