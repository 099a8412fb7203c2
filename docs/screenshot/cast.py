"""The invented people, their day at the entrance, and the live camera that shows them.

Staff and visitors are cartoons (:mod:`.drawing`) and their embeddings random unit vectors, so
nothing is recognised and no real face is stored. What they did is written by the product's
own code: employees enrolled through the repositories, sightings turned into attendance records
by the recorder's rules, live frames and face boxes handed to the dashboard's live feed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from services.common.bus.base import Communicator
from services.common.contracts import BoundingBox, SightingMessage, new_id
from services.common.images import encode_jpeg
from services.common.storage.employees import EMBEDDING_SIZE, Employee, NewFace
from services.common.workday import Correction, ManualTime
from services.recorder.service import Recorder
from services.recorder.settings import RecorderSettings
from services.web.context import WebContext
from services.web.live import LiveFeed

from .drawing import CAMERA_ID, RGB, Figure, Look, entrance_frame, face_crop, portrait

logger = logging.getLogger(__name__)

MODEL_ID = "synthetic-random-unit-vectors"
SEED = 20240611
# The moment the live camera "shows"; the seeded day ends just before it.
LIVE_TIME = time(17, 21, 4)
FEED_INTERVAL_S = 0.4


# -- the invented people -----------------------------------------------------------------------
@dataclass(frozen=True)
class StaffMember:
    """An employee: how they look, their enrolment photo's backdrop and when they came and went."""

    name: str
    look: Look
    backdrop: RGB
    arrival: time | None = None
    departure: time | None = None


STAFF = (
    StaffMember(
        "Amara Okafor",
        Look((141, 88, 62), (32, 26, 28), "curly", (232, 162, 44), iris=(60, 40, 30)),
        (222, 232, 242),
        time(8, 2, 14),
        time(16, 31, 40),
    ),
    StaffMember(
        "Lucas Brandt",
        Look(
            (240, 204, 176),
            (214, 172, 96),
            "short",
            (62, 112, 192),
            iris=(70, 130, 180),
            glasses=True,
        ),
        (236, 230, 220),
        time(8, 14, 51),
        LIVE_TIME,
    ),
    StaffMember(
        "Mei Tanaka",
        Look((238, 206, 172), (36, 30, 36), "bun", (198, 72, 92), open_smile=False),
        (226, 238, 228),
        time(8, 37, 9),
        time(17, 5, 22),
    ),
    StaffMember(
        "Sofia Marquez",
        Look((214, 160, 122), (102, 58, 36), "long", (40, 150, 132)),
        (240, 228, 232),
        time(8, 51, 33),
    ),
    StaffMember(
        "Jonas Lindqvist",
        Look(
            (246, 212, 188), (186, 92, 44), "side", (96, 98, 110), iris=(80, 140, 120), beard=True
        ),
        (228, 232, 240),
        time(9, 12, 5),
    ),
    StaffMember(
        "Priya Raman",
        Look((172, 112, 78), (26, 22, 26), "long", (128, 82, 170), glasses=True, open_smile=False),
        (236, 234, 222),
        time(13, 2, 47),
    ),
    StaffMember(
        "Tomas Novak",
        Look((230, 190, 160), (120, 116, 112), "buzz", (70, 130, 72), beard=True),
        (230, 236, 236),
    ),
)

# Visitors the recognizer did not know: (look, local time of the sighting).
STRANGERS = (
    (
        Look((200, 146, 110), (210, 60, 50), "cap", (210, 60, 50), trousers=(40, 44, 50)),
        time(10, 47, 12),
    ),
    (
        Look((246, 214, 190), (150, 120, 80), "short", (230, 230, 226), glasses=True),
        time(14, 5, 38),
    ),
    (Look((120, 78, 56), (24, 22, 24), "buzz", (226, 120, 60), open_smile=False), time(15, 58, 3)),
)
LIVE_VISITOR = STRANGERS[1][0]


# -- what the recognizer would publish ---------------------------------------------------------
def sighting_message(
    frame: np.ndarray,
    box: BoundingBox,
    moment: datetime,
    employee: Employee | None,
    similarity: float,
    snapshot_jpeg: bytes | None = None,
) -> SightingMessage:
    """The sighting of the face in ``box`` of the camera ``frame`` (RGB) at ``moment``.

    ``employee`` is who it was recognised as (None: a stranger); ``snapshot_jpeg`` is ``frame``
    already encoded, when the caller has it.
    """
    return SightingMessage(
        sighting_id=new_id(),
        face_id=new_id(),
        frame_id=new_id(),
        camera_id=CAMERA_ID,
        seen_at=moment.astimezone(UTC),
        box=box,
        track_id=new_id(),
        employee_id=employee.employee_id if employee else None,
        employee_name=employee.name if employee else None,
        similarity=similarity,
        runner_up_similarity=round(similarity - 0.31, 3),
        model_id=MODEL_ID,
        snapshot_jpeg=snapshot_jpeg if snapshot_jpeg is not None else encode_jpeg(frame),
        face_jpeg=encode_jpeg(face_crop(frame, box)),
    )


def close_up(look: Look, step: float = 0.0) -> Figure:
    """Someone right in front of the entrance camera, as on an attendance picture."""
    return Figure(look, 320 + step, 150, 72)


def close_up_sighting(
    look: Look, moment: datetime, employee: Employee | None, similarity: float, step: float = 0.0
) -> SightingMessage:
    """The sighting of someone alone in front of the camera at ``moment`` (a local time)."""
    figure = close_up(look, step)
    return sighting_message(
        entrance_frame([figure], moment), figure.face_box, moment, employee, similarity
    )


# -- seeding through the product's own code ----------------------------------------------------
def unit_vector(rng: np.random.Generator) -> np.ndarray:
    """A random embedding: the cartoons are never run through the real models."""
    vector = rng.normal(size=EMBEDDING_SIZE).astype(np.float32)
    return vector / np.linalg.norm(vector)


def enrol(context: WebContext, member: StaffMember, rng: np.random.Generator) -> Employee:
    """Register ``member`` with one enrolment photo, as the dashboard's register page would."""
    photo, box = portrait(member.look, member.backdrop)
    face = NewFace(encode_jpeg(photo), encode_jpeg(face_crop(photo, box)), unit_vector(rng))
    return context.employees.create(member.name, [face], MODEL_ID)


def member_sightings(
    member: StaffMember, employee: Employee, day: date, zone: ZoneInfo, rng: np.random.Generator
) -> Iterator[SightingMessage]:
    """A short burst when walking in (the recognizer reports several frames), one on leaving."""
    if member.arrival is None:
        return
    arrival = datetime.combine(day, member.arrival, tzinfo=zone)
    for step, offset in enumerate((0.0, 1.6, 3.1)):
        score = round(float(rng.uniform(0.78, 0.9)), 3)
        moment = arrival + timedelta(seconds=offset)
        yield close_up_sighting(member.look, moment, employee, score, step * 6.0)
    if member.departure is not None:
        departure = datetime.combine(day, member.departure, tzinfo=zone)
        score = round(float(rng.uniform(0.78, 0.9)), 3)
        yield close_up_sighting(member.look, departure, employee, score, -8.0)


def seed_day(
    context: WebContext, bus: Communicator, zone: ZoneInfo, day: date
) -> dict[str, Employee]:
    """Employees, their ``day`` at the entrance and a few unknown visitors, via the recorder.

    Returns the employees by name.
    """
    settings = RecorderSettings.from_env({}, site_timezone=str(zone))
    recorder = Recorder(bus, context.employees, context.attendance, context.sightings, settings)
    rng = np.random.default_rng(SEED)
    employees: dict[str, Employee] = {}
    for member in STAFF:
        employee = enrol(context, member, rng)
        employees[member.name] = employee
        for message in member_sightings(member, employee, day, zone, rng):
            recorder.record(message)
    for look, at in STRANGERS:
        moment = datetime.combine(day, at, tzinfo=zone)
        score = round(float(rng.uniform(0.3, 0.45)), 3)
        recorder.record(close_up_sighting(look, moment, None, score))
    logger.info(
        "seeded %d employees, %d records and %d unknown sightings for %s",
        len(employees),
        len(context.attendance.for_day(day)),
        context.sightings.count(known=False),
        day,
    )
    return employees


def seed_earlier_days(
    context: WebContext,
    bus: Communicator,
    zone: ZoneInfo,
    employees: dict[str, Employee],
    days: Sequence[date],
) -> None:
    """The staff's earlier working days (arrivals a little earlier or later than on the
    seeded day, about eight hours each), registrations moved a month back so that those days
    count, and two corrections an admin would have made."""
    settings = RecorderSettings.from_env({}, site_timezone=str(zone))
    recorder = Recorder(bus, context.employees, context.attendance, context.sightings, settings)
    rng = np.random.default_rng(SEED + 1)
    first = min(days)
    weekdays = [day for day in days if day.weekday() < 5]
    # Priya took her first weekday off: the cameras never saw her that day.
    leave = ("Priya Raman", weekdays[0]) if weekdays else None
    for employee in employees.values():
        # Read, change, replace: the test emulator stores a $set datetime as a string.
        document = context.db.employees.find_one({"_id": employee.employee_id})
        document["created_at"] = datetime.combine(first - timedelta(days=30), time(9), tzinfo=zone)
        context.db.employees.replace_one({"_id": employee.employee_id}, document)
    for member in STAFF:
        if member.arrival is None:
            continue
        employee = employees[member.name]
        for day in weekdays:
            if (member.name, day) == leave:
                continue
            shift = timedelta(minutes=int(rng.integers(-20, 26)))
            arrival = datetime.combine(day, member.arrival, tzinfo=zone) + shift
            stay = timedelta(hours=8, minutes=int(rng.integers(-40, 41)))
            for moment in (arrival, arrival + stay):
                score = round(float(rng.uniform(0.78, 0.9)), 3)
                recorder.record(close_up_sighting(member.look, moment, employee, score))
    if len(weekdays) >= 2:
        priya, mei = employees["Priya Raman"], employees["Mei Tanaka"]
        context.attendance.set_correction(
            priya.employee_id,
            weekdays[0],
            Correction(mark="leave", reason="Annual leave", made_by="admin"),
        )
        arrival = datetime.combine(weekdays[1], time(8, 30), tzinfo=zone)
        context.attendance.set_correction(
            mei.employee_id,
            weekdays[1],
            Correction(
                arrival=ManualTime(arrival.astimezone(UTC)),
                reason="Badge reader down at the side door",
                made_by="admin",
            ),
        )
    logger.info("seeded %d earlier days", len(days))


# -- the live camera ---------------------------------------------------------------------------
class LiveCamera:
    """Feeds one still entrance scene and its face boxes to the live view, as a camera would.

    Boxes are shown only for sightings of the last couple of seconds, so they are re-sent with
    every frame.
    """

    def __init__(
        self, feed: LiveFeed, scene: Sequence[tuple[Figure, Employee | None]], moment: datetime
    ) -> None:
        self._feed = feed
        self._moment = moment
        self._scene = scene
        self._frame = entrance_frame([figure for figure, _ in scene], moment)
        self._jpeg = encode_jpeg(self._frame)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-camera", daemon=True)

    def _messages(self) -> Iterator[SightingMessage]:
        for figure, employee in self._scene:
            similarity = 0.86 if employee else 0.38
            yield sighting_message(
                self._frame, figure.face_box, self._moment, employee, similarity, self._jpeg
            )

    def tick(self) -> None:
        """Send the frame and a fresh sighting for everyone in it."""
        self._feed.add_frame(CAMERA_ID, self._jpeg)
        for message in self._messages():
            self._feed.add_sighting(message)

    def _run(self) -> None:
        while not self._stopping.wait(FEED_INTERVAL_S):
            self.tick()

    def start(self) -> None:
        self.tick()
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)


def live_scene(employees: dict[str, Employee]) -> list[tuple[Figure, Employee | None]]:
    """Lucas Brandt leaving (recognised, close) and an unknown visitor at the door (far)."""
    lucas = next(member for member in STAFF if member.departure == LIVE_TIME)
    return [
        (Figure(lucas.look, 228, 128, 38), employees[lucas.name]),
        (Figure(LIVE_VISITOR, 356, 178, 11), None),
    ]
