"""The detector: turns camera frames into aligned face crops, follows them as tracks, and sends
the best few faces of each track for recognition, then the track's end.

With a liveness scorer it also scores every face of a frame the quality gate lets through (one
batch per frame, nothing run on frames without such a face), keeps each track's tally
(:mod:`services.detector.track_liveness`) and sends it with each face sent and with the end.

Every face of a frame is refined without the mirror image (one detector call where the mirror
makes two or more): that confirms it, places it for the tracker, the quality gate and the
selection. Only a face about to be sent (or scored for liveness) is sharpened, given the full
mirrored refinement, so the crop embedded is the one a still photo's path would give.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
from prometheus_client import Counter

from services.common.bus.base import BusUnavailable, Communicator, PermanentError, QueueFull
from services.common.bus.topology import FACES, FRAMES
from services.common.contracts import (
    BoundingBox,
    FaceMessage,
    FaceQualityReport,
    FrameMessage,
    TrackEndMessage,
    TrackLiveness,
    new_id,
)
from services.common.images import ImageError, decode_image, encode_jpeg, fit_within
from services.common.metrics import FACES_DETECTED, FRAMES_PROCESSED
from services.detector.track_liveness import LivenessTally
from services.detector.track_selection import SelectionPolicy, TrackSelection
from services.detector.tracking import EndedTrack, IouTracker
from services.faces.finder import FaceFinder, FoundFace
from services.faces.liveness_settings import (
    DEFAULT_LIVENESS_INTERVAL_S,
    DEFAULT_LIVENESS_MIN_FACES,
    DEFAULT_LIVENESS_THRESHOLD,
)
from services.faces.quality import QualityGate, Refusal, assess
from services.faces.quality_score import face_score

if TYPE_CHECKING:
    from services.faces.liveness import LivenessScorer

logger = logging.getLogger(__name__)

FACES_NOT_SENT = Counter(
    "attendance_faces_not_sent_total",
    "Faces found but not sent for recognition (quality gate, track selection, queue full)",
    ["reason"],
)
TRACKS_ENDED = Counter(
    "attendance_tracks_ended_total", "Tracks ended (their end sent to the recognizer)", ["reason"]
)
# Track ends the bus refused are tried again with the next frame; past this many waiting, the
# oldest is given up (its track is then decided by nobody: logged).
MAX_PENDING_ENDS = 1000


@dataclass
class _Observed:
    frame: FrameMessage
    rgb: np.ndarray
    found: list[FoundFace]
    track_ids: list[str]
    qualities: list[FaceQualityReport]
    # Why the quality gate refused each face (None: judged).
    refusals: list[Refusal | None]
    # Each judged face's liveness score (None: refused by the gate, or no scorer).
    liveness: list[float | None]
    # The faces given the full (mirrored) refinement so far.
    sharpened: set[int]


class Detector:
    def __init__(
        self,
        bus: Communicator,
        finder: FaceFinder,
        snapshot_max_side: int = 640,
        *,
        quality_gate: QualityGate | None = None,
        selection: SelectionPolicy | None = None,
        tracker: IouTracker | None = None,
        idle_sweep_s: float | None = 0.5,
        liveness: LivenessScorer | None = None,
        liveness_threshold: float = DEFAULT_LIVENESS_THRESHOLD,
        liveness_min_faces: int = DEFAULT_LIVENESS_MIN_FACES,
        liveness_interval_s: float = DEFAULT_LIVENESS_INTERVAL_S,
    ) -> None:
        """``quality_gate``: faces it refuses are not sent (None: every face is). With
        ``idle_sweep_s``, :meth:`start` runs a thread that ends the tracks of cameras whose
        frames stopped coming, checking that often. With ``liveness``, the faces the gate lets
        through are scored and counted live at ``liveness_threshold`` per track; once the
        track's first faces were sent, the first face at which it has ``liveness_min_faces``
        scored is sent even when the selection would skip it, if no face sent so far carried
        that many: the recognizer, waiting for
        the track's liveness, can then decide while the person is still there (a kiosk user
        stands still, and the track would otherwise end only when they leave)."""
        self._bus = bus
        self._finder = finder
        self._snapshot_max_side = snapshot_max_side
        self._gate = quality_gate
        self._policy = selection or SelectionPolicy()
        self._tracker = tracker or IouTracker()
        self._idle_sweep_s = idle_sweep_s
        # The tracker, the selections and the pending ends are shared with the sweeper thread.
        self._lock = threading.RLock()
        self._selections: dict[tuple[str, str], TrackSelection] = {}
        self._liveness = liveness
        self._liveness_threshold = liveness_threshold
        self._liveness_min_faces = liveness_min_faces
        self._liveness_interval_s = liveness_interval_s
        self._tallies: dict[tuple[str, str], LivenessTally] = {}
        self._pending_ends: list[EndedTrack] = []
        # Detector clock (monotonic) at which each camera's latest frame was handled.
        self._last_frame_at: dict[str, float] = {}
        self._stopping = threading.Event()
        self._sweeper: threading.Thread | None = None

    def start(self) -> None:
        self._bus.subscribe(FRAMES, self.handle)
        if self._idle_sweep_s and self._sweeper is None:
            self._sweeper = threading.Thread(
                target=self._sweep_until_stopped, name="track-sweeper", daemon=True
            )
            self._sweeper.start()

    def stop(self) -> None:
        """Stop the sweeper and end every track (its decision is due: nothing more comes)."""
        self._stopping.set()
        with self._lock:
            for camera_id in self._tracker.cameras:
                self._pending_ends.extend(self._tracker.end_camera(camera_id, "stopped"))
            self._send_pending_ends()

    def handle(self, frames: Sequence[FrameMessage]) -> None:
        for frame in frames:
            observed = self._observe(frame)
            with self._lock:
                self._send_pending_ends()
                if observed is not None:
                    self._send_best_faces(observed)

    def faces_in(self, frame: FrameMessage) -> list[FaceMessage]:
        """Every face of the frame, measured, tracked and (those the gate lets through) scored
        for liveness; none is sent."""
        observed = self._observe(frame)
        if observed is None:
            return []
        for index in range(len(observed.found)):
            self._sharpen(observed, index)
        judged = [i for i, refusal in enumerate(observed.refusals) if refusal is None]
        self._score(observed, judged)
        snapshot = self._snapshot(observed.rgb)
        return [self._message(observed, index, snapshot) for index in range(len(observed.found))]

    def sweep(self, now: float | None = None) -> None:
        """End the tracks of cameras that sent no frame for the tracker's gap (by the
        detector's clock, ``time.monotonic()`` unless given): their faces stopped coming."""
        now = time.monotonic() if now is None else now
        with self._lock:
            for camera_id, last in list(self._last_frame_at.items()):
                if now - last > self._tracker.max_gap_s:
                    self._pending_ends.extend(self._tracker.end_camera(camera_id, "idle"))
                    del self._last_frame_at[camera_id]
            self._send_pending_ends()

    # -- steps --------------------------------------------------------------------------------

    def _observe(self, frame: FrameMessage) -> _Observed | None:
        try:
            rgb = decode_image(frame.jpeg)
        except ImageError as exc:
            raise PermanentError(f"frame {frame.frame_id} from {frame.camera_id}: {exc}") from exc
        found = self._finder.find(rgb, mirror=False)
        FRAMES_PROCESSED.inc()
        FACES_DETECTED.inc(len(found))
        with self._lock:
            self._last_frame_at[frame.camera_id] = time.monotonic()
            # Capture time, not processing time: a detector running behind must not see a pause
            # in the walk-by that the camera did not (it split 4 tracks into 36 in the bench).
            track_ids, ended = self._tracker.update(
                frame.camera_id, [f.box for f in found], frame.captured_at.timestamp()
            )
            self._pending_ends.extend(ended)
        if not found:
            logger.debug("no face in frame %s", frame.frame_id)
            return None
        qualities = [quality_report(face) for face in found]
        refusals = [
            self._gate.refusal(quality) if self._gate is not None else None for quality in qualities
        ]
        return _Observed(
            frame, rgb, found, track_ids, qualities, refusals, [None] * len(found), set()
        )

    def _sharpen(self, observed: _Observed, index: int) -> Refusal | None:
        """Give the face at ``index`` its full refinement and measure it again, as the
        recognizer will; why the quality gate now refuses it (None: it does not). (The
        selection's verdict stands: it compares faces refined alike.)"""
        if index not in observed.sharpened:
            observed.sharpened.add(index)
            face = self._finder.sharpen(observed.rgb, observed.found[index])
            if face is not observed.found[index]:
                observed.found[index] = face
                quality = observed.qualities[index] = quality_report(face)
                if self._gate is not None:
                    observed.refusals[index] = self._gate.refusal(quality)
        return observed.refusals[index]

    def _score(self, observed: _Observed, indices: list[int]) -> None:
        """Score the faces at ``indices`` of the frame, all in one batch (none: no work)."""
        if self._liveness is None or not indices:
            return
        boxes = [observed.found[i].box for i in indices]
        for index, score in zip(indices, self._liveness.score(observed.rgb, boxes), strict=True):
            observed.liveness[index] = score

    def _send_best_faces(self, observed: _Observed) -> None:
        at = observed.frame.captured_at.timestamp()
        snapshot: bytes | None = None
        judged: list[tuple[int, tuple[str, str], TrackSelection, float, str | None]] = []
        for index, face in enumerate(observed.found):
            refusal = observed.refusals[index]
            if refusal is not None:
                FACES_NOT_SENT.labels(refusal.code).inc()
                continue
            key = (observed.frame.camera_id, observed.track_ids[index])
            selection = self._selections.setdefault(key, TrackSelection())
            score = face_score(observed.qualities[index], face.score)
            judged.append(
                (index, key, selection, score, selection.skip_reason(score, at, self._policy))
            )
        # Those to be sent are sharpened first: the gate judges them again as the recognizer
        # will (one it now refuses is not sent), and their liveness is scored on the box they
        # are sent with.
        for index, _, _, _, skip in judged:
            refusal = self._sharpen(observed, index) if skip is None else None
            if refusal is not None:
                FACES_NOT_SENT.labels(refusal.code).inc()
        judged = [entry for entry in judged if observed.refusals[entry[0]] is None]
        # Scored: each face that goes to the recognizer, and a track's other faces at most every
        # LIVENESS_INTERVAL_S of capture time (neighbouring frames err together: every frame
        # would cost nearly as much as the detection and add little), one batch per frame.
        self._score(
            observed,
            [
                index
                for index, key, _, _, skip in judged
                if skip is None or self._sample_due(key, at)
            ],
        )
        for index, key, selection, score, skip in judged:
            liveness = observed.liveness[index]
            tally = self._tallies.get(key)
            if liveness is not None:
                tally = self._tallies.setdefault(key, LivenessTally(self._liveness_threshold))
                tally.add(liveness, at)
            if skip is not None and self._liveness_due(tally, selection):
                skip = None
            if skip is not None:
                FACES_NOT_SENT.labels(skip).inc()
                continue
            refusal = self._sharpen(observed, index)
            if refusal is not None:
                FACES_NOT_SENT.labels(refusal.code).inc()
                continue
            if snapshot is None:
                snapshot = self._snapshot(observed.rgb)
            message = self._message(
                observed, index, snapshot, tally.summary() if tally is not None else None
            )
            try:
                self._bus.publish(FACES, message)
            except QueueFull:
                # The recognizers are behind: this face is dropped, a later one of the track
                # takes its place.
                FACES_NOT_SENT.labels("queue_full").inc()
                continue
            selection.record(score, at)
            if tally is not None:
                tally.sent_scored = tally.scored

    def _sample_due(self, key: tuple[str, str], at: float) -> bool:
        tally = self._tallies.get(key)
        return tally is None or at - tally.last_scored_at >= self._liveness_interval_s

    def _liveness_due(self, tally: LivenessTally | None, selection: TrackSelection) -> bool:
        """Whether the track's liveness just became decidable and no face sent says so yet."""
        # Only once the track's first faces are sent: until then the selection sends faces
        # anyway, spaced so that they differ (an early one here would change what is fused).
        return (
            tally is not None
            and selection.sent >= self._policy.first_faces
            and tally.sent_scored < self._liveness_min_faces <= tally.scored
        )

    def _send_pending_ends(self) -> None:
        """Publish the ends of tracks that sent faces (the others have nothing to decide)."""
        while self._pending_ends:
            ended = self._pending_ends[0]
            key = (ended.camera_id, ended.track_id)
            selection = self._selections.get(key)
            if selection is not None and selection.sent > 0:
                tally = self._tallies.get(key)
                message = TrackEndMessage(
                    camera_id=ended.camera_id,
                    track_id=ended.track_id,
                    last_seen_at=datetime.fromtimestamp(ended.last_seen, UTC),
                    faces_sent=selection.sent,
                    reason=ended.reason,
                    liveness=tally.summary() if tally is not None else None,
                )
                try:
                    self._bus.publish(FACES, message)
                except (QueueFull, BusUnavailable) as exc:
                    if len(self._pending_ends) > MAX_PENDING_ENDS:
                        logger.warning("giving up the end of track %s: %s", ended.track_id, exc)
                        self._pending_ends.pop(0)
                        self._forget(key)
                        continue
                    logger.info("end of track %s waits (%s)", ended.track_id, exc)
                    return
                TRACKS_ENDED.labels(ended.reason).inc()
            self._pending_ends.pop(0)
            self._forget(key)

    def _forget(self, key: tuple[str, str]) -> None:
        self._selections.pop(key, None)
        self._tallies.pop(key, None)

    def _sweep_until_stopped(self) -> None:
        assert self._idle_sweep_s is not None
        while not self._stopping.wait(self._idle_sweep_s):
            try:
                self.sweep()
            except Exception:
                logger.exception("ending idle tracks failed; trying again")

    def _snapshot(self, rgb: np.ndarray) -> bytes:
        return encode_jpeg(fit_within(rgb, self._snapshot_max_side), quality=80)

    @staticmethod
    def _message(
        observed: _Observed,
        index: int,
        snapshot: bytes,
        track_liveness: TrackLiveness | None = None,
    ) -> FaceMessage:
        face, frame = observed.found[index], observed.frame
        return FaceMessage(
            face_id=new_id(),
            frame_id=frame.frame_id,
            camera_id=frame.camera_id,
            captured_at=frame.captured_at,
            box=BoundingBox.of(face.box),
            track_id=observed.track_ids[index],
            detection_score=min(1.0, max(0.0, face.score)),
            crop_size=face.crop.shape[0],
            crop_rgb=np.ascontiguousarray(face.crop, dtype=np.uint8).tobytes(),
            snapshot_jpeg=snapshot,
            quality=observed.qualities[index],
            liveness=observed.liveness[index],
            track_liveness=track_liveness,
        )


def quality_report(face: FoundFace) -> FaceQualityReport:
    """The face's quality, for the recognizer's gate (measured here, where the keypoints are)."""
    quality = assess(face.box, face.keypoints, face.score, face.crop)
    return FaceQualityReport(
        face_size=quality.face_size,
        sharpness=quality.sharpness,
        turn=quality.turn,
        nose_height=quality.nose_height,
    )
