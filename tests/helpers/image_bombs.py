"""Tiny files that claim enormous pictures, built at test time (nothing binary is committed)."""

from __future__ import annotations

import io
import struct

from PIL import Image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")


def webp_bomb(width: int, height: int) -> bytes:
    """An extended-format WebP whose canvas is ``width`` x ``height`` around a 1x1 picture:
    about 60 bytes, and Pillow refuses even to open it past its bomb limit."""
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1), (1, 2, 3)).save(buffer, "WEBP", lossless=True)
    small = buffer.getvalue()
    # The 1x1 image's own VP8L chunk follows its 12-byte RIFF header.
    size = struct.unpack("<I", small[16:20])[0]
    picture = small[20 : 20 + size]
    canvas = bytes(4) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + _chunk(b"VP8X", canvas) + _chunk(b"VP8L", picture)
    return b"RIFF" + struct.pack("<I", len(body)) + body
