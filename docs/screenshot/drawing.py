"""Cartoon people and the entrance camera's scene, drawn with OpenCV.

Every face in the documentation comes from here: nothing is a photo of a real person. Shapes
are drawn on a :class:`Canvas` at ``SUPERSAMPLE`` times the final size and shrunk, so edges are
smooth; captions are written at the final size, so text stays crisp.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time

import cv2
import numpy as np

from services.common.contracts import BoundingBox

CAMERA_ID = "entrance"  # the camera the scene is seen by, named in its caption
FRAME_SIZE = (640, 400)  # width, height: the 16:10 of the dashboard's live panel
SUPERSAMPLE = 3  # shapes are drawn this many times larger, then shrunk: smooth edges

RGB = tuple[int, int, int]
INK: RGB = (40, 34, 38)
GLASSES: RGB = (30, 30, 36)


# -- canvas ------------------------------------------------------------------------------------
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


# -- cartoon people ----------------------------------------------------------------------------
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


# -- the entrance scene ------------------------------------------------------------------------
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
