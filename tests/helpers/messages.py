"""Builders for valid messages, so tests state only what matters to them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from services.common.contracts import BoundingBox, SightingMessage, new_id
from services.common.images import encode_jpeg

MORNING = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
TINY_JPEG = encode_jpeg(np.full((8, 8, 3), 128, dtype=np.uint8))


def sighting(
    employee_id: str | None,
    seconds: float = 0,
    *,
    sighting_id: str | None = None,
    camera_id: str = "door",
    employee_name: str | None = None,
) -> SightingMessage:
    sid = sighting_id or new_id()
    return SightingMessage(
        sighting_id=sid,
        face_id=sid,
        frame_id=new_id(),
        camera_id=camera_id,
        seen_at=MORNING + timedelta(seconds=seconds),
        box=BoundingBox(x=1, y=2, width=30, height=30),
        employee_id=employee_id,
        employee_name=employee_name,
        similarity=0.8 if employee_id else 0.2,
        runner_up_similarity=0.1,
        model_id="test-model",
        snapshot_jpeg=TINY_JPEG,
        face_jpeg=TINY_JPEG,
    )


def unit_vector(seed: int, size: int = 512) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(size).astype(np.float32)
    return vector / np.linalg.norm(vector)
