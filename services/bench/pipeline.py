"""The detector → recognizer path on a video file, in one process, one frame at a time.

The services are the classes the separate processes use, joined by the in-memory bus as in
``attendance run``; the bench drives the bus itself (each frame is detected and recognised
before the next is read), so the figures are the pipeline's own cost, without queueing.
"""

from __future__ import annotations

import contextlib
import os
import resource
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pymongo.database import Database

from services.bench.recording import RecordingCommunicator
from services.common.bus.topology import FRAMES, SIGHTINGS, Channel
from services.common.contracts import (
    FaceMessage,
    Message,
    SightingMessage,
    TrackEndMessage,
    utc_now,
)
from services.common.settings import SettingsError

if TYPE_CHECKING:
    from services.recognizer.main import RecognitionStack

CAMERA_ID = "bench"
UNKNOWN = "unknown"


@dataclass
class VideoBench:
    video: Path
    # (name, photo) pairs, enrolled before the video is played.
    enrolments: Sequence[tuple[str, Path]]
    # Frames per second of the video to analyse; None: every frame.
    fps: float | None = None
    max_frames: int | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass
class _Track:
    """What the bench saw of one track: the frames of the faces sent, and its decision."""

    frames: list[int] = field(default_factory=list)
    last_frame_id: str | None = None
    decision: str | None = None
    similarity: float | None = None


@dataclass
class Tally:
    """What the services published and embedded while the video played."""

    frames: int = 0
    faces: int = 0
    faces_sent: int = 0
    images_embedded: int = 0
    track_ends: int = 0
    tracks: dict[tuple[str, str], _Track] = field(default_factory=dict)
    frame_index: dict[str, int] = field(default_factory=dict)
    # When each frame was handed to the detector (the bench's clock).
    published_at: dict[str, float] = field(default_factory=dict)
    decisions: Counter = field(default_factory=Counter)
    latencies_s: list[float] = field(default_factory=list)
    # Detector (BlazeFace) calls: on whole frames, on refinement patches while a frame's faces
    # are found, and after (a face sharpened before it is sent).
    detector_calls: Counter = field(default_factory=Counter)

    def published(self, channel: Channel, message: Message) -> None:
        if isinstance(message, FaceMessage):
            self.faces_sent += 1
            track = self.tracks.setdefault((message.camera_id, message.track_id), _Track())
            track.frames.append(self.frame_index.get(message.frame_id, -1))
            track.last_frame_id = message.frame_id
        elif isinstance(message, TrackEndMessage):
            self.track_ends += 1
        elif channel.name == SIGHTINGS.name and isinstance(message, SightingMessage):
            who = message.employee_name or UNKNOWN
            self.decisions[who] += 1
            track = self.tracks.setdefault((message.camera_id, message.track_id or ""), _Track())
            track.decision, track.similarity = who, message.similarity
            # A known person is decided on the face that completes the agreement: from the
            # moment its frame was handed over. (An unknown waits for the track's end, by
            # design TRACK_GAP_S of video after its last face: not a processing delay.)
            handed = self.published_at.get(track.last_frame_id or "")
            if message.is_known and handed is not None:
                self.latencies_s.append(time.perf_counter() - handed)

    def watch(self, finder: Any, embedder: Any) -> None:
        """Count the faces found and the network's images (a mirrored crop is a second
        image)."""
        find = finder.find

        def counted_find(rgb, **options):
            found = find(rgb, **options)
            self.faces += len(found)
            return found

        finder.find = counted_find
        detect = finder.detector.detect
        # The frame being searched (None: between searches), to tell whole-frame calls apart.
        searching: list[Any] = [None]

        def counted_detect(image, **options):
            if searching[0] is None:
                self.detector_calls["sharpening"] += 1
            elif image is searching[0]:
                self.detector_calls["whole_frame"] += 1
            else:
                self.detector_calls["refinement"] += 1
            return detect(image, **options)

        def searched_find(rgb, **options):
            searching[0] = rgb
            try:
                return counted_find(rgb, **options)
            finally:
                searching[0] = None

        finder.detector.detect = counted_detect
        finder.find = searched_find
        embed = embedder.embed

        def counted_embed(crops, *, mirror=None):
            mirrored = embedder.mirror if mirror is None else mirror
            self.images_embedded += len(crops) * (2 if mirrored else 1)
            return embed(crops, mirror=mirror)

        embedder.embed = counted_embed

    def track_rows(self) -> list[dict[str, Any]]:
        """One row per track sent for recognition, in the order they began."""
        rows = []
        for (_, track_id), track in self.tracks.items():
            if not track.frames:
                continue
            rows.append(
                {
                    "track": track_id,
                    "frames": f"{min(track.frames)}-{max(track.frames)}",
                    "faces_sent": len(track.frames),
                    "decision": track.decision,
                    "similarity": track.similarity,
                }
            )
        return rows


def enrol(stack: RecognitionStack, enrolments: Sequence[tuple[str, Path]]) -> None:
    """Enrol each (name, photo) through the recognizer's own enroller."""
    from services.recognizer.enrolment import EnrolmentError

    for name, photo in enrolments:
        try:
            stack.enroller.enroll(name, [photo.read_bytes()])
        except EnrolmentError as exc:
            raise SettingsError(f"--enroll {name}={photo}: {exc}") from None


def video_fps(video: Path) -> float:
    """The video's own frame rate (30 where the file does not say)."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    try:
        return capture.get(cv2.CAP_PROP_FPS) or 30.0
    finally:
        capture.release()


def frames_of(
    video: Path, fps: float | None, max_frames: int | None
) -> Iterator[tuple[float, np.ndarray]]:
    """(seconds into the video, RGB frame) of ``video``: every frame, or about ``fps`` of them
    per second of video."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise SettingsError(f"--video {video}: not a video file OpenCV can read")
    try:
        native_fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
        step = 1.0 if fps is None or fps >= native_fps else native_fps / fps
        next_kept = 0.0
        index = kept = 0
        while max_frames is None or kept < max_frames:
            ok, bgr = capture.read()
            if not ok:
                return
            if index >= next_kept:
                next_kept += step
                kept += 1
                yield index / native_fps, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        capture.release()


@contextlib.contextmanager
def bench_database(environ: Mapping[str, str]) -> Iterator[Database]:
    """A database of its own: a fresh one on MONGO_URL (dropped after), else a throw-away
    nx-27017 server."""
    from services.common.storage.mongo import connect

    if environ.get("MONGO_URL"):
        name = f"attendance_bench_{uuid.uuid4().hex[:8]}"
        db = connect(environ["MONGO_URL"], name)
        try:
            yield db
        finally:
            db.client.drop_database(name)
            db.client.close()
        return
    from services.common.storage.mongo_wire import MongoWireServer

    with tempfile.TemporaryDirectory(prefix="attendance-bench-") as folder:
        server = MongoWireServer(Path(folder))
        server.start()
        try:
            db = connect(server.url, "attendance_bench")
            try:
                yield db
            finally:
                db.client.close()
        finally:
            server.stop()


def _percentile(values: list[float], share: float) -> float | None:
    return float(np.percentile(values, share)) if values else None


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(bench: VideoBench) -> dict[str, Any]:
    """Enrol, play the video through the pipeline, and return the figures."""
    import torch

    from services.capture.service import Capture
    from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
    from services.common.cache import InMemoryCache
    from services.detector.main import build as build_detector
    from services.detector.settings import DetectorSettings
    from services.faces.factory import build_finder, built_detectors, close_detectors
    from services.recognizer.main import build_stack, recognizer_for
    from services.recognizer.settings import RecognizerSettings

    started = time.perf_counter()
    environ = dict(bench.environ)
    recognizer_settings = RecognizerSettings.from_env(environ)
    detector_settings = DetectorSettings.from_env(environ)
    tally = Tally()
    earlier_detectors = built_detectors()
    try:
        with bench_database(environ) as db:
            cache = InMemoryCache()
            stack = build_stack(recognizer_settings, db, cache)
            enrol(stack, bench.enrolments)
            broker = InMemoryBroker()
            capture_bus = InMemoryCommunicator(broker)
            detector_bus = RecordingCommunicator(broker, tally.published)
            recognizer_bus = RecordingCommunicator(broker, tally.published)
            finder = build_finder(detector_settings)
            # No sweeper thread: the bench drives the detector, and ends its tracks at the end.
            detector = build_detector(
                detector_settings, detector_bus, finder=finder, idle_sweep_s=None
            )
            detector.start()
            recognizer = recognizer_for(
                recognizer_settings, recognizer_bus, stack, cache, serve_enrolments=False
            )
            tally.watch(finder, recognizer.embedder)
            recognizer.start()
            capture = Capture(capture_bus, str(bench.video), CAMERA_ID)
            loaded = time.perf_counter()
            cpu_before = time.process_time()
            filmed_at = utc_now()
            for offset, rgb in frames_of(bench.video, bench.fps, bench.max_frames):
                # Stamped with the video's own clock, as a camera filming it would: tracks
                # (their gaps, the spacing of the faces sent) do not depend on the bench's
                # speed.
                message = capture.frame_message(rgb).model_copy(
                    update={"captured_at": filmed_at + timedelta(seconds=offset)}
                )
                tally.frame_index[message.frame_id] = tally.frames
                tally.published_at[message.frame_id] = time.perf_counter()
                capture_bus.publish(FRAMES, message)
                tally.frames += 1
                # Both drained every round (| not or): faces wait for no later frame.
                while detector_bus.drain_once() | recognizer_bus.drain_once():
                    pass
            # The video is over: its tracks end, and the undecided ones are decided.
            detector.stop()
            while recognizer_bus.drain_once():
                pass
            wall_s = time.perf_counter() - loaded
            cpu_s = time.process_time() - cpu_before
    finally:
        close_detectors(keep=earlier_detectors)
    frames = max(tally.frames, 1)
    tracks = sum(1 for track in tally.tracks.values() if track.frames)
    enrolled = [name for name, _ in bench.enrolments]
    return {
        "video": str(bench.video),
        "fps_analysed": bench.fps or "every frame",
        "frames": tally.frames,
        "frames_per_s": tally.frames / wall_s if wall_s > 0 else None,
        "cpu_s_per_frame": cpu_s / frames,
        "wall_s": wall_s,
        "model_loading_and_enrolment_s": loaded - started,
        "faces_detected": tally.faces,
        "faces_sent": tally.faces_sent,
        "tracks": tracks,
        "track_ends": tally.track_ends,
        "detector_calls": {
            kind: tally.detector_calls.get(kind, 0)
            for kind in ("whole_frame", "refinement", "sharpening")
        },
        # The refinement's cost per face found (the "3.9 times per face").
        "refinement_calls_per_face": (
            (tally.detector_calls["refinement"] + tally.detector_calls["sharpening"]) / tally.faces
            if tally.faces
            else None
        ),
        "images_embedded": tally.images_embedded,
        "images_per_frame": tally.images_embedded / frames,
        "images_per_track": tally.images_embedded / tracks if tracks else None,
        "decisions": {name: tally.decisions.get(name, 0) for name in [*enrolled, UNKNOWN]}
        | dict(tally.decisions),
        "track_decisions": tally.track_rows(),
        "latency_s": {
            "p50": _percentile(tally.latencies_s, 50),
            "p95": _percentile(tally.latencies_s, 95),
        },
        "peak_rss_mb": peak_rss_mb(),
        "torch_threads": torch.get_num_threads(),
        "embedding_backend": recognizer.embedder.backend,
        "track_fusion": recognizer_settings.track_fusion,
        "track_max_embeddings": detector_settings.track_max_embeddings,
        "track_agreement_frames": recognizer_settings.track_agreement_frames,
    }
