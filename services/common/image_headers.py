"""Reading an image's size from its header, before a single pixel is decoded.

A small file that claims to be enormous (a "decompression bomb") is refused for the few bytes
it is. Pillow only, no OpenCV: the web checks what it receives with this too, and it loads no
OpenCV. services/common/images.py (OpenCV decoding) and services/common/picture_codec.py
(Pillow decoding) both check here first.
"""

from __future__ import annotations

import io
import struct

from PIL import BmpImagePlugin, Image, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

# 40 megapixels is beyond any ID photo or camera frame (a 36-megapixel camera, a phone's 24);
# decoding one takes about 160 MB, and past it a crafted header could ask for gigabytes.
MAX_PIXELS = 40_000_000
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
            # No file name: the bytes came from a request or a message, not from a file.
            with factory(io.BytesIO(data), "") as image:
                width, height = image.size
        except Image.DecompressionBombError:
            # A reader that checks the size itself: whatever the exact size, it is far too big.
            # (It raises only while Pillow has a limit, so the limit is a number here.)
            limit = Image.MAX_IMAGE_PIXELS or 0
            raise ImageTooLarge(
                f"the image has more than {limit * 2 / 1_000_000:g} megapixels; "
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
