"""A worker stopped by the broker says why in one line, without a traceback."""

import pytest

import services.recorder.main
from services import cli
from services.common.bus.base import QueueNeedsDraining

pytestmark = pytest.mark.unit


def test_a_queue_that_must_drain_first_ends_the_worker_with_one_line(monkeypatch, capsys):
    def refuse(settings):
        raise QueueNeedsDraining(
            "queue attendance.sightings.record holds 3 messages declared differently; "
            "let it drain, then start again"
        )

    monkeypatch.setattr(services.recorder.main, "main", refuse)
    assert cli.main(["recorder"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "attendance recorder: queue attendance.sightings.record holds 3 messages declared "
        "differently; let it drain, then start again"
    ]
