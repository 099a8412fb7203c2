"""The frames channel is partitioned by camera: how its messages are routed and what its
consumers declare, without a broker."""

from __future__ import annotations

import logging

import pika.exceptions
import pytest

from services.common.bus.base import RoutingPluginMissing
from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
from services.common.bus.rabbitmq_topology import (
    CONSISTENT_HASH,
    CONSUMER_WEIGHT,
    declare_for_publishing,
    declare_partition_exchange,
    declare_partitioned_queue,
    has_work_queue,
    queue_arguments,
)
from services.common.bus.topology import (
    ATTENDANCE_EVENTS,
    FACES,
    FRAMES,
    SIGHTINGS,
    Channel,
)
from services.common.contracts import FrameMessage
from tests.fixtures.bus import Inbox, face, frame

pytestmark = pytest.mark.unit


class RecordingChannel:
    """Records what a pika channel is asked to declare; the broker's answers are beyond the
    boundary of these tests (the integration tests have the real ones)."""

    def __init__(self, *, unknown_exchange_types: frozenset[str] = frozenset()) -> None:
        self.calls: list[tuple] = []
        self._unknown = unknown_exchange_types

    def exchange_declare(self, name: str, exchange_type: str, durable: bool) -> None:
        if exchange_type in self._unknown:
            # What RabbitMQ answers for an exchange type no plugin provides: it closes the
            # whole connection.
            raise pika.exceptions.ConnectionClosedByBroker(
                503, f"COMMAND_INVALID - unknown exchange type '{exchange_type}'"
            )
        self.calls.append(("exchange", name, exchange_type, durable))

    def exchange_bind(self, destination: str, source: str, routing_key: str) -> None:
        self.calls.append(("exchange_bind", destination, source, routing_key))

    def queue_declare(self, queue: str, **options) -> None:
        self.calls.append(("queue", queue, options))

    def queue_bind(self, queue: str, exchange: str, routing_key: str) -> None:
        self.calls.append(("queue_bind", queue, exchange, routing_key))


def camera_frame(camera_id: str) -> FrameMessage:
    return frame(0).model_copy(update={"camera_id": camera_id})


def test_a_frame_is_routed_by_its_camera_whatever_routing_key_the_caller_gives() -> None:
    assert FRAMES.partitioned and FRAMES.partition_key == "camera_id"
    assert FRAMES.routing_key(camera_frame("gate-2")) == "gate-2"
    assert FRAMES.routing_key(camera_frame("gate-2"), "something-else") == "gate-2"


def test_channels_that_are_not_partitioned_keep_the_callers_routing_key() -> None:
    assert not FACES.partitioned and not SIGHTINGS.partitioned
    assert FACES.routing_key(face("f-1")) == ""
    assert FACES.routing_key(face("f-1"), "door") == "door"


def test_only_a_lossy_channel_can_be_partitioned() -> None:
    with pytest.raises(ValueError, match="only a lossy channel can be partitioned"):
        Channel("orders", FrameMessage, "orders.work", partition_key="camera_id")


def test_the_frames_channel_has_no_shared_work_queue_but_the_faces_channel_has() -> None:
    assert not has_work_queue(FRAMES)
    assert not has_work_queue(ATTENDANCE_EVENTS)
    assert has_work_queue(FACES)


def test_each_detectors_own_queue_keeps_the_frames_bound_and_freshness() -> None:
    assert queue_arguments(FRAMES) == {
        "x-max-length": 8,
        "x-overflow": "drop-head",
        "x-message-ttl": 3000,
    }


def test_a_camera_publishes_on_the_frames_exchange_only_and_needs_no_plugin() -> None:
    pika_channel = RecordingChannel(unknown_exchange_types=frozenset({CONSISTENT_HASH}))

    declare_for_publishing(pika_channel, FRAMES, "site")  # type: ignore[arg-type]

    assert pika_channel.calls == [("exchange", "site.frames", "topic", True)]


def test_a_detector_declares_its_own_bounded_queue_on_the_consistent_hash_exchange() -> None:
    pika_channel = RecordingChannel()

    queue = declare_partitioned_queue(pika_channel, FRAMES, "site")  # type: ignore[arg-type]

    assert queue.startswith("site.frames.detect.") and len(queue) > len("site.frames.detect.")
    assert pika_channel.calls == [
        ("exchange", "site.frames", "topic", True),
        ("exchange", "site.frames.consistent-hash", CONSISTENT_HASH, True),
        # Every frame of the frames exchange reaches the hash exchange with its camera as key.
        ("exchange_bind", "site.frames.consistent-hash", "site.frames", "#"),
        (
            "queue",
            queue,
            {"exclusive": True, "auto_delete": True, "arguments": queue_arguments(FRAMES)},
        ),
        ("queue_bind", queue, "site.frames.consistent-hash", CONSUMER_WEIGHT),
    ]


def test_two_detectors_get_queues_of_different_names_and_the_same_weight() -> None:
    first, second = RecordingChannel(), RecordingChannel()
    queues = {
        declare_partitioned_queue(first, FRAMES, "site"),  # type: ignore[arg-type]
        declare_partitioned_queue(second, FRAMES, "site"),  # type: ignore[arg-type]
    }
    assert len(queues) == 2
    assert first.calls[-1][-1] == second.calls[-1][-1] == CONSUMER_WEIGHT


def test_a_broker_without_the_plugin_is_told_apart_and_says_how_to_enable_it() -> None:
    pika_channel = RecordingChannel(unknown_exchange_types=frozenset({CONSISTENT_HASH}))

    with pytest.raises(RoutingPluginMissing) as refused:
        declare_partition_exchange(pika_channel, FRAMES, "site")  # type: ignore[arg-type]

    assert "rabbitmq-plugins enable rabbitmq_consistent_hash_exchange" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_another_refusal_of_the_broker_is_not_taken_for_a_missing_plugin() -> None:
    class ClosingChannel(RecordingChannel):
        def exchange_declare(self, name: str, exchange_type: str, durable: bool) -> None:
            if exchange_type == CONSISTENT_HASH:
                raise pika.exceptions.ConnectionClosedByBroker(320, "CONNECTION_FORCED")
            super().exchange_declare(name, exchange_type, durable)

    with pytest.raises(pika.exceptions.ConnectionClosedByBroker):
        declare_partition_exchange(ClosingChannel(), FRAMES, "site")  # type: ignore[arg-type]


def test_the_in_memory_bus_keeps_one_frames_queue_for_its_one_detector() -> None:
    broker = InMemoryBroker()
    camera, detector, inbox = InMemoryCommunicator(broker), InMemoryCommunicator(broker), Inbox()
    detector.subscribe(FRAMES, inbox)
    for camera_id in ("gate-1", "gate-2"):
        camera.publish(FRAMES, camera_frame(camera_id))

    assert camera.queue_depth(FRAMES) == 2
    assert detector.drain_once() and detector.drain_once()
    assert [message.camera_id for message in inbox.messages] == ["gate-1", "gate-2"]


def test_pikas_own_line_about_the_missing_plugin_is_left_out_and_other_closes_are_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The detector says once what to do; pika would say its line at every look for the plugin."""
    pika_log = logging.getLogger("pika.adapters.blocking_connection")
    missing = pika.exceptions.ConnectionClosedByBroker(
        503, f"COMMAND_INVALID - unknown exchange type '{CONSISTENT_HASH}'"
    )
    forced = pika.exceptions.ConnectionClosedByBroker(320, "CONNECTION_FORCED - shutdown")
    with caplog.at_level(logging.ERROR, logger=pika_log.name):
        pika_log.error("Unexpected connection close detected: %r", missing)
        pika_log.error("Unexpected connection close detected: %r", forced)

    assert [record.getMessage() for record in caplog.records] == [
        f"Unexpected connection close detected: {forced!r}"
    ]
