"""What the recognizer's decision rule is for the gallery it holds, reported through the cache.

The recognizer writes a :class:`RecognitionStatus` whenever it loads a new gallery snapshot
(and when it starts; services/recognizer/status.py describes it); the web's Recognition page
and ``GET /api/v1/recognition`` read it here. The
status carries the time it was written, so a reader can tell a recognizer that has not
reported for long from one that merely has nothing new to say.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from services.common.cache import KeyValueCache
from services.common.domain.open_set import (
    DEFAULT_TARGET_FPIR,
    ImpostorTail,
    OpenSetPolicy,
)

logger = logging.getLogger(__name__)

STATUS_KEY = "recognition:status"
# Gallery sizes, as multiples of the current one, for which the status shows what the rule
# would do: how the threshold will move as staff is added.
OUTLOOK_FACTORS = (2, 5, 10)


class RuleAtSize(BaseModel):
    model_config = ConfigDict(frozen=True)
    gallery_embeddings: int
    threshold: float
    expected_fpir: float | None


class GateLimits(BaseModel):
    model_config = ConfigDict(frozen=True)
    min_face_size: float
    min_sharpness: float
    max_turn: float
    min_nose_height: float


class RecognitionStatus(BaseModel):
    # A reader ignores fields a newer recognizer added, rather than failing on them.
    model_config = ConfigDict(frozen=True, extra="ignore")
    model_id: str
    gallery_version: str
    gallery_people: int
    gallery_embeddings: int
    rule: Literal["calibrated", "configured", "uncalibrated"]
    threshold: float
    margin: float
    expected_fpir: float | None
    target_fpir: float | None
    calibration: str | None
    # The recipe's impostor tail (threshold, log10 FAR), so a reader can work out the rule for
    # another gallery size exactly as the recognizer would (:func:`rule_at`).
    calibration_table: list[tuple[float, float]] | None
    outlook: list[RuleAtSize]
    quality_gate: GateLimits | None
    reported_at: datetime


def rule_at(status: RecognitionStatus, gallery_embeddings: int) -> RuleAtSize:
    """The rule the reporting recognizer would apply to a gallery of that many embeddings."""
    tails = []
    if status.calibration_table:
        tails.append(
            ImpostorTail.from_rows(
                status.model_id, status.calibration_table, source=status.calibration or ""
            )
        )
    policy = OpenSetPolicy(
        status.model_id,
        tails,
        target_fpir=status.target_fpir or DEFAULT_TARGET_FPIR,
        threshold=status.threshold if status.rule == "configured" else None,
        margin=status.margin,
    )
    rule = policy.rule_for(gallery_embeddings)
    return RuleAtSize(
        gallery_embeddings=gallery_embeddings,
        threshold=rule.threshold,
        expected_fpir=rule.expected_fpir,
    )


def publish_status(cache: KeyValueCache, status: RecognitionStatus) -> None:
    cache.set(STATUS_KEY, status.model_dump_json().encode())


def read_status(cache: KeyValueCache) -> RecognitionStatus | None:
    """The last status a recognizer reported; None when none has (or it cannot be read)."""
    raw = cache.get(STATUS_KEY)
    if raw is None:
        return None
    try:
        return RecognitionStatus.model_validate_json(raw)
    except ValidationError as exc:
        logger.warning("unreadable recognition status in the cache: %s", exc)
        return None
