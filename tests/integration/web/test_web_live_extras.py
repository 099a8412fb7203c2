"""Face boxes on the live view, and registering an employee from a live camera frame."""

from __future__ import annotations

import pytest

from services.common.bus.topology import FRAMES, SIGHTINGS
from services.common.contracts import BoundingBox, FrameMessage, new_id
from services.common.images import decode_image
from tests.helpers.messages import MORNING, sighting
from tests.helpers.processes import wait_until
from tests.integration.web.conftest import ONE_FACE, counts, photo

pytestmark = pytest.mark.integration

FRAME = photo((200, 40, 40), size=160)


def _frame(camera: str, jpeg: bytes = FRAME) -> FrameMessage:
    return FrameMessage(
        frame_id=new_id(), camera_id=camera, captured_at=MORNING, width=160, height=160, jpeg=jpeg
    )


def _wait(predicate, timeout: float = 5.0) -> None:
    wait_until(predicate, timeout, "the live feed", interval=0.02)


def test_the_snapshot_is_unchanged_without_sightings(admin, bus):
    bus.publish(FRAMES, _frame("door"))
    _wait(lambda: admin.get("/live/door.jpg").status_code == 200)
    assert admin.get("/live/door.jpg").data == FRAME


def test_recent_sightings_are_drawn_on_the_live_view(admin, bus, app):
    bus.publish(FRAMES, _frame("door"))
    _wait(lambda: admin.get("/live/door.jpg").status_code == 200)
    known = sighting("e1", employee_name="Ana").model_copy(
        update={"box": BoundingBox(x=40, y=50, width=60, height=60)}
    )
    bus.publish(SIGHTINGS, known)
    feed = app.extensions["attendance"].live
    _wait(lambda: feed.recent_sightings("door"))
    drawn = admin.get("/live/door.jpg")
    assert drawn.status_code == 200 and drawn.mimetype == "image/jpeg"
    assert drawn.data != FRAME
    rgb = decode_image(drawn.data)
    assert rgb.shape[:2] == (160, 160)
    # The box's left edge (x=40) is green, where the frame was red.
    red, green, _ = (int(v) for v in rgb[80, 40])
    assert green > red
    # A second viewer gets the same, cached drawing; the stream shows it too.
    assert admin.get("/live/door.jpg").data == drawn.data
    assert drawn.data in admin.get("/live/door.mjpg?frames=1").data
    # Another camera without sightings is untouched.
    bus.publish(FRAMES, _frame("hall"))
    _wait(lambda: admin.get("/live/hall.jpg").status_code == 200)
    assert admin.get("/live/hall.jpg").data == FRAME


def test_an_employee_can_be_registered_from_a_live_camera(admin, bus, enroller, mongo_db):
    received: list[bytes] = []
    original = enroller.enroll

    def spy(name, photos, **options):
        received.extend(photos)
        return original(name, photos, **options)

    enroller.enroll = spy
    bus.publish(FRAMES, _frame("door", ONE_FACE))
    _wait(lambda: admin.get("/live/door.jpg").status_code == 200)
    page = admin.get("/employees/new").text
    assert "Use live camera" in page and 'value="door"' in page and "/live/door.jpg" in page
    response = admin.client.post(
        "/employees/new",
        data={"name": "Ana", "camera_id": "door", "source": "camera", "csrf_token": admin.csrf},
    )
    assert response.status_code == 302, response.text
    assert received == [ONE_FACE]
    assert mongo_db.employees.find_one({"name": "Ana"}) is not None


def test_registering_from_a_camera_without_frames_is_refused(admin, enroller, mongo_db):
    page = admin.get("/employees/new").text
    assert "Use live camera" not in page
    before = counts(mongo_db)
    response = admin.client.post(
        "/employees/new",
        data={"name": "Bo", "camera_id": "nowhere", "source": "camera", "csrf_token": admin.csrf},
    )
    assert response.status_code == 409
    assert "no recent frame" in response.text
    assert counts(mongo_db) == before and enroller.calls == 0
    api = admin.post("/api/v1/employees", data={"name": "Bo", "camera_id": "nowhere"})
    assert api.status_code == 409 and api.get_json()["error"]["code"] == "no_live_frame"


def test_registering_from_a_camera_needs_csrf_and_an_admin(client, viewer, bus, mongo_db):
    bus.publish(FRAMES, _frame("door", ONE_FACE))
    no_csrf = client.post("/employees/new", data={"name": "Cy", "camera_id": "door"})
    assert no_csrf.status_code in (302, 400, 401, 403)
    refused = viewer.client.post(
        "/employees/new", data={"name": "Cy", "camera_id": "door", "csrf_token": viewer.csrf}
    )
    assert refused.status_code in (302, 403)
    assert mongo_db.employees.find_one({"name": "Cy"}) is None


def test_the_plain_register_button_without_a_file_asks_for_a_photo(admin, bus, enroller, mongo_db):
    bus.publish(FRAMES, _frame("door", ONE_FACE))
    _wait(lambda: admin.get("/api/v1/cameras").get_json()["cameras"] == ["door"])
    page = admin.post(
        "/employees/new", data={"name": "Di", "camera_id": "door", "csrf_token": admin.csrf}
    )
    assert page.status_code == 400
    assert mongo_db.employees.find_one({"name": "Di"}) is None
