"""Spoof attempts are stored once per track with their pictures, listed newest first a page at a
time, counted per day of the site's zone, and erased with the employee they resembled."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from services.common.storage.pictures import PictureStore
from services.common.storage.spoof_attempts import (
    NewSpoofAttempt,
    SpoofAttemptLog,
    attempt_id_for,
)
from tests.helpers.messages import MORNING, TINY_JPEG

pytestmark = pytest.mark.integration

PARIS = ZoneInfo("Europe/Paris")


def attempt(track: str, minutes: float = 0, **fields) -> NewSpoofAttempt:
    values = {
        "attempt_id": attempt_id_for("door", track),
        "camera_id": "door",
        "track_id": track,
        "seen_at": MORNING + timedelta(minutes=minutes),
        "employee_id": "e-ana",
        "employee_name": "Ana Lopez",
        "similarity": 0.81,
        "liveness_score": 0.03,
        "faces_scored": 6,
        "snapshot_jpeg": TINY_JPEG,
        "face_jpeg": TINY_JPEG + b"face",
    }
    return NewSpoofAttempt(**{**values, **fields})


@pytest.fixture
def pictures(mongo_db):
    return PictureStore(mongo_db)


@pytest.fixture
def attempts(mongo_db, pictures):
    log = SpoofAttemptLog(mongo_db, pictures)
    log.ensure_indexes()
    return log


def test_an_attempt_is_stored_with_its_best_frame_and_face(attempts, pictures):
    assert attempts.add(attempt("t1")) is True
    stored = attempts.get(attempt_id_for("door", "t1"))
    assert stored.employee_name == "Ana Lopez" and stored.similarity == pytest.approx(0.81)
    assert stored.liveness_score == pytest.approx(0.03) and stored.faces_scored == 6
    assert stored.action == "blocked" and stored.seen_at == MORNING
    assert pictures.get(stored.snapshot_id) == TINY_JPEG
    assert pictures.get(stored.face_id) == TINY_JPEG + b"face"


def test_the_same_track_stored_twice_is_one_attempt(attempts):
    assert attempts.add(attempt("t1")) is True
    assert attempts.add(attempt("t1", minutes=1)) is False
    assert attempts.count() == 1


def test_the_attempt_id_depends_on_camera_and_track_only():
    assert attempt_id_for("door", "t1") == attempt_id_for("door", "t1")
    assert attempt_id_for("door", "t1") != attempt_id_for("kiosk", "t1")
    assert attempt_id_for("door", "t1") != attempt_id_for("door", "t2")


def test_an_attempt_that_resembled_nobody_is_kept_too(attempts):
    attempts.add(attempt("t1", employee_id=None, employee_name=None, similarity=None))
    assert attempts.get(attempt_id_for("door", "t1")).employee_id is None


def test_attempts_are_listed_newest_first_a_page_at_a_time(attempts):
    for n in range(5):
        attempts.add(attempt(f"t{n}", minutes=n))
    first = attempts.page(1, page_size=2)
    second = attempts.page(2, page_size=2)
    last = attempts.page(3, page_size=2)
    assert [a.track_id for a in first + second + last] == ["t4", "t3", "t2", "t1", "t0"]
    assert attempts.page(4, page_size=2) == []


@pytest.mark.parametrize(("page", "size"), [(0, 10), (1, 0), (1, 10_000)])
def test_a_page_out_of_range_is_refused(attempts, page, size):
    with pytest.raises(ValueError):
        attempts.page(page, page_size=size)


def test_attempts_are_counted_per_day_of_the_sites_zone(attempts):
    # MORNING is 08:00 UTC; 23:30 UTC is already the next day in Paris (UTC+1 in November).
    attempts.add(attempt("t1"))
    attempts.add(attempt("t2", minutes=60))
    attempts.add(attempt("t3", minutes=15 * 60 + 30))
    day = MORNING.astimezone(PARIS).date()
    counts = attempts.per_day(PARIS, day - timedelta(days=1), day + timedelta(days=1))
    assert counts == {day - timedelta(days=1): 0, day: 2, day + timedelta(days=1): 1}
    assert attempts.count_since(MORNING + timedelta(minutes=30)) == 2


def test_erasing_an_employee_forgets_the_attempts_that_resembled_them(attempts, pictures):
    attempts.add(attempt("t1"))
    attempts.add(attempt("t2", employee_id="e-bo", employee_name="Bo"))
    erased = attempt_id_for("door", "t1")
    snapshot = attempts.get(erased).snapshot_id
    assert attempts.delete_for_employee("e-ana") == 1
    assert attempts.get(erased) is None and pictures.get(snapshot) is None
    assert attempts.count() == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"liveness_score": 1.5},
        {"faces_scored": 0},
        {"similarity": 2.0},
        {"camera_id": "door; drop"},
        {"seen_at": MORNING.replace(tzinfo=None)},
        {"snapshot_jpeg": b""},
        {"action": "ignored"},
    ],
)
def test_a_malformed_attempt_is_refused_before_the_database(attempts, bad):
    with pytest.raises(ValidationError):
        attempt("t1", **bad)
    assert attempts.count() == 0


def test_a_day_range_the_wrong_way_round_is_refused(attempts):
    with pytest.raises(ValueError):
        attempts.per_day(PARIS, date(2026, 1, 2), date(2026, 1, 1))
