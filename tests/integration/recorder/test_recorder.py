from datetime import UTC, date, datetime, timedelta

import pytest

from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
from services.common.bus.topology import ATTENDANCE_EVENTS, SIGHTINGS
from services.common.storage.attendance import AttendanceRepository
from services.common.storage.employees import EmployeeRepository, NewFace
from services.common.storage.sightings import SightingLog
from services.recorder.service import Recorder
from services.recorder.settings import RecorderSettings
from tests.helpers.messages import MORNING, TINY_JPEG, sighting, unit_vector

pytestmark = pytest.mark.integration

# The recorder's clock, pinned: the sightings of these tests happen on the morning of MORNING.
NOW = MORNING + timedelta(hours=10)


@pytest.fixture
def employees(mongo_db):
    return EmployeeRepository(mongo_db)


@pytest.fixture
def ana(employees):
    return employees.create("Ana", [NewFace(TINY_JPEG, TINY_JPEG, unit_vector(1))], "m")


@pytest.fixture
def recorder(mongo_db, employees):
    bus = InMemoryCommunicator(InMemoryBroker())
    settings = RecorderSettings.from_env({}, site_timezone="UTC")
    attendance = AttendanceRepository(mongo_db)
    recorder = Recorder(
        bus,
        employees,
        attendance,
        SightingLog(mongo_db, employees.pictures),
        settings,
        clock=lambda: NOW,
    )
    return recorder, attendance, bus


def test_a_known_sighting_creates_the_days_record_with_arrival_picture(recorder, ana, mongo_db):
    service, attendance, _ = recorder
    event = service.record(sighting(ana.employee_id, 0))
    stored = attendance.get(event.record_id)
    assert event.event == "arrival"
    assert stored.record.arrival.seen_at == MORNING
    assert stored.employee_name == "Ana"
    assert mongo_db.pictures.count_documents({"_id": stored.record.arrival.picture_id}) == 1


def test_a_later_sighting_sets_the_departure(recorder, ana):
    service, attendance, _ = recorder
    service.record(sighting(ana.employee_id, 0))
    event = service.record(sighting(ana.employee_id, 3600))
    record = attendance.get(event.record_id).record
    assert event.event == "departure"
    assert record.departure.seen_at == MORNING + timedelta(hours=1)


def test_redelivered_and_reordered_sightings_give_the_same_record(recorder, ana, mongo_db):
    service, attendance, _ = recorder
    batch = [sighting(ana.employee_id, seconds) for seconds in (0, 30, 900, 4000)]
    for message in [batch[2], batch[3], batch[0], batch[2], batch[1], batch[3]]:
        service.record(message)
    record = attendance.for_day(date(2026, 11, 24))[0].record
    assert record.arrival.sighting_id == batch[0].sighting_id
    assert record.departure.sighting_id == batch[3].sighting_id
    assert mongo_db.sightings.count_documents({}) == 4


def test_unknown_sightings_are_logged_without_a_record(recorder, mongo_db):
    service, _attendance, _ = recorder
    assert service.record(sighting(None, 0)) is None
    assert mongo_db.attendance.count_documents({}) == 0
    assert mongo_db.sightings.count_documents({"known": False}) == 1


def test_a_sighting_of_a_deleted_employee_leaves_no_trace(recorder, ana, employees, mongo_db):
    service, _, _ = recorder
    employees.delete(ana.employee_id)
    assert service.record(sighting(ana.employee_id, 0)) is None
    assert mongo_db.sightings.count_documents({}) == 0
    assert mongo_db.attendance.count_documents({}) == 0


def test_sightings_arriving_on_the_bus_are_recorded_and_announced(recorder, ana):
    service, attendance, bus = recorder
    announced = []
    bus.subscribe(ATTENDANCE_EVENTS, lambda events: announced.extend(events), broadcast=True)
    service.start()
    bus.publish(SIGHTINGS, sighting(ana.employee_id, 0))
    while bus.drain_once():
        pass
    assert [event.employee_name for event in announced] == ["Ana"]
    assert len(attendance.for_day(date(2026, 11, 24))) == 1


def test_retention_removes_old_sightings_but_keeps_attendance_pictures(recorder, ana, mongo_db):
    service, attendance, _ = recorder
    forty_days = 40 * 24 * 3600
    event = service.record(sighting(ana.employee_id, -forty_days))
    service.record(sighting(None, -forty_days + 5))
    service.record(sighting(None, 0))
    assert service.purge_expired() == 2
    assert mongo_db.sightings.count_documents({}) == 1
    arrival_picture = attendance.get(event.record_id).record.arrival.picture_id
    assert mongo_db.pictures.count_documents({"_id": arrival_picture}) == 1
    assert mongo_db.pictures.count_documents({"owner_id": "unknown"}) == 2  # the recent one


@pytest.mark.parametrize(
    ("seen_at", "reason"),
    [
        (datetime(9999, 12, 31, 23, 59, tzinfo=UTC), "more than 24 hours after"),
        (NOW + timedelta(days=2), "more than 24 hours after"),
        (datetime(1970, 1, 1, tzinfo=UTC), "more than 730 days before"),
        (datetime(1, 1, 1, tzinfo=UTC), "more than 730 days before"),
    ],
)
def test_a_sighting_at_an_impossible_time_is_dead_lettered_with_why_and_stores_nothing(
    recorder, ana, mongo_db, seen_at, reason
):
    service, _, bus = recorder
    pictures_before = mongo_db.pictures.count_documents({})
    service.start()
    odd = sighting(ana.employee_id).model_copy(update={"seen_at": seen_at})
    bus.publish(SIGHTINGS, odd)
    while bus.drain_once():
        pass
    [dead] = bus.broker.dead_letters
    assert dead.reason.startswith(f"ImplausibleSighting: sighting {odd.sighting_id}: seen_at")
    assert reason in dead.reason and dead.attempts == 1
    assert mongo_db.sightings.count_documents({}) == 0
    assert mongo_db.attendance.count_documents({}) == 0
    assert mongo_db.pictures.count_documents({}) == pictures_before


def test_a_sighting_within_a_day_ahead_of_the_clock_is_still_recorded(recorder, ana, mongo_db):
    service, _, _ = recorder
    assert service.record(sighting(ana.employee_id, 10 * 3600 + 23 * 3600)) is not None
    assert mongo_db.attendance.count_documents({}) == 1
