"""Entrypoint of the detector service, and the factory other modes reuse."""

from __future__ import annotations

from services.common.bus.base import Communicator
from services.common.bus.topology import FRAMES
from services.common.model_files import ensure_models
from services.common.preflight import required_model_files
from services.common.runtime import configure_logging, connect_bus, run_worker
from services.detector.service import Detector
from services.detector.settings import DetectorSettings
from services.faces.factory import build_finder, close_detectors
from services.faces.finder import FaceFinder


def build(
    settings: DetectorSettings,
    bus: Communicator,
    *,
    finder: FaceFinder | None = None,
    idle_sweep_s: float | None = 0.5,
) -> Detector:
    """The detector service; ``idle_sweep_s`` None: no thread ends the tracks of silent
    cameras (the caller drives the detector, as the bench does). Unless LIVENESS is ``off``,
    it loads the liveness networks."""
    liveness = None
    if settings.liveness != "off":
        from services.faces.liveness import LivenessScorer

        liveness = LivenessScorer(settings.attendance_models_dir)
    return Detector(
        bus,
        finder or build_finder(settings),
        settings.snapshot_max_side,
        quality_gate=settings.quality_gate,
        selection=settings.selection_policy,
        tracker=settings.tracker(),
        idle_sweep_s=idle_sweep_s,
        liveness=liveness,
        liveness_threshold=settings.liveness_threshold,
        liveness_min_faces=settings.liveness_min_faces,
        liveness_interval_s=settings.liveness_interval_s,
    )


def main(settings: DetectorSettings | None = None) -> int:
    settings = settings or DetectorSettings.from_env()
    configure_logging(settings.log_level, settings.log_json)
    # Check first (downloading a missing model file), then connect and load.
    ensure_models(required_model_files(settings), settings.attendance_models_dir)
    bus = connect_bus(settings)
    try:
        detector = build(settings, bus)
    except BaseException:
        bus.close()
        close_detectors()
        raise
    detector.start()

    def stop() -> None:
        # The tracks it follows end with it: their decisions are due now.
        detector.stop()
        close_detectors()

    return run_worker(settings, bus, FRAMES, on_stop=stop)
