"""The day's facts (services.common.workday): presence, hours, late, absent, corrections, around
midnight, DAY_START_HOUR and DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.domain.attendance import Observation, apply_sighting
from services.common.workday import (
    Correction,
    ManualTime,
    Schedule,
    Sighted,
    Site,
    day_bounds,
    day_facts,
    day_of,
    expected_start,
    format_hours,
    greeting,
    local_moment,
    parse_weekdays,
    presence,
    totals,
)

pytestmark = pytest.mark.unit

PARIS = ZoneInfo("Europe/Paris")
SITE = Site(PARIS, 0, timedelta(minutes=10))
NINE_TO_FIVE = Schedule(frozenset(range(5)), time(9), time(17), timedelta(minutes=5))
TUESDAY = date(2026, 11, 24)
SATURDAY = date(2026, 11, 28)
REGISTERED = date(2026, 11, 1)


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS).astimezone(UTC)


def facts(day: date = TUESDAY, *, now: datetime | None = None, site: Site = SITE, **kwargs):
    return day_facts(
        day,
        now=now or paris(day + timedelta(days=1), 12),
        site=site,
        schedule=kwargs.pop("schedule", NINE_TO_FIVE),
        registered_on=kwargs.pop("registered_on", REGISTERED),
        **kwargs,
    )


def seen(arrival: datetime, departure: datetime | None = None) -> Sighted:
    return Sighted(arrival, departure, departure or arrival)


# -- status -----------------------------------------------------------------------------------
def test_an_arrival_within_the_grace_is_present_and_after_it_late():
    assert facts(sighted=seen(paris(TUESDAY, 9, 5))).status == "present"
    late = facts(sighted=seen(paris(TUESDAY, 9, 6)))
    assert late.status == "late" and late.late_by == timedelta(minutes=6)


def test_a_working_day_without_an_arrival_is_absent_once_it_is_over():
    assert facts().status == "absent"


def test_today_is_expected_until_the_grace_ends_then_absent():
    assert facts(now=paris(TUESDAY, 9, 5)).status == "expected"
    assert facts(now=paris(TUESDAY, 9, 6)).status == "absent"


def test_weekends_holidays_and_future_days_are_never_absent():
    assert facts(SATURDAY).status == "off"
    assert facts(holiday="Armistice").status == "holiday"
    assert facts(now=paris(TUESDAY - timedelta(days=1), 12)).status == "upcoming"


def test_days_before_registration_are_neither_absent_nor_late():
    before = TUESDAY + timedelta(days=1)
    assert facts(registered_on=before).status == "not yet employed"
    # Seen before being registered (an unknown face assigned later): there, not late.
    assert facts(registered_on=before, sighted=seen(paris(TUESDAY, 11))).status == "present"


def test_working_on_a_weekend_is_present_and_never_late():
    assert facts(SATURDAY, sighted=seen(paris(SATURDAY, 14))).status == "present"


# -- hours, presence --------------------------------------------------------------------------
def test_hours_on_site_run_from_arrival_to_departure():
    day = facts(sighted=seen(paris(TUESDAY, 8, 50), paris(TUESDAY, 17, 5)))
    assert day.hours == timedelta(hours=8, minutes=15)
    assert format_hours(day.hours) == "8:15"


def test_hours_are_real_hours_across_the_autumn_dst_change():
    # 25 October 2026: Paris goes from UTC+2 to UTC+1 at 03:00, so the clock shows 9 hours
    # from 23:00 to 08:00 and 10 went by.
    night = date(2026, 10, 24)
    shift = seen(paris(night, 23), paris(night + timedelta(days=1), 8))
    assert facts(night, sighted=shift, registered_on=date(2026, 1, 1)).hours == timedelta(hours=10)


def test_the_expected_start_keeps_its_wall_time_across_the_spring_dst_change():
    before, after = date(2026, 3, 27), date(2026, 3, 30)
    assert expected_start(before, NINE_TO_FIVE, SITE) == datetime(2026, 3, 27, 8, tzinfo=UTC)
    assert expected_start(after, NINE_TO_FIVE, SITE) == datetime(2026, 3, 30, 7, tzinfo=UTC)
    arrival = seen(datetime(2026, 3, 30, 7, 4, tzinfo=UTC))
    on_time = facts(after, sighted=arrival, registered_on=date(2026, 1, 1))
    assert on_time.status == "present"


def test_a_time_skipped_by_dst_is_read_with_the_offset_before_the_change():
    # 29 March 2026 02:30 does not exist in Paris; it is taken as 02:30 UTC+1.
    assert local_moment(date(2026, 3, 29), time(2, 30), SITE) == datetime(
        2026, 3, 29, 1, 30, tzinfo=UTC
    )


def test_a_day_starting_at_four_keeps_a_night_shift_on_one_day():
    night = Site(PARIS, 4, timedelta(minutes=10))
    assert day_of(paris(TUESDAY + timedelta(days=1), 3, 59), night) == TUESDAY
    assert day_of(paris(TUESDAY + timedelta(days=1), 4), night) == TUESDAY + timedelta(days=1)
    start, end = day_bounds(TUESDAY, night)
    assert (start, end) == (paris(TUESDAY, 4), paris(TUESDAY + timedelta(days=1), 4))
    # A 02:00 start belongs to the day that began at 04:00 the evening before.
    nights = Schedule(frozenset(range(7)), time(2), time(6), timedelta(0))
    assert expected_start(TUESDAY, nights, night) == paris(TUESDAY + timedelta(days=1), 2)


def test_midnight_belongs_to_the_day_it_starts():
    assert day_of(paris(TUESDAY, 0), SITE) == TUESDAY
    assert day_of(paris(TUESDAY, 0) - timedelta(microseconds=1), SITE) == TUESDAY - timedelta(
        days=1
    )


def test_someone_is_in_while_seen_within_the_timeout_and_out_after():
    day = seen(paris(TUESDAY, 9), paris(TUESDAY, 9, 1))
    assert presence(day, None, paris(TUESDAY, 9, 10), SITE) == "in"
    assert presence(day, None, paris(TUESDAY, 9, 11), SITE) == "out"
    assert presence(None, None, paris(TUESDAY, 9, 11), SITE) == "out"


def test_the_departure_is_last_seen_while_in_and_left_once_out():
    day = seen(paris(TUESDAY, 9), paris(TUESDAY, 9, 1))
    still = facts(sighted=day, now=paris(TUESDAY, 9, 2))
    assert (still.presence, still.departure_label) == ("in", "last seen")
    assert still.shown_departure == paris(TUESDAY, 9, 1)
    gone = facts(sighted=day, now=paris(TUESDAY, 9, 30))
    assert (gone.presence, gone.departure_label) == ("out", "left")
    assert facts(sighted=day).presence is None  # only today has a presence


# -- corrections ------------------------------------------------------------------------------
def test_a_corrected_arrival_wins_and_is_marked():
    fixed = Correction(arrival=ManualTime(paris(TUESDAY, 8, 55)), reason="badge at the door")
    day = facts(sighted=seen(paris(TUESDAY, 9, 40), paris(TUESDAY, 17)), correction=fixed)
    assert day.arrival == paris(TUESDAY, 8, 55) and day.arrival_corrected
    assert not day.departure_corrected and day.status == "present" and day.corrected


def test_a_cleared_arrival_makes_the_day_absent_and_the_person_out():
    cleared = Correction(arrival=ManualTime(None), departure=ManualTime(None), reason="not me")
    day = facts(sighted=seen(paris(TUESDAY, 9, 25)), correction=cleared, now=paris(TUESDAY, 9, 30))
    assert day.arrival is None and day.status == "absent" and day.presence == "out"


def test_a_marked_day_has_its_mark_as_status():
    for mark in ("leave", "holiday", "remote"):
        assert facts(correction=Correction(mark=mark, reason="planned")).status == mark


def test_an_arrival_set_by_hand_on_a_day_nobody_saw_counts():
    manual = Correction(
        arrival=ManualTime(paris(TUESDAY, 9)), departure=ManualTime(paris(TUESDAY, 12))
    )
    day = facts(correction=manual)
    assert day.status == "present" and day.hours == timedelta(hours=3)


stamps = st.integers(min_value=0, max_value=20 * 3600)


@given(st.lists(stamps, min_size=1, max_size=12), stamps, st.booleans())
def test_no_sighting_ever_overwrites_a_manual_value(seconds, manual_s, clear):
    """Whatever the cameras add to the record, in any order, the manual values stand."""
    start = paris(TUESDAY, 4)
    record = None
    for n, offset in enumerate(seconds):
        observation = Observation(start + timedelta(seconds=offset), f"s{n}", "door", f"p{n}")
        record = apply_sighting(record, "e1", observation, TUESDAY, timedelta(seconds=60))
        sighted = Sighted(
            record.arrival.seen_at,
            record.departure.seen_at if record.departure else None,
            record.latest.seen_at,
        )
        manual = None if clear else start + timedelta(seconds=manual_s)
        correction = Correction(arrival=ManualTime(manual), departure=ManualTime(None))
        day = facts(sighted=sighted, correction=correction)
        assert day.arrival == manual and day.departure is None


# -- kiosk greeting ---------------------------------------------------------------------------
def test_the_kiosk_welcomes_an_arrival_and_is_quiet_while_someone_stays():
    arrival = paris(TUESDAY, 9)
    kwargs = {"arrival": arrival, "schedule": NINE_TO_FIVE, "site": SITE}
    assert greeting(None, arrival, **kwargs) == "welcome"
    assert greeting(arrival, arrival + timedelta(minutes=1), **kwargs) is None
    assert greeting(arrival, arrival + timedelta(minutes=9), **kwargs) is None


def test_after_a_real_absence_it_is_welcome_back_early_and_goodbye_late_in_the_day():
    arrival = paris(TUESDAY, 9)
    kwargs = {"arrival": arrival, "schedule": NINE_TO_FIVE, "site": SITE}
    assert greeting(paris(TUESDAY, 12), paris(TUESDAY, 13), **kwargs) == "welcome_back"
    assert greeting(paris(TUESDAY, 13), paris(TUESDAY, 16), **kwargs) == "goodbye"
    # Still standing there at 17:30: seen a minute ago, so no goodbye.
    assert greeting(paris(TUESDAY, 17, 29), paris(TUESDAY, 17, 30), **kwargs) is None


def test_a_late_arrivals_day_ends_later():
    late = paris(TUESDAY, 11)
    kwargs = {"arrival": late, "schedule": NINE_TO_FIVE, "site": SITE}
    assert greeting(paris(TUESDAY, 12), paris(TUESDAY, 16), **kwargs) == "welcome_back"
    assert greeting(paris(TUESDAY, 12), paris(TUESDAY, 18), **kwargs) == "goodbye"


# -- totals, settings -------------------------------------------------------------------------
def test_totals_count_present_late_absent_and_hours():
    days = [
        facts(TUESDAY, sighted=seen(paris(TUESDAY, 9), paris(TUESDAY, 17))),
        facts(
            TUESDAY + timedelta(days=1),
            sighted=seen(paris(TUESDAY + timedelta(days=1), 9, 30), paris(TUESDAY, 23)),
        ),
        facts(TUESDAY + timedelta(days=2), now=paris(TUESDAY + timedelta(days=3), 12)),
        facts(SATURDAY),
        facts(TUESDAY, correction=Correction(mark="leave", reason="planned")),
    ]
    summary = totals(days)
    assert (summary.days_present, summary.late_arrivals, summary.absences) == (2, 1, 1)
    assert summary.leave_days == 1 and summary.corrected_days == 1
    assert summary.hours == timedelta(hours=8)


def test_weekdays_are_read_as_names_and_ranges():
    assert parse_weekdays("mon-fri") == frozenset(range(5))
    assert parse_weekdays("sat, sun,mon") == frozenset({5, 6, 0})
    for bad in ("funday", "fri-mon"):
        with pytest.raises(ValueError):
            parse_weekdays(bad)


def test_the_site_schedule_and_presence_come_from_the_settings():
    from services.common.settings import SettingsError
    from services.web.settings import WebSettings

    key = {"WEB_SECRET_KEY": "0123456789abcdef0123456789abcdef"}
    settings = WebSettings.from_env(
        {**key, "WORK_DAYS": "tue-sat", "WORK_START": "07:30", "PRESENCE_TIMEOUT": "300"}
    )
    assert settings.site_schedule.working_days == frozenset({1, 2, 3, 4, 5})
    assert settings.site_schedule.start == time(7, 30)
    assert settings.site_schedule.grace == timedelta(minutes=5)
    assert settings.site.presence_timeout == timedelta(minutes=5)
    for bad in ({"WORK_DAYS": "weekdays"}, {"WORK_DAYS": ","}, {"WORK_START": "25:00"}):
        with pytest.raises(SettingsError):
            WebSettings.from_env({**key, **bad})
