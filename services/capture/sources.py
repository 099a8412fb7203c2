"""Frame sources: a camera, a video file, a network stream, or a folder of images."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from services.common.images import ImageError, decode_image
from services.common.redact import redact_url

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


class SourceError(Exception):
    """The source cannot be opened or read; the message names it and says why."""


@dataclass(frozen=True)
class SourceSpec:
    kind: str  # "camera" | "file" | "stream" | "folder"
    # May hold a camera's user and password: shown only as :attr:`shown`, never in a repr.
    location: str = field(repr=False)

    @property
    def is_live(self) -> bool:
        return self.kind in ("camera", "stream")

    @property
    def shown(self) -> str:
        """The location as logs and error messages may show it (credentials hidden)."""
        return redact_url(self.location)

    def __str__(self) -> str:
        return f"{self.kind} {self.shown!r}"


def parse_source(raw: str) -> SourceSpec:
    raw = raw.strip()
    if raw.isdigit():
        return SourceSpec("camera", raw)
    if "://" in raw:
        scheme = raw.split("://", 1)[0].lower()
        if scheme not in {"rtsp", "rtsps", "http", "https", "rtmp", "udp", "tcp"}:
            raise SourceError(f"unsupported stream scheme {scheme!r} in {redact_url(raw)!r}")
        return SourceSpec("stream", raw)
    path = Path(raw).expanduser()
    if path.is_dir():
        return SourceSpec("folder", str(path))
    if path.is_file():
        return SourceSpec("file", str(path))
    raise SourceError(
        f"source {redact_url(raw)!r} is neither a camera index, a stream URL, a file nor a folder"
    )


def read_frames(spec: SourceSpec, fps: float, *, loop: bool = False) -> Iterator[np.ndarray]:
    """RGB frames at no more than ``fps`` per second; ends when a file or folder ends."""
    if spec.kind == "folder":
        yield from _paced(_folder_frames(Path(spec.location), loop), fps)
    else:
        yield from _paced(_video_frames(spec, fps, loop), fps)


def _paced(frames: Iterator[np.ndarray], fps: float) -> Iterator[np.ndarray]:
    interval = 1.0 / fps
    next_at = time.monotonic()
    for frame in frames:
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        next_at = max(next_at + interval, time.monotonic() - interval)
        yield frame


def _folder_frames(folder: Path, loop: bool) -> Iterator[np.ndarray]:
    while True:
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise SourceError(f"folder {folder} holds no images")
        for path in paths:
            try:
                yield decode_image(path.read_bytes())
            except (ImageError, OSError) as exc:
                logger.warning("skipping %s: %s", path, exc)
        if not loop:
            return


def _open(spec: SourceSpec) -> cv2.VideoCapture:
    target: int | str = int(spec.location) if spec.kind == "camera" else spec.location
    capture = cv2.VideoCapture(target)
    if not capture.isOpened():
        capture.release()
        raise SourceError(f"cannot open {spec}")
    return capture


def _video_frames(spec: SourceSpec, fps: float, loop: bool) -> Iterator[np.ndarray]:
    capture = _open(spec)
    try:
        # Files are sampled by their own clock so a 30 fps clip yields ``fps`` frames per
        # second of video; live sources are simply read as fast as they come and paced.
        native_fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
        step = native_fps / fps if spec.kind == "file" and native_fps > fps else 1.0
        position = 0.0
        index = 0
        while True:
            ok, bgr = capture.read()
            if not ok:
                if spec.kind == "file" and loop and index > 0:
                    capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    position, index = 0.0, 0
                    continue
                if spec.is_live:
                    raise SourceError(f"{spec} stopped delivering frames")
                return
            if index >= position:
                position += step
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        capture.release()
