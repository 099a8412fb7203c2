"""The in-memory transport keeps the promises the RabbitMQ one does, without a broker."""

from __future__ import annotations

import time

import pytest
from pymongo.errors import ServerSelectionTimeoutError
from redis.exceptions import ConnectionError as RedisConnectionError

from services.common.bus.base import Delivery, QueueFull, RequestTimeout
from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
from services.common.bus.topology import ATTENDANCE_EVENTS, ENROLMENTS, FACES, FRAMES, SIGHTINGS
from services.common.contracts import EnrolmentResult, FaceMessage
from services.common.outages import DependencyUnavailable, OutageBackoff
from tests.fixtures.bus import (
    FailsThenRecords,
    Inbox,
    attendance_event,
    enrolled,
    enrolment,
    face,
    frame,
    running,
    sighting,
    with_schema_version,
)

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]


@pytest.fixture
def broker() -> InMemoryBroker:
    return InMemoryBroker()


def drain(bus: InMemoryCommunicator, limit: int = 100) -> None:
    """Handle batches until nothing is left (retries included)."""
    for _ in range(limit):
        if not bus.drain_once():
            return
    raise AssertionError(f"still busy after {limit} rounds")


def test_a_published_sighting_is_handled_and_leaves_the_queue(broker: InMemoryBroker) -> None:
    bus, inbox = InMemoryCommunicator(broker), Inbox()
    bus.subscribe(SIGHTINGS, inbox)
    bus.publish(SIGHTINGS, sighting("s-1"))

    drain(bus)

    assert inbox.messages == [sighting("s-1")]
    assert bus.queue_depth(SIGHTINGS) == 0
    assert broker.dead_letters == []


def test_a_message_published_before_anyone_subscribes_is_kept(broker: InMemoryBroker) -> None:
    InMemoryCommunicator(broker).publish(SIGHTINGS, sighting("s-early"))
    bus, inbox = InMemoryCommunicator(broker), Inbox()
    bus.subscribe(SIGHTINGS, inbox)

    drain(bus)

    assert inbox.messages == [sighting("s-early")]


def test_a_handler_that_keeps_failing_is_retried_then_dead_lettered_with_the_reason(
    broker: InMemoryBroker,
) -> None:
    bus = InMemoryCommunicator(broker, max_attempts=3)
    attempts: list[str] = []

    def failing(faces: list[FaceMessage]) -> None:
        attempts.extend(message.face_id for message in faces)
        raise RuntimeError("database is down")

    bus.subscribe(FACES, failing)
    bus.publish(FACES, face("f-1"))

    drain(bus)

    assert attempts == ["f-1", "f-1", "f-1"]
    [letter] = broker.dead_letters
    assert letter.body == face("f-1").to_bytes()
    assert "RuntimeError: database is down" in letter.reason
    assert letter.attempts == 3
    assert letter.queue == FACES.work_queue


def test_a_handler_that_recovers_acknowledges_the_retried_message(broker: InMemoryBroker) -> None:
    bus, flaky = InMemoryCommunicator(broker, max_attempts=3), FailsThenRecords([RuntimeError()])
    bus.subscribe(FACES, flaky)
    bus.publish(FACES, face("f-2"))

    drain(bus)

    assert flaky.messages == [face("f-2")]
    assert broker.dead_letters == []


@pytest.mark.parametrize(
    "outage",
    [
        ServerSelectionTimeoutError("mongo:27017: connection refused"),
        RedisConnectionError("Error 111 connecting to redis:6379"),
        DependencyUnavailable("the face store is away"),
    ],
    ids=["mongodb", "redis", "declared"],
)
def test_a_message_waits_uncounted_while_a_dependency_is_away_then_is_handled(
    broker: InMemoryBroker, outage: Exception
) -> None:
    bus = InMemoryCommunicator(broker, max_attempts=3, outage_backoff=OutageBackoff(0.001, 0.01))
    # Down for longer than max_attempts tries: an outage must not use the message's attempts up.
    needs_the_database = FailsThenRecords([outage] * 7)
    bus.subscribe(SIGHTINGS, needs_the_database)
    bus.publish(SIGHTINGS, sighting("s-outage"))

    drain(bus)

    assert needs_the_database.messages == [sighting("s-outage")]
    assert needs_the_database.tries == 8
    assert broker.dead_letters == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (with_schema_version(sighting("s-2"), 2), "unsupported schema_version 2"),
        (b"<html>not json</html>", "invalid sightings message"),
    ],
    ids=["another schema version", "not json"],
)
def test_an_unreadable_body_is_dead_lettered_without_reaching_the_handler(
    broker: InMemoryBroker, body: bytes, reason: str
) -> None:
    bus, inbox = InMemoryCommunicator(broker), Inbox()
    bus.subscribe(SIGHTINGS, inbox)
    broker.route(SIGHTINGS, Delivery(body))
    bus.publish(SIGHTINGS, sighting("s-3"))

    drain(bus)

    assert inbox.messages == [sighting("s-3")]
    [letter] = broker.dead_letters
    assert reason in letter.reason
    assert letter.body == body


def test_the_frames_queue_keeps_only_the_newest_frames(broker: InMemoryBroker) -> None:
    camera = InMemoryCommunicator(broker)
    for index in range(50):
        camera.publish(FRAMES, frame(index))

    assert camera.queue_depth(FRAMES) == FRAMES.max_length
    assert broker.dropped(FRAMES.work_queue) == 50 - FRAMES.max_length

    detector, inbox = InMemoryCommunicator(broker), Inbox()
    detector.subscribe(FRAMES, inbox)
    drain(detector)
    assert [message.frame_id for message in inbox.messages] == [
        f"frame-{index}" for index in range(50 - FRAMES.max_length, 50)
    ]


def test_a_batch_subscription_gets_several_messages_in_one_call(broker: InMemoryBroker) -> None:
    bus, inbox = InMemoryCommunicator(broker), Inbox()
    bus.subscribe(FACES, inbox, batch_size=4)
    for index in range(6):
        bus.publish(FACES, face(f"f-{index}"))

    drain(bus)

    assert [len(batch) for batch in inbox.batches] == [4, 2]


def test_a_poison_message_in_a_batch_does_not_sink_its_neighbours(broker: InMemoryBroker) -> None:
    bus, inbox = InMemoryCommunicator(broker, max_attempts=2), Inbox()
    poison = face("poison")

    def picky(faces: list[FaceMessage]) -> None:
        if poison in faces:
            raise ValueError("cannot embed this face")
        inbox(faces)

    bus.subscribe(FACES, picky, batch_size=3)
    for message in (face("f-1"), poison, face("f-2")):
        bus.publish(FACES, message)

    drain(bus)

    # The batch failed as a whole; tried one by one, the good faces went through alone.
    assert inbox.batches == [[face("f-1")], [face("f-2")]]
    [letter] = broker.dead_letters
    assert letter.body == poison.to_bytes()
    assert "ValueError: cannot embed this face" in letter.reason
    assert letter.attempts == 2


def test_every_broadcast_subscriber_gets_every_event(broker: InMemoryBroker) -> None:
    kiosk, dashboard = InMemoryCommunicator(broker), InMemoryCommunicator(broker)
    kiosk_inbox, dashboard_inbox = Inbox(), Inbox()
    kiosk.subscribe(ATTENDANCE_EVENTS, kiosk_inbox, broadcast=True)
    dashboard.subscribe(ATTENDANCE_EVENTS, dashboard_inbox, broadcast=True)
    events = [attendance_event(index) for index in range(3)]
    for event in events:
        InMemoryCommunicator(broker).publish(ATTENDANCE_EVENTS, event)

    drain(kiosk)
    drain(dashboard)

    assert kiosk_inbox.messages == events
    assert dashboard_inbox.messages == events


def test_a_request_gets_the_reply_its_handler_returns(broker: InMemoryBroker) -> None:
    server, client = InMemoryCommunicator(broker), InMemoryCommunicator(broker)
    server.subscribe(ENROLMENTS, lambda requests: [enrolled(request) for request in requests])

    with running(server):
        result = client.request(ENROLMENTS, enrolment("r-1", photos=2), EnrolmentResult, 5)

    assert result == EnrolmentResult(
        request_id="r-1", ok=True, employee_id="e-1", name="Ada", embeddings_added=2
    )


def test_a_request_nobody_answers_times_out(broker: InMemoryBroker) -> None:
    client = InMemoryCommunicator(broker)
    started = time.monotonic()

    with pytest.raises(RequestTimeout, match="no reply on enrolments"):
        client.request(ENROLMENTS, enrolment("r-2"), EnrolmentResult, timeout=0.2)

    assert time.monotonic() - started < 2


def test_dead_lettered_messages_are_counted_per_channel():
    from prometheus_client import REGISTRY

    from services.common.bus.base import Delivery
    from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
    from services.common.bus.topology import SIGHTINGS

    def counted() -> float:
        value = REGISTRY.get_sample_value(
            "attendance_messages_dead_lettered_total", {"channel": "sightings"}
        )
        return value or 0.0

    before = counted()
    bus = InMemoryCommunicator(InMemoryBroker())
    bus.subscribe(SIGHTINGS, lambda batch: None)
    bus.broker.route(SIGHTINGS, Delivery(b"{}"))  # not a valid sighting
    bus.drain_once()
    assert counted() == before + 1


def test_a_full_faces_queue_refuses_the_next_face_and_counts_it(broker: InMemoryBroker) -> None:
    detector = InMemoryCommunicator(broker)
    assert FACES.max_length is not None
    for index in range(FACES.max_length):
        detector.publish(FACES, face(f"f-{index}"))

    with pytest.raises(QueueFull, match="faces"):
        detector.publish(FACES, face("one-too-many"))

    assert detector.queue_depth(FACES) == FACES.max_length
    assert broker.dropped(FACES.work_queue) == 1
    recognizer = InMemoryCommunicator(broker)
    recognizer.subscribe(FACES, Inbox(), batch_size=16)
    recognizer.drain_once()
    detector.publish(FACES, face("room-again"))


def test_a_face_sent_back_for_a_retry_is_never_refused_by_the_bound(
    broker: InMemoryBroker,
) -> None:
    bus = InMemoryCommunicator(broker, max_attempts=3)
    tries = FailsThenRecords([ValueError("flaky")])
    bus.subscribe(FACES, tries)
    assert FACES.max_length is not None
    for index in range(FACES.max_length):
        bus.publish(FACES, face(f"f-{index}"))

    drain(bus, limit=1000)

    assert len(tries.messages) == FACES.max_length
    assert broker.dead_letters == []
