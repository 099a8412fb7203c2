"""Decoding and encoding pictures with Pillow alone, for code that must not load OpenCV (the web).

Every picture is checked from its header first (services/common/image_headers.py: size limits,
decompression bombs, the accepted formats), exactly as services/common/images.py checks what
the pipeline decodes with OpenCV; only the decoder differs.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from services.common.image_headers import MAX_PIXELS, ImageError, checked_dimensions

# The formats image_headers accepts, by Pillow's names: nothing else is even tried.
_FORMATS = ("JPEG", "PNG", "WEBP", "BMP")
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, IndexError, TypeError, EOFError)


def decode_picture(
    data: bytes, max_pixels: int = MAX_PIXELS, *, max_side: int | None = None
) -> Image.Image:
    """Decode image bytes into an 8-bit RGB picture (grayscale, palette, alpha and 16-bit are
    converted); ImageError for anything else, ImageTooLarge past ``max_pixels`` or
    ``max_side``."""
    checked_dimensions(data, max_pixels=max_pixels, max_side=max_side)
    try:
        with Image.open(io.BytesIO(data), formats=_FORMATS) as opened:
            opened.load()
            return _to_rgb(opened)
    except _DECODE_ERRORS as exc:
        raise ImageError("the image is corrupt or truncated and cannot be decoded") from exc


def _to_rgb(picture: Image.Image) -> Image.Image:
    if picture.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        # Deeper than 8 bits: scaled by the brightest value (as OpenCV's decoding is), so a
        # 16-bit picture is not clipped to white.
        values = np.asarray(picture, dtype=np.float64)
        scale = 255.0 / max(1.0, float(values.max()))
        gray = np.clip(np.rint(np.abs(values) * scale), 0, 255).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    return picture.convert("RGB")


def encode_jpeg(picture: Image.Image, quality: int = 85) -> bytes:
    """The picture as JPEG bytes."""
    buffer = io.BytesIO()
    try:
        picture.convert("RGB").save(buffer, "JPEG", quality=quality)
    except (OSError, ValueError) as exc:
        raise ImageError("could not encode the image as JPEG") from exc
    return buffer.getvalue()
