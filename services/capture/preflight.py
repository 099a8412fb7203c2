"""Checks of a capture source made before anything starts: a camera that exists, a video that
reads, a folder with images, a stream URL with a known scheme. Each mistake is one line."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from services.capture.sources import IMAGE_SUFFIXES, SourceError, parse_source
from services.common.settings import SettingsError


def check_source(raw: str, name: str) -> None:
    """A capture source can be used: a camera that exists, a video that reads, a folder with
    images, or a stream URL with a known scheme (a stream itself is only tried when opened)."""
    if name == "--video":
        check_video(Path(raw), name)
        return
    try:
        spec = parse_source(raw)
    except SourceError as exc:
        raise SettingsError(f"{name}: {exc}") from None
    if spec.kind == "camera":
        if not camera_present(int(spec.location)):
            raise SettingsError(f"{name} {spec.location}: no camera with that index")
    elif spec.kind == "file":
        check_video(Path(spec.location), name)
    elif spec.kind == "folder" and not any(
        p.suffix.lower() in IMAGE_SUFFIXES for p in Path(spec.location).iterdir()
    ):
        raise SettingsError(f"{name} {spec.shown}: the folder holds no image")


def check_video(path: Path, name: str) -> None:
    """The file exists and OpenCV reads a first frame from it."""
    if not path.is_file():
        raise SettingsError(f"{name} {path}: no such file")
    if not os.access(path, os.R_OK):
        raise SettingsError(f"{name} {path}: no permission to read it")
    import cv2

    video = cv2.VideoCapture(str(path))
    try:
        readable = video.isOpened() and video.read()[0]
    finally:
        video.release()
    if not readable:
        raise SettingsError(f"{name} {path}: not a video OpenCV can read")


def camera_present(index: int) -> bool:
    """Whether camera ``index`` exists. On Linux its device node says so at no cost; elsewhere
    OpenCV opens it (quietly: a missing camera is an expected answer here, not an error)."""
    if sys.platform.startswith("linux"):
        return Path(f"/dev/video{index}").exists()
    os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
    import cv2

    camera = cv2.VideoCapture(index)
    try:
        return bool(camera.isOpened())
    finally:
        camera.release()
