"""Kiosk frames: a picture sent by a door tablet, checked and published as a camera frame.

A frame is refused from its header alone when it is larger than a camera frame can be, and only
a few are decoded at once, so neither one crafted file nor a burst of them can exhaust memory.
"""

from __future__ import annotations

import functools
import logging
import re
import threading

from services.common.bus.base import BusUnavailable
from services.common.bus.topology import FRAMES
from services.common.contracts import FrameMessage, new_id, utc_now
from services.common.image_headers import ImageError, ImageTooLarge, checked_dimensions
from services.common.picture_codec import decode_picture, encode_jpeg
from services.web.context import WebContext
from services.web.errors import ApiError

logger = logging.getLogger(__name__)

CAMERA_ID = re.compile(r"^[A-Za-z0-9._:@/-]{1,64}$")
JPEG_MAGIC = b"\xff\xd8\xff"
# A kiosk sends a frame every few hundred milliseconds; one refused while the server is busy is
# replaced by the next one soon after.
BUSY_RETRY_AFTER_S = 1


@functools.cache
def decoding_slots(bound: int) -> threading.BoundedSemaphore:
    """The process-wide slots for decoding frames, one semaphore per configured bound."""
    return threading.BoundedSemaphore(bound)


def publish_frame(ctx: WebContext, camera_id: str, data: bytes) -> FrameMessage:
    """Publish a kiosk's picture as a camera frame (re-encoded to JPEG when it is not one).

    400 for a bad camera id or an empty body, 413 for a frame larger than
    ``web_max_frame_side``, 415 for what is not an image, 503 (with Retry-After) while
    ``web_max_concurrent_frames`` other frames are being decoded or the broker is away.
    """
    if not camera_id or not CAMERA_ID.match(camera_id):
        raise ApiError(400, "invalid_camera", "camera_id: 1-64 letters, digits or . _ : @ / -")
    if not data:
        raise ApiError(
            400, "frame_required", "send the frame as the request body or a 'frame' file"
        )
    max_side = ctx.settings.web_max_frame_side
    _check_header(data, max_side)
    slots = decoding_slots(ctx.settings.web_max_concurrent_frames)
    if not slots.acquire(blocking=False):
        raise ApiError(
            503,
            "frames_busy",
            "too many frames are being processed right now; send the next one later",
            retry_after_s=BUSY_RETRY_AFTER_S,
        )
    try:
        message = _frame_message(camera_id, data, max_side)
    finally:
        slots.release()
    try:
        ctx.bus.publish(FRAMES, message)
    except BusUnavailable as exc:
        raise ApiError(
            503,
            "bus_unavailable",
            "the message broker cannot be reached",
            retry_after_s=BUSY_RETRY_AFTER_S,
        ) from exc
    return message


def _check_header(data: bytes, max_side: int) -> None:
    try:
        checked_dimensions(data, max_side=max_side)
    except ImageTooLarge as exc:
        raise ApiError(413, "frame_too_large", f"frame: {exc}") from exc
    except ImageError as exc:
        raise ApiError(415, "not_an_image", f"frame: {exc}") from exc


def _frame_message(camera_id: str, data: bytes, max_side: int) -> FrameMessage:
    try:
        picture = decode_picture(data, max_side=max_side)
        # A JPEG goes on as it came; anything else becomes one, as the detectors expect.
        jpeg = data if data.startswith(JPEG_MAGIC) else encode_jpeg(picture)
    except ImageError as exc:
        raise ApiError(415, "not_an_image", f"frame: {exc}") from exc
    width, height = picture.size
    return FrameMessage(
        frame_id=new_id(),
        camera_id=camera_id,
        captured_at=utc_now(),
        width=width,
        height=height,
        jpeg=jpeg,
    )
