"""The capture service: reads a source, publishes JPEG frames at a steady rate."""

from __future__ import annotations

import logging
import threading

import numpy as np

from services.capture.sources import SourceError, SourceSpec, parse_source, read_frames
from services.common.bus.base import Communicator
from services.common.bus.topology import FRAMES
from services.common.contracts import FrameMessage, new_id, utc_now
from services.common.images import encode_jpeg, fit_within
from services.common.metrics import FRAMES_PUBLISHED
from services.common.outages import OutageBackoff

logger = logging.getLogger(__name__)


class Capture:
    def __init__(
        self,
        bus: Communicator,
        source: str | SourceSpec,
        camera_id: str,
        *,
        fps: float = 5.0,
        jpeg_quality: int = 85,
        max_side: int = 1280,
        loop: bool = False,
        reconnect_max_delay: float = 30.0,
    ) -> None:
        self._bus = bus
        self.spec = parse_source(source) if isinstance(source, str) else source
        self.camera_id = camera_id
        self._fps = fps
        self._quality = jpeg_quality
        self._max_side = max_side
        self._loop = loop
        self._reconnect = OutageBackoff(first_s=1.0, max_s=reconnect_max_delay)
        self._stopping = threading.Event()
        self.frames_published = 0

    def frame_message(self, rgb: np.ndarray) -> FrameMessage:
        rgb = fit_within(rgb, self._max_side)
        height, width = rgb.shape[:2]
        return FrameMessage(
            frame_id=new_id(),
            camera_id=self.camera_id,
            captured_at=utc_now(),
            width=width,
            height=height,
            jpeg=encode_jpeg(rgb, self._quality),
        )

    def run(self) -> None:
        """Publish until the source ends (files, folders) or :meth:`stop` is called."""
        while not self._stopping.is_set():
            try:
                for rgb in read_frames(self.spec, self._fps, loop=self._loop):
                    if self._stopping.is_set():
                        return
                    self._bus.publish(FRAMES, self.frame_message(rgb))
                    self.frames_published += 1
                    FRAMES_PUBLISHED.labels(self.camera_id).inc()
                    self._reconnect.succeeded()
                logger.info("source %s ended after %d frames", self.spec, self.frames_published)
                return
            except SourceError as exc:
                if not self.spec.is_live:
                    raise
                delay = self._reconnect.failed()
                logger.warning("%s; reopening in %.0fs", exc, delay)
                self._stopping.wait(delay)

    def stop(self) -> None:
        self._stopping.set()
