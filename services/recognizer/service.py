"""The recognizer: embeds the faces a detector sends of each track, fuses them, and publishes
one decision per track (a known person as soon as the fused faces are accepted, or an unknown
when the track ends without that).

With liveness (``flag`` or ``block``) the track's liveness, as its detector summarised it, is
judged too (:mod:`services.recognizer.liveness_verdict`):

* **live**: the decision above, the sighting carrying the verdict;
* **undecided** (fewer scored faces than LIVENESS_MIN_FACES): nothing is published yet, even a
  known person: the track waits for its next face or its end, where it is judged on the faces
  it has (one is then enough);
* **attack**, ``block``: published at once as a blocked sighting that names nobody (whom the
  face resembled goes with the liveness verdict, for the spoof attempt), and the track is
  closed; ``flag``: the decision above, marked (a known person's attendance is recorded and
  flagged). In ``flag`` mode an attack track that ends too short to be decided still publishes
  a sighting naming nobody, so that its spoof attempt is kept.

A track whose detector sent no liveness (LIVENESS=off there, or a detector built before it) is
decided as without liveness.
"""

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
    SightingLiveness,
    SightingMessage,
    TrackEndMessage,
    utc_now,
)
from services.common.domain.open_set import DecisionRule, OpenSetPolicy
from services.common.gallery import Gallery, GallerySnapshot
from services.common.images import encode_jpeg
from services.common.metrics import FACES_EMBEDDED, RECOGNITION_SECONDS, SIGHTINGS_PUBLISHED
from services.common.outages import is_outage
from services.common.recognition_status import publish_status
from services.faces.liveness_settings import LivenessMode
from services.faces.quality import QualityGate
from services.faces.quality_score import face_score
from services.recognizer.embedding import FaceEmbedder
from services.recognizer.enrolment import Enroller
from services.recognizer.liveness_verdict import LivenessRule, Verdict, summary_verdict
from services.recognizer.matching import Match, match
from services.recognizer.open_set_calibration import CALIBRATIONS
from services.recognizer.status import describe
from services.recognizer.track_agreement import Decision, decide
from services.recognizer.track_fusion import Fusion, track_verdict
from services.recognizer.track_state import (
    TRACK_TTL_S,
    BestFace,
    StoredFace,
    TrackState,
    TrackStore,
)

logger = logging.getLogger(__name__)

FACES_NOT_JUDGED = Counter(
    "attendance_faces_not_judged_total",
    "Faces the quality gate kept from matching (too small, blurred or turned)",
    ["reason"],
)
FACES_OF_CLOSED_TRACKS = Counter(
    "attendance_faces_of_decided_tracks_total",
    "Faces not embedded because their track was already decided or ended",
)
# Weight of a face that carries no quality report (an older detector): a middling face.
UNMEASURED_WEIGHT = 0.5


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
        fusion: Fusion = "mean",
        track_ttl_s: float = TRACK_TTL_S,
        video_mirror: bool = False,
        enroller: Enroller | None = None,
        liveness: LivenessMode = "off",
        liveness_rule: LivenessRule | None = None,
    ) -> None:
        """``policy`` decides the threshold for the gallery held; without one, ``threshold``
        and ``margin`` (when given) override the calibrated rule for the embedder's recipe.
        Faces ``quality_gate`` refuses are not matched and make no sighting. A track is decided
        once ``agreement_frames`` of its faces were embedded (see ``track_agreement``).

        Camera faces are embedded without the mirror image the embedder adds for enrolment
        photos, unless ``video_mirror``: once two faces of a track are fused, the mirror image
        adds little for twice the network's work (README, "Performance").

        ``liveness`` (``off``, ``flag``, ``block``) and ``liveness_rule``: what a track judged an
        attack becomes (see the module's doc)."""
        if agreement_frames < 1:
            raise ValueError("at least one face must agree")
        self._bus = bus
        self.embedder = embedder
        self.video_mirror = video_mirror
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
        self._required = agreement_frames
        self._fusion: Fusion = fusion
        self._tracks = TrackStore(cache, track_ttl_s)
        self._liveness: LivenessMode = liveness
        self._liveness_rule = liveness_rule or LivenessRule()
        self._threshold_mismatch_told = False

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

    def handle(self, events: Sequence[FaceMessage | TrackEndMessage]) -> None:
        """Faces and track ends, in the order they came: each face joins its track (embedded,
        unless its track is closed), each end decides its track if it was still open."""
        faces = [event for event in events if isinstance(event, FaceMessage)]
        wanted = [face for face in faces if self._judged(face) and self._open(face)]
        embeddings = self._embed(wanted)
        if not wanted and not any(isinstance(event, TrackEndMessage) for event in events):
            return
        snapshot = self._gallery.current()
        rule = self.rule_for(snapshot)
        by_face = {
            face.face_id: (face, vector) for face, vector in zip(wanted, embeddings, strict=True)
        }
        for event in events:
            if isinstance(event, TrackEndMessage):
                self._end_track(event, snapshot, rule)
            elif event.face_id in by_face:
                self._add_face(*by_face.pop(event.face_id), snapshot, rule)

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

    def recognise(self, faces: Sequence[FaceMessage]) -> list[SightingMessage]:
        """Each judgeable face matched on its own, as a sighting that is not published (the
        verdict of one face, without its track: for tools and tests)."""
        faces = [face for face in faces if self._judged(face)]
        embeddings = self._embed(faces)
        if not faces:
            return []
        snapshot = self._gallery.current()
        rule = self.rule_for(snapshot)
        matches = match(embeddings, snapshot.matrix, rule.threshold, rule.margin)
        sightings = []
        for face, verdict in zip(faces, matches, strict=True):
            state = TrackState(camera_id=face.camera_id, track_id=face.face_id)
            state.best = self._best_face(face, UNMEASURED_WEIGHT)
            sighting = self._sighting(state, verdict, snapshot)
            sightings.append(sighting.model_copy(update={"sighting_id": face.face_id}))
        return sightings

    # -- tracks -------------------------------------------------------------------------------

    def _open(self, face: FaceMessage) -> bool:
        """Whether the face's track still wants faces (a decided one does not: its faces are
        dropped before the network, the cheapest place to shed load)."""
        state = self._tracks.peek(face.camera_id, face.track_id)
        if state is not None and state.closed:
            FACES_OF_CLOSED_TRACKS.inc()
            return False
        return True

    @RECOGNITION_SECONDS.time()
    def _embed(self, faces: Sequence[FaceMessage]) -> np.ndarray:
        if not faces:
            return np.zeros((0, 0), dtype=np.float32)
        # Single-view camera faces are compared with the gallery's mirrored vectors: the same
        # network, alignment and preprocessing, one view instead of the mean of two.
        embeddings = self.embedder.embed([_crop(face) for face in faces], mirror=self.video_mirror)
        FACES_EMBEDDED.inc(len(faces))
        return embeddings

    def _add_face(
        self,
        face: FaceMessage,
        embedding: np.ndarray,
        snapshot: GallerySnapshot,
        rule: DecisionRule,
    ) -> None:
        weight = _weight(face)
        with self._tracks.updating(face.camera_id, face.track_id) as state:
            if state.closed:
                FACES_OF_CLOSED_TRACKS.inc()
                return
            state.note_liveness(face.track_liveness)
            stored = StoredFace(
                face_id=face.face_id,
                weight=weight,
                embedding=np.asarray(embedding, dtype=np.float32).tobytes(),
            )
            if not state.add(stored):
                return
            if state.best is None or weight > state.best.weight:
                state.best = self._best_face(face, weight)
            self._decide(state, snapshot, rule, ended=False)

    def _end_track(
        self, end: TrackEndMessage, snapshot: GallerySnapshot, rule: DecisionRule
    ) -> None:
        with self._tracks.updating(end.camera_id, end.track_id) as state:
            if not state.closed:
                state.note_liveness(end.liveness)
                decision = self._decide(state, snapshot, rule, ended=True)
                if decision is None:
                    logger.debug(
                        "track %s on %s ended with %d face(s) embedded: no decision",
                        end.track_id,
                        end.camera_id,
                        len(state.faces),
                    )
            state.ended = True

    def _decide(
        self, state: TrackState, snapshot: GallerySnapshot, rule: DecisionRule, *, ended: bool
    ) -> Decision | None:
        verdict = None
        if state.faces and len(state.faces) >= self._required:
            verdict = self._fused(state, snapshot, rule)
        decision = decide(len(state.faces), self._required, verdict, ended=ended)
        liveness = self._liveness_verdict(state, ended=ended)
        if liveness is Verdict.UNDECIDED:
            return None
        if liveness is Verdict.ATTACK and self._liveness == "block":
            return self._block(state, verdict, snapshot, rule)
        if decision is None:
            if liveness is Verdict.ATTACK and ended and state.faces:
                # flag: a short attack track still leaves its spoof attempt.
                short = self._fused(state, snapshot, rule)
                unnamed = Match(None, short.similarity, short.runner_up_similarity, False)
                self._publish(
                    self._sighting(state, unnamed, snapshot, self._report(state, liveness))
                )
                state.decided = "unknown"
                return Decision("unknown", unnamed)
            return None
        report = self._report(state, liveness) if liveness is not None else None
        self._publish(self._sighting(state, decision.verdict, snapshot, report))
        state.decided = decision.outcome
        state.employee_id = decision.verdict.employee_id
        return decision

    def _fused(self, state: TrackState, snapshot: GallerySnapshot, rule: DecisionRule) -> Match:
        vectors, weights = state.embeddings()
        return track_verdict(
            vectors, weights, snapshot.matrix, rule.threshold, rule.margin, self._fusion
        )

    def _block(
        self,
        state: TrackState,
        verdict: Match | None,
        snapshot: GallerySnapshot,
        rule: DecisionRule,
    ) -> Decision | None:
        """Refuse an attack track at once, as a sighting that names nobody: whom its face
        resembled (accepted by the open-set rule on the faces there are) goes with the
        verdict, for the spoof attempt."""
        if not state.faces:
            return None
        resemblance = verdict or self._fused(state, snapshot, rule)
        resembled = resemblance.employee_id if resemblance.accepted else None
        report = self._report(state, Verdict.ATTACK, resembled, snapshot)
        unnamed = Match(
            None, resemblance.similarity, resemblance.runner_up_similarity, False, resembled
        )
        logger.info(
            "track %s on %s refused by the liveness check (%d of %d faces live, mean %.2f)%s",
            state.track_id,
            state.camera_id,
            state.liveness.live if state.liveness else 0,
            report.faces_scored,
            report.mean_score,
            f"; it resembled {resembled}" if resembled else "",
        )
        self._publish(self._sighting(state, unnamed, snapshot, report))
        state.decided = "attack"
        state.employee_id = None
        return Decision("unknown", unnamed)

    def _liveness_verdict(self, state: TrackState, *, ended: bool) -> Verdict | None:
        """The track's liveness verdict; None when liveness is off or nothing was scored."""
        if self._liveness == "off" or state.liveness is None:
            return None
        if (
            state.liveness.threshold != self._liveness_rule.threshold
            and not self._threshold_mismatch_told
        ):
            self._threshold_mismatch_told = True
            logger.warning(
                "the detector counts live faces at LIVENESS_THRESHOLD %.2f, this recognizer is "
                "set to %.2f: the detector's count is used; set both alike",
                state.liveness.threshold,
                self._liveness_rule.threshold,
            )
        return summary_verdict(state.liveness, self._liveness_rule, ended=ended)

    def _report(
        self,
        state: TrackState,
        verdict: Verdict,
        resembled: str | None = None,
        snapshot: GallerySnapshot | None = None,
    ) -> SightingLiveness:
        assert state.liveness is not None
        attack = verdict is Verdict.ATTACK
        return SightingLiveness(
            verdict=verdict.value,
            mean_score=state.liveness.mean_score,
            faces_scored=state.liveness.scored,
            action=("blocked" if self._liveness == "block" else "flagged") if attack else None,
            resembled_employee_id=resembled,
            resembled_employee_name=(
                snapshot.names.get(resembled) if resembled and snapshot is not None else None
            ),
        )

    def _publish(self, sighting: SightingMessage) -> None:
        key = self._cooldown_key(sighting)
        if self._cooldown > 0 and self._cache.get(key) is not None:
            return
        self._bus.publish(SIGHTINGS, sighting)
        # Marked only once published: a failed publish is retried, not swallowed.
        if self._cooldown > 0:
            self._cache.set(key, b"1", self._cooldown)
        outcome = "known" if sighting.is_known else "unknown"
        SIGHTINGS_PUBLISHED.labels("blocked" if sighting.is_blocked else outcome).inc()

    def _judged(self, face: FaceMessage) -> bool:
        if self._quality_gate is None or face.quality is None:
            return True
        refusal = self._quality_gate.refusal(face.quality)
        if refusal is None:
            return True
        FACES_NOT_JUDGED.labels(refusal.code).inc()
        logger.debug("face %s on %s not judged: %s", face.face_id, face.camera_id, refusal.reason)
        return False

    @staticmethod
    def _best_face(face: FaceMessage, weight: float) -> BestFace:
        return BestFace(
            face_id=face.face_id,
            frame_id=face.frame_id,
            captured_at=face.captured_at,
            box=face.box,
            weight=weight,
            snapshot_jpeg=face.snapshot_jpeg,
            face_jpeg=encode_jpeg(_crop(face), quality=90),
        )

    def _sighting(
        self,
        state: TrackState,
        verdict: Match,
        snapshot: GallerySnapshot,
        liveness: SightingLiveness | None = None,
    ) -> SightingMessage:
        best = state.best
        assert best is not None
        employee_id = verdict.employee_id
        if employee_id is not None:
            logger.info(
                "track %s on %s: %s (%.3f, runner-up %.3f, %d face(s))",
                state.track_id,
                state.camera_id,
                employee_id,
                verdict.similarity,
                verdict.runner_up_similarity,
                len(state.faces),
            )
        return SightingMessage(
            sighting_id=state.sighting_id(),
            face_id=best.face_id,
            frame_id=best.frame_id,
            camera_id=state.camera_id,
            seen_at=best.captured_at,
            box=best.box,
            track_id=state.track_id,
            employee_id=employee_id,
            employee_name=snapshot.names.get(employee_id) if employee_id else None,
            similarity=_finite(verdict.similarity),
            runner_up_similarity=_finite(verdict.runner_up_similarity),
            model_id=self.embedder.model_id,
            snapshot_jpeg=best.snapshot_jpeg,
            face_jpeg=best.face_jpeg,
            liveness=liveness,
        )

    @staticmethod
    def _cooldown_key(sighting: SightingMessage) -> str:
        """One sighting per person (or unknown track) per camera per cooldown period.

        Two tracks of one person close together (the tracker lost them for a moment) would
        otherwise make two sightings. The key lives in the shared cache so scaled recognizers
        agree.
        """
        who = sighting.employee_id or f"track:{sighting.track_id or sighting.face_id}"
        return f"cooldown:{sighting.camera_id}:{who}"


def _crop(face: FaceMessage) -> np.ndarray:
    return np.frombuffer(face.crop_rgb, dtype=np.uint8).reshape(face.crop_size, face.crop_size, 3)


def _weight(face: FaceMessage) -> float:
    """The face's share in its track's fused embedding: its quality score."""
    if face.quality is None:
        return UNMEASURED_WEIGHT
    return face_score(face.quality, face.detection_score)
