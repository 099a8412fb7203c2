"""Live view: the latest frame per camera (MJPEG) and attendance events (Server-Sent Events).

The web process subscribes to FRAMES, SIGHTINGS and ATTENDANCE_EVENTS with private broadcast
queues, so it sees every message without taking frames away from the detectors. When the broker
goes away the feed reconnects with back-off, as the workers do, and says it is not running (so
/readyz is false) until it has.

Every stream writes at least every HEARTBEAT_S seconds, even when nothing happens, because a
server only learns that a client went away when a write fails; the stream then ends and frees
its request thread. Streams open at once are capped by ``web_max_streams``.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import cv2
import numpy as np
from flask import Blueprint, Response, current_app, request, stream_with_context
from werkzeug.datastructures import FileStorage

from services.common.bus.base import Communicator
from services.common.bus.topology import ATTENDANCE_EVENTS, FRAMES, SIGHTINGS
from services.common.contracts import AttendanceEvent, BoundingBox, FrameMessage, SightingMessage
from services.common.images import ImageError, decode_image, encode_jpeg
from services.common.outages import OutageBackoff
from services.web.auth import kiosk_allowed
from services.web.errors import ApiError
from services.web.input_models import CameraPath, LiveEventsQuery, MjpegQuery
from services.web.inputs import accepts

logger = logging.getLogger(__name__)

MAX_EVENTS = 200
# A camera silent for this long is dropped from the list of live cameras.
STALE_CAMERA_S = 60.0
# Streams end after a while; the page reconnects. This frees server threads of forgotten tabs.
MAX_STREAM_S = 600.0
# The longest a stream stays silent: a closed client is noticed within a few of these.
HEARTBEAT_S = 5.0
# A client refused for too many open streams may try again after this long.
STREAMS_RETRY_AFTER_S = 10
# Waits between reconnection attempts to the broker: short at first, then capped.
RECONNECT_FIRST_S = 0.5
RECONNECT_MAX_S = 10.0
# Face boxes are drawn on the live view for this long after their sighting arrives.
SIGHTING_TTL_S = 2.0
MAX_SIGHTINGS_PER_CAMERA = 64
KNOWN_RGB = (40, 200, 70)
UNKNOWN_RGB = (255, 176, 0)
PLACEHOLDER_RGB = (32, 32, 32)
PLACEHOLDER_SIZE = (320, 180)
BOUNDARY = "frame"

bp = Blueprint("live", __name__, url_prefix="/live")


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
        self._annotated: dict[str, tuple[tuple, bytes]] = {}
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
        handlers = (
            (FRAMES, self.on_frames),
            (ATTENDANCE_EVENTS, self.on_events),
            (SIGHTINGS, self.on_sightings),
        )
        for channel, handler in handlers:
            if channel.name in self._subscribed:
                continue
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


def _ascii(text: str) -> str:
    # OpenCV's built-in fonts draw ASCII only.
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)


def annotate(jpeg: bytes, sightings: Sequence[RecentSighting]) -> bytes:
    """Decode ``jpeg``, draw a box per sighting (green with the name, amber if unknown), encode."""
    rgb = np.ascontiguousarray(decode_image(jpeg))
    height, width = rgb.shape[:2]
    thickness = max(2, round(min(height, width) / 240))
    scale = max(0.4, min(height, width) / 700)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for item in sightings:
        color = KNOWN_RGB if item.known else UNKNOWN_RGB
        x0 = max(0, min(width - 1, item.box.x))
        y0 = max(0, min(height - 1, item.box.y))
        x1 = max(0, min(width - 1, item.box.x + item.box.width))
        y1 = max(0, min(height - 1, item.box.y + item.box.height))
        cv2.rectangle(rgb, (x0, y0), (x1, y1), color, thickness)
        label = _ascii(item.name)[:40]
        (text_w, text_h), baseline = cv2.getTextSize(label, font, scale, 1)
        top = y0 - text_h - baseline - 4
        if top < 0:  # no room above the box: put the label inside it
            top = y0
        cv2.rectangle(rgb, (x0, top), (x0 + text_w + 6, top + text_h + baseline + 4), color, -1)
        cv2.putText(rgb, label, (x0 + 3, top + text_h + 2), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return encode_jpeg(rgb)


def live_photo(camera_id: str) -> bytes:
    """The latest raw frame of ``camera_id`` as an enrolment photo (ApiError if there is none)."""
    camera_id = (camera_id or "").strip()
    frame = _feed().latest_frame(camera_id) if camera_id else None
    if frame is None or time.monotonic() - frame.received >= STALE_CAMERA_S:
        raise ApiError(
            409, "no_live_frame", f"camera {camera_id!r} has no recent frame to register from"
        )
    return frame.jpeg


def enrolment_photos(files: Sequence[FileStorage], camera_id: str | None) -> list[bytes]:
    """The uploaded photos or, when none is uploaded and a camera is named, its latest frame."""
    if camera_id and not any(f and f.filename for f in files):
        return [live_photo(camera_id)]
    from services.web.actions import read_photos  # actions -> context -> live: import late

    return read_photos(list(files))


def event_json(item: LiveEvent, zone) -> dict:
    event = item.event
    local = event.seen_at.astimezone(zone)
    return {
        "sequence": item.sequence,
        "employee_id": event.employee_id,
        "employee_name": event.employee_name,
        "camera_id": event.camera_id,
        "event": event.event,
        "seen_at": event.seen_at.isoformat(),
        "local_time": local.strftime("%H:%M"),
        "day": event.day,
        "record_id": event.record_id,
    }


def _feed() -> LiveFeed:
    return current_app.extensions["attendance"].live


@bp.get("/<camera_id>.jpg")
@kiosk_allowed
@accepts(path=CameraPath)
def snapshot(camera_id: str) -> Response:
    frame = _feed().latest_frame(camera_id)
    if frame is None:
        raise ApiError(404, "not_found", f"no frame from camera {camera_id!r} yet")
    jpeg = _feed().display_jpeg(frame)
    return Response(jpeg, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})


def _stream_slot(feed: LiveFeed) -> StreamSlot:
    limit = current_app.extensions["attendance"].settings.web_max_streams
    slot = feed.open_stream(limit)
    if slot is None:
        raise ApiError(
            503,
            "too_many_streams",
            f"{limit} live streams are open already, the most this server keeps; close one "
            "or try again later",
            retry_after_s=STREAMS_RETRY_AFTER_S,
        )
    return slot


def _streamed(body: Iterator, slot: StreamSlot, mimetype: str, **headers: str) -> Response:
    response = Response(
        stream_with_context(body),
        mimetype=mimetype,
        headers={"Cache-Control": "no-store", **headers},
    )
    # The server closes every response, also one whose client left before its first byte
    # (whose generator never started, so a ``finally`` in it would never run).
    response.call_on_close(slot.release)
    return response


@functools.cache
def placeholder_jpeg() -> bytes:
    """A dark picture sent while a camera has no frame yet, to keep its stream talking."""
    width, height = PLACEHOLDER_SIZE
    return encode_jpeg(np.full((height, width, 3), PLACEHOLDER_RGB, dtype=np.uint8))


def _mjpeg_part(jpeg: bytes) -> bytes:
    # Each part is followed at once by the next boundary: browsers show a part only when they
    # see the boundary after it, so a trailing boundary shows every frame without waiting for
    # the next one.
    return (
        f"Content-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
        + jpeg
        + f"\r\n--{BOUNDARY}\r\n".encode()
    )


@bp.get("/<camera_id>.mjpg")
@accepts(path=CameraPath, query=MjpegQuery)
def mjpeg(camera_id: str, query: MjpegQuery) -> Response:
    feed = _feed()
    # ``frames`` bounds the stream (tests, thumbnails); by default it runs until MAX_STREAM_S.
    limit = query.frames
    slot = _stream_slot(feed)

    def generate() -> Iterator[bytes]:
        sent = 0
        after = 0
        started = time.monotonic()
        yield f"--{BOUNDARY}\r\n".encode()
        while time.monotonic() - started < MAX_STREAM_S and (limit is None or sent < limit):
            frame = feed.wait_frame(camera_id, after, timeout=HEARTBEAT_S)
            if frame is None:
                # Nothing new: show the last frame again, so that a client gone away is
                # noticed by the failed write.
                latest = feed.latest_frame(camera_id)
                yield _mjpeg_part(feed.display_jpeg(latest) if latest else placeholder_jpeg())
                continue
            after = frame.sequence
            sent += 1
            yield _mjpeg_part(feed.display_jpeg(frame))

    return _streamed(generate(), slot, f"multipart/x-mixed-replace; boundary={BOUNDARY}")


@bp.get("/events")
@kiosk_allowed
@accepts(query=LiveEventsQuery)
def events(query: LiveEventsQuery) -> Response:
    """Server-Sent Events: one ``attendance`` event per AttendanceEvent (optionally per camera)."""
    feed = _feed()
    zone = current_app.extensions["attendance"].settings.zone
    camera_id = query.camera
    limit = query.max
    # A browser reconnecting sends the last id it saw; anything but a sequence number is ignored.
    last_id = request.headers.get("Last-Event-ID", "")
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    if re.fullmatch(r"[0-9]{1,18}", last_id):
        after = int(last_id)
    else:
        after = query.after if query.after is not None else feed.last_sequence()
    slot = _stream_slot(feed)

    def generate() -> Iterator[str]:
        nonlocal after
        sent = 0
        started = time.monotonic()
        yield "retry: 3000\n\n"
        while time.monotonic() - started < MAX_STREAM_S and (limit is None or sent < limit):
            items = feed.wait_events(after, camera_id, timeout=HEARTBEAT_S)
            if not items:
                yield ": keep-alive\n\n"
                continue
            for item in items:
                after = item.sequence
                sent += 1
                payload = json.dumps(event_json(item, zone))
                yield f"id: {item.sequence}\nevent: attendance\ndata: {payload}\n\n"

    return _streamed(generate(), slot, "text/event-stream", **{"X-Accel-Buffering": "no"})
