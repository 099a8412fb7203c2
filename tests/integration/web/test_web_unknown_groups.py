"""Unknown faces grouped by visitor: listed with counts, assigned or dismissed a group at a time,
paged and filtered by day, with the real count in the navigation's badge."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from services.common.storage.sightings import SightingLog
from tests.helpers.messages import sighting
from tests.integration.web.conftest import NO_FACE, ONE_FACE, paris

pytestmark = pytest.mark.integration


@pytest.fixture
def visitor(app):
    """Log ``count`` unknown sightings of one track, two seconds apart, from ``start``."""
    c = app.extensions["attendance"]
    log = SightingLog(c.db, c.pictures)

    def add(start: datetime, count: int, track: str, face: bytes = ONE_FACE) -> list[str]:
        ids = []
        for n in range(count):
            message = sighting(None).model_copy(
                update={
                    "seen_at": start + timedelta(seconds=2 * n),
                    "track_id": track,
                    "face_jpeg": face,
                    "snapshot_jpeg": face,
                }
            )
            log.add(message)
            ids.append(message.sighting_id)
        return ids

    return add


def test_sixty_sightings_of_one_visitor_are_one_card_with_the_real_count(admin, visitor):
    first = visitor(paris(1, 10), 60, "t1")
    visitor(paris(1, 15), 3, "t2")
    data = admin.get("/api/v1/unknown-face-groups").get_json()
    assert (data["total_groups"], data["total_faces"]) == (2, 63)
    older = data["groups"][1]
    assert older["group_id"] == first[0] and older["count"] == 60
    assert older["first_seen"] == "2026-11-24T10:00:00+01:00"
    assert older["last_seen"] == "2026-11-24T10:01:58+01:00"
    page = admin.get("/unknown").text
    assert page.count('class="card face-card"') == 2 and "60 sightings" in page
    assert 'data-unknown-count aria-label="2 unknown">2<' in admin.get("/").text


def test_groups_are_filtered_by_day_and_paged(admin, visitor):
    for n in range(26):
        visitor(paris(0, 8) + timedelta(minutes=5 * n), 1, f"m{n}")
    visitor(paris(1, 9), 2, "tue")
    monday = admin.get("/api/v1/unknown-face-groups?day=2026-11-23").get_json()
    assert (monday["total_groups"], monday["pages"], len(monday["groups"])) == (26, 2, 24)
    second = admin.get("/api/v1/unknown-face-groups?day=2026-11-23&page=2").get_json()
    assert len(second["groups"]) == 2
    tuesday = admin.get("/api/v1/unknown-face-groups?day=2026-11-24").get_json()
    assert tuesday["total_faces"] == 2
    assert "Page 1 of 2" in admin.get("/unknown?day=2026-11-23").text


def test_dismissing_a_group_forgets_all_its_sightings_and_pictures(admin, visitor, mongo_db):
    ids = visitor(paris(1, 10), 5, "t1")
    keep = visitor(paris(1, 12), 1, "t2")
    response = admin.post(f"/api/v1/unknown-face-groups/{ids[0]}/dismiss")
    assert response.get_json() == {"dismissed": 5}
    assert [d["_id"] for d in mongo_db.sightings.find()] == keep
    assert mongo_db.pictures.count_documents({}) == 2
    entry = mongo_db.audit_log.find_one({"action": "unknown_group.dismiss"})
    assert entry["target"] == ids[0] and entry["details"]["sightings"] == 5
    assert admin.post(f"/api/v1/unknown-face-groups/{ids[0]}/dismiss").status_code == 404


def test_assigning_a_group_adds_its_best_face_and_can_make_attendance(
    admin, registered, visitor, mongo_db, clock
):
    ana = registered("Ana")["employee_id"]
    ids = visitor(paris(1, 8, 55), 4, "t1")
    clock.set(paris(1, 12))
    response = admin.post(
        f"/api/v1/unknown-face-groups/{ids[0]}/assign",
        json={"employee_id": ana, "make_attendance": True},
    )
    assert response.status_code == 200, response.text
    done = response.get_json()
    assert done["face_added"] and done["sightings"] == 4
    assert done["attendance_days"] == ["2026-11-24"]
    assert mongo_db.embeddings.count_documents({"employee_id": ana}) == 2
    record = mongo_db.attendance.find_one({"employee_id": ana})
    assert record["arrival"]["sighting_id"] == ids[0] and record["day"] == "2026-11-24"
    # The sightings are now Ana's, pictures included: erasing her would erase them.
    assert mongo_db.sightings.count_documents({"employee_id": ana, "known": True}) == 4
    assert mongo_db.pictures.count_documents({"owner_id": "unknown"}) == 0
    day = admin.get(f"/api/v1/attendance?day=2026-11-24&employee={ana}").get_json()["rows"][0]
    assert day["arrival"] == "2026-11-24T08:55:00+01:00"
    assert mongo_db.audit_log.find_one({"action": "unknown_group.assign"})["details"][
        "attendance_days"
    ] == ["2026-11-24"]


def test_without_the_tick_the_group_is_assigned_but_no_attendance_is_made(
    admin, registered, visitor, mongo_db
):
    ana = registered("Ana")["employee_id"]
    ids = visitor(paris(1, 9), 3, "t1", face=NO_FACE)
    response = admin.post(f"/api/v1/unknown-face-groups/{ids[0]}/assign", json={"employee_id": ana})
    done = response.get_json()
    # The faceless picture does not pass the enrolment checks: not added, said why.
    assert not done["face_added"] and "no face" in done["face_problem"]
    assert mongo_db.embeddings.count_documents({"employee_id": ana}) == 1
    assert mongo_db.sightings.count_documents({}) == 0
    assert mongo_db.attendance.count_documents({}) == 0


def test_a_new_employee_from_a_group_needs_a_usable_face(admin, visitor, mongo_db):
    faceless = visitor(paris(1, 9), 2, "t1", face=NO_FACE)
    refused = admin.post(f"/api/v1/unknown-face-groups/{faceless[0]}/assign", json={"name": "Dan"})
    assert refused.status_code == 422
    assert mongo_db.employees.count_documents({}) == 0
    assert mongo_db.sightings.count_documents({}) == 2
    good = visitor(paris(1, 11), 2, "t2")
    page = admin.post(
        f"/unknown/groups/{good[0]}/assign", data={"name": "Cleo", "make_attendance": "true"}
    )
    assert page.status_code == 302
    cleo = mongo_db.employees.find_one({"name": "Cleo"})
    assert mongo_db.attendance.count_documents({"employee_id": cleo["_id"]}) == 1


def test_only_admins_assign_or_dismiss_groups(viewer, visitor, mongo_db):
    ids = visitor(paris(1, 9), 2, "t1")
    assert viewer.post(f"/api/v1/unknown-face-groups/{ids[0]}/dismiss").status_code == 403
    assert viewer.post(f"/unknown/groups/{ids[0]}/dismiss").status_code == 403
    assert mongo_db.sightings.count_documents({}) == 2
