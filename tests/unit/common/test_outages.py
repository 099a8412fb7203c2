"""A server that is away is told apart from a message that is bad."""

from __future__ import annotations

import pytest
from pymongo.errors import AutoReconnect, DuplicateKeyError, ServerSelectionTimeoutError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from services.common.outages import DependencyUnavailable, OutageBackoff, is_outage

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "error",
    [
        ServerSelectionTimeoutError("no servers"),
        AutoReconnect("connection reset"),
        RedisConnectionError("refused"),
        RedisTimeoutError("timed out"),
        DependencyUnavailable("face store away"),
    ],
)
def test_unreachable_servers_are_outages(error):
    assert is_outage(error)


@pytest.mark.parametrize(
    "error",
    [DuplicateKeyError("E11000"), ResponseError("WRONGTYPE"), ValueError("bad box"), KeyError("x")],
)
def test_errors_about_the_data_are_not_outages(error):
    assert not is_outage(error)


def test_an_outage_wrapped_in_another_error_is_still_an_outage():
    try:
        try:
            raise AutoReconnect("connection reset")
        except AutoReconnect as cause:
            raise RuntimeError("could not store the sighting") from cause
    except RuntimeError as wrapped:
        assert is_outage(wrapped)


def test_the_pause_doubles_while_the_outage_lasts_and_is_capped():
    backoff = OutageBackoff(first_s=0.5, max_s=3.0)
    assert [backoff.failed() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_a_success_starts_the_pauses_over():
    backoff = OutageBackoff(first_s=0.5, max_s=3.0)
    backoff.failed()
    backoff.failed()
    backoff.succeeded()
    assert backoff.failed() == 0.5
