"""Live view routes: the latest frame per camera (JPEG, MJPEG) and attendance events (SSE).

What they serve comes from the live feed (services/web/live_feed.py); the face boxes are drawn
by services/web/frame_annotation.py.

Every stream writes at least every HEARTBEAT_S seconds, even when nothing happens, because a
server only learns that a client went away when a write fails; the stream then ends and frees
its request thread. Streams open at once are capped by ``web_max_streams``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, request, stream_with_context

from services.web.auth import ALL_ROLES, require_role
from services.web.context import ctx
from services.web.errors import ApiError
from services.web.frame_annotation import placeholder_jpeg
from services.web.input_models import CameraPath, LiveEventsQuery, MjpegQuery
from services.web.inputs import accepts
from services.web.live_feed import LiveEvent, LiveFeed, StreamSlot

# Streams end after a while; the page reconnects. This frees server threads of forgotten tabs.
MAX_STREAM_S = 600.0
# The longest a stream stays silent: a closed client is noticed within a few of these.
HEARTBEAT_S = 5.0
# A client refused for too many open streams may try again after this long.
STREAMS_RETRY_AFTER_S = 10
BOUNDARY = "frame"
# Stands for a camera id in an address a page hands to its script (static/*.js replace it).
CAMERA_SLOT = "__camera__"

bp = Blueprint("live", __name__, url_prefix="/live")


def event_json(item: LiveEvent, zone: ZoneInfo) -> dict[str, Any]:
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
    return ctx().live


@bp.get("/<camera_id>.jpg")
@require_role(*ALL_ROLES)
@accepts(path=CameraPath)
def snapshot(camera_id: str) -> Response:
    frame = _feed().latest_frame(camera_id)
    if frame is None:
        raise ApiError(404, "not_found", f"no frame from camera {camera_id!r} yet")
    jpeg = _feed().display_jpeg(frame)
    return Response(jpeg, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})


def _stream_slot(feed: LiveFeed) -> StreamSlot:
    limit = ctx().settings.web_max_streams
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


def _streamed(
    body: Iterator[bytes] | Iterator[str], slot: StreamSlot, mimetype: str, **headers: str
) -> Response:
    response = Response(
        stream_with_context(body),
        mimetype=mimetype,
        headers={"Cache-Control": "no-store", **headers},
    )
    # The server closes every response, also one whose client left before its first byte
    # (whose generator never started, so a ``finally`` in it would never run).
    response.call_on_close(slot.release)
    return response


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
@require_role(*ALL_ROLES)
@accepts(query=LiveEventsQuery)
def events(query: LiveEventsQuery) -> Response:
    """Server-Sent Events: one ``attendance`` event per AttendanceEvent (optionally per camera)."""
    feed = _feed()
    zone = ctx().settings.zone
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
