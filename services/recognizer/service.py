"""The recognizer: embeds faces, matches them against the gallery, publishes sightings."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
from prometheus_client import Counter

from services.common.bus.base import Communicator
from services.common.bus.topology import ENROLMENTS, FACES, SIGHTINGS
from services.common.cache import KeyValueCache
from services.common.contracts import (
    EnrolmentRequest,
    EnrolmentResult,
    FaceMessage,
    SightingMessage,
    utc_now,
)
from services.common.gallery import Gallery, GallerySnapshot
from services.common.images import encode_jpeg
from services.common.metrics import FACES_EMBEDDED, RECOGNITION_SECONDS, SIGHTINGS_PUBLISHED
from services.common.outages import is_outage
from services.detector.face_quality import QualityGate
from services.recognizer.embedding import FaceEmbedder
from services.recognizer.enrolment import Enroller
from services.recognizer.matching import Match, match
from services.recognizer.open_set import DecisionRule, OpenSetPolicy
from services.recognizer.open_set_calibration import CALIBRATIONS
from services.recognizer.status import describe, publish_status
from services.recognizer.track_agreement import TrackAgreement

logger = logging.getLogger(__name__)

FACES_NOT_JUDGED = Counter(
    "attendance_faces_not_judged_total",
    "Faces the quality gate kept from matching (too small, blurred or turned)",
    ["reason"],
)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


class Recognizer:
    def __init__(
        self,
        bus: Communicator,
        embedder: FaceEmbedder,
        gallery: Gallery,
        cache: KeyValueCache,
        *,
        policy: OpenSetPolicy | None = None,
        threshold: float | None = None,
        margin: float | None = None,
        quality_gate: QualityGate | None = None,
        batch_size: int = 16,
        sighting_cooldown: float = 2.0,
        agreement_frames: int = 2,
        enroller: Enroller | None = None,
    ) -> None:
        """``policy`` decides the threshold for the gallery held; without one, ``threshold``
        and ``margin`` (when given) override the calibrated rule for the embedder's recipe.
        Faces ``quality_gate`` refuses are not matched and make no sighting."""
        self._bus = bus
        self._embedder = embedder
        self._gallery = gallery
        self._cache = cache
        self._policy = policy or OpenSetPolicy(
            embedder.model_id, CALIBRATIONS, threshold=threshold, margin=margin
        )
        self._quality_gate = quality_gate
        self._reported_version: str | None = None
        self._batch_size = batch_size
        self._cooldown = sighting_cooldown
        self._enroller = enroller
        self._agreement = TrackAgreement(cache, agreement_frames)

    def start(self) -> None:
        try:
            self.rule_for(self._gallery.current())
        except Exception as exc:
            if not is_outage(exc):
                raise
            # The first batch of faces reports it, once the database and cache are back.
            logger.warning("recognition status not reported at start: %s", exc)
        self._bus.subscribe(FACES, self.handle, batch_size=self._batch_size)
        if self._enroller is not None:
            self._bus.subscribe(ENROLMENTS, self.handle_enrolments)

    def handle(self, faces: Sequence[FaceMessage]) -> None:
        for sighting in self.recognise(faces):
            # Every frame votes, cooling down or not: the votes decide the next verdicts.
            if not self._agreed(sighting):
                continue
            key = self._cooldown_key(sighting)
            if self._cooldown > 0 and self._cache.get(key) is not None:
                continue
            self._bus.publish(SIGHTINGS, sighting)
            # Marked only once published: a failed publish is retried, not swallowed.
            if self._cooldown > 0:
                self._cache.set(key, b"1", self._cooldown)
            SIGHTINGS_PUBLISHED.labels("known" if sighting.is_known else "unknown").inc()

    def handle_enrolments(
        self, requests: Sequence[EnrolmentRequest]
    ) -> list[EnrolmentResult | None]:
        assert self._enroller is not None
        return [self._enroller.handle(request) for request in requests]

    def rule_for(self, snapshot: GallerySnapshot) -> DecisionRule:
        """The decision rule for ``snapshot``; reported to the cache when the gallery moved."""
        rule = self._policy.rule_for(len(snapshot.employee_ids))
        if snapshot.version != self._reported_version:
            status = describe(
                self._policy,
                rule,
                gallery_version=snapshot.version,
                gallery_people=len(snapshot.matrix),
                gate=self._quality_gate,
                reported_at=utc_now(),
            )
            publish_status(self._cache, status)
            self._reported_version = snapshot.version
            logger.info(
                "gallery of %d embeddings (%d people): threshold %.3f (%s), margin %.2f, "
                "expected share of strangers accepted %s",
                rule.gallery_embeddings,
                len(snapshot.matrix),
                rule.threshold,
                rule.source,
                rule.margin,
                "unknown" if rule.expected_fpir is None else f"{rule.expected_fpir:.2%}",
            )
        return rule

    @RECOGNITION_SECONDS.time()
    def recognise(self, faces: Sequence[FaceMessage]) -> list[SightingMessage]:
        """Sightings of the faces that can be judged; the others are left out, neither
        known nor unknown (a stranger is someone seen well enough to be nobody enrolled)."""
        faces = [face for face in faces if self._judged(face)]
        if not faces:
            return []
        crops = [
            np.frombuffer(face.crop_rgb, dtype=np.uint8).reshape(face.crop_size, face.crop_size, 3)
            for face in faces
        ]
        embeddings = self._embedder.embed(crops)
        FACES_EMBEDDED.inc(len(faces))
        snapshot = self._gallery.current()
        rule = self.rule_for(snapshot)
        matches = match(embeddings, snapshot.matrix, rule.threshold, rule.margin)
        return [
            self._sighting(face, crop, verdict, snapshot)
            for face, crop, verdict in zip(faces, crops, matches, strict=True)
        ]

    def _judged(self, face: FaceMessage) -> bool:
        if self._quality_gate is None or face.quality is None:
            return True
        refusal = self._quality_gate.refusal(face.quality)
        if refusal is None:
            return True
        FACES_NOT_JUDGED.labels(refusal.code).inc()
        logger.debug("face %s on %s not judged: %s", face.face_id, face.camera_id, refusal.reason)
        return False

    def _sighting(
        self, face: FaceMessage, crop: np.ndarray, verdict: Match, snapshot: GallerySnapshot
    ) -> SightingMessage:
        employee_id = verdict.employee_id
        if employee_id is not None:
            logger.info(
                "face %s on %s: %s (%.3f, runner-up %.3f)",
                face.face_id,
                face.camera_id,
                employee_id,
                verdict.similarity,
                verdict.runner_up_similarity,
            )
        return SightingMessage(
            # The face id, not a fresh one: a redelivered face must give the same sighting.
            sighting_id=face.face_id,
            face_id=face.face_id,
            frame_id=face.frame_id,
            camera_id=face.camera_id,
            seen_at=face.captured_at,
            box=face.box,
            track_id=face.track_id,
            employee_id=employee_id,
            employee_name=snapshot.names.get(employee_id) if employee_id else None,
            similarity=_finite(verdict.similarity),
            runner_up_similarity=_finite(verdict.runner_up_similarity),
            model_id=self._embedder.model_id,
            snapshot_jpeg=face.snapshot_jpeg,
            face_jpeg=encode_jpeg(crop, quality=90),
        )

    def _agreed(self, sighting: SightingMessage) -> bool:
        verdict = self._agreement.vote(
            sighting.camera_id,
            sighting.track_id or sighting.face_id,
            sighting.face_id,
            sighting.employee_id,
        )
        return verdict.publish

    @staticmethod
    def _cooldown_key(sighting: SightingMessage) -> str:
        """One sighting per person (or unknown track) per camera per cooldown period.

        A face stays in view for many frames; without this every frame would be a sighting
        with its own pictures. The key lives in the shared cache so scaled recognizers agree.
        """
        who = sighting.employee_id or f"track:{sighting.track_id or sighting.face_id}"
        return f"cooldown:{sighting.camera_id}:{who}"
