"""Fixtures for the web app: a real MongoDB-wire server, an in-memory cache and bus."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from PIL import Image

from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
from services.common.cache import InMemoryCache
from services.common.domain.attendance import Observation, attendance_day
from services.common.domain.enrolment import EnrolmentError, FaceBox, FacePreview
from services.common.gallery import Gallery
from services.common.images import ImageError, decode_image
from services.common.storage.attendance import AttendanceRepository
from services.common.storage.employees import (
    Employee,
    EmployeeRepository,
    NewFace,
    normalize_name,
)
from services.common.storage.sightings import SightingLog
from services.web import clock as web_clock
from services.web.app import create_app
from services.web.settings import WebSettings
from tests.helpers.messages import TINY_JPEG, sighting, unit_vector

ADMIN_PASSWORD = "admin-pass-for-tests"
VIEWER_PASSWORD = "viewer-pass-for-tests"
MODEL_ID = "fake-model"
MAX_UPLOAD = 2 * 1024 * 1024


def photo(color: tuple[int, int, int] = (200, 40, 40), size: int = 64, fmt: str = "JPEG") -> bytes:
    """A solid-colour image. The fake enroller reads the colour as the number of faces."""
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, fmt)
    return buffer.getvalue()


ONE_FACE = photo((200, 40, 40))
NO_FACE = photo((0, 0, 0))
TWO_FACES = photo((40, 40, 200))


class FakeEnroller:
    """The Enroller interface without models: red photos have one face, black none, blue two,
    and green ones the face of the first employee enrolled (refused as face_already_enrolled,
    naming that employee, unless allow_duplicate_face).

    It stores through the real EmployeeRepository and Gallery, exactly as the real one does.
    """

    FIRST_EMPLOYEES_FACE = photo((40, 200, 40))

    def __init__(self, employees: EmployeeRepository, gallery: Gallery) -> None:
        self.employees = employees
        self.gallery = gallery
        self.calls = 0

    def _faces(self, photos: Sequence[bytes]) -> list[NewFace]:
        if not photos:
            raise EnrolmentError("photo_required", "at least one photo is required")
        faces = []
        for number, data in enumerate(photos, 1):
            try:
                rgb = decode_image(data)
            except ImageError as exc:
                raise EnrolmentError("not_an_image", f"photo {number}: {exc}") from exc
            red, _, blue = (int(v) for v in rgb.reshape(-1, 3).mean(axis=0))
            if red < 20 and blue < 20:
                raise EnrolmentError("no_face", f"photo {number}: no face found")
            if blue > red:
                raise EnrolmentError("several_faces", f"photo {number}: 2 faces found")
            faces.append(NewFace(data, TINY_JPEG, unit_vector(len(data) + number + self.calls)))
        return faces

    def _refuse_faces_of_others(self, photos: Sequence[bytes], owner: str | None) -> None:
        enrolled = self.employees.list_all()
        if not enrolled:
            return
        first = min(enrolled, key=lambda employee: employee.created_at)
        for number, data in enumerate(photos, 1):
            red, green, blue = (int(v) for v in decode_image(data).reshape(-1, 3).mean(axis=0))
            if green > red and green > blue and first.employee_id != owner:
                raise EnrolmentError(
                    "face_already_enrolled",
                    f"photo {number}: this face is already enrolled as {first.name} "
                    f"(id {first.employee_id}; similarity 0.93, match threshold 0.60)",
                    conflicting_employee_id=first.employee_id,
                )

    def enroll(
        self, name: str, photos: Sequence[bytes], *, allow_duplicate_face: bool = False
    ) -> Employee:
        self.calls += 1
        name = normalize_name(name)
        if self.employees.find_by_name(name) is not None:
            raise EnrolmentError(
                "duplicate_name", f"an employee named {name!r} is already registered"
            )
        faces = self._faces(photos)
        if not allow_duplicate_face:
            self._refuse_faces_of_others(photos, owner=None)
        employee = self.employees.create(name, faces, MODEL_ID)
        self.gallery.changed()
        return employee

    def add_photos(
        self, employee_id: str, photos: Sequence[bytes], *, allow_duplicate_face: bool = False
    ) -> Employee:
        self.calls += 1
        if self.employees.get(employee_id) is None:
            raise EnrolmentError("not_found", f"no employee with id {employee_id}")
        faces = self._faces(photos)
        if not allow_duplicate_face:
            self._refuse_faces_of_others(photos, owner=employee_id)
        employee = self.employees.add_faces(employee_id, faces, MODEL_ID)
        self.gallery.changed()
        return employee


class PreviewingEnroller(FakeEnroller):
    """The fake enroller, also answering the register page's face preview."""

    def preview(self, photo: bytes) -> FacePreview:
        face = self._faces([photo])[0]
        return FacePreview(face.face_jpeg, FaceBox(x=0, y=0, width=8, height=8))


@pytest.fixture
def settings() -> WebSettings:
    return WebSettings.from_env(
        {},
        web_secret_key="a-test-secret-key-that-is-long-enough",
        web_admin_password=ADMIN_PASSWORD,
        web_viewer_password=VIEWER_PASSWORD,
        web_max_upload_bytes=MAX_UPLOAD,
        site_timezone="Europe/Paris",
        gallery_model_id=MODEL_ID,
    )


@pytest.fixture
def cache() -> InMemoryCache:
    return InMemoryCache()


@pytest.fixture
def broker() -> InMemoryBroker:
    return InMemoryBroker()


@pytest.fixture
def bus(broker) -> InMemoryCommunicator:
    return InMemoryCommunicator(broker)


@pytest.fixture
def employees(mongo_db) -> EmployeeRepository:
    return EmployeeRepository(mongo_db)


@pytest.fixture
def gallery(cache, employees) -> Gallery:
    return Gallery(cache, employees, MODEL_ID)


@pytest.fixture
def enroller(employees, gallery) -> FakeEnroller:
    return FakeEnroller(employees, gallery)


@pytest.fixture
def app(settings, mongo_db, cache, bus, enroller):
    app = create_app(settings, db=mongo_db, cache=cache, bus=bus, enroller=enroller)
    app.config.update(TESTING=True)
    yield app
    app.extensions["attendance"].live.stop()


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


class LoggedIn:
    """A test client logged in through the real login form, with its CSRF token at hand."""

    def __init__(self, client, username: str, password: str) -> None:
        self.client = client
        page = client.get("/login")
        response = client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": csrf_from(page.text)},
        )
        assert response.status_code == 302, response.text
        self.csrf = csrf_from(client.get("/").text)

    def get(self, *args, **kwargs):
        return self.client.get(*args, **kwargs)

    def _write(self, method: str, url: str, **kwargs):
        headers = dict(kwargs.pop("headers", {}) or {})
        headers.setdefault("X-CSRF-Token", self.csrf)
        return getattr(self.client, method)(url, headers=headers, **kwargs)

    def post(self, url: str, **kwargs):
        return self._write("post", url, **kwargs)

    def delete(self, url: str, **kwargs):
        return self._write("delete", url, **kwargs)


@pytest.fixture
def admin(app) -> LoggedIn:
    return LoggedIn(app.test_client(), "admin", ADMIN_PASSWORD)


@pytest.fixture
def viewer(app) -> LoggedIn:
    return LoggedIn(app.test_client(), "viewer", VIEWER_PASSWORD)


def upload(data: bytes, name: str = "photo.jpg"):
    return (io.BytesIO(data), name)


@pytest.fixture
def registered(admin):
    """Register an employee through the API and return its JSON."""

    def register(name: str, data: bytes = ONE_FACE) -> dict:
        response = admin.post(
            "/api/v1/employees",
            data={"name": name, "photo": upload(data)},
            content_type="multipart/form-data",
        )
        assert response.status_code == 201, response.text
        return response.get_json()

    return register


def counts(db) -> dict[str, int]:
    return {name: db[name].count_documents({}) for name in ("employees", "embeddings", "pictures")}


@pytest.fixture
def unknown(app):
    """Log an unknown face (a sighting of nobody) and return its sighting id."""
    c = app.extensions["attendance"]
    log = SightingLog(c.db, c.pictures)

    def add(face: bytes = ONE_FACE) -> str:
        message = sighting(None).model_copy(update={"face_jpeg": face, "snapshot_jpeg": face})
        log.add(message)
        return message.sighting_id

    return add


class PinnedClock:
    """The web's clock (services.web.clock) stopped at a moment the test chooses."""

    def __init__(self, monkeypatch) -> None:
        self._monkeypatch = monkeypatch
        self.moment: datetime | None = None

    def set(self, moment: datetime) -> None:
        self.moment = moment
        self._monkeypatch.setattr(web_clock, "now", lambda: moment)


@pytest.fixture
def clock(monkeypatch) -> PinnedClock:
    return PinnedClock(monkeypatch)


def registered_since(db, employee_id: str, moment: datetime) -> None:
    """Back-date a registration (read, change, replace: the emulator stores a $set datetime as
    a string)."""
    document = db.employees.find_one({"_id": employee_id})
    document["created_at"] = moment
    db.employees.replace_one({"_id": employee_id}, document)


PARIS = ZoneInfo("Europe/Paris")
MONDAY = datetime(2026, 11, 23, tzinfo=PARIS).date()


def paris(day_offset: int, hour: int, minute: int = 0) -> datetime:
    """A moment of the week of Monday 2026-11-23, in Paris, as UTC."""
    day = MONDAY + timedelta(days=day_offset)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS).astimezone(UTC)


def see(app, employee_id: str, name: str, moment: datetime, *, flagged: bool = False) -> None:
    """A sighting stored and folded into attendance as the recorder does it (``flagged``: by
    a track the liveness check judged an attack, with LIVENESS=flag)."""
    c = app.extensions["attendance"]
    message = sighting(employee_id, employee_name=name).model_copy(update={"seen_at": moment})
    SightingLog(c.db, c.pictures).add(message)
    AttendanceRepository(c.db).record_sighting(
        employee_id,
        name,
        Observation(moment, message.sighting_id, "door", f"sighting-{message.sighting_id}"),
        attendance_day(moment, PARIS),
        timedelta(seconds=60),
        flagged=flagged,
    )


@pytest.fixture
def staff(registered, mongo_db):
    """Ana and Bo, registered a month before the week."""

    def make(*names: str) -> dict[str, str]:
        ids = {}
        for name in names:
            employee_id = registered(name)["employee_id"]
            registered_since(mongo_db, employee_id, paris(-30, 12))
            ids[name] = employee_id
        return ids

    return make


_ = np  # numpy is used by helpers importing this module
