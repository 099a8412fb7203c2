"""The multi-camera bench's bookkeeping: what it hears from the bus, how it times a decision,
and what it counts as dropped. The services themselves run in the models test."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.bench import broker
from services.bench.cameras import CameraFigures, CamerasTally, _figures, _spread
from services.bench.observed import BusListener, ObservedCommunicator
from services.common.bus.base import QueueFull
from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
from services.common.bus.topology import FACES, FRAMES, SIGHTINGS
from services.common.contracts import TrackEndMessage, utc_now
from tests.fixtures.bus import MORNING, face, frame, sighting

pytestmark = pytest.mark.unit


class Heard(BusListener):
    def __init__(self) -> None:
        self.events: list[tuple[str, str, object]] = []

    def published(self, bus, channel, message) -> None:
        self.events.append(("published", channel.name, message))

    def refused(self, bus, channel, message) -> None:
        self.events.append(("refused", channel.name, message))

    def handled(self, bus, channel, messages) -> None:
        self.events.append(("handled", channel.name, list(messages)))


def test_the_observed_bus_reports_what_was_published_and_handled_and_knows_the_batch_at_hand():
    heard = Heard()
    memory = InMemoryBroker()
    bus = ObservedCommunicator(InMemoryCommunicator(memory), heard, "detector")
    seen_while_handling = []
    bus.subscribe(FRAMES, lambda frames: seen_while_handling.append(list(bus.handling)))
    bus.publish(FRAMES, frame(1))
    assert bus.inner.drain_once()  # type: ignore[attr-defined]
    assert seen_while_handling == [[frame(1)]]
    assert bus.handling == ()
    assert heard.events == [
        ("published", "frames", frame(1)),
        ("handled", "frames", [frame(1)]),
    ]


def test_a_message_the_full_queue_refuses_is_reported_as_refused_and_the_publisher_still_told():
    heard = Heard()
    memory = InMemoryBroker()
    bus = ObservedCommunicator(InMemoryCommunicator(memory), heard, "detector")
    bus.subscribe(FACES, lambda faces: None)
    for number in range(FACES.max_length):
        bus.publish(FACES, face(f"f{number}"))
    with pytest.raises(QueueFull):
        bus.publish(FACES, face("one-too-many"))
    assert heard.events[-1] == ("refused", "faces", face("one-too-many"))
    assert sum(1 for kind, _, _ in heard.events if kind == "published") == FACES.max_length


def _tally_and_buses() -> tuple[CamerasTally, ObservedCommunicator, ObservedCommunicator]:
    tally = CamerasTally(["door"])
    memory = InMemoryBroker()
    detector = ObservedCommunicator(InMemoryCommunicator(memory), tally, "detector")
    recognizer = ObservedCommunicator(InMemoryCommunicator(memory), tally, "recognizer")
    return tally, detector, recognizer


def test_a_known_decision_is_timed_from_the_capture_of_the_face_that_completed_it():
    tally, _, recognizer = _tally_and_buses()
    captured = utc_now() - timedelta(seconds=0.3)
    completing = face("f2").model_copy(update={"captured_at": captured, "track_id": "t1"})
    recognizer.handling = [face("f1"), completing]
    decided = sighting("s1").model_copy(update={"track_id": "t1"})
    tally.published(recognizer, SIGHTINGS, decided)
    figures = tally.cameras["door"]
    assert figures.decisions == {"Ada": 1}
    [latency] = figures.known_latencies_s
    assert 0.3 <= latency < 5
    assert figures.latencies_s == figures.known_latencies_s


def test_an_unknown_decided_at_its_tracks_end_is_timed_from_the_frame_that_revealed_the_end():
    tally, detector, recognizer = _tally_and_buses()
    revealing = frame(9).model_copy(update={"captured_at": utc_now() - timedelta(seconds=0.2)})
    end = TrackEndMessage(
        camera_id="door", track_id="t7", last_seen_at=MORNING, faces_sent=2, reason="gap"
    )
    detector.handling = [revealing]
    tally.published(detector, FACES, end)
    recognizer.handling = [end]
    unknown = sighting("s2").model_copy(
        update={"track_id": "t7", "employee_id": None, "employee_name": None}
    )
    tally.published(recognizer, SIGHTINGS, unknown)
    figures = tally.cameras["door"]
    assert figures.decisions == {"unknown": 1}
    [latency] = figures.latencies_s
    assert 0.2 <= latency < 5
    assert figures.known_latencies_s == []
    assert tally.face_events_sent == 1


def test_frames_are_counted_per_camera_as_offered_and_analysed_and_the_rest_is_dropped():
    tally, detector, _ = _tally_and_buses()
    for number in range(10):
        tally.published(detector, FRAMES, frame(number))
    tally.handled(detector, FRAMES, [frame(number) for number in range(7)])
    shown = _figures(tally.cameras["door"], images_per_face=1, enrolled=["Ada"])
    assert shown["frames_offered"] == 10
    assert shown["frames_analysed"] == 7
    assert shown["frames_dropped"] == 3
    assert shown["frames_dropped_share"] == pytest.approx(0.3)
    assert shown["decisions"] == {"Ada": 0, "unknown": 0}


def test_the_recognizer_has_caught_up_once_it_handled_every_face_and_end_sent():
    tally, detector, recognizer = _tally_and_buses()
    tally.published(detector, FACES, face("f1"))
    assert not tally.faces_settled()
    tally.handled(recognizer, FACES, [face("f1")])
    assert tally.faces_settled()


def test_the_overall_figures_add_up_the_cameras():
    one, two = CameraFigures(offered=5, analysed=4), CameraFigures(offered=3, analysed=3)
    one.decisions["Ada"] += 1
    two.decisions["Ada"] += 2
    one.latencies_s.append(0.1)
    total = CameraFigures()
    total.add(one)
    total.add(two)
    assert (total.offered, total.analysed, total.decisions["Ada"]) == (8, 7, 3)
    assert total.latencies_s == [0.1]


def test_latency_spread_names_its_percentiles_and_says_when_there_is_nothing():
    assert _spread([]) == {"p50": None, "p95": None, "max": None, "count": 0}
    spread = _spread([float(value) for value in range(1, 101)])
    assert spread["p50"] == pytest.approx(50.5)
    assert spread["p95"] == pytest.approx(95.05)
    assert (spread["max"], spread["count"]) == (100.0, 100)


def test_the_broker_clean_up_refuses_a_prefix_that_is_not_a_bench_runs_own():
    with pytest.raises(ValueError, match="not a bench prefix"):
        broker.remove("amqp://guest:guest@127.0.0.1:5672/%2F", "attendance")


def test_a_bench_prefix_names_every_queue_and_exchange_it_would_remove():
    prefix = broker.fresh_prefix()
    queues, exchanges = broker.declared_names(prefix)
    assert f"{prefix}.faces.recognize" in queues
    assert f"{prefix}.dead-letter" in queues
    assert f"{prefix}.frames.consistent-hash" in exchanges
    assert all(name.startswith(prefix + ".") for name in [*queues, *exchanges])
