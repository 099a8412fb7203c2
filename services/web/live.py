"""Live view: the latest frame per camera (MJPEG) and attendance events (Server-Sent Events).

The web process subscribes to FRAMES and ATTENDANCE_EVENTS with private broadcast queues, so it
sees every message without taking frames away from the detectors.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from flask import Blueprint, Response, current_app, request, stream_with_context

from services.common.bus.base import Communicator
from services.common.bus.topology import ATTENDANCE_EVENTS, FRAMES
from services.common.contracts import AttendanceEvent, FrameMessage
from services.web.auth import kiosk_allowed
from services.web.errors import ApiError

logger = logging.getLogger(__name__)

MAX_EVENTS = 200
# A camera silent for this long is dropped from the list of live cameras.
STALE_CAMERA_S = 60.0
# Streams end after a while; the page reconnects. This frees server threads of forgotten tabs.
MAX_STREAM_S = 600.0
HEARTBEAT_S = 15.0
BOUNDARY = "frame"

bp = Blueprint("live", __name__, url_prefix="/live")


@dataclass(frozen=True)
class LiveFrame:
    camera_id: str
    jpeg: bytes
    received: float  # monotonic
    sequence: int


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
        self._sequence = 0
        self._thread: threading.Thread | None = None
        self._bus: Communicator | None = None

    # -- feeding ---------------------------------------------------------------------------
    def on_frames(self, messages: Sequence[FrameMessage]) -> None:
        for message in messages:
            self.add_frame(message.camera_id, message.jpeg)

    def on_events(self, messages: Sequence[AttendanceEvent]) -> None:
        for message in messages:
            self.add_event(message)

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

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, bus: Communicator) -> None:
        """Subscribe (broadcast) and consume in a daemon thread."""
        bus.subscribe(FRAMES, self.on_frames, broadcast=True)
        bus.subscribe(ATTENDANCE_EVENTS, self.on_events, broadcast=True)
        self._bus = bus
        self._thread = threading.Thread(target=self._run, name="web-live-feed", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self._bus is not None
        try:
            self._bus.run()
        except Exception:
            logger.exception("live feed consumer stopped")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        if self._bus is not None:
            self._bus.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)


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
def snapshot(camera_id: str) -> Response:
    frame = _feed().latest_frame(camera_id)
    if frame is None:
        raise ApiError(404, "not_found", f"no frame from camera {camera_id!r} yet")
    return Response(frame.jpeg, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})


@bp.get("/<camera_id>.mjpg")
def mjpeg(camera_id: str) -> Response:
    feed = _feed()
    # ``frames`` bounds the stream (tests, thumbnails); by default it runs until MAX_STREAM_S.
    limit = request.args.get("frames", type=int)

    def generate() -> Iterator[bytes]:
        sent = 0
        after = 0
        started = time.monotonic()
        # Each part is followed at once by the next boundary: browsers show a part only when
        # they see the boundary after it, so a trailing boundary shows every frame without
        # waiting for the next one.
        yield f"--{BOUNDARY}\r\n".encode()
        while time.monotonic() - started < MAX_STREAM_S and (limit is None or sent < limit):
            frame = feed.wait_frame(camera_id, after, timeout=HEARTBEAT_S)
            if frame is None:
                continue
            after = frame.sequence
            sent += 1
            yield (
                (f"Content-Type: image/jpeg\r\nContent-Length: {len(frame.jpeg)}\r\n\r\n").encode()
                + frame.jpeg
                + f"\r\n--{BOUNDARY}\r\n".encode()
            )

    return Response(
        stream_with_context(generate()),
        mimetype=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers={"Cache-Control": "no-store"},
    )


@bp.get("/events")
@kiosk_allowed
def events() -> Response:
    """Server-Sent Events: one ``attendance`` event per AttendanceEvent (optionally per camera)."""
    feed = _feed()
    zone = current_app.extensions["attendance"].settings.zone
    camera_id = request.args.get("camera") or None
    limit = request.args.get("max", type=int)
    last_id = request.headers.get("Last-Event-ID") or request.args.get("after")
    after = int(last_id) if last_id and last_id.isdigit() else feed.last_sequence()

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

    return Response(
        stream_with_context(generate()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
