"""Every worker's life, in one place: consume until stopped, a last word, then the bus closes."""

import threading

import pytest

from services.common import runtime
from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
from services.common.bus.topology import SIGHTINGS
from services.common.settings import CommonSettings

pytestmark = pytest.mark.unit


class RecordingBus(InMemoryCommunicator):
    def __init__(self, broker, events):
        super().__init__(broker)
        self.events = events

    def close(self):
        self.events.append("bus closed")
        super().close()


@pytest.fixture
def stop_requests(monkeypatch):
    """The signal handlers the worker installs, without touching the test runner's own."""
    installed = []
    monkeypatch.setattr(runtime, "stop_on_signals", installed.append)
    return installed


def test_a_stopped_worker_says_its_last_word_before_the_bus_closes(stop_requests):
    events = []
    bus = RecordingBus(InMemoryBroker(), events)
    threading.Timer(0.2, lambda: stop_requests[0]()).start()

    code = runtime.run_worker(
        CommonSettings.from_env({}), bus, SIGHTINGS, on_stop=lambda: events.append("last word")
    )

    assert code == 0
    assert events == ["last word", "bus closed"]


def test_the_bus_closes_even_when_the_last_word_fails(stop_requests):
    events = []
    bus = RecordingBus(InMemoryBroker(), events)
    threading.Timer(0.2, lambda: stop_requests[0]()).start()

    def fail():
        raise RuntimeError("the last word could not be published")

    with pytest.raises(RuntimeError):
        runtime.run_worker(CommonSettings.from_env({}), bus, SIGHTINGS, on_stop=fail)
    assert events == ["bus closed"]
