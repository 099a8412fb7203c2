"""Decoding and encoding images safely: every picture entering the system passes through here."""

from __future__ import annotations

import cv2
import numpy as np

# A 50-megapixel photo is already far beyond any camera frame or ID photo; past this we refuse
# to decode rather than let a crafted header allocate gigabytes.
MAX_PIXELS = 50_000_000
MAX_SNAPSHOT_SIDE = 640


class ImageError(ValueError):
    """The bytes are not a usable image; the message says why, for the person who sent it."""


def image_dimensions(data: bytes) -> tuple[int, int] | None:
    """Width and height from the header of a JPEG/PNG/WebP/BMP without decoding pixels."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def decode_image(data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode image bytes into an RGB ``uint8`` array (grayscale and alpha are converted)."""
    if not data:
        raise ImageError("the file is empty")
    size = image_dimensions(data)
    if size is None:
        raise ImageError("the file is not an image (JPEG, PNG, WebP or BMP expected)")
    width, height = size
    if width * height > max_pixels:
        raise ImageError(
            f"the image is {width}x{height} pixels; at most {max_pixels // 1_000_000} "
            "megapixels are accepted"
        )
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
