"""Image sizes are read from the header and checked before a single pixel is decoded."""

from __future__ import annotations

import io
import warnings

import pytest
from PIL import Image

from services.common.images import (
    MAX_PIXELS,
    ImageError,
    ImageTooLarge,
    checked_dimensions,
    decode_image,
    image_dimensions,
)
from tests.helpers.image_bombs import webp_bomb

pytestmark = pytest.mark.unit


def encoded(size: tuple[int, int], mode: str = "1", fmt: str = "PNG") -> bytes:
    """A blank picture: a 1-bit PNG compresses to a few kilobytes however large it claims to be."""
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, fmt)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return encoded((20_000, 20_000))


def test_a_decompression_bomb_is_a_small_file(bomb):
    assert len(bomb) < 100_000


def test_the_size_of_a_decompression_bomb_is_read_from_its_header_without_a_warning(bomb):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert image_dimensions(bomb) == (20_000, 20_000)


def test_a_webp_bomb_is_refused_from_its_header_naming_its_size():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageTooLarge, match="16384x16384 pixels"):
            decode_image(webp_bomb(16_384, 16_384))


@pytest.mark.parametrize("lossless", [True, False])
def test_the_size_of_an_ordinary_webp_is_read_from_its_header(lossless):
    buffer = io.BytesIO()
    Image.new("RGB", (321, 123)).save(buffer, "WEBP", lossless=lossless)
    assert image_dimensions(buffer.getvalue()) == (321, 123)


@pytest.mark.parametrize("size", [(20_000, 20_000), (7_000, 7_000)])
def test_an_image_past_the_pixel_limit_is_refused_naming_its_size_and_the_limit(size):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageTooLarge) as refused:
            decode_image(encoded(size))
    message = str(refused.value)
    assert f"{size[0]}x{size[1]} pixels" in message
    assert f"at most {MAX_PIXELS / 1_000_000:g} megapixels" in message
    assert isinstance(refused.value, ImageError)


def test_the_longer_side_can_be_limited_too():
    with pytest.raises(ImageTooLarge, match="3000x200 pixels; at most 1920 pixels on the longer"):
        checked_dimensions(encoded((3000, 200)), max_side=1920)
    assert checked_dimensions(encoded((1920, 1080)), max_side=1920) == (1920, 1080)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP"])
def test_every_accepted_format_gives_its_size_and_decodes(fmt):
    data = encoded((33, 21), "RGB", fmt)
    assert image_dimensions(data) == (33, 21)
    assert decode_image(data).shape == (21, 33, 3)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"%PDF-1.4 a document", "not an image"),
        (b"\xff\xd8\xff" + b"\0" * 64, "not an image"),
        (encoded((8, 8), "RGB", "GIF"), "not an image"),
    ],
)
def test_what_is_not_an_accepted_image_is_refused_with_a_reason(data, reason):
    assert image_dimensions(data) is None
    with pytest.raises(ImageError, match=reason):
        decode_image(data)
