"""The login throttle's window is fixed: guesses while refused do not keep an account locked."""

from __future__ import annotations

import pytest

from services.common import cache as cache_module
from services.common.cache import InMemoryCache
from services.web.login_throttle import LoginThrottle

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(cache_module.time, "monotonic", clock)
    return clock


def test_refused_attempts_do_not_extend_the_window(clock):
    throttle = LoginThrottle(InMemoryCache(), limit=3, window_s=60)
    for _ in range(3):
        assert throttle.claim(account="admin", address="10.0.0.1") is None
    clock.now += 50
    refusal = throttle.claim(account="admin", address="10.0.0.2")
    assert refusal is not None and refusal.reason == "account"
    assert refusal.retry_after_s == 10
    clock.now += 5
    assert throttle.claim(account="admin", address="10.0.0.3") is not None
    clock.now += 6  # the window that started with the first claim is over
    assert throttle.claim(account="admin", address="10.0.0.4") is None


def test_unlocking_gives_the_account_its_checks_back_but_not_the_address(clock):
    throttle = LoginThrottle(InMemoryCache(), limit=2, window_s=60)
    for number in range(2):
        throttle.claim(account="admin", address=f"10.0.0.{number}")
    assert throttle.claim(account="admin", address="10.0.1.1") is not None
    throttle.unlock("Admin ")
    assert throttle.claim(account="admin", address="10.0.1.2") is None
