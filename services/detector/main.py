"""Entrypoint of the detector service, and the factory other modes reuse."""

from __future__ import annotations

from services.common.bus.base import Communicator
from services.common.bus.topology import FRAMES
from services.common.runtime import (
    configure_logging,
    connect_bus,
    serve_worker_health,
    stop_on_signals,
)
from services.detector.face_detection import FaceDetector
from services.detector.face_finder import FaceFinder
from services.detector.service import Detector
from services.detector.settings import DetectorSettings


def build_finder(settings: DetectorSettings) -> FaceFinder:
    detector = FaceDetector(
        settings.detector_model,
        settings.attendance_models_dir,
        min_confidence=settings.detector_min_confidence,
        min_face_size=settings.detector_min_face_size,
    )
    return FaceFinder(detector)


def build(settings: DetectorSettings, bus: Communicator) -> Detector:
    return Detector(bus, build_finder(settings), settings.snapshot_max_side)


def main(settings: DetectorSettings | None = None) -> int:
    settings = settings or DetectorSettings.from_env()
    configure_logging(settings.log_level, settings.log_json)
    bus = connect_bus(settings)
    build(settings, bus).start()
    serve_worker_health(settings, bus, FRAMES)
    stop_on_signals(bus.stop)
    try:
        bus.run()
    finally:
        bus.close()
    return 0
