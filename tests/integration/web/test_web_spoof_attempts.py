"""The Spoof attempts page shows admins the tracks taken for a photo or a screen, newest first,
with today's count in the navigation; viewers may not see it (it names the colleague someone
tried to clock in)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.common.contracts import utc_now
from services.common.storage.pictures import PictureStore
from services.common.storage.spoof_attempts import (
    NewSpoofAttempt,
    SpoofAttemptLog,
    attempt_id_for,
)
from tests.helpers.messages import TINY_JPEG

pytestmark = pytest.mark.integration


@pytest.fixture
def attempts(app, mongo_db):
    log = SpoofAttemptLog(mongo_db, PictureStore(mongo_db))

    def add(track: str, name: str | None, minutes_ago: float = 0) -> None:
        log.add(
            NewSpoofAttempt(
                attempt_id=attempt_id_for("door", track),
                camera_id="door",
                track_id=track,
                seen_at=utc_now() - timedelta(minutes=minutes_ago),
                employee_id="e-1" if name else None,
                employee_name=name,
                similarity=0.77 if name else None,
                liveness_score=0.02,
                faces_scored=5,
                snapshot_jpeg=TINY_JPEG,
                face_jpeg=TINY_JPEG,
            )
        )

    return add


def test_an_admin_sees_the_attempts_newest_first_with_whom_they_resembled(admin, attempts):
    attempts("older", "Ana Lopez", minutes_ago=5)
    attempts("newer", None)
    response = admin.get("/spoof-attempts")
    assert response.status_code == 200
    page = response.text
    assert page.index("Resembled nobody enrolled") < page.index("Resembled Ana Lopez (0.77)")
    assert "liveness 0.02 over 5 faces" in page
    assert "data-spoof-total>2<" in page


def test_the_navigation_counts_todays_attempts_for_admins(admin, attempts):
    assert "data-spoof-count" not in admin.get("/").text
    attempts("t1", "Ana Lopez")
    assert 'data-spoof-count aria-label="1 today">1<' in admin.get("/").text


def test_the_faces_picture_is_served(admin, attempts):
    attempts("t1", "Ana Lopez")
    [listed] = admin.get("/api/v1/spoof-attempts").get_json()["attempts"]
    assert admin.get(listed["face_url"]).data == TINY_JPEG
    assert listed["employee_name"] == "Ana Lopez" and listed["action"] == "blocked"


def test_viewers_may_not_see_spoof_attempts(viewer, attempts):
    attempts("t1", "Ana Lopez")
    assert viewer.get("/spoof-attempts").status_code == 403
    assert viewer.get("/api/v1/spoof-attempts").status_code == 403
    assert "Spoof attempts" not in viewer.get("/").text


def test_pages_past_the_last_are_empty_and_bad_pages_refused(admin, attempts):
    attempts("t1", "Ana Lopez")
    assert "No spoof attempts." in admin.get("/spoof-attempts?page=2").text
    assert admin.get("/spoof-attempts?page=0").status_code == 400
    assert admin.get("/spoof-attempts?page=abc").status_code == 400


def test_with_no_attempts_the_page_says_so(admin):
    page = admin.get("/spoof-attempts").text
    assert "No spoof attempts." in page and "0 today" in page
