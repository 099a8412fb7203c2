"""The RabbitMQ transport against a real broker, in a vhost and with a prefix of the test's own."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pika
import pytest
from pymongo.errors import ServerSelectionTimeoutError

from services.common.bus.base import BusUnavailable, QueueFull, RequestTimeout
from services.common.bus.rabbitmq import RabbitMQCommunicator
from services.common.bus.topology import (
    ATTENDANCE_EVENTS,
    ENROLMENTS,
    FACES,
    FRAMES,
    SIGHTINGS,
    Channel,
    dead_letter_queue,
)
from services.common.contracts import EnrolmentResult, SightingMessage
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
from tests.fixtures.rabbitmq import can_manage_vhost, close_vhost_connections, consumer_queues

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]

MakeBus = Callable[..., RabbitMQCommunicator]


class SimulatedCrash(BaseException):
    """Escapes every handler guard, as the process dying in the middle of a message would."""


@pytest.fixture
def make_bus(rabbitmq_url: str, bus_prefix: str) -> Iterator[MakeBus]:
    made: list[RabbitMQCommunicator] = []

    def make(**options: Any) -> RabbitMQCommunicator:
        options = {"connect_attempts": 5, "backoff_initial": 0.05, "backoff_max": 0.5, **options}
        bus = RabbitMQCommunicator(rabbitmq_url, bus_prefix, **options)
        made.append(bus)
        return bus

    yield make
    for bus in made:
        bus.close()


def publish_raw(url: str, channel: Channel, prefix: str, body: bytes) -> None:
    """Publish a body the way a foreign or broken producer would, bypassing the contracts."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        pika_channel = connection.channel()
        pika_channel.confirm_delivery()
        pika_channel.basic_publish(channel.exchange_name(prefix), "", body, mandatory=True)
    finally:
        connection.close()


def read_dead_letters(
    url: str, prefix: str, count: int, timeout: float = 5.0
) -> list[tuple[dict[str, Any], bytes]]:
    """Take ``count`` messages (headers, body) off the dead-letter queue, waiting for them."""
    letters: list[tuple[dict[str, Any], bytes]] = []
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        pika_channel = connection.channel()
        deadline = time.monotonic() + timeout
        while len(letters) < count and time.monotonic() < deadline:
            method, properties, body = pika_channel.basic_get(
                dead_letter_queue(prefix), auto_ack=True
            )
            if method is None:
                connection.sleep(0.05)
            else:
                letters.append((properties.headers or {}, body))
    finally:
        connection.close()
    assert len(letters) == count, f"expected {count} dead letter(s), found {len(letters)}"
    return letters


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_published_sighting_is_consumed_and_acknowledged(make_bus: MakeBus) -> None:
    bus, inbox = make_bus(), Inbox()
    bus.subscribe(SIGHTINGS, inbox)
    bus.publish(SIGHTINGS, sighting("s-1"))

    with running(bus):
        assert inbox.wait_for(1) == [sighting("s-1")]

    # Acknowledged: closing the consumer did not put it back in the queue.
    assert bus.queue_depth(SIGHTINGS) == 0


def test_a_handler_that_keeps_failing_is_retried_then_dead_lettered_with_the_reason(
    make_bus: MakeBus, rabbitmq_url: str, bus_prefix: str
) -> None:
    bus = make_bus(max_attempts=3)
    attempts: list[str] = []

    def failing(faces: list) -> None:
        attempts.extend(message.face_id for message in faces)
        raise RuntimeError("database is down")

    bus.subscribe(FACES, failing)
    bus.publish(FACES, face("f-1"))

    with running(bus):
        [(headers, body)] = read_dead_letters(rabbitmq_url, bus_prefix, 1)

    assert attempts == ["f-1", "f-1", "f-1"]
    assert body == face("f-1").to_bytes()
    assert "RuntimeError: database is down" in headers["x-dead-letter-reason"]
    assert headers["x-attempts"] == 3
    assert headers["x-original-queue"] == FACES.queue_name(bus_prefix)
    assert bus.queue_depth(FACES) == 0


def dead_letter_count(url: str, prefix: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        declared = connection.channel().queue_declare(dead_letter_queue(prefix), passive=True)
        return declared.method.message_count
    finally:
        connection.close()


def test_a_message_waits_uncounted_while_the_database_is_away_then_is_handled(
    make_bus: MakeBus, rabbitmq_url: str, bus_prefix: str
) -> None:
    bus = make_bus(max_attempts=2, backoff_initial=0.01, backoff_max=0.05)
    # Away for more tries than max_attempts: an outage must not use the message's attempts up.
    needs_the_database = FailsThenRecords([ServerSelectionTimeoutError("mongo refused")] * 6)
    bus.subscribe(SIGHTINGS, needs_the_database)
    bus.publish(SIGHTINGS, sighting("s-outage"))

    with running(bus):
        assert needs_the_database.wait_for(1, timeout=10) == [sighting("s-outage")]

    assert needs_the_database.tries == 7
    assert dead_letter_count(rabbitmq_url, bus_prefix) == 0
    assert bus.queue_depth(SIGHTINGS) == 0


def test_bodies_of_another_schema_version_or_not_json_are_dead_lettered_and_consuming_goes_on(
    make_bus: MakeBus, rabbitmq_url: str, bus_prefix: str
) -> None:
    bus, inbox = make_bus(), Inbox()
    bus.subscribe(SIGHTINGS, inbox)
    publish_raw(rabbitmq_url, SIGHTINGS, bus_prefix, with_schema_version(sighting("s-2"), 2))
    publish_raw(rabbitmq_url, SIGHTINGS, bus_prefix, b"<html>not json</html>")
    bus.publish(SIGHTINGS, sighting("s-3"))

    with running(bus):
        assert inbox.wait_for(1) == [sighting("s-3")]
        letters = read_dead_letters(rabbitmq_url, bus_prefix, 2)

    reasons = sorted(headers["x-dead-letter-reason"] for headers, _ in letters)
    assert "invalid sightings message" in reasons[0]
    assert "unsupported schema_version 2" in reasons[1]
    assert inbox.messages == [sighting("s-3")]


def test_a_durable_message_whose_consumer_dies_before_acking_goes_to_the_next_consumer(
    make_bus: MakeBus,
) -> None:
    def crash(_messages: list) -> None:
        raise SimulatedCrash

    doomed = make_bus()
    doomed.subscribe(SIGHTINGS, crash)
    doomed.publish(SIGHTINGS, sighting("s-4"))
    with pytest.raises(SimulatedCrash):
        doomed.run()

    successor, inbox = make_bus(), Inbox()
    successor.subscribe(SIGHTINGS, inbox)
    with running(successor):
        assert inbox.wait_for(1) == [sighting("s-4")]


def test_frames_published_while_no_detector_listens_are_dropped_not_kept_for_later(
    make_bus: MakeBus,
) -> None:
    camera = make_bus()
    for index in range(50):
        camera.publish(FRAMES, frame(index))

    detector, inbox = make_bus(), Inbox()
    detector.subscribe(FRAMES, inbox)
    with running(detector):
        camera.publish(FRAMES, frame(50))
        received = inbox.wait_for(1)
        time.sleep(0.3)  # nothing else is coming
    assert [message.frame_id for message in received] == ["frame-50"]
    assert camera.queue_depth(FRAMES) is None  # the camera has no frames queue of its own


def test_a_full_faces_queue_refuses_a_face_and_the_publisher_is_told(make_bus: MakeBus) -> None:
    detector = make_bus()
    assert FACES.max_length is not None
    for index in range(FACES.max_length):
        detector.publish(FACES, face(f"f-{index}"))

    with pytest.raises(QueueFull, match="faces"):
        detector.publish(FACES, face("one-too-many"))

    assert detector.queue_depth(FACES) == FACES.max_length
    recognizer, inbox = make_bus(), Inbox()
    recognizer.subscribe(FACES, inbox, batch_size=16)
    with running(recognizer):
        inbox.wait_for(FACES.max_length)
        detector.publish(FACES, face("room-again"))
        received = inbox.wait_for(FACES.max_length + 1)
    assert "one-too-many" not in {message.face_id for message in received}


def test_a_busy_frames_consumer_holds_no_more_than_the_frame_it_handles(
    make_bus: MakeBus, rabbitmq_url: str, bus_prefix: str
) -> None:
    """The bound of the frames queue is the bound: a consumer does not prefetch stale frames
    on top of it."""
    release = threading.Event()
    inbox = Inbox()

    def slow(frames) -> None:
        inbox(frames)
        release.wait(10)

    detector, camera = make_bus(prefetch=16), make_bus()
    detector.subscribe(FRAMES, slow)
    with running(detector):
        camera.publish(FRAMES, frame(0))
        inbox.wait_for(1)
        for index in range(1, 30):
            camera.publish(FRAMES, frame(index))
        # The detector's own queue: only rabbitmqctl sees into it while its consumer is busy.
        assert wait_until(
            lambda: (
                [ready for ready, _ in consumer_queues(rabbitmq_url, FRAMES, bus_prefix).values()]
                == [FRAMES.max_length]
            )
        )
        release.set()
        time.sleep(0.5)
    assert len(inbox.messages) == 1 + FRAMES.max_length


def test_a_batch_subscription_gets_several_messages_in_one_call(make_bus: MakeBus) -> None:
    bus, inbox = make_bus(), Inbox()
    bus.subscribe(FACES, inbox, batch_size=5)
    for index in range(5):
        bus.publish(FACES, face(f"f-{index}"))

    with running(bus):
        inbox.wait_for(5)

    assert [len(batch) for batch in inbox.batches] == [5]
    assert bus.queue_depth(FACES) == 0


def test_every_broadcast_subscriber_gets_every_event_and_no_work_queue_is_declared(
    make_bus: MakeBus,
) -> None:
    kiosk, dashboard, recorder = make_bus(), make_bus(), make_bus()
    kiosk_inbox, dashboard_inbox = Inbox(), Inbox()
    kiosk.subscribe(ATTENDANCE_EVENTS, kiosk_inbox, broadcast=True)
    dashboard.subscribe(ATTENDANCE_EVENTS, dashboard_inbox, broadcast=True)
    events = [attendance_event(index) for index in range(3)]
    for event in events:
        recorder.publish(ATTENDANCE_EVENTS, event)

    with running(kiosk), running(dashboard):
        assert kiosk_inbox.wait_for(3) == events
        assert dashboard_inbox.wait_for(3) == events

    assert recorder.queue_depth(ATTENDANCE_EVENTS) is None


def test_a_request_gets_the_reply_its_handler_returns(make_bus: MakeBus) -> None:
    server, client = make_bus(), make_bus()
    server.subscribe(ENROLMENTS, lambda requests: [enrolled(request) for request in requests])

    with running(server):
        result = client.request(ENROLMENTS, enrolment("r-1", photos=2), EnrolmentResult, 5)

    assert result == EnrolmentResult(
        request_id="r-1", ok=True, employee_id="e-1", name="Ada", embeddings_added=2
    )


def test_requests_from_several_threads_each_get_their_own_reply(make_bus: MakeBus) -> None:
    server, client = make_bus(), make_bus()
    server.subscribe(
        ENROLMENTS, lambda requests: [enrolled(request) for request in requests], batch_size=4
    )

    def ask(index: int) -> str:
        reply = client.request(ENROLMENTS, enrolment(f"r-{index}"), EnrolmentResult, 5)
        return reply.request_id

    with running(server), ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(ask, range(12)))

    assert answers == [f"r-{index}" for index in range(12)]


def test_a_request_nobody_answers_times_out(make_bus: MakeBus) -> None:
    client = make_bus()
    started = time.monotonic()

    with pytest.raises(RequestTimeout, match="no reply on enrolments"):
        client.request(ENROLMENTS, enrolment("r-2"), EnrolmentResult, timeout=0.3)

    assert time.monotonic() - started < 3


def test_run_reconnects_and_goes_on_consuming_after_the_broker_drops_every_connection(
    make_bus: MakeBus, rabbitmq_url: str
) -> None:
    if not can_manage_vhost(rabbitmq_url):
        pytest.skip("needs rabbitmqctl and a vhost of the test session's own")
    consumer, publisher, inbox = make_bus(), make_bus(), Inbox()
    consumer.subscribe(SIGHTINGS, inbox)

    with running(consumer):
        publisher.publish(SIGHTINGS, sighting("before"))
        inbox.wait_for(1)
        close_vhost_connections(rabbitmq_url, "simulated broker restart")
        publisher.publish(SIGHTINGS, sighting("after"))
        inbox.wait_for(2, timeout=8)

    # At least once: "before" may come twice if the drop beat its acknowledgement.
    seen = {
        message.sighting_id for message in inbox.messages if isinstance(message, SightingMessage)
    }
    assert seen == {"before", "after"}


def test_no_broker_means_bus_unavailable_naming_the_host() -> None:
    bus = RabbitMQCommunicator(
        "amqp://guest:guest@127.0.0.1:1/%2F", "nowhere", connect_attempts=2, backoff_initial=0.01
    )

    with pytest.raises(BusUnavailable, match=r"127\.0\.0\.1:1 .*after 2 attempt"):
        bus.publish(SIGHTINGS, sighting("s-5"))
    bus.close()
