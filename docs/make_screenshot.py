"""Render docs/dashboard.png, the README's screenshot of the dashboard, from synthetic data only.

The documentation must never carry a real person's face, so nothing here reads a photo: every
employee, visitor, enrolment photo, attendance snapshot and camera frame is a cartoon drawn with
OpenCV, and the embeddings are random unit vectors (nothing is recognised). Everything else is the
real product: a throwaway nx-27017 MongoDB-wire server, the dashboard built by
``services.web.app.create_app`` on the in-memory bus and cache, attendance records written by the
recorder's own rules (``services.recorder.service.Recorder``), and the live view fed through the
app's :class:`~services.web.live.LiveFeed`. Headless Chromium (Debian's, driven by playwright)
logs in and photographs the page.

Run from the repository root::

    .venv/bin/python docs/make_screenshot.py [--out docs/dashboard.png]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import secrets
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np
from flask import Flask
from PIL import Image
from werkzeug.serving import BaseWSGIServer, make_server

from services.allinone import MongoWireServer, free_port
from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
from services.common.cache import InMemoryCache
from services.common.contracts import BoundingBox, SightingMessage, new_id
from services.common.images import encode_jpeg
from services.common.storage.employees import EMBEDDING_SIZE, Employee, NewFace
from services.common.storage.mongo import connect
from services.recorder.service import Recorder
from services.recorder.settings import RecorderSettings
from services.web.app import create_app
from services.web.context import WebContext
from services.web.live import LiveFeed
from services.web.settings import WebSettings

logger = logging.getLogger("make_screenshot")

DEFAULT_OUT = Path(__file__).resolve().parent / "dashboard.png"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1366, "height": 860}
MAX_HEIGHT = 1200  # the viewport grows to the page's height (every row shown), up to this
MAX_PNG_BYTES = 400_000
ADMIN_PASSWORD = "synthetic-demo-password"
SITE_TIMEZONE = "Europe/Paris"
CAMERA_ID = "entrance"
MODEL_ID = "synthetic-random-unit-vectors"
SEED = 20240611
# The moment the live camera "shows"; the seeded day ends just before it.
LIVE_TIME = time(17, 21, 4)
FRAME_SIZE = (640, 400)  # width, height: the 16:10 of the dashboard's live panel
FEED_INTERVAL_S = 0.4
SUPERSAMPLE = 3  # shapes are drawn this many times larger, then shrunk: smooth edges

RGB = tuple[int, int, int]
INK: RGB = (40, 34, 38)
GLASSES: RGB = (30, 30, 36)


# -- drawing ---------------------------------------------------------------------------------
class Canvas:
    """An RGB picture drawn in supersampled coordinates; :meth:`finish` shrinks it."""

    def __init__(self, width: int, height: int, background: RGB) -> None:
        self.width = width
        self.height = height
        self.pixels = np.full((height * SUPERSAMPLE, width * SUPERSAMPLE, 3), background, np.uint8)

    @staticmethod
    def _pt(x: float, y: float) -> tuple[int, int]:
        return round(x * SUPERSAMPLE), round(y * SUPERSAMPLE)

    @staticmethod
    def _width(thickness: float) -> int:
        return -1 if thickness < 0 else max(1, round(thickness * SUPERSAMPLE))

    def ellipse(
        self,
        center: tuple[float, float],
        axes: tuple[float, float],
        color: RGB,
        *,
        angle: float = 0,
        arc: tuple[float, float] = (0, 360),
        thickness: float = -1,
    ) -> None:
        size = (max(1, round(axes[0] * SUPERSAMPLE)), max(1, round(axes[1] * SUPERSAMPLE)))
        cv2.ellipse(
            self.pixels,
            self._pt(*center),
            size,
            angle,
            arc[0],
            arc[1],
            color,
            self._width(thickness),
            cv2.LINE_AA,
        )

    def circle(self, center: tuple[float, float], radius: float, color: RGB) -> None:
        self.ellipse(center, (radius, radius), color)

    def line(
        self, start: tuple[float, float], end: tuple[float, float], color: RGB, width: float
    ) -> None:
        cv2.line(
            self.pixels, self._pt(*start), self._pt(*end), color, self._width(width), cv2.LINE_AA
        )

    def polygon(self, points: Sequence[tuple[float, float]], color: RGB) -> None:
        array = np.array([self._pt(x, y) for x, y in points], np.int32)
        cv2.fillPoly(self.pixels, [array], color, cv2.LINE_AA)

    def rect(
        self,
        top_left: tuple[float, float],
        bottom_right: tuple[float, float],
        color: RGB,
        thickness: float = -1,
    ) -> None:
        cv2.rectangle(
            self.pixels,
            self._pt(*top_left),
            self._pt(*bottom_right),
            color,
            self._width(thickness),
            cv2.LINE_AA,
        )

    def text(self, text: str, origin: tuple[float, float], scale: float, color: RGB) -> None:
        cv2.putText(
            self.pixels,
            text,
            self._pt(*origin),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale * SUPERSAMPLE,
            color,
            SUPERSAMPLE,
            cv2.LINE_AA,
        )

    def translucent(self, alpha: float, draw: Callable[[Canvas], None]) -> None:
        """Draw with ``draw`` on a copy and blend it in with opacity ``alpha``."""
        before = self.pixels.copy()
        draw(self)
        self.pixels = cv2.addWeighted(self.pixels, alpha, before, 1 - alpha, 0)

    def finish(self) -> np.ndarray:
        return cv2.resize(self.pixels, (self.width, self.height), interpolation=cv2.INTER_AREA)


def shade(color: RGB, factor: float) -> RGB:
    """``color`` darkened (factor < 1) or lightened towards white (factor > 1)."""
    if factor <= 1:
        return (round(color[0] * factor), round(color[1] * factor), round(color[2] * factor))
    mix = min(1.0, factor - 1)
    return (
        round(color[0] + (255 - color[0]) * mix),
        round(color[1] + (255 - color[1]) * mix),
        round(color[2] + (255 - color[2]) * mix),
    )


@dataclass(frozen=True)
class Look:
    """What a cartoon person looks like."""

    skin: RGB
    hair: RGB
    hair_style: str  # short | side | long | bun | curly | buzz | cap
    shirt: RGB
    trousers: RGB = (52, 60, 82)
    iris: RGB = (92, 64, 44)
    glasses: bool = False
    beard: bool = False
    open_smile: bool = True


def _draw_back_hair(c: Canvas, cx: float, cy: float, u: float, look: Look) -> None:
    style, hair = look.hair_style, look.hair
    if style == "long":
        c.ellipse((cx, cy + 0.1 * u), (1.0 * u, 1.2 * u), hair)
        c.rect((cx - 1.0 * u, cy + 0.1 * u), (cx + 1.0 * u, cy + 1.45 * u), hair)
    elif style == "curly":
        for index in range(15):
            angle = np.radians(150 + index * 240 / 14)
            c.circle(
                (cx + 0.86 * u * np.cos(angle), cy - 0.15 * u + 0.9 * u * np.sin(angle)),
                0.3 * u,
                hair,
            )
    elif style == "bun":
        c.circle((cx, cy - 1.12 * u), 0.34 * u, hair)
    if style != "cap":
        c.ellipse((cx, cy - 0.3 * u), (0.86 * u, 0.82 * u), hair)


def _draw_front_hair(c: Canvas, cx: float, cy: float, u: float, look: Look) -> None:
    style, hair = look.hair_style, look.hair
    if style == "buzz":
        c.ellipse((cx, cy - 0.72 * u), (0.62 * u, 0.28 * u), hair, arc=(180, 360))
    elif style == "side":
        c.ellipse((cx + 0.12 * u, cy - 0.72 * u), (0.7 * u, 0.3 * u), hair, angle=-12)
        c.ellipse((cx - 0.5 * u, cy - 0.55 * u), (0.28 * u, 0.2 * u), hair, angle=-35)
    elif style == "long":
        c.ellipse((cx - 0.32 * u, cy - 0.7 * u), (0.48 * u, 0.3 * u), hair, angle=18)
        c.ellipse((cx + 0.32 * u, cy - 0.7 * u), (0.48 * u, 0.3 * u), hair, angle=-18)
    elif style == "cap":
        c.ellipse((cx, cy - 0.58 * u), (0.84 * u, 0.6 * u), hair, arc=(180, 360))
        c.ellipse((cx + 0.25 * u, cy - 0.58 * u), (0.85 * u, 0.14 * u), shade(hair, 0.75))
        c.circle((cx, cy - 1.16 * u), 0.07 * u, shade(hair, 0.75))
    else:  # short, bun, curly: a fringe
        c.ellipse((cx, cy - 0.72 * u), (0.68 * u, 0.3 * u), hair)


def _draw_eyes(c: Canvas, cx: float, cy: float, u: float, look: Look) -> None:
    for side in (-1, 1):
        ex, ey = cx + side * 0.3 * u, cy - 0.06 * u
        c.ellipse((ex, ey), (0.15 * u, 0.11 * u), (250, 250, 250))
        c.circle((ex, ey + 0.01 * u), 0.085 * u, look.iris)
        c.circle((ex, ey + 0.01 * u), 0.045 * u, INK)
        c.circle((ex - 0.03 * u, ey - 0.025 * u), 0.024 * u, (255, 255, 255))
        c.ellipse((ex, ey), (0.15 * u, 0.11 * u), INK, arc=(195, 345), thickness=0.03 * u)
        brow = shade(look.hair, 0.8) if look.hair_style != "cap" else (60, 45, 40)
        c.ellipse(
            (ex, ey - 0.18 * u), (0.16 * u, 0.07 * u), brow, arc=(200, 340), thickness=0.055 * u
        )
        if look.glasses:
            c.ellipse((ex, ey), (0.21 * u, 0.18 * u), GLASSES, thickness=0.04 * u)
    if look.glasses:
        c.line((cx - 0.09 * u, cy - 0.08 * u), (cx + 0.09 * u, cy - 0.08 * u), GLASSES, 0.04 * u)


def _draw_mouth(c: Canvas, cx: float, cy: float, u: float, look: Look) -> None:
    if look.beard:
        beard = look.hair
        c.ellipse((cx, cy + 0.3 * u), (0.72 * u, 0.66 * u), beard, arc=(0, 180))
        c.ellipse((cx, cy + 0.36 * u), (0.3 * u, 0.1 * u), beard)
    if look.open_smile:
        c.ellipse((cx, cy + 0.42 * u), (0.22 * u, 0.15 * u), (150, 48, 62), arc=(0, 180))
        c.ellipse((cx, cy + 0.43 * u), (0.18 * u, 0.05 * u), (252, 252, 250), arc=(0, 180))
    else:
        c.ellipse(
            (cx, cy + 0.36 * u),
            (0.2 * u, 0.1 * u),
            (150, 48, 62),
            arc=(20, 160),
            thickness=0.05 * u,
        )


def draw_head(c: Canvas, cx: float, cy: float, u: float, look: Look) -> None:
    """A cartoon head centred on (cx, cy); ``u`` is half its height."""
    _draw_back_hair(c, cx, cy, u, look)
    for side in (-1, 1):
        c.circle((cx + side * 0.74 * u, cy + 0.02 * u), 0.15 * u, shade(look.skin, 0.9))
    c.ellipse((cx, cy), (0.75 * u, 0.95 * u), look.skin)
    _draw_front_hair(c, cx, cy, u, look)

    def blush(k: Canvas) -> None:
        for side in (-1, 1):
            k.circle((cx + side * 0.48 * u, cy + 0.22 * u), 0.12 * u, (235, 110, 120))

    c.translucent(0.35, blush)
    _draw_eyes(c, cx, cy, u, look)
    c.ellipse(
        (cx, cy + 0.14 * u),
        (0.07 * u, 0.05 * u),
        shade(look.skin, 0.75),
        arc=(0, 180),
        thickness=0.035 * u,
    )
    _draw_mouth(c, cx, cy, u, look)


def draw_person(c: Canvas, cx: float, head_y: float, u: float, look: Look) -> None:
    """A standing cartoon figure: head centred on (cx, head_y), feet at ``head_y + 7u``."""
    hip_y, foot_y = head_y + 4.0 * u, head_y + 7.0 * u
    for side in (-1, 1):
        c.line(
            (cx + side * 0.45 * u, hip_y),
            (cx + side * 0.5 * u, foot_y - 0.2 * u),
            look.trousers,
            0.66 * u,
        )
        c.ellipse((cx + side * 0.6 * u, foot_y - 0.08 * u), (0.4 * u, 0.18 * u), (45, 40, 42))
        c.line(
            (cx + side * 1.05 * u, head_y + 1.6 * u),
            (cx + side * 1.3 * u, head_y + 3.8 * u),
            shade(look.shirt, 0.85),
            0.52 * u,
        )
        c.circle((cx + side * 1.32 * u, head_y + 4.02 * u), 0.25 * u, look.skin)
    c.rect((cx - 0.95 * u, hip_y - 0.3 * u), (cx + 0.95 * u, hip_y + 0.35 * u), look.trousers)
    c.polygon(
        [
            (cx - 1.15 * u, head_y + 1.45 * u),
            (cx + 1.15 * u, head_y + 1.45 * u),
            (cx + 0.95 * u, hip_y),
            (cx - 0.95 * u, hip_y),
        ],
        look.shirt,
    )
    _draw_neck(c, cx, head_y, u, look)
    c.ellipse((cx, head_y + 1.5 * u), (1.15 * u, 0.3 * u), look.shirt, arc=(180, 360))
    _draw_collar(c, cx, head_y, u, look)
    draw_head(c, cx, head_y, u, look)


def draw_bust(c: Canvas, cx: float, head_y: float, u: float, look: Look) -> None:
    """Head and shoulders, as on an ID photo."""
    c.ellipse((cx, head_y + 2.15 * u), (1.75 * u, 1.0 * u), look.shirt)
    _draw_neck(c, cx, head_y, u, look)
    _draw_collar(c, cx, head_y, u, look)
    draw_head(c, cx, head_y, u, look)


def _draw_neck(c: Canvas, cx: float, head_y: float, u: float, look: Look) -> None:
    c.rect(
        (cx - 0.26 * u, head_y + 0.6 * u), (cx + 0.26 * u, head_y + 1.35 * u), shade(look.skin, 0.9)
    )


def _draw_collar(c: Canvas, cx: float, head_y: float, u: float, look: Look) -> None:
    c.polygon(
        [
            (cx - 0.3 * u, head_y + 1.2 * u),
            (cx + 0.3 * u, head_y + 1.2 * u),
            (cx, head_y + 1.65 * u),
        ],
        shade(look.skin, 0.9),
    )


# -- pictures --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Figure:
    """A person standing in the entrance scene (``u``: half the head's height, in pixels)."""

    look: Look
    cx: float
    head_y: float
    u: float

    @property
    def face_box(self) -> BoundingBox:
        return BoundingBox(
            x=round(self.cx - 0.95 * self.u),
            y=round(self.head_y - 1.2 * self.u),
            width=round(1.9 * self.u),
            height=round(2.35 * self.u),
        )


BACK_WALL = (170.0, 40.0, 470.0, 250.0)  # x0, y0, x1, y1 of the far wall, with the door
VANISHING = (320.0, 165.0)


def _draw_room(c: Canvas) -> None:
    """A corridor in one-point perspective: ceiling lights, side walls, a tiled floor."""
    width, height = FRAME_SIZE
    x0, y0, x1, y1 = BACK_WALL
    wall, floor = (226, 221, 210), (178, 166, 150)
    c.polygon([(0, 0), (width, 0), (x1, y0), (x0, y0)], (240, 238, 233))
    c.polygon([(0, 0), (x0, y0), (x0, y1), (0, height)], shade(wall, 0.86))
    c.polygon([(width, 0), (x1, y0), (x1, y1), (width, height)], shade(wall, 0.93))
    c.polygon([(0, height), (x0, y1), (x1, y1), (width, height)], floor)
    c.rect((x0, y0), (x1, y1), wall)
    vx, vy = VANISHING
    for index in range(9):
        back_x = x0 + index * (x1 - x0) / 8
        front_x = vx + (back_x - vx) * (height - vy) / (y1 - vy)
        c.line((back_x, y1), (front_x, height), shade(floor, 0.9), 1)
    for index in range(1, 7):
        y = y1 + (height - y1) * (index / 7) ** 1.5
        reach = (y - y1) / (height - y1)
        c.line((x0 - x0 * reach, y), (x1 + (width - x1) * reach, y), shade(floor, 0.9), 1)
    for x in (235.0, 405.0):
        c.ellipse((x, 18), (40, 7), (255, 250, 222))


def _glare(c: Canvas, left: float) -> None:
    c.polygon([(left + 10, 98), (left + 26, 98), (left + 2, 170), (left, 170)], (255, 255, 255))


def _draw_door(c: Canvas) -> None:
    """Glass double doors (a garden behind), a mat, an ENTRANCE sign and a badge reader."""
    c.rect((246, 90), (394, 250), (74, 78, 88))
    for left in (254.0, 322.0):
        right = left + 64
        c.rect((left, 98), (right, 250), (178, 212, 232))
        for bush in range(4):
            c.circle((left + 8 + bush * 16, 238), 13, (92, 146, 88))
        c.translucent(0.35, functools.partial(_glare, left=left))
    for x in (312.0, 328.0):
        c.line((x, 160), (x, 200), (214, 216, 222), 3)
    c.polygon([(248, 251), (392, 251), (404, 274), (236, 274)], (92, 88, 86))
    c.rect((280, 66), (360, 84), (36, 140, 82))
    c.text("ENTRANCE", (287, 80), 0.38, (255, 255, 255))
    c.rect((404, 176), (414, 210), (90, 94, 104))
    c.rect((406, 180), (412, 188), (80, 200, 120))


def _draw_clock(c: Canvas, moment: time) -> None:
    """A wall clock showing ``moment`` (the scene's time, as in the camera caption)."""
    centre, radius = (436.0, 84.0), 20.0
    c.circle(centre, radius + 2, (60, 62, 70))
    c.circle(centre, radius, (250, 250, 246))
    hours = np.radians((moment.hour % 12 + moment.minute / 60) * 30 - 90)
    minutes = np.radians(moment.minute * 6 - 90)
    for angle, length, width in ((hours, 0.5, 2.6), (minutes, 0.82, 1.6)):
        tip = (
            centre[0] + np.cos(angle) * radius * length,
            centre[1] + np.sin(angle) * radius * length,
        )
        c.line(centre, tip, (40, 40, 48), width)


def _draw_furniture(c: Canvas) -> None:
    """A notice board on the left wall and a potted plant on the right."""
    c.polygon([(30, 120), (120, 132), (120, 220), (30, 224)], (196, 160, 112))
    for left, top, colour in (
        (42, 134, (250, 250, 240)),
        (80, 142, (255, 236, 150)),
        (52, 176, (200, 226, 250)),
    ):
        c.polygon(
            [(left, top), (left + 26, top + 3), (left + 26, top + 33), (left, top + 31)], colour
        )
    for angle in (-60, -30, 0, 30, 60):
        c.ellipse((560, 300), (14, 52), (64, 130, 76), angle=angle)
    c.polygon([(535, 320), (585, 320), (578, 372), (542, 372)], (170, 96, 64))


def _label(rgb: np.ndarray, text: str, left: int, top: int, indent: int = 0) -> None:
    """White text on a translucent dark band, as camera captions are (``indent``: room before
    the text for a mark)."""
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.45
    (width, height), baseline = cv2.getTextSize(text, font, scale, 1)
    right, bottom = left + indent + width + 12, top + height + baseline + 8
    band = rgb.copy()
    cv2.rectangle(band, (left, top), (right, bottom), (0, 0, 0), -1)
    rgb[:] = cv2.addWeighted(band, 0.5, rgb, 0.5, 0)
    origin = (left + indent + 6, top + height + 4)
    cv2.putText(rgb, text, origin, font, scale, (255, 255, 255), 1, cv2.LINE_AA)


def _stamp(rgb: np.ndarray, moment: datetime) -> None:
    """The camera's caption and recording mark, at the final resolution (crisp text)."""
    _label(rgb, f"{CAMERA_ID.upper()}   {moment:%Y-%m-%d   %H:%M:%S}", 8, 8)
    left = FRAME_SIZE[0] - 66
    _label(rgb, "REC", left, 8, indent=16)
    cv2.circle(rgb, (left + 12, 19), 5, (235, 40, 40), -1, cv2.LINE_AA)


def entrance_frame(figures: Sequence[Figure], moment: datetime) -> np.ndarray:
    """The entrance camera's view (RGB) with ``figures`` in it, nearest drawn last."""
    c = Canvas(*FRAME_SIZE, (226, 221, 210))
    _draw_room(c)
    _draw_door(c)
    _draw_clock(c, moment.time())
    _draw_furniture(c)
    for figure in sorted(figures, key=lambda f: f.u):
        draw_person(c, figure.cx, figure.head_y, figure.u, figure.look)
    rgb = c.finish()
    _stamp(rgb, moment)
    return rgb


def portrait(look: Look, backdrop: RGB) -> tuple[np.ndarray, BoundingBox]:
    """An ID-style enrolment photo (RGB) on a plain backdrop, and its face box."""
    c = Canvas(480, 480, backdrop)
    draw_bust(c, 240, 205, 112, look)
    return c.finish(), Figure(look, 240, 205, 112).face_box


def face_crop(rgb: np.ndarray, box: BoundingBox, size: int = 160) -> np.ndarray:
    """A square crop around ``box`` (a little margin), resized to ``size``."""
    side = round(max(box.width, box.height) * 1.2)
    cx, cy = box.x + box.width // 2, box.y + box.height // 2
    height, width = rgb.shape[:2]
    left = min(max(0, cx - side // 2), max(0, width - side))
    top = min(max(0, cy - side // 2), max(0, height - side))
    crop = rgb[top : top + side, left : left + side]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


# -- the invented people ---------------------------------------------------------------------
@dataclass(frozen=True)
class StaffMember:
    name: str
    look: Look
    backdrop: RGB
    arrival: time | None = None
    departure: time | None = None


STAFF = (
    StaffMember(
        "Amara Okafor",
        Look((141, 88, 62), (32, 26, 28), "curly", (232, 162, 44), iris=(60, 40, 30)),
        (222, 232, 242),
        time(8, 2, 14),
        time(16, 31, 40),
    ),
    StaffMember(
        "Lucas Brandt",
        Look(
            (240, 204, 176),
            (214, 172, 96),
            "short",
            (62, 112, 192),
            iris=(70, 130, 180),
            glasses=True,
        ),
        (236, 230, 220),
        time(8, 14, 51),
        LIVE_TIME,
    ),
    StaffMember(
        "Mei Tanaka",
        Look((238, 206, 172), (36, 30, 36), "bun", (198, 72, 92), open_smile=False),
        (226, 238, 228),
        time(8, 37, 9),
        time(17, 5, 22),
    ),
    StaffMember(
        "Sofia Marquez",
        Look((214, 160, 122), (102, 58, 36), "long", (40, 150, 132)),
        (240, 228, 232),
        time(8, 51, 33),
    ),
    StaffMember(
        "Jonas Lindqvist",
        Look(
            (246, 212, 188), (186, 92, 44), "side", (96, 98, 110), iris=(80, 140, 120), beard=True
        ),
        (228, 232, 240),
        time(9, 12, 5),
    ),
    StaffMember(
        "Priya Raman",
        Look((172, 112, 78), (26, 22, 26), "long", (128, 82, 170), glasses=True, open_smile=False),
        (236, 234, 222),
        time(13, 2, 47),
    ),
    StaffMember(
        "Tomas Novak",
        Look((230, 190, 160), (120, 116, 112), "buzz", (70, 130, 72), beard=True),
        (230, 236, 236),
    ),
)

# Visitors the recognizer did not know: (look, local time of the sighting).
STRANGERS = (
    (
        Look((200, 146, 110), (210, 60, 50), "cap", (210, 60, 50), trousers=(40, 44, 50)),
        time(10, 47, 12),
    ),
    (
        Look((246, 214, 190), (150, 120, 80), "short", (230, 230, 226), glasses=True),
        time(14, 5, 38),
    ),
    (Look((120, 78, 56), (24, 22, 24), "buzz", (226, 120, 60), open_smile=False), time(15, 58, 3)),
)
LIVE_VISITOR = STRANGERS[1][0]


# -- the running dashboard -------------------------------------------------------------------
@dataclass
class RunningWeb:
    url: str
    app: Flask
    server: BaseWSGIServer
    thread: threading.Thread
    broker: InMemoryBroker
    buses: list[InMemoryCommunicator]

    @property
    def context(self) -> WebContext:
        return self.app.extensions["attendance"]

    def new_bus(self) -> InMemoryCommunicator:
        bus = InMemoryCommunicator(self.broker)
        self.buses.append(bus)
        return bus

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        self.context.live.stop()
        for bus in self.buses:
            bus.close()
        self.context.db.client.close()
        logger.info("dashboard stopped")


def start_web(mongo_url: str, timezone: str) -> RunningWeb:
    """The real app on the in-memory bus and cache, served over HTTP in a thread."""
    port = free_port()
    settings = WebSettings.from_env(
        {},
        mongo_url=mongo_url,
        mongo_db="attendance_demo",
        web_host="127.0.0.1",
        web_port=port,
        web_secret_key=secrets.token_hex(32),
        web_admin_password=ADMIN_PASSWORD,
        site_timezone=timezone,
    )
    db = connect(settings.mongo_url, settings.mongo_db)
    broker = InMemoryBroker()
    buses = [InMemoryCommunicator(broker), InMemoryCommunicator(broker)]
    app = create_app(settings, db=db, cache=InMemoryCache(), bus=buses[0], live_bus=buses[1])
    server = make_server("127.0.0.1", port, app, threaded=True)
    server.daemon_threads = True  # the page's event stream must not hold the shutdown
    thread = threading.Thread(target=server.serve_forever, name="web", daemon=True)
    thread.start()
    logger.info("dashboard on http://127.0.0.1:%d", port)
    return RunningWeb(f"http://127.0.0.1:{port}", app, server, thread, broker, buses)


# -- seeding through the product's own code --------------------------------------------------
def unit_vector(rng: np.random.Generator) -> np.ndarray:
    vector = rng.normal(size=EMBEDDING_SIZE).astype(np.float32)
    return vector / np.linalg.norm(vector)


def enrol(context: WebContext, member: StaffMember, rng: np.random.Generator) -> Employee:
    photo, box = portrait(member.look, member.backdrop)
    face = NewFace(encode_jpeg(photo), encode_jpeg(face_crop(photo, box)), unit_vector(rng))
    return context.employees.create(member.name, [face], MODEL_ID)


def sighting(
    figures: Sequence[Figure],
    subject: Figure,
    moment: datetime,
    employee: Employee | None,
    similarity: float,
) -> SightingMessage:
    """What the recognizer would publish for ``subject`` seen at ``moment`` (a local time)."""
    frame = entrance_frame(figures, moment)
    box = subject.face_box
    return SightingMessage(
        sighting_id=new_id(),
        face_id=new_id(),
        frame_id=new_id(),
        camera_id=CAMERA_ID,
        seen_at=moment.astimezone(UTC),
        box=box,
        track_id=new_id(),
        employee_id=employee.employee_id if employee else None,
        employee_name=employee.name if employee else None,
        similarity=similarity,
        runner_up_similarity=round(similarity - 0.31, 3),
        model_id=MODEL_ID,
        snapshot_jpeg=encode_jpeg(frame),
        face_jpeg=encode_jpeg(face_crop(frame, box)),
    )


def close_up(look: Look, step: float = 0.0) -> Figure:
    """Someone right in front of the entrance camera, as on an attendance picture."""
    return Figure(look, 320 + step, 150, 72)


def member_sightings(
    member: StaffMember, employee: Employee, day: date, zone: ZoneInfo, rng: np.random.Generator
) -> Iterator[SightingMessage]:
    """A short burst when walking in (the recognizer reports several frames), one on leaving."""
    if member.arrival is None:
        return
    arrival = datetime.combine(day, member.arrival, tzinfo=zone)
    for step, offset in enumerate((0.0, 1.6, 3.1)):
        figure = close_up(member.look, step * 6.0)
        score = round(float(rng.uniform(0.78, 0.9)), 3)
        yield sighting([figure], figure, arrival + timedelta(seconds=offset), employee, score)
    if member.departure is not None:
        departure = datetime.combine(day, member.departure, tzinfo=zone)
        figure = close_up(member.look, -8.0)
        score = round(float(rng.uniform(0.78, 0.9)), 3)
        yield sighting([figure], figure, departure, employee, score)


def seed(web: RunningWeb, zone: ZoneInfo, day: date) -> dict[str, Employee]:
    """Employees, their day at the entrance and a few unknown visitors, via the recorder."""
    context = web.context
    settings = RecorderSettings.from_env({}, site_timezone=str(zone))
    recorder = Recorder(
        web.new_bus(), context.employees, context.attendance, context.sightings, settings
    )
    rng = np.random.default_rng(SEED)
    employees: dict[str, Employee] = {}
    for member in STAFF:
        employee = enrol(context, member, rng)
        employees[member.name] = employee
        for message in member_sightings(member, employee, day, zone, rng):
            recorder.record(message)
    for look, at in STRANGERS:
        figure = close_up(look)
        moment = datetime.combine(day, at, tzinfo=zone)
        recorder.record(
            sighting([figure], figure, moment, None, round(float(rng.uniform(0.3, 0.45)), 3))
        )
    logger.info(
        "seeded %d employees, %d records and %d unknown sightings for %s",
        len(employees),
        len(context.attendance.for_day(day)),
        context.sightings.count(known=False),
        day,
    )
    return employees


# -- the live camera ---------------------------------------------------------------------------
class LiveCamera:
    """Feeds one still entrance scene and its face boxes to the live view, as a camera would.

    Boxes are shown only for sightings of the last couple of seconds, so they are re-sent with
    every frame.
    """

    def __init__(
        self, feed: LiveFeed, scene: Sequence[tuple[Figure, Employee | None]], moment: datetime
    ) -> None:
        self._feed = feed
        self._moment = moment
        self._scene = scene
        self._frame = entrance_frame([figure for figure, _ in scene], moment)
        self._jpeg = encode_jpeg(self._frame)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-camera", daemon=True)

    def _messages(self) -> Iterator[SightingMessage]:
        for figure, employee in self._scene:
            box = figure.face_box
            yield SightingMessage(
                sighting_id=new_id(),
                face_id=new_id(),
                frame_id=new_id(),
                camera_id=CAMERA_ID,
                seen_at=self._moment.astimezone(UTC),
                box=box,
                employee_id=employee.employee_id if employee else None,
                employee_name=employee.name if employee else None,
                similarity=0.86 if employee else 0.38,
                model_id=MODEL_ID,
                snapshot_jpeg=self._jpeg,
                face_jpeg=encode_jpeg(face_crop(self._frame, box)),
            )

    def tick(self) -> None:
        self._feed.add_frame(CAMERA_ID, self._jpeg)
        for message in self._messages():
            self._feed.add_sighting(message)

    def _run(self) -> None:
        while not self._stopping.wait(FEED_INTERVAL_S):
            self.tick()

    def start(self) -> None:
        self.tick()
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)


def live_scene(employees: dict[str, Employee]) -> list[tuple[Figure, Employee | None]]:
    """Lucas Brandt leaving (recognised, close) and an unknown visitor at the door (far)."""
    lucas = next(member for member in STAFF if member.departure == LIVE_TIME)
    return [
        (Figure(lucas.look, 228, 128, 38), employees[lucas.name]),
        (Figure(LIVE_VISITOR, 356, 178, 11), None),
    ]


# -- the browser -------------------------------------------------------------------------------
PAGE_READY = """() => {
  const live = document.querySelector("img[data-live-img]");
  const thumbs = [...document.querySelectorAll(".entries img, .today-card img")]
    .filter((img) => img.getBoundingClientRect().top < window.innerHeight);
  return live !== null && live.naturalWidth > 0 && thumbs.length > 0
    && thumbs.every((img) => img.complete && img.naturalWidth > 0);
}"""


def take_screenshot(url: str, out: Path) -> None:
    """Log in with headless Chromium, open the dashboard and photograph it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(base_url=url, viewport=VIEWPORT)
            page.set_default_timeout(20_000)
            page.goto("/login")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", ADMIN_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/")
            height = page.evaluate("document.documentElement.scrollHeight")
            page.set_viewport_size(
                {
                    "width": VIEWPORT["width"],
                    "height": min(MAX_HEIGHT, max(VIEWPORT["height"], height)),
                }
            )
            page.wait_for_function(PAGE_READY)
            page.wait_for_timeout(800)  # a few more live frames: boxes drawn, stream settled
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), animations="disabled", caret="hide")
        finally:
            browser.close()


def shrink_png(path: Path) -> None:
    """Reduce to a 256-colour palette when the screenshot is heavier than MAX_PNG_BYTES."""
    if path.stat().st_size <= MAX_PNG_BYTES:
        return
    with Image.open(path) as image:
        reduced = image.convert("RGB").quantize(
            colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
    reduced.save(path, optimize=True)


# -- main --------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="PNG to write")
    parser.add_argument("--timezone", default=SITE_TIMEZONE, help="the site's IANA time zone")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logger.setLevel(logging.INFO)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    zone = ZoneInfo(args.timezone)
    with (
        tempfile.TemporaryDirectory(prefix="attendance-screenshot-") as scratch,
        contextlib.ExitStack() as cleanup,
    ):
        mongo = MongoWireServer(Path(scratch) / "mongo")
        mongo.start()
        cleanup.callback(mongo.stop)
        web = start_web(mongo.url, args.timezone)
        cleanup.callback(web.stop)
        day = web.context.today()
        employees = seed(web, zone, day)
        moment = datetime.combine(day, LIVE_TIME, tzinfo=zone)
        camera = LiveCamera(web.context.live, live_scene(employees), moment)
        camera.start()
        cleanup.callback(camera.stop)
        take_screenshot(web.url, args.out)
    shrink_png(args.out)
    logger.info("wrote %s (%d bytes)", args.out, args.out.stat().st_size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
