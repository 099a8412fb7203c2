"""The whole pipeline, each service a process of its own, on real servers and real models."""

from __future__ import annotations

import json
import time

import pytest
import requests

from services.common.storage.mongo import connect
from tests.conftest import free_port
from tests.helpers.metrics import metric_total
from tests.helpers.processes import run_command, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.models, pytest.mark.timeout(420)]

HAMILTON = "face_recognition/examples/short_hamilton_clip.mp4"
CROWD = "facenet-pytorch/examples/video.mp4"
# The figure each worker's /metrics must show moving while the video plays.
WORKER_FIGURES = {
    "capture": "attendance_frames_published_total",
    "detector": "attendance_frames_processed_total",
    "recognizer": "attendance_faces_embedded_total",
    "recorder": "attendance_sightings_stored_total",
}


def enroll(env, name: str, photo) -> str:
    result = run_command(env, "enroll", "--name", name, str(photo))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["employee_id"]


@pytest.fixture
def db(mongo_server_url, mongo_db_name):
    database = connect(mongo_server_url, mongo_db_name)
    yield database
    database.client.drop_database(mongo_db_name)


def test_lin_manuel_miranda_is_recorded_arriving_in_the_hamilton_clip(
    pipeline_env, services, wait_for_consumers, faces_dir, db
):
    lin = enroll(
        pipeline_env,
        "Lin-Manuel Miranda",
        faces_dir / "face_recognition/examples/lin-manuel-miranda.png",
    )
    alex = enroll(
        pipeline_env, "Alex Lacamoire", faces_dir / "face_recognition/examples/alex-lacamoire.png"
    )
    health = {name: f"http://127.0.0.1:{free_port()}" for name in WORKER_FIGURES}
    workers = [
        services(name, HEALTH_PORT=health[name].rsplit(":", 1)[1])
        for name in ("detector", "recognizer", "recorder")
    ]
    wait_for_consumers()
    for name in ("detector", "recognizer", "recorder"):
        assert requests.get(f"{health[name]}/readyz", timeout=5).status_code == 200, name

    capture = services(
        "capture",
        "--source",
        str(faces_dir / HAMILTON),
        "--camera-id",
        "stage",
        "--fps",
        "6",
        HEALTH_PORT=health["capture"].rsplit(":", 1)[1],
    )
    # What an operator polling each worker's /metrics sees while the clip plays.
    seen: dict[str, list[float]] = {name: [] for name in WORKER_FIGURES}
    while capture.process.poll() is None:
        for name, figure in WORKER_FIGURES.items():
            seen[name].append(metric_total(health[name], figure))
        time.sleep(0.5)
    assert capture.wait(timeout=120) == 0, capture.log()

    record = wait_until(
        lambda: db.attendance.find_one({"employee_id": lin}),
        90,
        "Lin-Manuel Miranda's attendance record",
    )
    assert record["employee_name"] == "Lin-Manuel Miranda"
    assert record["arrival"]["camera_id"] == "stage"
    picture = db.pictures.find_one({"_id": record["arrival"]["picture_id"]})
    assert picture is not None and bytes(picture["jpeg"][:2]) == b"\xff\xd8"
    assert {r["employee_id"] for r in db.attendance.find()} <= {lin, alex}
    # Alex Lacamoire is in the clip, but only in profile: never judged, never recorded.
    assert db.attendance.find_one({"employee_id": alex}) is None
    # One decision per person passing: no track makes two sightings.
    tracks = [s["track_id"] for s in db.sightings.find({}, {"track_id": 1})]
    assert len(tracks) == len(set(tracks)), tracks
    for process in workers:
        assert process.process.poll() is None, process.log()

    for name in ("capture", "detector"):
        assert max(seen[name]) > min(seen[name]), f"{name}'s figures stood still: {seen[name]}"
    for name in ("detector", "recognizer", "recorder"):
        assert metric_total(health[name], WORKER_FIGURES[name]) > 0, name
        page = requests.get(f"{health[name]}/metrics", timeout=5).text
        assert "attendance_queue_depth{" in page, name
    assert metric_total(health["recorder"], "attendance_records_written_total") > 0


def test_the_crowd_video_yields_unknown_sightings_and_no_attendance(
    pipeline_env, services, wait_for_consumers, faces_dir, db
):
    enroll(
        pipeline_env,
        "Lin-Manuel Miranda",
        faces_dir / "face_recognition/examples/lin-manuel-miranda.png",
    )
    services("detector", DETECTOR_MODEL="full")
    services("recognizer")
    services("recorder")
    wait_for_consumers()

    capture = services(
        "capture",
        "--source",
        str(faces_dir / CROWD),
        "--camera-id",
        "arcade",
        "--fps",
        "5",
        CAPTURE_MAX_SIDE="1920",
    )
    assert capture.wait(timeout=120) == 0, capture.log()

    wait_until(
        lambda: db.sightings.count_documents({"known": False}) >= 1, 90, "an unknown sighting"
    )
    assert db.attendance.count_documents({}) == 0
