"""Unknown faces grouped into the visitors they most likely are, assigned or dismissed a group at
a time.

A camera that sees a stranger standing at the door reports them every few seconds; the page
showed each report as a card. Here the reports of one track (one face followed across frames)
are one group, and tracks (or track-less reports) on the same camera that follow one another
within ``UNKNOWN_GROUP_GAP`` seconds without overlapping are the same visitor. Groups never span
two days: a group is one person's visit, and "that day's sightings" is what assigning can turn
into attendance.

Sightings carry no embedding, so faces are not compared with one another; that would need the
recognizer to publish each sighting's embedding.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial

from services.common.domain.attendance import Observation
from services.common.storage.employees import Employee
from services.common.storage.sightings import LoggedSighting
from services.common.workday import day_bounds, day_of
from services.web import actions
from services.web.audit import audit
from services.web.context import WebContext
from services.web.errors import ApiError

logger = logging.getLogger(__name__)

PAGE_SIZE = 24
# The navigation badge's count and the marker of the unknown faces it counted.
BADGE_KEY = "web:unknown-badge"
# Refusals of a face by the enrolment checks (the quality gate), as opposed to failures.


@dataclass(frozen=True)
class FaceGroup:
    sightings: tuple[LoggedSighting, ...]  # oldest first

    @property
    def group_id(self) -> str:
        return self.sightings[0].sighting_id

    @property
    def count(self) -> int:
        return len(self.sightings)

    @property
    def first_seen(self) -> datetime:
        return self.sightings[0].seen_at

    @property
    def last_seen(self) -> datetime:
        return self.sightings[-1].seen_at

    @property
    def best(self) -> LoggedSighting:
        """The largest face (the most pixels of it); the latest among equals."""
        return max(self.sightings, key=lambda s: (s.box_area, s.seen_at))

    @property
    def camera_ids(self) -> list[str]:
        return sorted({s.camera_id for s in self.sightings})


@dataclass
class _Chain:
    camera_id: str
    sightings: list[LoggedSighting]

    @property
    def end(self) -> datetime:
        return self.sightings[-1].seen_at


def group_sightings(
    sightings: Iterable[LoggedSighting], gap: timedelta, day_of_moment: Callable
) -> list[FaceGroup]:
    """Groups of unknown sightings, newest visit first (pure; see the module's docstring)."""
    # Step 1: one run per track (a track-less sighting is a run of its own), per camera and day.
    runs: dict[tuple, list[LoggedSighting]] = {}
    for s in sorted(sightings, key=lambda s: (s.seen_at, s.sighting_id)):
        track = s.track_id if s.track_id is not None else f"untracked:{s.sighting_id}"
        runs.setdefault((day_of_moment(s.seen_at), s.camera_id, track), []).append(s)
    # Step 2: chain runs that follow each other closely on one camera, never two at once.
    chains: list[_Chain] = []
    open_chains: dict[tuple, list[_Chain]] = {}
    for (day, camera_id, _), run in sorted(runs.items(), key=lambda item: item[1][0].seen_at):
        start = run[0].seen_at
        candidates = [
            chain
            for chain in open_chains.get((day, camera_id), [])
            if chain.end < start and start - chain.end <= gap
        ]
        if candidates:
            chain = max(candidates, key=lambda c: c.end)
            chain.sightings.extend(run)
        else:
            chain = _Chain(camera_id, list(run))
            chains.append(chain)
            open_chains.setdefault((day, camera_id), []).append(chain)
    groups = [FaceGroup(tuple(sorted(c.sightings, key=lambda s: s.seen_at))) for c in chains]
    return sorted(groups, key=lambda g: g.last_seen, reverse=True)


def _gap(ctx: WebContext) -> timedelta:
    return timedelta(seconds=ctx.settings.unknown_group_gap)


def _day_of(ctx: WebContext) -> Callable[[datetime], date]:
    site = ctx.settings.site
    return lambda moment: day_of(moment, site)


def groups(ctx: WebContext, day: date | None = None) -> list[FaceGroup]:
    """Every group of unknown faces (of one day, if given), newest first."""
    first = last = None
    if day is not None:
        first, last = day_bounds(day, ctx.settings.site)
    found = ctx.sightings.unknown_between(first, last)
    return group_sightings(found, _gap(ctx), _day_of(ctx))


def badge_count(ctx: WebContext) -> int:
    """How many groups the navigation's badge shows. Grouping reads every unknown sighting
    kept, too much for every page view: the count is kept in the cache with the marker of
    the unknown faces it was made from, and made again only when that marker moved."""
    marker = ctx.sightings.unknown_marker()
    cached = ctx.cache.get(BADGE_KEY)
    if cached is not None:
        cached_marker, _, count = cached.decode().rpartition("|")
        if cached_marker == marker:
            return int(count)
    total = len(groups(ctx))
    ctx.cache.set(BADGE_KEY, f"{marker}|{total}".encode())
    return total


def find_group(ctx: WebContext, group_id: str) -> FaceGroup:
    first = ctx.sightings.get(group_id)
    if first is None or first.employee_id is not None:
        raise ApiError(404, "not_found", f"no group of unknown faces {group_id}")
    for group in groups(ctx, day_of(first.seen_at, ctx.settings.site)):
        if group.group_id == group_id:
            return group
    # The sighting is now in a group that starts earlier (one was added before it).
    raise ApiError(409, "group_changed", "this group has changed; reload the page and try again")


@dataclass(frozen=True)
class GroupAssignment:
    employee: Employee
    face_added: bool
    face_problem: str | None
    sightings: int
    attendance_days: list[date]


def _best_photos(ctx: WebContext, group: FaceGroup) -> list[bytes]:
    """The best face's crop, then its whole snapshot (for a crop too tight to detect in)."""
    best = group.best
    pictures = [ctx.pictures.get(best.face_id), ctx.pictures.get(best.snapshot_id)]
    return [p for p in pictures if p]


def _enrol_best(
    ctx: WebContext, group: FaceGroup, enrol: Callable[[bytes], Employee]
) -> tuple[Employee | None, ApiError | None]:
    """Try the crop, then the snapshot; answer (employee or None, the quality refusal)."""
    problem: ApiError | None = None
    for photo in _best_photos(ctx, group):
        try:
            return actions.call_enroller(partial(enrol, photo)), None
        except ApiError as exc:
            if exc.code not in actions.FACE_REFUSALS:
                raise
            problem = exc
    return None, problem


def assign_group(
    ctx: WebContext,
    group_id: str,
    *,
    employee_id: str | None,
    new_name: str | None,
    make_attendance: bool,
    allow_duplicate_face: bool = False,
) -> GroupAssignment:
    """Give a group to an employee: their best face joins the employee's photos if it passes
    the enrolment checks, and the group's sightings become that day's attendance (if asked)
    or are removed."""
    if (employee_id is None) == (new_name is None):
        raise ApiError(400, "target_required", "choose an employee or give a new name")
    group = find_group(ctx, group_id)
    if ctx.enrol is None:
        raise ApiError(503, "enrolment_unavailable", "enrolment is not available right now")
    enroller = ctx.enrol
    if employee_id is not None:
        employee = actions.require_employee(ctx, employee_id)
        added, problem = _enrol_best(
            ctx,
            group,
            lambda p: enroller.add_photos(
                employee.employee_id, [p], allow_duplicate_face=allow_duplicate_face
            ),
        )
        employee = added or employee
    else:
        assert new_name is not None
        actions.check_name(ctx, new_name)
        added, problem = _enrol_best(
            ctx,
            group,
            lambda p: enroller.enroll(new_name, [p], allow_duplicate_face=allow_duplicate_face),
        )
        if added is None:
            # A new employee needs a face to be recognised by: nothing was changed.
            assert problem is not None
            raise problem
        employee = added
    ids = [s.sighting_id for s in group.sightings]
    days: list[date] = []
    if make_attendance:
        days = _record_attendance(ctx, group, employee)
    else:
        for sighting_id in ids:
            ctx.sightings.remove(sighting_id)
    audit(
        "unknown_group.assign",
        employee.employee_id,
        name=employee.name,
        group_id=group_id,
        sightings=len(ids),
        new_employee=employee_id is None,
        face_added=added is not None,
        attendance_days=[d.isoformat() for d in days],
        allow_duplicate_face=allow_duplicate_face,
    )
    logger.info("unknown group %s (%d) assigned to %s", group_id, len(ids), employee.employee_id)
    return GroupAssignment(
        employee, added is not None, problem.message if problem else None, len(ids), days
    )


def _record_attendance(ctx: WebContext, group: FaceGroup, employee: Employee) -> list[date]:
    """The group's sightings become the employee's, folded into attendance by the recorder's
    rules (a later correction still wins over them)."""
    ctx.sightings.assign(
        [s.sighting_id for s in group.sightings], employee.employee_id, employee.name
    )
    site = ctx.settings.site
    gap = ctx.settings.departure_gap
    days: set[date] = set()
    for s in group.sightings:
        day = day_of(s.seen_at, site)
        observation = Observation(s.seen_at, s.sighting_id, s.camera_id, s.snapshot_id)
        ctx.attendance.record_sighting(employee.employee_id, employee.name, observation, day, gap)
        days.add(day)
    return sorted(days)


def dismiss_group(ctx: WebContext, group_id: str) -> int:
    group = find_group(ctx, group_id)
    for s in group.sightings:
        ctx.sightings.remove(s.sighting_id)
    audit(
        "unknown_group.dismiss",
        group_id,
        sightings=group.count,
        camera_ids=group.camera_ids,
        first_seen=group.first_seen.isoformat(),
    )
    return group.count
