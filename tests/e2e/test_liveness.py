"""Liveness across the service processes, on the real broker, cache, database and models: a
printed photo of an employee held to the camera is a spoof attempt and no attendance; the
employee in person is still recorded.

The frames are NUAA photos (../shared/faces/liveness, see its README) of subject 0001, played as
a folder source by the capture service: one session of the printed photo moved in front of the
camera, and one session of the live person. The employee is enrolled from a photo of another
session of the live person.
"""

from __future__ import annotations

import json
import shutil

import pytest

from services.common.storage.mongo import connect
from tests.helpers.processes import run_command, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.models, pytest.mark.timeout(420)]

SUBJECT = "0001"
# The session the frames come from (a sequence of one sitting), and the enrolment photo's.
FRAMES_SESSION = "_00_00_01_"
ENROLMENT_PHOTO = "0001_00_00_02_0.jpg"
# This test is about liveness, not where the threshold stands: it is pinned below the
# calibrated one (one webcam photo of another sitting is all the gallery holds).
RECOGNIZER_ENV = {"MATCH_THRESHOLD": "0.5"}


@pytest.fixture
def db(mongo_server_url, mongo_db_name):
    database = connect(mongo_server_url, mongo_db_name)
    yield database
    database.client.drop_database(mongo_db_name)


def sequence(faces_dir, kind: str, destination) -> str:
    """A folder holding one session's photos of the subject (``print`` or ``real``)."""
    source = faces_dir / "liveness" / "nuaa" / kind / SUBJECT
    destination.mkdir()
    for photo in sorted(source.glob(f"*{FRAMES_SESSION}*.jpg")):
        shutil.copy(photo, destination / photo.name)
    assert len(list(destination.iterdir())) >= 10
    return str(destination)


def play(services, folder: str, camera: str) -> None:
    capture = services("capture", "--source", folder, "--camera-id", camera, "--fps", "5")
    assert capture.wait(timeout=120) == 0, capture.log()


def test_a_printed_photo_is_a_spoof_attempt_and_no_attendance_and_the_person_is_recorded(
    pipeline_env, services, wait_for_consumers, faces_dir, db, tmp_path
):
    photo = faces_dir / "liveness" / "nuaa" / "real" / SUBJECT / ENROLMENT_PHOTO
    enrolled = run_command(pipeline_env, "enroll", "--name", "Subject One", str(photo))
    assert enrolled.returncode == 0, enrolled.stderr
    subject = json.loads(enrolled.stdout)["employee_id"]
    services("detector")
    services("recognizer", **RECOGNIZER_ENV)
    recorder = services("recorder")
    wait_for_consumers()

    # The printed photo, held and moved in front of the door camera.
    play(services, sequence(faces_dir, "print", tmp_path / "print"), "door")
    attempt = wait_until(
        lambda: db.spoof_attempts.find_one({"employee_id": subject}),
        90,
        "a spoof attempt resembling the subject",
    )
    assert attempt["camera_id"] == "door" and attempt["action"] == "blocked"
    assert attempt["liveness_score"] < 0.5 and attempt["faces_scored"] >= 1
    assert db.pictures.count_documents({"_id": f"spoof-{attempt['_id']}-face"}) == 1
    assert db.attendance.count_documents({}) == 0
    assert db.sightings.count_documents({"employee_id": subject}) == 0

    # The subject in person, at another camera (at the same one, a face within TRACK_GAP_S of
    # the photo's last continues its refused track): recorded as ever.
    play(services, sequence(faces_dir, "real", tmp_path / "real"), "hall")
    record = wait_until(
        lambda: db.attendance.find_one({"employee_id": subject}),
        90,
        "the subject's attendance record",
    )
    assert record["arrival"]["camera_id"] == "hall"
    assert not record.get("liveness_flagged_sightings")
    # Every spoof attempt came from the printed photo's tracks, none from the person's.
    assert (
        db.spoof_attempts.count_documents({"seen_at": {"$gte": record["arrival"]["seen_at"]}}) == 0
    )
    assert recorder.process.poll() is None, recorder.log()
