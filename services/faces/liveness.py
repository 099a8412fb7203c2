"""Liveness per face: is this a live person, or a printed photo or a screen held to the camera?

The detector has the whole frame, and the anti-spoofing networks need it: each looks at the
face with a lot of context around it (2.7 and 4 times the face box), where the edge of a print,
a hand holding it or a phone's bezel shows. A tight face crop (what the recognizer gets) gives
them nothing to go on.

The recipe is the published one (Silent-Face-Anti-Spoofing), written here from its description:

* **Crop.** The face box enlarged about its centre by the model's scale, the scale first reduced
  when the enlarged box would be larger than the frame, then the box slid back inside the frame
  (never clipped, so the face keeps its place and the aspect of the box is kept).
* **Input.** That crop resized to 80x80 (bilinear), in BGR order, raw 0-255 values.
* **Score.** Each network's softmax; class 1 is live. The published rule adds the two models'
  softmax outputs and takes the argmax; the score here is the mean of the two "live"
  probabilities, a number in [0, 1] that a threshold can be set on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from services.faces.liveness_networks import (
    INPUT_SIZE,
    LIVE_CLASS,
    LIVENESS_MODELS,
    LivenessModel,
)

logger = logging.getLogger(__name__)

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class CropBox:
    """A rectangle of the frame in pixels, ``x0 <= x < x1`` and ``y0 <= y < y1``."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0


def context_box(frame_size: tuple[int, int], box: Box, scale: float) -> CropBox:
    """The published context crop of face ``box`` (x, y, w, h) in a frame of ``(width, height)``.

    Always inside the frame and at least one pixel wide and high. A box partly outside the
    frame (BlazeFace reports faces cut by the frame's edge) is handled the same way.
    """
    width, height = frame_size
    x, y, box_w, box_h = box
    if width < 1 or height < 1:
        raise ValueError(f"empty frame {width}x{height}")
    if box_w < 1 or box_h < 1:
        raise ValueError(f"empty face box {box}")
    if scale <= 0:
        raise ValueError(f"crop scale must be positive, not {scale}")
    # The largest enlargement that still fits: a face filling the frame keeps what there is.
    scale = min(scale, (height - 1) / box_h, (width - 1) / box_w)
    new_w, new_h = box_w * scale, box_h * scale
    centre_x, centre_y = x + box_w / 2, y + box_h / 2
    left, right = _slide_inside(centre_x - new_w / 2, centre_x + new_w / 2, width - 1)
    top, bottom = _slide_inside(centre_y - new_h / 2, centre_y + new_h / 2, height - 1)
    x0, y0 = max(0, int(left)), max(0, int(top))
    # Inclusive right/bottom in the recipe, hence + 1; min() guards the one-pixel frame.
    x1, y1 = min(width, int(right) + 1), min(height, int(bottom) + 1)
    return CropBox(x0, y0, max(x1, x0 + 1), max(y1, y0 + 1))


def _slide_inside(low: float, high: float, last: int) -> tuple[float, float]:
    """Move [low, high] (no longer than ``last``) so that it lies within [0, last]."""
    if low < 0:
        high, low = high - low, 0.0
    if high > last:
        low, high = low - (high - last), float(last)
    return max(low, 0.0), high


def network_input(rgb: np.ndarray, box: Box, scale: float) -> np.ndarray:
    """The 3x80x80 float32 BGR input of a network with context ``scale`` for face ``box``."""
    height, width = rgb.shape[:2]
    crop = context_box((width, height), box, scale)
    patch = rgb[crop.y0 : crop.y1, crop.x0 : crop.x1, ::-1]  # RGB -> BGR, as trained
    resized = cv2.resize(
        np.ascontiguousarray(patch), (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR
    )
    return np.ascontiguousarray(resized.transpose(2, 0, 1), dtype=np.float32)


class LivenessScorer:
    """Both networks, loaded once; scores the faces of one frame together.

    torch's thread pool is process-wide: building a scorer sets it to ``threads`` (one by
    default). Two threads collapse when another process takes a core (README, "Performance"),
    and nothing else in a process that runs FaceNet in ONNX Runtime sets torch's count.
    """

    def __init__(self, models_dir: Path | None = None, *, threads: int | None = 1) -> None:
        # torch loads only when a scorer is built: a detector with liveness off never pays it.
        import torch

        from services.common.model_files import resolve_model_file
        from services.faces.liveness_networks import load_network

        if threads is not None:
            torch.set_num_threads(threads)

        self._networks = [
            (spec, load_network(spec, resolve_model_file(models_dir, spec.file_name)))
            for spec in LIVENESS_MODELS
        ]

    @property
    def models(self) -> tuple[LivenessModel, ...]:
        return tuple(spec for spec, _ in self._networks)

    def score(self, rgb: np.ndarray, boxes: Sequence[Box]) -> list[float]:
        """One liveness score in [0, 1] per face box of the RGB frame, in the boxes' order.

        No face, no work: an empty list comes back before any crop or network runs.
        """
        if not boxes:
            return []
        import torch

        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 frame, got {rgb.dtype} {rgb.shape}")
        live = np.zeros(len(boxes), dtype=np.float64)
        with torch.inference_mode():
            for spec, network in self._networks:
                batch = np.stack([network_input(rgb, box, spec.crop_scale) for box in boxes])
                probabilities = torch.softmax(network(torch.from_numpy(batch)), dim=1)
                live += probabilities[:, LIVE_CLASS].double().numpy()
        scores = live / len(self._networks)
        return [float(min(1.0, max(0.0, value))) for value in scores]
