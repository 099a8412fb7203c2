"""The recorder and the liveness verdict, on the MongoDB-wire server: an attack track becomes a
spoof attempt; blocked, it makes no attendance and tells kiosks it was refused; flagged, the
attendance is recorded and marked."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
from services.common.bus.topology import ATTENDANCE_EVENTS
from services.common.contracts import SightingLiveness, SightingMessage
from services.common.metrics import SPOOF_ATTEMPTS
from services.common.storage.attendance import AttendanceRepository
from services.common.storage.employees import EmployeeRepository, NewFace
from services.common.storage.sightings import SightingLog
from services.common.storage.spoof_attempts import SpoofAttemptLog, attempt_id_for
from services.recorder.service import Recorder
from services.recorder.settings import RecorderSettings
from tests.fixtures.bus import Inbox
from tests.helpers.messages import MORNING, TINY_JPEG, sighting, unit_vector

pytestmark = pytest.mark.integration

NOW = MORNING + timedelta(hours=10)


@pytest.fixture
def employees(mongo_db):
    return EmployeeRepository(mongo_db)


@pytest.fixture
def ana(employees):
    return employees.create("Ana", [NewFace(TINY_JPEG, TINY_JPEG, unit_vector(1))], "m")


class Setup:
    def __init__(self, mongo_db, employees) -> None:
        broker = InMemoryBroker()
        self.events = Inbox()
        listener = InMemoryCommunicator(broker)
        listener.subscribe(ATTENDANCE_EVENTS, self.events)
        self.listener = listener
        self.attendance = AttendanceRepository(mongo_db)
        self.attempts = SpoofAttemptLog(mongo_db, employees.pictures)
        self.service = Recorder(
            InMemoryCommunicator(broker),
            employees,
            self.attendance,
            SightingLog(mongo_db, employees.pictures),
            RecorderSettings.from_env({}, site_timezone="UTC"),
            spoof_attempts=self.attempts,
            clock=lambda: NOW,
        )
        self.service.start()

    def announced(self) -> list:
        while self.listener.drain_once():
            pass
        return list(self.events.messages)


@pytest.fixture
def setup(mongo_db, employees) -> Setup:
    return Setup(mongo_db, employees)


def blocked(resembled: str | None, seconds: float = 0, track: str = "t1") -> SightingMessage:
    message = sighting(None, seconds)
    return message.model_copy(
        update={
            "track_id": track,
            "similarity": 0.83,
            "liveness": SightingLiveness(
                verdict="attack",
                mean_score=0.03,
                faces_scored=9,
                action="blocked",
                resembled_employee_id=resembled,
            ),
        }
    )


def flagged(employee_id: str, seconds: float = 0, track: str = "t1") -> SightingMessage:
    message = sighting(employee_id, seconds)
    return message.model_copy(
        update={
            "track_id": track,
            "liveness": SightingLiveness(
                verdict="attack", mean_score=0.2, faces_scored=5, action="flagged"
            ),
        }
    )


def counted(action: str) -> float:
    return SPOOF_ATTEMPTS.labels("door", action)._value.get()


def test_a_blocked_photo_of_an_employee_is_a_spoof_attempt_and_no_attendance(setup, ana, mongo_db):
    before = counted("blocked")
    event = setup.service.record(blocked(ana.employee_id))

    assert mongo_db.attendance.count_documents({}) == 0
    assert mongo_db.sightings.count_documents({}) == 0
    [attempt] = setup.attempts.page()
    assert attempt.attempt_id == attempt_id_for("door", "t1")
    assert (attempt.employee_id, attempt.employee_name) == (ana.employee_id, "Ana")
    assert attempt.similarity == pytest.approx(0.83)
    assert (attempt.liveness_score, attempt.faces_scored, attempt.action) == (0.03, 9, "blocked")
    assert mongo_db.pictures.count_documents({"_id": attempt.face_id}) == 1
    assert counted("blocked") == before + 1
    # The kiosk learns that the track was refused, and of nothing it could greet.
    assert event is not None and event.event == "refused"
    assert [e.event for e in setup.announced()] == ["refused"]


def test_a_redelivered_attack_is_stored_and_counted_once(setup, ana):
    before = counted("blocked")
    message = blocked(ana.employee_id)
    setup.service.record(message)
    setup.service.record(message)
    assert setup.attempts.count() == 1
    assert counted("blocked") == before + 1


def test_an_attack_resembling_nobody_is_still_a_spoof_attempt_and_announces_nothing(setup):
    assert setup.service.record(blocked(None)) is None
    [attempt] = setup.attempts.page()
    assert attempt.employee_id is None and attempt.similarity is None
    assert setup.announced() == []


def test_an_attack_resembling_an_employee_since_deleted_keeps_no_trace_of_them(
    setup, ana, employees
):
    employees.delete(ana.employee_id)
    setup.service.record(blocked(ana.employee_id))
    [attempt] = setup.attempts.page()
    assert attempt.employee_id is None and attempt.employee_name is None


def test_a_flagged_sighting_records_attendance_marked_and_keeps_the_attempt(setup, ana):
    before = counted("flagged")
    event = setup.service.record(flagged(ana.employee_id))

    assert event is not None and event.event == "arrival"
    stored = setup.attendance.get(event.record_id)
    assert stored is not None and stored.liveness_flagged and stored.arrival_flagged
    [attempt] = setup.attempts.page()
    assert (attempt.employee_id, attempt.action) == (ana.employee_id, "flagged")
    assert counted("flagged") == before + 1


def test_a_live_departure_keeps_the_flagged_arrivals_mark_and_replacing_it_drops_it(setup, ana):
    setup.service.record(flagged(ana.employee_id, 0))
    later = sighting(ana.employee_id, 3600)
    event = setup.service.record(later)
    stored = setup.attendance.get(event.record_id)
    assert stored.arrival_flagged and not stored.departure_flagged

    earlier = sighting(ana.employee_id, -60)
    setup.service.record(earlier)
    stored = setup.attendance.get(event.record_id)
    assert stored.record.arrival.sighting_id == earlier.sighting_id
    assert not stored.liveness_flagged


def test_an_ordinary_sighting_leaves_the_record_unmarked(setup, ana):
    event = setup.service.record(sighting(ana.employee_id, 0))
    stored = setup.attendance.get(event.record_id)
    assert not stored.liveness_flagged and setup.attempts.count() == 0
