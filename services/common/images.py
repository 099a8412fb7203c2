"""Decoding and encoding images safely: every picture entering the system passes through here.

Sizes are read from the file's header before a single pixel is decoded, so a small file that
claims to be enormous (a "decompression bomb") is refused for the few bytes it is.
"""

from __future__ import annotations

import cv2
import numpy as np

# The header checks live in a module without OpenCV (the web uses them too); they are
# re-exported here for the services that decode with OpenCV.
from services.common.image_headers import (
    ACCEPTED_FORMATS,
    MAX_PIXELS,
    ImageError,
    ImageTooLarge,
    checked_dimensions,
    image_dimensions,
    webp_dimensions,
)

__all__ = [
    "ACCEPTED_FORMATS",
    "MAX_PIXELS",
    "MAX_SNAPSHOT_SIDE",
    "ImageError",
    "ImageTooLarge",
    "checked_dimensions",
    "decode_image",
    "encode_jpeg",
    "fit_within",
    "image_dimensions",
    "to_rgb",
    "webp_dimensions",
]

MAX_SNAPSHOT_SIDE = 640


def decode_image(
    data: bytes, max_pixels: int = MAX_PIXELS, *, max_side: int | None = None
) -> np.ndarray:
    """Decode image bytes into an RGB ``uint8`` array (grayscale and alpha are converted);
    ImageError for anything else, ImageTooLarge past ``max_pixels`` or ``max_side``."""
    checked_dimensions(data, max_pixels=max_pixels, max_side=max_side)
    buffer = np.frombuffer(data, dtype=np.uint8)
    decoded = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.size == 0:
        raise ImageError("the image is corrupt or truncated and cannot be decoded")
    return to_rgb(decoded)


def to_rgb(decoded: np.ndarray) -> np.ndarray:
    """Convert an OpenCV-decoded array (gray, BGR, BGRA, 16-bit) into 8-bit RGB."""
    if decoded.dtype != np.uint8:
        decoded = cv2.convertScaleAbs(decoded, alpha=255.0 / max(1, int(decoded.max())))
    if decoded.ndim == 2:
        return cv2.cvtColor(decoded, cv2.COLOR_GRAY2RGB)
    channels = decoded.shape[2]
    if channels == 1:
        return cv2.cvtColor(decoded, cv2.COLOR_GRAY2RGB)
    if channels == 4:
        return cv2.cvtColor(decoded, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def encode_jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise ImageError("could not encode the image as JPEG")
    return encoded.tobytes()


def fit_within(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink (never enlarge) so that the longer side is at most ``max_side``."""
    height, width = rgb.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1.0:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
