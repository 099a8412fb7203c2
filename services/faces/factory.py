"""Building the face finder from settings, and closing what was built before a process exits."""

from __future__ import annotations

import weakref

from services.faces.detection import FaceDetector
from services.faces.finder import FaceFinder
from services.faces.settings import FaceSettings

# Every detector built here, so that a process can close them before it exits: MediaPipe's
# own finaliser fails with a traceback when it runs during interpreter shutdown.
_built: weakref.WeakSet[FaceDetector] = weakref.WeakSet()


def build_finder(settings: FaceSettings) -> FaceFinder:
    detector = FaceDetector(
        settings.detector_model,
        settings.attendance_models_dir,
        min_confidence=settings.detector_min_confidence,
        min_face_size=settings.detector_min_face_size,
    )
    _built.add(detector)
    return FaceFinder(detector)


def built_detectors() -> frozenset[FaceDetector]:
    """The open detectors :func:`build_finder` has made so far (to close only later ones)."""
    return frozenset(_built)


def close_detectors(*, keep: frozenset[FaceDetector] = frozenset()) -> None:
    """Close the detectors :func:`build_finder` made, but those in ``keep`` (those that were
    there before, which belong to someone else in this process); closing twice is harmless."""
    for detector in list(_built):
        if detector not in keep:
            detector.close()
