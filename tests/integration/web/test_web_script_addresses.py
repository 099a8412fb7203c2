"""The pages' scripts hold no addresses of ours: each one they call is rendered into the page by
the server (url_for), and answers when the script calls it."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest

import services.web
from services.common.bus.topology import FRAMES
from services.common.contracts import FrameMessage, new_id
from tests.helpers.messages import MORNING
from tests.helpers.processes import wait_until
from tests.integration.web.conftest import photo

pytestmark = pytest.mark.integration

SCRIPTS = Path(services.web.__file__).parent / "static"
FRAME = photo((40, 40, 200), size=160)


def _attribute(page: str, name: str) -> str:
    match = re.search(rf'{name}="([^"]*)"', page)
    assert match is not None, f"the page has no {name}"
    return unescape(match.group(1))


def _publish_frame(bus, camera: str) -> None:
    bus.publish(
        FRAMES,
        FrameMessage(
            frame_id=new_id(),
            camera_id=camera,
            captured_at=MORNING,
            width=160,
            height=160,
            jpeg=FRAME,
        ),
    )


def test_no_script_spells_out_an_address_of_the_api_or_the_live_view():
    scripts = sorted(SCRIPTS.glob("*.js"))
    assert scripts
    for script in scripts:
        text = script.read_text("utf-8")
        assert not re.search(r"""["'`]/(api|live)/""", text), f"{script.name} names an address"


def test_the_dashboard_hands_its_script_addresses_that_answer(admin, bus):
    _publish_frame(bus, "door")
    wait_until(lambda: admin.get("/live/door.jpg").status_code == 200, 5, "the frame", 0.02)
    page = admin.get("/").text
    stream = _attribute(page, "data-stream-template").replace("__camera__", "door")
    assert stream == "/live/door.mjpg"
    assert admin.get(stream + "?frames=1").status_code == 200
    cameras = admin.get(_attribute(page, "data-cameras-url"))
    assert cameras.get_json() == {"cameras": ["door"]}
    events = admin.client.get(_attribute(page, "data-events-url") + "?max=1", buffered=False)
    assert events.status_code == 200 and events.mimetype == "text/event-stream"
    events.close()
    suggestions = admin.get(_attribute(page, "data-url") + "?limit=8&q=an")
    assert suggestions.status_code == 200 and "employees" in suggestions.get_json()


def test_the_registration_page_hands_its_script_the_preview_and_snapshot_addresses(admin, bus):
    _publish_frame(bus, "door")
    wait_until(lambda: admin.get("/live/door.jpg").status_code == 200, 5, "the frame", 0.02)
    page = admin.get("/employees/new").text
    assert _attribute(page, "data-preview-url") == "/api/v1/employees/preview"
    snapshot = _attribute(page, "data-src-template").replace("__camera__", "door")
    answer = admin.get(snapshot)
    assert answer.status_code == 200 and answer.data == FRAME
