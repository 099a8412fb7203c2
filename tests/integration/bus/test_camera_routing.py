"""Frames routed by camera on the real broker: each camera's frames go to one consumer at a
time, and a consumer that goes (closed, or killed) leaves its cameras to the others."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import pika
import pytest

from services.common.bus import rabbitmq as rabbitmq_module
from services.common.bus.base import RoutingPluginMissing
from services.common.bus.rabbitmq import RabbitMQCommunicator
from services.common.bus.topology import FRAMES
from services.common.contracts import FrameMessage
from tests.fixtures.bus import Inbox, frame, running
from tests.fixtures.rabbitmq import consumer_queues
from tests.helpers.processes import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

MakeBus = Callable[..., RabbitMQCommunicator]
CAMERAS = [f"camera-{index:02d}" for index in range(16)]


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


def camera_frame(camera_id: str, index: int) -> FrameMessage:
    return frame(index).model_copy(
        update={"camera_id": camera_id, "frame_id": f"{camera_id}/{index}"}
    )


def play(camera: RabbitMQCommunicator, rounds: range, cameras: list[str] = CAMERAS) -> int:
    """A frame from each camera per round, each a little after the last: a detector's queue
    keeps its newest 8 frames, and these tests are about where frames go, not about dropping."""
    for index in rounds:
        for camera_id in cameras:
            camera.publish(FRAMES, camera_frame(camera_id, index))
            time.sleep(0.005)
    return len(rounds) * len(cameras)


def cameras_seen(*inboxes: Inbox) -> list[set[str]]:
    return [{message.camera_id for message in inbox.messages} for inbox in inboxes]


def wait_for_frames_consumers(url: str, prefix: str, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while len(consumer_queues(url, FRAMES, prefix)) != count:
        assert time.monotonic() < deadline, consumer_queues(url, FRAMES, prefix)
        time.sleep(0.1)


def test_all_frames_of_a_camera_go_to_one_detector_and_the_cameras_are_shared_out(
    make_bus: MakeBus,
) -> None:
    camera = make_bus()
    first, second = make_bus(), make_bus()
    first_inbox, second_inbox = Inbox(), Inbox()
    first.subscribe(FRAMES, first_inbox)
    second.subscribe(FRAMES, second_inbox)

    with running(first), running(second):
        sent = play(camera, range(5))
        deadline = time.monotonic() + 10
        while len(first_inbox.messages) + len(second_inbox.messages) < sent:
            assert time.monotonic() < deadline, "frames went missing"
            time.sleep(0.05)

    first_cameras, second_cameras = cameras_seen(first_inbox, second_inbox)
    assert first_cameras.isdisjoint(second_cameras)
    assert first_cameras | second_cameras == set(CAMERAS)
    # 16 cameras hashed over two detectors: both get some (all on one: about 1 in 30,000).
    assert first_cameras and second_cameras
    # Each detector sees its cameras' frames in the order they were taken.
    for inbox in (first_inbox, second_inbox):
        per_camera: dict[str, list[int]] = defaultdict(list)
        for message in inbox.messages:
            per_camera[message.camera_id].append(int(message.frame_id.split("/")[1]))
        assert all(indices == sorted(indices) for indices in per_camera.values())


def test_when_a_detector_stops_its_cameras_go_to_the_one_left(
    make_bus: MakeBus, rabbitmq_url: str, bus_prefix: str
) -> None:
    camera = make_bus()
    leaving, staying = make_bus(), make_bus()
    leaving_inbox, staying_inbox = Inbox(), Inbox()
    leaving.subscribe(FRAMES, leaving_inbox)
    staying.subscribe(FRAMES, staying_inbox)
    with running(staying):
        with running(leaving):
            sent = play(camera, range(3))
            leaving_inbox.wait_for(1)
            staying_inbox.wait_for(sent - len(leaving_inbox.messages))
        leaving.close()  # its connection goes, and its queue with it
        wait_for_frames_consumers(rabbitmq_url, bus_prefix, 1)
        moved = cameras_seen(leaving_inbox)[0]
        before = len(staying_inbox.messages)

        sent = play(camera, range(3, 6))
        later = staying_inbox.wait_for(before + sent)[before:]

    assert {message.camera_id for message in later} == set(CAMERAS)
    assert moved  # the one that left had cameras, and they came over


# A detector in a process of its own, printing the camera of each frame it gets.
CONSUMER = textwrap.dedent(
    """
    import sys
    from services.common.bus.rabbitmq import RabbitMQCommunicator
    from services.common.bus.topology import FRAMES

    def handle(frames):
        for message in frames:
            print(message.camera_id, flush=True)

    bus = RabbitMQCommunicator(sys.argv[1], sys.argv[2])
    bus.subscribe(FRAMES, handle)
    print("ready", flush=True)
    bus.run()
    """
)


def test_when_a_detectors_process_is_killed_its_cameras_go_to_the_one_left(
    make_bus: MakeBus, rabbitmq_url: str, bus_prefix: str
) -> None:
    camera, staying, staying_inbox = make_bus(), make_bus(), Inbox()
    staying.subscribe(FRAMES, staying_inbox)
    doomed = subprocess.Popen(
        [sys.executable, "-c", CONSUMER, rabbitmq_url, bus_prefix],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert doomed.stdout is not None and doomed.stdout.readline().strip() == "ready"
        with running(staying):
            wait_for_frames_consumers(rabbitmq_url, bus_prefix, 2)
            sent = play(camera, range(3))
            # The killed process's cameras: what it printed before it died.
            deadline = time.monotonic() + 10
            doomed_cameras: set[str] = set()
            while len(staying_inbox.messages) + 3 * len(doomed_cameras) < sent:
                assert time.monotonic() < deadline
                doomed_cameras.add(doomed.stdout.readline().strip())
            doomed.kill()  # no goodbye: the broker sees the connection drop
            doomed.wait(10)
            wait_for_frames_consumers(rabbitmq_url, bus_prefix, 1)
            before = len(staying_inbox.messages)

            sent = play(camera, range(3, 6))
            later = staying_inbox.wait_for(before + sent)[before:]
    finally:
        if doomed.poll() is None:
            doomed.kill()
            doomed.wait(10)

    assert doomed_cameras  # it had cameras, and they came over
    assert {message.camera_id for message in later} == set(CAMERAS)


def test_a_detector_reports_the_depth_of_its_own_queue_only_while_it_consumes(
    make_bus: MakeBus,
) -> None:
    camera, detector = make_bus(), make_bus()
    assert detector.queue_depth(FRAMES) is None  # not consuming: not ready

    detector.subscribe(FRAMES, Inbox())
    with running(detector):
        camera.publish(FRAMES, camera_frame("door", 0))
        assert detector.queue_depth(FRAMES) == 0
    detector.close()

    assert detector.queue_depth(FRAMES) is None
    assert camera.queue_depth(FRAMES) is None and camera.broker_answers()


def test_the_shared_frames_queue_of_an_earlier_version_goes_once_nobody_consumes_it(
    make_bus: MakeBus, rabbitmq_url: str, bus_prefix: str
) -> None:
    shared = FRAMES.queue_name(bus_prefix)
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    try:
        earlier = connection.channel()
        earlier.exchange_declare(FRAMES.exchange_name(bus_prefix), "topic", durable=True)
        earlier.queue_declare(shared, durable=True)
        earlier.queue_bind(shared, FRAMES.exchange_name(bus_prefix), "#")
        earlier.basic_consume(shared, lambda *_: None)  # an earlier detector still at work

        first = make_bus()
        first.subscribe(FRAMES, Inbox())
        assert earlier.queue_declare(shared, passive=True).method.consumer_count == 1

        earlier.close()
        second = make_bus()
        second.subscribe(FRAMES, Inbox())
        probe = connection.channel()
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as gone:
            probe.queue_declare(shared, passive=True)
        assert gone.value.reply_code == 404
    finally:
        if connection.is_open:
            connection.close()


def test_without_the_plugin_a_detector_says_once_how_to_enable_it_and_starts_once_it_is_there(
    make_bus: MakeBus, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The broker's plugins are the machine's (other tests need this one), so its absence is
    played by the declaration; everything else is the real broker."""
    real_declare = rabbitmq_module.declare_partitioned_queue

    def no_plugin(*_args: object) -> str:
        raise RoutingPluginMissing(
            "RabbitMQ has no x-consistent-hash exchange type: enable the plugin with "
            "`rabbitmq-plugins enable rabbitmq_consistent_hash_exchange`"
        )

    monkeypatch.setattr(rabbitmq_module, "declare_partitioned_queue", no_plugin)
    detector, camera, inbox = make_bus(backoff_max=0.1), make_bus(), Inbox()
    with caplog.at_level(logging.INFO, logger="services.common.bus.rabbitmq"):
        detector.subscribe(FRAMES, inbox)  # does not raise: the detector starts and waits
        with running(detector):
            time.sleep(0.5)  # several more tries
            assert detector.queue_depth(FRAMES) is None  # not ready
            monkeypatch.setattr(rabbitmq_module, "declare_partitioned_queue", real_declare)
            deadline = time.monotonic() + 5
            while detector.queue_depth(FRAMES) is None:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            camera.publish(FRAMES, camera_frame("door", 1))
            assert inbox.wait_for(1)[0].frame_id == "door/1"

    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert "rabbitmq-plugins enable rabbitmq_consistent_hash_exchange" in errors[0]
    assert any("consuming" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)
