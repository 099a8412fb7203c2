"""`attendance bench` runs the real detector → recognizer path on a few frames and prints its
figures as JSON. A benchmark is not judged on its speed here, only on working."""

from __future__ import annotations

import contextlib
import io
import json
import logging

import pika
import pika.exceptions
import pytest

from services.bench.broker import declared_names
from services.cli import main
from tests.fixtures.rabbitmq import queues_of

pytestmark = pytest.mark.models

CLIP = "face_recognition/examples/short_hamilton_clip.mp4"
MIRANDA = "Lin-Manuel Miranda"
MIRANDA_PHOTO = "face_recognition/examples/lin-manuel-miranda.png"


@pytest.fixture(scope="module")
def figures(models_dir, faces_dir) -> dict:
    """One bench run: 2 frames per second of the clip (about 18 frames), the network at
    batch size 1 and matching against 1,000 templates, each timed briefly."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as env, contextlib.redirect_stdout(out):
        env.setenv("ATTENDANCE_MODELS_DIR", str(models_dir))
        status = main(
            [
                "bench",
                "--video",
                str(faces_dir / CLIP),
                "--enroll",
                f"{MIRANDA}={faces_dir / MIRANDA_PHOTO}",
                "--fps",
                "2",
                "--recognizer",
                "--batch-sizes",
                "1",
                "--gallery",
                "1000",
                "--seconds",
                "0.2",
                "--json",
            ]
        )
    # The bench sets the root logger for a command-line run; other tests expect theirs.
    root.handlers[:], root.level = handlers, level
    assert status == 0
    return json.loads(out.getvalue())


def test_the_bench_plays_the_asked_frames_through_the_detector_and_the_recognizer(figures):
    video = figures["video"]
    assert 15 <= video["frames"] <= 20
    assert video["frames_per_s"] > 0
    assert video["cpu_s_per_frame"] > 0
    assert video["faces_detected"] > 0
    assert video["tracks"] > 0
    assert video["images_embedded"] > 0
    assert video["images_per_track"] == pytest.approx(video["images_embedded"] / video["tracks"])


def test_the_enrolled_person_is_decided_on_once_per_track_in_the_clip(figures):
    video = figures["video"]
    assert video["decisions"][MIRANDA] >= 1
    decided = [row for row in video["track_decisions"] if row["decision"] == MIRANDA]
    assert len(decided) == video["decisions"][MIRANDA]
    assert all(row["faces_sent"] <= video["track_max_embeddings"] for row in decided)
    assert video["faces_sent"] < video["faces_detected"]
    assert 0 < video["latency_s"]["p50"] <= video["latency_s"]["p95"]


def test_the_network_and_matching_are_timed(figures):
    (network,) = figures["recognizer"]
    assert network["batch_size"] == 1
    assert network["faces_per_s"] > 0
    (gallery,) = figures["gallery"]
    assert gallery["gallery_people"] == 1000
    assert gallery["ms_per_face"] > 0
    assert figures["peak_rss_mb"] > 0


def _bench_json(models_dir, argv: list[str], environ: dict[str, str] | None = None) -> dict:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as env, contextlib.redirect_stdout(out):
        env.setenv("ATTENDANCE_MODELS_DIR", str(models_dir))
        for name, value in (environ or {}).items():
            env.setenv(name, value)
        status = main(["bench", *argv, "--json"])
    root.handlers[:], root.level = handlers, level
    assert status == 0
    return json.loads(out.getvalue())


def _two_cameras(models_dir, faces_dir, *extra: str, environ=None) -> dict:
    """Two cameras, 12 frames each at 5 frames per second (about 2.5 s in real time)."""
    return _bench_json(
        models_dir,
        [
            "--video",
            str(faces_dir / CLIP),
            "--enroll",
            f"{MIRANDA}={faces_dir / MIRANDA_PHOTO}",
            "--cameras",
            "2",
            "--fps",
            "5",
            "--max-frames",
            "12",
            *extra,
        ],
        environ,
    )["cameras"]


def _accounts_for_every_frame_and_face(cameras: dict) -> None:
    assert set(cameras["per_camera"]) == {"cam-1", "cam-2"}
    for figures in cameras["per_camera"].values():
        assert figures["frames_offered"] == 12
        assert figures["frames_analysed"] + figures["frames_dropped"] == 12
    overall = cameras["overall"]
    assert overall["frames_offered"] == 24
    assert overall["faces_found"] > 0
    assert cameras["recognizer_caught_up"]
    assert cameras["face_events_handled"] == cameras["face_events_sent"] > 0
    assert sum(overall["decisions"].values()) == cameras["sightings_published"]
    assert overall["capture_to_decision_s"]["count"] == cameras["sightings_published"]
    assert cameras["max_queue_depth"]["frames"] <= cameras["queue_bounds"]["frames"]
    assert cameras["max_queue_depth"]["faces"] <= cameras["queue_bounds"]["faces"]
    assert cameras["dead_letters"] == 0


def test_two_cameras_play_at_once_and_every_frame_is_analysed_or_counted_as_dropped(
    models_dir, faces_dir
):
    cameras = _two_cameras(models_dir, faces_dir)
    assert cameras["transport"] == "in-memory"
    _accounts_for_every_frame_and_face(cameras)
    # The in-memory queue counts its own drops: they are the frames not analysed.
    assert cameras["frames_dropped_by_bus"] == cameras["overall"]["frames_dropped"]
    # The second camera starts halfway into the clip, where Miranda sings.
    assert cameras["per_camera"]["cam-2"]["decisions"][MIRANDA] >= 1
    assert cameras["overall"]["capture_to_known_decision_s"]["p50"] > 0


@pytest.mark.integration
def test_two_cameras_over_rabbitmq_leave_no_queue_or_exchange_behind(
    models_dir, faces_dir, rabbitmq_url
):
    cameras = _two_cameras(
        models_dir, faces_dir, "--broker", environ={"RABBITMQ_URL": rabbitmq_url}
    )
    assert cameras["transport"] == "rabbitmq"
    _accounts_for_every_frame_and_face(cameras)
    prefix = cameras["bus_prefix"]
    assert prefix.startswith("bench-")
    queues, exchanges = declared_names(prefix)
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    try:
        for name in queues:
            with pytest.raises(pika.exceptions.ChannelClosedByBroker):
                connection.channel().queue_declare(name, passive=True)
        for name in exchanges:
            with pytest.raises(pika.exceptions.ChannelClosedByBroker):
                connection.channel().exchange_declare(name, passive=True)
    finally:
        connection.close()
    leftover = queues_of(rabbitmq_url, prefix)
    assert not leftover  # None without rabbitmqctl: the passive checks above still held
