"""A command run in the same process closes only the detectors it made, never a caller's (the
full suite once failed because `attendance users` closed the session's shared detector)."""

from __future__ import annotations

import numpy as np
import pytest

from services import cli
from services.detector.settings import DetectorSettings
from services.faces.factory import build_finder, built_detectors, close_detectors

pytestmark = [pytest.mark.integration, pytest.mark.models]


def test_a_command_run_in_process_leaves_the_callers_detector_open(models_dir, monkeypatch):
    finder = build_finder(DetectorSettings.from_env({}, attendance_models_dir=models_dir))
    try:
        monkeypatch.setenv("ATTENDANCE_MODELS_DIR", str(models_dir))
        assert cli.main(["models", "check"]) == 0
        # Still usable: a closed detector raises instead of answering.
        assert finder.find(np.zeros((120, 160, 3), dtype=np.uint8)) == []
    finally:
        finder.detector.close()


def test_closing_keeps_the_detectors_asked_to_stay_open(models_dir):
    settings = DetectorSettings.from_env({}, attendance_models_dir=models_dir)
    mine = build_finder(settings)
    earlier = built_detectors()
    theirs = build_finder(settings)
    close_detectors(keep=earlier)
    assert mine.find(np.zeros((120, 160, 3), dtype=np.uint8)) == []
    with pytest.raises(RuntimeError, match="closed"):
        theirs.find(np.zeros((120, 160, 3), dtype=np.uint8))
    mine.detector.close()
