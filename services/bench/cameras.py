"""Several cameras at once, in real time: the detector and the recognizer in threads of their
own, as the all-in-one runs them, on the in-memory bus or on RabbitMQ (``--broker``).

Each camera is a thread that plays the video at its own pace (``--fps`` frames per second of
video, or every frame at the video's own rate), stamping each frame with the time it sends it:
its own capture timeline. Camera ``i`` of ``N`` starts ``i/N`` of the way into the video (and
``i/N`` of a frame interval later), so that the cameras do not show the same face at the same
instant, as different doors would not. Frames are encoded to JPEG once, before the clock
starts: the cameras' own encoding is not the pipeline's cost.

Unlike the one-frame-at-a-time bench, nothing waits here: a detector that falls behind loses
frames to the bounded frames queue, and the recognizer's backlog shows in the faces queue's
depth and in the latency from a frame's capture to the decision it led to.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from services.bench.observed import BusListener, ObservedCommunicator
from services.bench.pipeline import (
    UNKNOWN,
    bench_database,
    enrol,
    frames_of,
    peak_rss_mb,
    video_fps,
)
from services.common.bus.base import Communicator
from services.common.bus.topology import FACES, FRAMES, SIGHTINGS, Channel
from services.common.contracts import (
    FaceMessage,
    FrameMessage,
    Message,
    SightingMessage,
    TrackEndMessage,
    new_id,
    utc_now,
)
from services.common.settings import SettingsError

# How long the detector must have had no frame to handle, after the cameras stopped, before
# the frames still unaccounted for are counted as dropped (the frames queue expires them
# after 3 s in any case).
FRAMES_SETTLED_S = 1.0
# The longest the bench waits for the recognizer to catch up at the end.
DRAIN_TIMEOUT_S = 300.0
DEPTH_EVERY_S = 0.05


@dataclass
class CamerasBench:
    video: Path
    enrolments: Sequence[tuple[str, Path]]
    cameras: int
    # Frames per second of video each camera sends; None: every frame, at the video's rate.
    fps: float | None = None
    # How many times each camera plays the video (a longer run: more decisions to time).
    loops: int = 1
    # At most this many frames per camera.
    max_frames: int | None = None
    broker: bool = False
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass
class CameraFigures:
    offered: int = 0
    analysed: int = 0
    faces_found: int = 0
    faces_sent: int = 0
    faces_refused: int = 0
    track_ends_sent: int = 0
    track_ends_refused: int = 0
    faces_embedded: int = 0
    decisions: Counter = field(default_factory=Counter)
    latencies_s: list[float] = field(default_factory=list)
    known_latencies_s: list[float] = field(default_factory=list)

    def add(self, other: CameraFigures) -> None:
        for name in (
            "offered",
            "analysed",
            "faces_found",
            "faces_sent",
            "faces_refused",
            "track_ends_sent",
            "track_ends_refused",
            "faces_embedded",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.decisions.update(other.decisions)
        self.latencies_s.extend(other.latencies_s)
        self.known_latencies_s.extend(other.known_latencies_s)


class CamerasTally(BusListener):
    """What the cameras sent and the services did, per camera; called from every thread."""

    def __init__(self, camera_ids: Sequence[str]) -> None:
        self._lock = threading.Lock()
        self.cameras = {camera_id: CameraFigures() for camera_id in camera_ids}
        self.face_events_sent = 0
        self.face_events_handled = 0
        self.sightings = 0
        self.last_frame_handled_at = time.monotonic()
        # When the end of each track became known: the capture time of the frame whose
        # handling revealed it (the time it was sent, for ends sent outside a frame).
        self._end_origins: dict[tuple[str, str], float] = {}

    def published(self, bus: ObservedCommunicator, channel: Channel, message: Message) -> None:
        with self._lock:
            if isinstance(message, FrameMessage):
                self.cameras[message.camera_id].offered += 1
            elif isinstance(message, FaceMessage):
                self.cameras[message.camera_id].faces_sent += 1
                self.face_events_sent += 1
            elif isinstance(message, TrackEndMessage):
                self.cameras[message.camera_id].track_ends_sent += 1
                self.face_events_sent += 1
                frames = [item for item in bus.handling if isinstance(item, FrameMessage)]
                origin = frames[-1].captured_at.timestamp() if frames else time.time()
                self._end_origins[(message.camera_id, message.track_id)] = origin
            elif channel.name == SIGHTINGS.name and isinstance(message, SightingMessage):
                self._decided(bus, message)

    def _decided(self, bus: ObservedCommunicator, sighting: SightingMessage) -> None:
        self.sightings += 1
        figures = self.cameras[sighting.camera_id]
        figures.decisions[sighting.employee_name or UNKNOWN] += 1
        origin = self._origin(bus.handling, sighting)
        if origin is None:
            return
        latency = time.time() - origin
        figures.latencies_s.append(latency)
        if sighting.is_known:
            figures.known_latencies_s.append(latency)

    def _origin(self, handling: Sequence[Message], sighting: SightingMessage) -> float | None:
        """The capture time of what the decision was made on: the face of the track in the
        batch being handled, or the moment its end became known."""
        for event in reversed(handling):
            if getattr(event, "track_id", None) != sighting.track_id:
                continue
            if getattr(event, "camera_id", None) != sighting.camera_id:
                continue
            if isinstance(event, FaceMessage):
                return event.captured_at.timestamp()
            if isinstance(event, TrackEndMessage):
                return self._end_origins.get((event.camera_id, event.track_id))
        return None

    def refused(self, bus: ObservedCommunicator, channel: Channel, message: Message) -> None:
        with self._lock:
            if isinstance(message, FaceMessage):
                self.cameras[message.camera_id].faces_refused += 1
            elif isinstance(message, TrackEndMessage):
                self.cameras[message.camera_id].track_ends_refused += 1

    def handled(self, bus: ObservedCommunicator, channel: Channel, messages: Sequence) -> None:
        with self._lock:
            if channel.name == FRAMES.name:
                for frame in messages:
                    self.cameras[frame.camera_id].analysed += 1
                self.last_frame_handled_at = time.monotonic()
            elif channel.name == FACES.name:
                self.face_events_handled += len(messages)

    def found(self, camera_id: str | None, faces: int) -> None:
        if camera_id is not None:
            with self._lock:
                self.cameras[camera_id].faces_found += faces

    def embedded(self, faces: Sequence[FaceMessage]) -> None:
        with self._lock:
            for face in faces:
                self.cameras[face.camera_id].faces_embedded += 1

    def frames_settled(self) -> bool:
        with self._lock:
            return time.monotonic() - self.last_frame_handled_at >= FRAMES_SETTLED_S

    def faces_settled(self) -> bool:
        with self._lock:
            return self.face_events_handled >= self.face_events_sent


class _Transport:
    """The bus the cameras and services share, and what it can tell about its queues."""

    name: str

    def connect(self, role: str) -> Communicator:
        raise NotImplementedError

    def frames_depth(self, detector_bus: Communicator) -> int | None:
        return detector_bus.queue_depth(FRAMES)

    def faces_depth(self) -> int | None:
        raise NotImplementedError

    def frames_dropped(self) -> int | None:
        """What the frames queue dropped, as the transport counts it (None: it cannot)."""
        return None

    def dead_letters(self) -> int | None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _InMemory(_Transport):
    name = "in-memory"

    def __init__(self) -> None:
        from services.common.bus.memory import InMemoryBroker

        self.broker = InMemoryBroker()

    def connect(self, role: str) -> Communicator:
        from services.common.bus.memory import InMemoryCommunicator

        return InMemoryCommunicator(self.broker)

    def frames_depth(self, detector_bus: Communicator) -> int | None:
        return self.broker.depth(FRAMES.work_queue)

    def faces_depth(self) -> int | None:
        return self.broker.depth(FACES.work_queue)

    def frames_dropped(self) -> int | None:
        return self.broker.dropped(FRAMES.work_queue)

    def dead_letters(self) -> int | None:
        with self.broker.condition:
            return len(self.broker.dead_letters)


class _RabbitMQ(_Transport):
    name = "rabbitmq"

    def __init__(self, url: str, max_attempts: int) -> None:
        from services.bench import broker

        self.url = url
        self.prefix = broker.fresh_prefix()
        self._max_attempts = max_attempts
        self._opened: list[Communicator] = []
        self._monitor = self.connect("monitor")

    def connect(self, role: str) -> Communicator:
        from services.common.bus.rabbitmq import RabbitMQCommunicator

        # Few connection attempts: a bench against a broker that is not there should say so
        # in seconds, not retry for a minute as a service would.
        bus = RabbitMQCommunicator(
            self.url, self.prefix, max_attempts=self._max_attempts, connect_attempts=2
        )
        self._opened.append(bus)
        return bus

    def faces_depth(self) -> int | None:
        return self._monitor.queue_depth(FACES)

    def dead_letters(self) -> int | None:
        from services.bench import broker

        return broker.dead_letters(self.url, self.prefix)

    def close(self) -> None:
        from services.bench import broker

        for bus in self._opened:
            bus.close()
        broker.remove(self.url, self.prefix)


class _Depths:
    """The deepest each queue got, sampled by a thread of its own."""

    def __init__(self, sample: Callable[[], tuple[int | None, int | None]]) -> None:
        self._sample = sample
        self.frames = 0
        self.faces = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="bench-depths", daemon=True)

    def __enter__(self) -> _Depths:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stopping.wait(DEPTH_EVERY_S):
            frames, faces = self._sample()
            self.frames = max(self.frames, frames or 0)
            self.faces = max(self.faces, faces or 0)


def _camera_ids(count: int) -> list[str]:
    return [f"cam-{number}" for number in range(1, count + 1)]


def _source_frames(bench: CamerasBench) -> tuple[list[FrameMessage], float]:
    """The video's frames to play (every frame, or about ``fps`` per second of video), each
    encoded once, and the seconds between two of them in real time."""
    from services.capture.service import Capture

    encoder = Capture(_NoBus(), str(bench.video), "bench")
    frames = [encoder.frame_message(rgb) for _, rgb in frames_of(bench.video, bench.fps, None)]
    if not frames:
        raise SettingsError(f"--video {bench.video}: no frame could be read")
    native = video_fps(bench.video)
    rate = native if bench.fps is None else min(bench.fps, native)
    return frames, 1.0 / rate


class _NoBus(Communicator):
    """The capture's encoder only: the cameras publish themselves."""

    def publish(self, channel, message, *, routing_key: str = "") -> None:
        raise AssertionError("not used")

    def subscribe(self, channel, handler, *, batch_size: int = 1, broadcast: bool = False):
        raise AssertionError("not used")

    def request(self, channel, message, reply_type, timeout):
        raise AssertionError("not used")

    def run(self) -> None:
        raise AssertionError("not used")

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass


def _play(
    bus: Communicator,
    camera_id: str,
    frames: Sequence[FrameMessage],
    count: int,
    first: int,
    start_at: float,
    interval: float,
) -> None:
    """Send ``count`` frames from position ``first`` of the video (looping), one every
    ``interval`` seconds from ``start_at``; a camera that falls behind sends at once."""
    for number in range(count):
        delay = start_at + number * interval - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        source = frames[(first + number) % len(frames)]
        bus.publish(
            FRAMES,
            source.model_copy(
                update={"frame_id": new_id(), "camera_id": camera_id, "captured_at": utc_now()}
            ),
        )


def _wait_until(condition: Callable[[], bool], timeout_s: float, step_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(step_s)
    return True


def _thread(target: Callable[[], None], name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


@contextlib.contextmanager
def _transport(bench: CamerasBench, url: str, max_attempts: int) -> Iterator[_Transport]:
    transport: _Transport = _RabbitMQ(url, max_attempts) if bench.broker else _InMemory()
    try:
        yield transport
    finally:
        transport.close()


def run(bench: CamerasBench) -> dict[str, Any]:
    """Enrol, play the video as ``bench.cameras`` cameras in real time, and return the
    figures."""
    import torch

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
    camera_ids = _camera_ids(bench.cameras)
    tally = CamerasTally(camera_ids)
    frames, interval = _source_frames(bench)
    per_camera = len(frames) * bench.loops
    if bench.max_frames is not None:
        per_camera = min(per_camera, bench.max_frames)
    earlier_detectors = built_detectors()
    try:
        with (
            bench_database(environ) as db,
            _transport(
                bench, recognizer_settings.rabbitmq_url, recognizer_settings.attendance_max_attempts
            ) as transport,
        ):
            cache = InMemoryCache()
            stack = build_stack(recognizer_settings, db, cache)
            enrol(stack, bench.enrolments)
            capture_bus = ObservedCommunicator(transport.connect("capture"), tally, "capture")
            detector_bus = ObservedCommunicator(transport.connect("detector"), tally, "detector")
            recognizer_bus = ObservedCommunicator(
                transport.connect("recognizer"), tally, "recognizer"
            )
            finder = build_finder(detector_settings)
            _count_found(finder, tally, detector_bus)
            # The bench ends the tracks itself once the cameras stop: no sweeper thread.
            detector = build_detector(
                detector_settings, detector_bus, finder=finder, idle_sweep_s=None
            )
            detector.start()
            if bench.broker and transport.frames_depth(detector_bus) is None:
                raise SettingsError(
                    "the detector could not consume frames from RabbitMQ (is the "
                    "rabbitmq_consistent_hash_exchange plugin enabled? see the log above)"
                )
            recognizer = recognizer_for(
                recognizer_settings, recognizer_bus, stack, cache, serve_enrolments=False
            )
            _count_embedded(recognizer, tally)
            recognizer.start()
            images_per_face = 2 if recognizer.video_mirror else 1
            consumers = [
                _thread(detector_bus.run, "bench-detector"),
                _thread(recognizer_bus.run, "bench-recognizer"),
            ]
            loaded = time.perf_counter()
            load_before = os.getloadavg()
            cpu_before = time.process_time()
            with _Depths(
                lambda: (transport.frames_depth(detector_bus), transport.faces_depth())
            ) as depths:
                start_at = time.perf_counter() + 0.1
                cameras = [
                    _thread(
                        partial(
                            _play,
                            capture_bus,
                            camera_id,
                            frames,
                            per_camera,
                            index * len(frames) // bench.cameras,
                            start_at + index * interval / bench.cameras,
                            interval,
                        ),
                        camera_id,
                    )
                    for index, camera_id in enumerate(camera_ids)
                ]
                for camera in cameras:
                    camera.join()
                played_s = time.perf_counter() - start_at
                # Every frame is handled or dropped once the detector has had nothing to do
                # for a while; then the tracks end, and the recognizer catches up.
                _wait_until(tally.frames_settled, DRAIN_TIMEOUT_S)
                detector_bus.stop()
                consumers[0].join()
                detector.stop()

                def swept_and_settled() -> bool:
                    # Tracks whose camera fell silent end only when swept.
                    detector.sweep()
                    return tally.faces_settled()

                caught_up = _wait_until(swept_and_settled, DRAIN_TIMEOUT_S)
                wall_s = time.perf_counter() - start_at
                cpu_s = time.process_time() - cpu_before
                load_after = os.getloadavg()
            recognizer_bus.stop()
            consumers[1].join()
            frames_dropped_by_bus = transport.frames_dropped()
            dead_letters = transport.dead_letters()
            bus_prefix = getattr(transport, "prefix", None)
    finally:
        close_detectors(keep=earlier_detectors)
    overall = CameraFigures()
    for figures in tally.cameras.values():
        overall.add(figures)
    enrolled = [name for name, _ in bench.enrolments]
    return {
        "video": str(bench.video),
        "transport": transport.name,
        "bus_prefix": bus_prefix,
        "cameras": bench.cameras,
        "fps_per_camera": 1.0 / interval,
        "loops": bench.loops,
        "played_s": played_s,
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "cpu_share_of_machine": cpu_s / wall_s / (os.cpu_count() or 1),
        "load_average_before": list(load_before),
        "load_average_after": list(load_after),
        "model_loading_and_enrolment_s": loaded - started,
        "overall": _figures(overall, images_per_face, enrolled),
        "per_camera": {
            camera_id: _figures(figures, images_per_face, enrolled)
            for camera_id, figures in tally.cameras.items()
        },
        "frames_dropped_by_bus": frames_dropped_by_bus,
        "max_queue_depth": {"frames": depths.frames, "faces": depths.faces},
        "queue_bounds": {"frames": FRAMES.max_length, "faces": FACES.max_length},
        "recognizer_caught_up": caught_up,
        "face_events_sent": tally.face_events_sent,
        "face_events_handled": tally.face_events_handled,
        "sightings_published": tally.sightings,
        "dead_letters": dead_letters,
        "peak_rss_mb": peak_rss_mb(),
        "torch_threads": torch.get_num_threads(),
        "embedding_backend": recognizer.embedder.backend,
    }


def _figures(figures: CameraFigures, images_per_face: int, enrolled: Sequence[str]) -> dict:
    dropped = figures.offered - figures.analysed
    return {
        "frames_offered": figures.offered,
        "frames_analysed": figures.analysed,
        "frames_dropped": dropped,
        "frames_dropped_share": dropped / figures.offered if figures.offered else None,
        "faces_found": figures.faces_found,
        "faces_sent": figures.faces_sent,
        "faces_refused_queue_full": figures.faces_refused,
        "track_ends_sent": figures.track_ends_sent,
        "track_ends_refused_then_held": figures.track_ends_refused,
        "images_embedded": figures.faces_embedded * images_per_face,
        "decisions": {name: figures.decisions.get(name, 0) for name in [*enrolled, UNKNOWN]}
        | dict(figures.decisions),
        "capture_to_decision_s": _spread(figures.latencies_s),
        "capture_to_known_decision_s": _spread(figures.known_latencies_s),
    }


def _spread(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None, "count": 0}
    return {
        "p50": float(np.percentile(values, 50)),
        "p95": float(np.percentile(values, 95)),
        "max": max(values),
        "count": len(values),
    }


def _count_found(finder: Any, tally: CamerasTally, detector_bus: ObservedCommunicator) -> None:
    """Faces found per camera: the detector finds faces in the frame its thread handles."""
    find = finder.find

    def counted_find(rgb, **options):
        found = find(rgb, **options)
        handling = [item for item in detector_bus.handling if isinstance(item, FrameMessage)]
        tally.found(handling[-1].camera_id if handling else None, len(found))
        return found

    finder.find = counted_find


def _count_embedded(recognizer: Any, tally: CamerasTally) -> None:
    """Faces sent through the network per camera (the recognizer's one call that knows which
    faces it embeds; the faces of decided tracks never reach it)."""
    embed = recognizer._embed

    def counted_embed(faces: Sequence[FaceMessage]) -> Any:
        tally.embedded(faces)
        return embed(faces)

    recognizer._embed = counted_embed
