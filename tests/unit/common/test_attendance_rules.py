from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.domain.attendance import (
    Observation,
    apply_sighting,
    attendance_day,
    event_for,
    implausible_time,
    record_id_for,
)

pytestmark = pytest.mark.unit

DAY = date(2026, 11, 24)
GAP = timedelta(seconds=60)
MORNING = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def seen(seconds: float, sighting_id: str | None = None) -> Observation:
    sid = sighting_id or f"s{seconds:g}"
    return Observation(MORNING + timedelta(seconds=seconds), sid, "door", f"pic-{sid}")


def fold(observations):
    record = None
    for observation in observations:
        record = apply_sighting(record, "emp1", observation, DAY, GAP)
    return record


def test_the_first_sighting_sets_the_arrival_and_no_departure():
    record = fold([seen(0)])
    assert record.arrival == seen(0)
    assert record.departure is None
    assert record.record_id == "20261124-emp1"


def test_a_sighting_within_the_gap_does_not_set_a_departure():
    assert fold([seen(0), seen(59)]).departure is None


def test_a_sighting_at_least_the_gap_later_sets_the_departure():
    record = fold([seen(0), seen(60)])
    assert record.departure == seen(60)


def test_the_last_departure_of_the_day_stands():
    record = fold([seen(0), seen(3600), seen(7200), seen(5000)])
    assert record.departure == seen(7200)
    assert record.arrival == seen(0)


def test_an_earlier_sighting_delivered_late_becomes_the_arrival():
    record = fold([seen(100), seen(0)])
    assert record.arrival == seen(0)
    assert record.departure == seen(100)


def test_the_same_sighting_twice_changes_nothing():
    once = fold([seen(0), seen(120)])
    assert fold([seen(0), seen(120), seen(120), seen(0)]) == once


def test_event_names_what_the_sighting_meant_for_the_record():
    record = fold([seen(0), seen(30), seen(90)])
    assert event_for(record, "s0") == "arrival"
    assert event_for(record, "s90") == "departure"
    assert event_for(record, "s30") == "seen"


def test_naive_times_are_refused():
    naive = Observation(datetime(2026, 11, 24, 8, 0), "s", "door", "p")
    with pytest.raises(ValueError, match="timezone"):
        apply_sighting(None, "emp1", naive, DAY, GAP)


def test_the_day_is_computed_in_the_site_zone():
    late_evening_utc = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    assert attendance_day(late_evening_utc, ZoneInfo("UTC")) == date(2026, 11, 24)
    assert attendance_day(late_evening_utc, ZoneInfo("Europe/Berlin")) == date(2026, 11, 25)


def test_a_day_that_starts_at_four_keeps_night_shift_sightings_on_the_previous_day():
    three_am = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    assert attendance_day(three_am, ZoneInfo("UTC"), day_start_hour=4) == date(2026, 11, 24)
    assert attendance_day(three_am, ZoneInfo("UTC"), day_start_hour=0) == date(2026, 11, 25)


def test_record_ids_are_unique_per_employee_within_a_day():
    assert record_id_for(DAY, "a") != record_id_for(DAY, "b")


observations = st.lists(
    st.builds(
        seen,
        st.integers(min_value=0, max_value=36_000),
        st.sampled_from(["a", "b", "c", "d", "e", "f"]).map(lambda x: None),
    ),
    min_size=1,
    max_size=12,
)


@given(observations, st.randoms(use_true_random=False))
def test_delivery_order_never_changes_the_record(batch, rng):
    shuffled = list(batch)
    rng.shuffle(shuffled)
    assert fold(shuffled) == fold(sorted(batch, key=lambda o: o.order_key))


@given(observations, st.randoms(use_true_random=False))
def test_redelivered_sightings_never_change_the_record(batch, rng):
    redelivered = batch + [rng.choice(batch) for _ in range(len(batch))]
    rng.shuffle(redelivered)
    assert fold(redelivered) == fold(batch)


@given(observations)
def test_in_order_delivery_matches_the_written_rules(batch):
    ordered = sorted(set(batch), key=lambda o: o.order_key)
    record = fold(ordered)
    arrival = ordered[0]
    later = [o for o in ordered if o.seen_at - arrival.seen_at >= GAP]
    assert record.arrival == arrival
    assert record.departure == (later[-1] if later else None)


AHEAD, AGE = timedelta(hours=24), timedelta(days=730)


@pytest.mark.parametrize(
    ("seen_at", "why"),
    [
        (MORNING + timedelta(hours=24, seconds=1), "more than 24 hours after"),
        (datetime(9999, 12, 31, tzinfo=UTC), "more than 24 hours after"),
        (MORNING - timedelta(days=730, seconds=1), "more than 730 days before"),
        (datetime(1970, 1, 1, tzinfo=UTC), "more than 730 days before"),
    ],
)
def test_a_time_no_camera_can_have_seen_is_named_with_why(seen_at, why):
    problem = implausible_time(seen_at, MORNING, max_ahead=AHEAD, max_age=AGE)
    assert problem is not None and why in problem and seen_at.isoformat() in problem


@pytest.mark.parametrize(
    "offset",
    [timedelta(0), timedelta(hours=24), -timedelta(days=730), -timedelta(days=40)],
)
def test_times_within_the_window_are_plausible(offset):
    assert implausible_time(MORNING + offset, MORNING, max_ahead=AHEAD, max_age=AGE) is None
