"""Failures in the middle of a run: a recorder killed and restarted, bad frames, bad messages."""

from __future__ import annotations

import json
import threading

import pika
import pytest

from services.common.bus.rabbitmq import RabbitMQCommunicator
from services.common.bus.rabbitmq_topology import REASON_HEADER
from services.common.bus.topology import FACES, FRAMES, SIGHTINGS, dead_letter_queue
from services.common.contracts import FrameMessage, SightingMessage, new_id, utc_now
from services.common.storage.employees import EmployeeRepository, NewFace
from services.common.storage.mongo import connect
from services.common.storage.mongo_wire import MongoWireServer
from tests.helpers.messages import TINY_JPEG, sighting, unit_vector
from tests.helpers.processes import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def dead_letters(rabbitmq_url: str, prefix: str) -> list[tuple[dict, bytes]]:
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    try:
        channel = connection.channel()
        letters = []
        while True:
            method, properties, body = channel.basic_get(dead_letter_queue(prefix), auto_ack=True)
            if method is None:
                return letters
            letters.append((properties.headers or {}, body))
    finally:
        connection.close()


def assert_each_stored_once_into_one_record(db, batch: list[SightingMessage]) -> None:
    """Every sighting stored exactly once; the employee's one record spans the known ones."""
    stored_ids = sorted(document["_id"] for document in db.sightings.find({}, {"_id": 1}))
    assert stored_ids == sorted(message.sighting_id for message in batch)
    [record] = list(db.attendance.find())
    known = [m for m in batch if m.employee_id]
    assert record["arrival"]["sighting_id"] == min(known, key=lambda m: m.seen_at).sighting_id
    assert record["departure"]["sighting_id"] == max(known, key=lambda m: m.seen_at).sighting_id


def test_a_recorder_killed_mid_run_loses_and_duplicates_no_sighting(
    rabbitmq_url, bus_prefix, services, wait_for_consumers, mongo_db
):
    ana = EmployeeRepository(mongo_db).create(
        "Ana", [NewFace(TINY_JPEG, TINY_JPEG, unit_vector(1))], "test-model"
    )
    batch = [sighting(ana.employee_id if i % 3 else None, seconds=i * 7) for i in range(300)]
    publisher = RabbitMQCommunicator(rabbitmq_url, bus_prefix)
    for message in batch:
        publisher.publish(SIGHTINGS, message)
    publisher.close()

    recorder = services("recorder", MONGO_DB=mongo_db.name)
    wait_until(lambda: mongo_db.sightings.count_documents({}) >= 40, 60, "the recorder to start")
    recorder.kill()
    stored_when_killed = mongo_db.sightings.count_documents({})
    assert stored_when_killed < len(batch), "the recorder finished before it could be killed"

    services("recorder", MONGO_DB=mongo_db.name)
    wait_until(
        lambda: mongo_db.sightings.count_documents({}) == len(batch),
        120,
        "every sighting to be stored",
    )
    assert_each_stored_once_into_one_record(mongo_db, batch)


@pytest.mark.models
def test_corrupt_frames_and_wrong_versions_are_set_aside_and_the_detector_keeps_going(
    rabbitmq_url, bus_prefix, services, wait_for_consumers, faces_dir
):
    detector = services("detector", LOG_LEVEL="DEBUG")
    wait_for_consumers(FRAMES)
    bus = RabbitMQCommunicator(rabbitmq_url, bus_prefix)
    faces = []
    bus.subscribe(FACES, faces.extend)

    def frame(jpeg: bytes) -> FrameMessage:
        return FrameMessage(
            frame_id=new_id(), camera_id="door", captured_at=utc_now(), width=8, height=8, jpeg=jpeg
        )

    corrupt = frame(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    no_face = frame((faces_dir / "dlib/examples/faces/dogs.jpg").read_bytes())
    wrong_version = json.loads(frame(TINY_JPEG).model_dump_json())
    wrong_version["schema_version"] = 99
    good = frame((faces_dir / "face_recognition/examples/lin-manuel-miranda.png").read_bytes())

    bus.publish(FRAMES, corrupt)
    bus.publish(FRAMES, no_face)
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    connection.channel().basic_publish(
        FRAMES.exchange_name(bus_prefix), "door", json.dumps(wrong_version).encode()
    )
    connection.close()
    bus.publish(FRAMES, good)

    consumer = threading.Thread(target=bus.run, daemon=True)
    consumer.start()
    try:
        wait_until(lambda: faces, 60, "the good frame's face")
    finally:
        bus.stop()
        consumer.join(timeout=10)
        bus.close()
    assert [face.frame_id for face in faces] == [good.frame_id]
    reasons = [
        str(headers.get(REASON_HEADER, "")) for headers, _ in dead_letters(rabbitmq_url, bus_prefix)
    ]
    assert any(corrupt.frame_id in reason and "not an image" in reason for reason in reasons), (
        reasons
    )
    assert any("schema_version 99" in reason for reason in reasons), reasons
    assert f"no face in frame {no_face.frame_id}" in detector.log()
    assert detector.process.poll() is None


def test_sightings_sent_while_the_database_is_away_are_stored_once_it_is_back(
    tmp_path, rabbitmq_url, bus_prefix, services, wait_for_consumers
):
    database = MongoWireServer(tmp_path / "mongo")
    database.start()
    db = connect(database.url, "attendance_outage")
    publisher = RabbitMQCommunicator(rabbitmq_url, bus_prefix)
    try:
        ana = EmployeeRepository(db).create(
            "Ana", [NewFace(TINY_JPEG, TINY_JPEG, unit_vector(1))], "test-model"
        )
        # Two attempts only: were an outage's failures counted, sightings would be dead-lettered.
        recorder = services(
            "recorder", MONGO_URL=database.url, MONGO_DB=db.name, ATTENDANCE_MAX_ATTEMPTS="2"
        )
        wait_for_consumers(SIGHTINGS)
        batch = [sighting(ana.employee_id if i % 3 else None, seconds=i * 11) for i in range(60)]
        for message in batch[:20]:
            publisher.publish(SIGHTINGS, message)
        wait_until(lambda: db.sightings.count_documents({}) == 20, 60, "the first sightings")

        database.stop()
        for message in batch[20:22]:
            publisher.publish(SIGHTINGS, message)
        # Each of the two waiting sightings is tried at least ATTENDANCE_MAX_ATTEMPTS times.
        wait_until(
            lambda: recorder.log().count("ServerSelectionTimeoutError") >= 5,
            90,
            "the recorder to try the waiting sightings again and again",
            interval=1,
        )
        assert recorder.process.poll() is None, recorder.log()
        assert dead_letters(rabbitmq_url, bus_prefix) == []

        database.start()
        for message in batch[22:]:
            publisher.publish(SIGHTINGS, message)
        wait_until(
            lambda: db.sightings.count_documents({}) == len(batch),
            120,
            "every sighting to be stored once the database is back",
        )
        assert_each_stored_once_into_one_record(db, batch)
        assert dead_letters(rabbitmq_url, bus_prefix) == []
    finally:
        publisher.close()
        db.client.close()
        database.stop()
