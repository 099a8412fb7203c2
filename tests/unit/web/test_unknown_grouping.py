"""Unknown sightings grouped into visitors (services.web.unknown_groups.group_sightings)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.common.storage.sightings import LoggedSighting
from services.web.unknown_groups import group_sightings

pytestmark = pytest.mark.unit

START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
GAP = timedelta(seconds=60)


def seen(n: int, seconds: float, track: str | None, camera: str = "door", area: int = 900):
    return LoggedSighting(
        sighting_id=f"s{n}",
        camera_id=camera,
        seen_at=START + timedelta(seconds=seconds),
        employee_id=None,
        employee_name=None,
        similarity=0.2,
        snapshot_id=f"sighting-s{n}",
        face_id=f"sighting-s{n}-face",
        track_id=track,
        box_area=area,
    )


def by_day(moment: datetime) -> date:
    return moment.date()


def ids(groups) -> list[list[str]]:
    return [[s.sighting_id for s in g.sightings] for g in groups]


def test_sixty_reports_of_one_track_are_one_group():
    reports = [seen(n, n * 2, "t1") for n in range(60)]
    (group,) = group_sightings(reports, GAP, by_day)
    assert group.count == 60 and group.group_id == "s0"
    assert group.first_seen == START and group.last_seen == START + timedelta(seconds=118)


def test_a_broken_track_continues_its_visitor_but_two_at_once_are_two():
    reports = [seen(1, 0, "a"), seen(2, 10, "a"), seen(3, 30, "b"), seen(4, 40, "b")]
    assert ids(group_sightings(reports, GAP, by_day)) == [["s1", "s2", "s3", "s4"]]
    together = [seen(1, 0, "a"), seen(2, 5, "b"), seen(3, 10, "a"), seen(4, 15, "b")]
    assert sorted(ids(group_sightings(together, GAP, by_day))) == [["s1", "s3"], ["s2", "s4"]]


def test_far_apart_other_cameras_and_other_days_are_other_groups():
    reports = [
        seen(1, 0, None),
        seen(2, 30, None),  # track-less, close: same visitor
        seen(3, 200, None),  # later than the gap: another
        seen(4, 10, None, camera="lobby"),
        seen(5, 86400, "a"),
        seen(6, 86410, "a"),
    ]
    groups = group_sightings(reports, GAP, by_day)
    assert ids(groups) == [["s5", "s6"], ["s3"], ["s1", "s2"], ["s4"]]  # newest first


def test_the_best_face_is_the_largest_and_the_latest_among_equals():
    reports = [seen(1, 0, "a", area=400), seen(2, 2, "a", area=2500), seen(3, 4, "a", area=2500)]
    (group,) = group_sightings(reports, GAP, by_day)
    assert group.best.sighting_id == "s3"
