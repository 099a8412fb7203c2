"""A track the liveness check refused reaches the kiosk as a ``refused`` event, and the kiosk's
script answers it with "Please look at the camera", never a greeting nor the reason."""

from __future__ import annotations

import re

import pytest

from services.common.bus.topology import ATTENDANCE_EVENTS
from tests.integration.web.test_web_attendance_live import _event, _wait

pytestmark = pytest.mark.integration


def test_a_refused_track_reaches_the_kiosk_as_a_refused_event(admin, bus):
    bus.publish(ATTENDANCE_EVENTS, _event("kiosk-1", "refused"))
    _wait(lambda: len(admin.get("/api/v1/events").get_json()["events"]) == 1)
    stream = admin.get("/live/events?camera=kiosk-1&after=0&max=1").text
    data = re.search(r"data: (.*)", stream).group(1)
    assert '"event": "refused"' in data


def test_the_kiosk_says_only_to_look_at_the_camera_for_a_refused_track(admin):
    script = admin.get("/static/kiosk.js").text
    refused = re.search(r'if \(data\.event === "refused"\) \{([^}]*)\}', script)
    assert refused is not None
    # It says this, and returns before any greeting is fetched.
    assert 'say("Please look at the camera"' in refused.group(1)
    assert "return;" in refused.group(1)
    assert script.index('data.event === "refused"') < script.index("greetingUrl")
