"""Erasing an employee erases the spoof attempts that resembled them, pictures included."""

from __future__ import annotations

import pytest

from services.common.cache import InMemoryCache
from services.common.storage.attendance import AttendanceRepository
from services.common.storage.employees import EmployeeRepository, NewFace
from services.common.storage.sightings import SightingLog
from services.common.storage.spoof_attempts import (
    NewSpoofAttempt,
    SpoofAttemptLog,
    attempt_id_for,
)
from services.web.erase import erase_employee
from tests.helpers.messages import MORNING, TINY_JPEG, unit_vector

pytestmark = pytest.mark.integration


def attempt(track_id: str, employee_id: str | None) -> NewSpoofAttempt:
    return NewSpoofAttempt(
        attempt_id=attempt_id_for("door", track_id),
        camera_id="door",
        track_id=track_id,
        seen_at=MORNING,
        employee_id=employee_id,
        similarity=0.8 if employee_id else None,
        liveness_score=0.02,
        faces_scored=7,
        snapshot_jpeg=TINY_JPEG,
        face_jpeg=TINY_JPEG,
    )


def test_erasing_an_employee_erases_the_spoof_attempts_that_resembled_them(mongo_db):
    employees = EmployeeRepository(mongo_db)
    ana = employees.create("Ana", [NewFace(TINY_JPEG, TINY_JPEG, unit_vector(1))], "m")
    log = SpoofAttemptLog(mongo_db, employees.pictures)
    log.add(attempt("t1", ana.employee_id))
    log.add(attempt("t2", ana.employee_id))
    log.add(attempt("t3", None))

    report = erase_employee(
        ana.employee_id,
        employees=employees,
        attendance=AttendanceRepository(mongo_db),
        sightings=SightingLog(mongo_db, employees.pictures),
        spoof_attempts=SpoofAttemptLog(mongo_db, employees.pictures),
        cache=InMemoryCache(),
    )

    assert report.spoof_attempts == 2
    [left] = log.page()
    assert left.track_id == "t3"
    assert {d["_id"] for d in mongo_db.pictures.find({}, {"_id": 1})} == {
        left.snapshot_id,
        left.face_id,
    }
