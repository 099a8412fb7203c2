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
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pymongo.database import Database

from services.bench.recording import RecordingCommunicator
from services.common.bus.topology import FACES, FRAMES, SIGHTINGS, Channel
from services.common.contracts import FaceMessage, Message, SightingMessage, utc_now
from services.common.settings import SettingsError

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
class Tally:
    """What the services published and embedded while the video played."""

    frames: int = 0
    faces: int = 0
    images_embedded: int = 0
    tracks: set[tuple[str, str]] = field(default_factory=set)
    decisions: Counter = field(default_factory=Counter)
    accepted_frames: defaultdict = field(default_factory=lambda: defaultdict(set))
    latencies_s: list[float] = field(default_factory=list)

    def published(self, channel: Channel, message: Message) -> None:
        if channel.name == FACES.name and isinstance(message, FaceMessage):
            self.faces += 1
            self.tracks.add((message.camera_id, message.track_id or message.face_id))
        elif channel.name == SIGHTINGS.name and isinstance(message, SightingMessage):
            self.decisions[message.employee_name or UNKNOWN] += 1
            self.latencies_s.append((utc_now() - message.seen_at).total_seconds())

    def watch(self, recognizer: Any, embedder: Any) -> None:
        """Count the network's images (a mirrored crop is a second image) and the frames in
        which each person was accepted, before track agreement and the cooldown."""
        embed = embedder.embed
        images_per_crop = 2 if getattr(embedder, "mirror", False) else 1

        def counted_embed(crops):
            self.images_embedded += len(crops) * images_per_crop
            return embed(crops)

        embedder.embed = counted_embed
        recognise = getattr(recognizer, "recognise", None)
        if recognise is None:
            return

        def noted_recognise(faces):
            sightings = recognise(faces)
            for sighting in sightings:
                if sighting.employee_name:
                    self.accepted_frames[sighting.employee_name].add(sighting.frame_id)
            return sightings

        recognizer.recognise = noted_recognise


def frames_of(video: Path, fps: float | None, max_frames: int | None) -> Iterator[np.ndarray]:
    """RGB frames of ``video``: every frame, or about ``fps`` of them per second of video."""
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
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
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
    from services.allinone import MongoWireServer

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
    from services.detector.main import built_detectors, close_detectors
    from services.detector.settings import DetectorSettings
    from services.recognizer.enrolment import EnrolmentError
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
            for name, photo in bench.enrolments:
                try:
                    stack.enroller.enroll(name, [photo.read_bytes()])
                except EnrolmentError as exc:
                    raise SettingsError(f"--enroll {name}={photo}: {exc}") from None
            broker = InMemoryBroker()
            capture_bus = InMemoryCommunicator(broker)
            detector_bus = RecordingCommunicator(broker, tally.published)
            recognizer_bus = RecordingCommunicator(broker, tally.published)
            build_detector(detector_settings, detector_bus).start()
            recognizer = recognizer_for(
                recognizer_settings, recognizer_bus, stack, cache, serve_enrolments=False
            )
            tally.watch(recognizer, stack.embedder)
            recognizer.start()
            capture = Capture(capture_bus, str(bench.video), CAMERA_ID)
            loaded = time.perf_counter()
            cpu_before = time.process_time()
            for rgb in frames_of(bench.video, bench.fps, bench.max_frames):
                capture_bus.publish(FRAMES, capture.frame_message(rgb))
                tally.frames += 1
                # Both drained every round (| not or): faces wait for no later frame.
                while detector_bus.drain_once() | recognizer_bus.drain_once():
                    pass
            wall_s = time.perf_counter() - loaded
            cpu_s = time.process_time() - cpu_before
    finally:
        close_detectors(keep=earlier_detectors)
    frames = max(tally.frames, 1)
    tracks = len(tally.tracks)
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
        "tracks": tracks,
        "images_embedded": tally.images_embedded,
        "images_per_frame": tally.images_embedded / frames,
        "images_per_track": tally.images_embedded / tracks if tracks else None,
        "decisions": {name: tally.decisions.get(name, 0) for name in [*enrolled, UNKNOWN]}
        | dict(tally.decisions),
        "frames_accepted": {name: len(tally.accepted_frames.get(name, ())) for name in enrolled},
        "latency_s": {
            "p50": _percentile(tally.latencies_s, 50),
            "p95": _percentile(tally.latencies_s, 95),
        },
        "peak_rss_mb": peak_rss_mb(),
        "torch_threads": torch.get_num_threads(),
    }
