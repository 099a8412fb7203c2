"""Entrypoint of the capture service."""

from __future__ import annotations

import logging

from services.capture.service import Capture
from services.capture.settings import CaptureSettings
from services.capture.sources import SourceError
from services.common.bus.base import Communicator
from services.common.runtime import (
    configure_logging,
    connect_bus,
    serve_publisher_health,
    stop_on_signals,
)

logger = logging.getLogger(__name__)


def build(settings: CaptureSettings, bus: Communicator) -> Capture:
    return Capture(
        bus,
        settings.capture_source,
        settings.camera_id,
        fps=settings.capture_fps,
        jpeg_quality=settings.capture_jpeg_quality,
        max_side=settings.capture_max_side,
        loop=settings.capture_loop,
        reconnect_max_delay=settings.capture_reconnect_max_delay,
    )


def main(settings: CaptureSettings | None = None) -> int:
    settings = settings or CaptureSettings.from_env()
    configure_logging(settings.log_level, settings.log_json)
    bus = connect_bus(settings)
    try:
        capture = build(settings, bus)
        # Frames go to each detector's own queue, which only its detector can look into.
        serve_publisher_health(settings, bus)
        stop_on_signals(capture.stop)
        capture.run()
    except SourceError as exc:
        logger.error("capture failed: %s", exc)
        return 2
    finally:
        bus.close()
    return 0
