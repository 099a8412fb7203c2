"""Decoding and encoding images safely: every picture entering the system passes through here.

Sizes are read from the file's header before a single pixel is decoded, so a small file that
claims to be enormous (a "decompression bomb") is refused for the few bytes it is.
"""

from __future__ import annotations

import io
import struct

import cv2
import numpy as np
from PIL import BmpImagePlugin, Image, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

# 40 megapixels is beyond any ID photo or camera frame (a 36-megapixel camera, a phone's 24);
# decoding one takes about 160 MB, and past it a crafted header could ask for gigabytes.
MAX_PIXELS = 40_000_000
MAX_SNAPSHOT_SIDE = 640
ACCEPTED_FORMATS = "JPEG, PNG, WebP or BMP"

# The header readers of the formats accepted, called directly: Pillow's Image.open() refuses
# even to report the size of a very large image (DecompressionBombError) and warns about
# merely large ones, and its global limit cannot be changed safely from request threads. The
# WebP reader checks the size while opening all the same, so WebP headers are read here.
_HEADER_READERS = tuple(
    Image.OPEN[plugin.format]
    for plugin in (
        JpegImagePlugin.JpegImageFile,
        PngImagePlugin.PngImageFile,
        WebPImagePlugin.WebPImageFile,
        BmpImagePlugin.BmpImageFile,
    )
)
_HEADER_ERRORS = (SyntaxError, IndexError, TypeError, ValueError, OSError, struct.error, EOFError)


class ImageError(ValueError):
    """The bytes are not a usable image; the message says why, for the person who sent it."""


class ImageTooLarge(ImageError):
    """A real image with more pixels than the receiver accepts; the message gives both sizes."""


def webp_dimensions(data: bytes) -> tuple[int, int] | None:
    """Width and height from a WebP's first chunk (extended, lossless or lossy format)."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    kind, body = data[12:16], data[20:30]
    if kind == b"VP8X":
        return int.from_bytes(body[4:7], "little") + 1, int.from_bytes(body[7:10], "little") + 1
    if kind == b"VP8L" and body[0] == 0x2F:
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8 " and body[3:6] == b"\x9d\x01\x2a":
        width = int.from_bytes(body[6:8], "little") & 0x3FFF
        height = int.from_bytes(body[8:10], "little") & 0x3FFF
        return (width, height) if width and height else None
    return None


def image_dimensions(data: bytes) -> tuple[int, int] | None:
    """Width and height from the header of a JPEG/PNG/WebP/BMP, whatever their size, without
    decoding pixels; None when the bytes are none of these."""
    if data[:4] == b"RIFF":
        return webp_dimensions(data)
    prefix = data[:16]
    for factory, accept in _HEADER_READERS:
        if accept is not None and accept(prefix) is not True:
            continue
        try:
            with factory(io.BytesIO(data), None) as image:
                width, height = image.size
        except Image.DecompressionBombError:
            # A reader that checks the size itself: whatever the exact size, it is far too big.
            raise ImageTooLarge(
                f"the image has more than {Image.MAX_IMAGE_PIXELS * 2 / 1_000_000:g} megapixels; "
                f"at most {MAX_PIXELS / 1_000_000:g} megapixels are accepted"
            ) from None
        except _HEADER_ERRORS:
            continue
        if width > 0 and height > 0:
            return width, height
    return None


def checked_dimensions(
    data: bytes, *, max_pixels: int = MAX_PIXELS, max_side: int | None = None
) -> tuple[int, int]:
    """The image's width and height, read from its header, once they are known to be within
    ``max_pixels`` (and ``max_side`` on the longer side); ImageError otherwise."""
    if not data:
        raise ImageError("the file is empty")
    size = image_dimensions(data)
    if size is None:
        raise ImageError(f"the file is not an image ({ACCEPTED_FORMATS} expected)")
    width, height = size
    if max_side is not None and max(width, height) > max_side:
        raise ImageTooLarge(
            f"the image is {width}x{height} pixels; at most {max_side} pixels on the longer "
            "side are accepted"
        )
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"the image is {width}x{height} pixels; at most {max_pixels / 1_000_000:g} "
            "megapixels are accepted"
        )
    return width, height


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
