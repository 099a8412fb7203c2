"""The web's pages, API and live view load no OpenCV, torch or MediaPipe: pictures are checked,
drawn and re-encoded with Pillow (common/picture_codec.py, web/frame_annotation.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

HEAVY = ("cv2", "torch", "mediapipe", "facenet_pytorch", "onnxruntime")
WEB_MODULES = (
    "services.web.app",
    "services.web.main",
    "services.web.recognition_status",
    "services.web.api",
    "services.web.pages",
    "services.web.live",
    "services.web.live_feed",
    "services.web.frame_annotation",
    "services.web.frames",
    "services.web.actions",
    "services.web.accounts",
    "services.web.auth",
)


def test_the_web_modules_load_no_opencv_torch_or_mediapipe():
    program = (
        "import importlib, sys\n"
        f"for name in {WEB_MODULES!r}: importlib.import_module(name)\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    # A fresh interpreter: this test process may have loaded them for other tests.
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == ""
