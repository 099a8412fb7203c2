"""The recognizer's side of its reported status: describing the rule it applies."""

from __future__ import annotations

from datetime import datetime

from services.common.domain.open_set import DecisionRule, OpenSetPolicy
from services.common.recognition_status import (
    OUTLOOK_FACTORS,
    GateLimits,
    RecognitionStatus,
    RuleAtSize,
)
from services.faces.quality import QualityGate


def describe(
    policy: OpenSetPolicy,
    rule: DecisionRule,
    *,
    gallery_version: str,
    gallery_people: int,
    gate: QualityGate | None,
    reported_at: datetime,
) -> RecognitionStatus:
    """The status of a recognizer applying ``rule`` (made by ``policy``) to its gallery."""
    grown = [policy.rule_for(max(rule.gallery_embeddings, 1) * f) for f in OUTLOOK_FACTORS]
    tail = policy.tail
    return RecognitionStatus(
        model_id=policy.model_id,
        gallery_version=gallery_version,
        gallery_people=gallery_people,
        gallery_embeddings=rule.gallery_embeddings,
        rule=rule.source,
        threshold=rule.threshold,
        margin=rule.margin,
        expected_fpir=rule.expected_fpir,
        target_fpir=rule.target_fpir,
        calibration=None if tail is None else tail.source,
        calibration_table=None
        if tail is None
        else [(t, v) for t, v in zip(tail.thresholds, tail.log10_far, strict=True)],
        outlook=[
            RuleAtSize(
                gallery_embeddings=r.gallery_embeddings,
                threshold=r.threshold,
                expected_fpir=r.expected_fpir,
            )
            for r in grown
        ],
        quality_gate=None
        if gate is None
        else GateLimits(
            min_face_size=gate.min_face_size,
            min_sharpness=gate.min_sharpness,
            max_turn=gate.max_turn,
            min_nose_height=gate.min_nose_height,
        ),
        reported_at=reported_at,
    )
