"""Drawing the faces recently seen on a live frame: a box per face, the name above it.

Pillow only (no OpenCV in the web). Known people are boxed in green with their name, unknown
faces in amber.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Protocol

from PIL import Image, ImageDraw, ImageFont

from services.common.contracts import BoundingBox
from services.common.picture_codec import decode_picture, encode_jpeg

KNOWN_RGB = (40, 200, 70)
UNKNOWN_RGB = (255, 176, 0)
LABEL_TEXT_RGB = (0, 0, 0)
PLACEHOLDER_RGB = (32, 32, 32)
PLACEHOLDER_SIZE = (320, 180)
MAX_LABEL_CHARACTERS = 40

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


class LabelledFace(Protocol):
    """What is drawn of one face (services.web.live_feed.RecentSighting is one)."""

    @property
    def box(self) -> BoundingBox: ...

    @property
    def name(self) -> str: ...

    @property
    def known(self) -> bool: ...


def _ascii(text: str) -> str:
    # The built-in font is sure to have the printable ASCII letters only.
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)


@functools.cache
def _font(size: int) -> Font:
    return ImageFont.load_default(size=size)


def annotate(jpeg: bytes, faces: Sequence[LabelledFace]) -> bytes:
    """Decode ``jpeg``, draw a box per face (green with the name, amber if unknown), encode.

    ImageError when ``jpeg`` cannot be decoded."""
    picture = decode_picture(jpeg)
    width, height = picture.size
    shorter = min(width, height)
    thickness = max(2, round(shorter / 240))
    # Labels grow with the frame, so they stay readable on a large one.
    font = _font(max(10, round(shorter / 24)))
    draw = ImageDraw.Draw(picture)
    for face in faces:
        color = KNOWN_RGB if face.known else UNKNOWN_RGB
        x0 = max(0, min(width - 1, face.box.x))
        y0 = max(0, min(height - 1, face.box.y))
        x1 = max(0, min(width - 1, face.box.x + face.box.width))
        y1 = max(0, min(height - 1, face.box.y + face.box.height))
        draw.rectangle((x0, y0, x1, y1), outline=color, width=thickness)
        label = _ascii(face.name)[:MAX_LABEL_CHARACTERS]
        left, top_edge, right, bottom = draw.textbbox((0, 0), label, font=font)
        text_w, text_h = right - left, bottom - top_edge
        top = y0 - text_h - 6
        if top < 0:  # no room above the box: put the label inside it
            top = y0
        draw.rectangle((x0, top, x0 + text_w + 6, top + text_h + 6), fill=color)
        draw.text((x0 + 3 - left, top + 3 - top_edge), label, fill=LABEL_TEXT_RGB, font=font)
    return encode_jpeg(picture)


@functools.cache
def placeholder_jpeg() -> bytes:
    """A dark picture sent while a camera has no frame yet, to keep its stream talking."""
    return encode_jpeg(Image.new("RGB", PLACEHOLDER_SIZE, PLACEHOLDER_RGB))
