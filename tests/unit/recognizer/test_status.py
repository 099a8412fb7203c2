"""The recognition status a recognizer reports, and what a reader can work out from it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.common.cache import InMemoryCache
from services.common.domain.open_set import ImpostorTail, OpenSetPolicy
from services.common.recognition_status import STATUS_KEY, publish_status, read_status, rule_at
from services.faces.quality import QualityGate
from services.recognizer.status import describe

pytestmark = pytest.mark.unit

MODEL = "stand-in"
TAIL = ImpostorTail.from_rows(MODEL, [(0.3, -1.0), (0.9, -7.0)], source="stand-in tail")
NOON = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def status_of(policy: OpenSetPolicy, embeddings: int = 120):
    return describe(
        policy,
        policy.rule_for(embeddings),
        gallery_version="v1",
        gallery_people=100,
        gate=QualityGate(),
        reported_at=NOON,
    )


@pytest.mark.parametrize(
    "policy",
    [
        OpenSetPolicy(MODEL, [TAIL], target_fpir=0.02),
        OpenSetPolicy(MODEL, [TAIL], threshold=0.55, margin=0.1),
        OpenSetPolicy("another", [TAIL]),
    ],
    ids=["calibrated", "configured", "uncalibrated"],
)
def test_a_reader_works_out_the_rule_for_any_size_as_the_recognizer_would(policy):
    status = status_of(policy)

    for size in (1, 120, 5000):
        expected = policy.rule_for(size)
        worked_out = rule_at(status, size)
        assert worked_out.threshold == pytest.approx(expected.threshold)
        assert worked_out.expected_fpir == pytest.approx(expected.expected_fpir)


def test_the_status_survives_the_cache():
    cache = InMemoryCache()
    status = status_of(OpenSetPolicy(MODEL, [TAIL]))

    publish_status(cache, status)

    assert read_status(cache) == status


def test_no_status_or_an_unreadable_one_reads_as_none():
    cache = InMemoryCache()
    assert read_status(cache) is None

    cache.set(STATUS_KEY, b'{"model_id": 3}')

    assert read_status(cache) is None


def test_the_outlook_shows_the_threshold_rising_as_the_gallery_grows():
    status = status_of(OpenSetPolicy(MODEL, [TAIL]), embeddings=100)

    sizes = [r.gallery_embeddings for r in status.outlook]
    thresholds = [status.threshold] + [r.threshold for r in status.outlook]

    assert sizes == [200, 500, 1000]
    assert thresholds == sorted(thresholds) and thresholds[0] < thresholds[-1]
