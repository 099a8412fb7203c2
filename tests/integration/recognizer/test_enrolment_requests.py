"""Enrolment requests over the bus, as the web sends them: a request the web gave up on changes
nothing later, and a face already enrolled under another name is refused, naming its owner.

The detector and FaceNet are replaced by stand-ins (a photo's red value picks the person's
vector), so these tests are about the requests, not the models; the stores are real.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta

import numpy as np
import pytest
from PIL import Image

from services.common.bus.base import Communicator, RequestTimeout
from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
from services.common.bus.rabbitmq import RabbitMQCommunicator
from services.common.bus.topology import ENROLMENTS
from services.common.cache import InMemoryCache
from services.common.contracts import EnrolmentRequest, utc_now
from services.common.domain.enrolment import EnrolmentError
from services.common.gallery import Gallery
from services.common.storage.employees import EmployeeRepository
from services.faces.finder import FoundFace
from services.recognizer.enrolment import Enroller
from services.recognizer.service import Recognizer
from services.web.enrolment_client import BusEnrolmentClient
from tests.fixtures.bus import running
from tests.helpers.messages import unit_vector

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

MODEL = "stand-in"
ANA, BO = 11, 22


class FillFinder:
    """One face per photo, whose crop is filled with the photo's red value."""

    def find(self, rgb: np.ndarray, *, thorough: bool = False, max_faces: int | None = None):
        height, width = rgb.shape[:2]
        crop = np.full((160, 160, 3), rgb[0, 0, 0], dtype=np.uint8)
        return [FoundFace((0, 0, width, height), 0.99, (), crop)]


class VectorPerFill:
    model_id = MODEL

    def embed(self, crops: Sequence[np.ndarray], *, mirror: bool | None = None) -> np.ndarray:
        return np.stack([unit_vector(int(crop[0, 0, 0])) for crop in crops])


def photo_of(person: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 48), (person, 90, 90)).save(buffer, "PNG")
    return buffer.getvalue()


class Stack:
    """A recognizer serving enrolments on ``server``, and the web's client on ``client``."""

    def __init__(
        self, transport: str, db, server: Communicator, client: Communicator, timeout: float
    ) -> None:
        self.transport = transport
        self.employees = EmployeeRepository(db)
        gallery = Gallery(InMemoryCache(), self.employees, MODEL)
        self.enroller = Enroller(FillFinder(), VectorPerFill(), self.employees, gallery)
        self.server = server
        self.recognizer = Recognizer(
            server,
            VectorPerFill(),
            gallery,
            InMemoryCache(),
            threshold=0.6,
            margin=0.05,
            enroller=self.enroller,
        )
        self._client_bus = client
        self.client = self.client_waiting(timeout)

    def client_waiting(self, timeout: float) -> BusEnrolmentClient:
        return BusEnrolmentClient(self._client_bus, self.employees, timeout)

    def stored(self, db) -> dict[str, int]:
        return {name: db[name].count_documents({}) for name in ("employees", "embeddings")}


MakeStack = Callable[[float], Stack]


@pytest.fixture(params=["memory", "rabbitmq"])
def make_stack(request, mongo_db) -> Iterator[MakeStack]:
    buses: list[Communicator] = []

    def bus() -> Communicator:
        if request.param == "memory":
            if not buses:
                buses.append(InMemoryCommunicator(InMemoryBroker()))
                return buses[0]
            made = InMemoryCommunicator(buses[0].broker)
        else:
            url = request.getfixturevalue("rabbitmq_url")
            prefix = request.getfixturevalue("bus_prefix")
            made = RabbitMQCommunicator(url, prefix, connect_attempts=5, backoff_initial=0.05)
        buses.append(made)
        return made

    yield lambda timeout: Stack(request.param, mongo_db, bus(), bus(), timeout)
    for made in buses:
        made.close()


def test_an_enrolment_sent_while_the_recognizer_is_down_never_happens_once_it_timed_out(
    make_stack, mongo_db, caplog
):
    stack = make_stack(0.5)
    with pytest.raises(RequestTimeout):
        stack.client.enroll("Ana", [photo_of(ANA)])

    caplog.set_level(logging.INFO)
    stack.recognizer.start()
    with running(stack.server):
        time.sleep(1.5)  # ample time to be served, were it still wanted
        assert stack.stored(mongo_db) == {"employees": 0, "embeddings": 0}
        assert stack.server.queue_depth(ENROLMENTS) == 0
        # The recognizer is up now: the same enrolment, sent again, is served.
        ana = stack.client_waiting(10).enroll("Ana", [photo_of(ANA)])
    assert stack.employees.get(ana.employee_id).name == "Ana"
    assert stack.stored(mongo_db) == {"employees": 1, "embeddings": 1}
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    if stack.transport == "rabbitmq":
        assert skipped == []  # the broker dropped it unconsumed: its time to live had passed
    else:
        [line] = skipped  # the in-memory queue kept it; the recognizer saw it had expired
        assert "stopped waiting" in line


def test_a_request_that_expires_while_its_photos_are_processed_stores_nothing(mongo_db, caplog):
    sent = utc_now()
    clock = iter([sent + timedelta(seconds=1), sent + timedelta(seconds=3)])
    employees = EmployeeRepository(mongo_db)
    enroller = Enroller(
        FillFinder(),
        VectorPerFill(),
        employees,
        Gallery(InMemoryCache(), employees, MODEL),
        clock=lambda: next(clock),
    )
    request = EnrolmentRequest(
        request_id="late",
        name="Ana",
        photos=[photo_of(ANA)],
        expires_at=sent + timedelta(seconds=2),
    )

    with caplog.at_level(logging.INFO):
        assert enroller.handle(request) is None

    assert mongo_db.employees.count_documents({}) == 0
    assert mongo_db.embeddings.count_documents({}) == 0
    [line] = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert "late" in line and "stopped waiting" in line


def test_a_request_that_expired_in_the_queue_is_neither_served_nor_answered(mongo_db):
    employees = EmployeeRepository(mongo_db)
    enroller = Enroller(
        FillFinder(), VectorPerFill(), employees, Gallery(InMemoryCache(), employees, MODEL)
    )
    request = EnrolmentRequest(
        request_id="stale",
        name="Ana",
        photos=[photo_of(ANA)],
        expires_at=utc_now() - timedelta(seconds=1),
    )
    assert enroller.handle(request) is None
    assert mongo_db.employees.count_documents({}) == 0


def test_a_face_enrolled_under_another_name_is_refused_over_the_bus_unless_allowed(
    make_stack, mongo_db
):
    stack = make_stack(10)
    stack.recognizer.start()
    with running(stack.server):
        ana = stack.client.enroll("Ana", [photo_of(ANA)])
        with pytest.raises(EnrolmentError) as error:
            stack.client.enroll("Anna", [photo_of(ANA)])
        assert error.value.code == "face_already_enrolled"
        assert error.value.conflicting_employee_id == ana.employee_id
        assert f"Ana (id {ana.employee_id}" in str(error.value)
        assert stack.stored(mongo_db) == {"employees": 1, "embeddings": 1}

        bo = stack.client.enroll("Bo", [photo_of(BO)])
        with pytest.raises(EnrolmentError, match="already enrolled as Ana"):
            stack.client.add_photos(bo.employee_id, [photo_of(ANA)])
        assert stack.stored(mongo_db) == {"employees": 2, "embeddings": 2}

        stack.client.add_photos(ana.employee_id, [photo_of(ANA)])
        twin = stack.client.enroll("Anna", [photo_of(ANA)], allow_duplicate_face=True)
    assert stack.employees.get(twin.employee_id).name == "Anna"
    assert stack.stored(mongo_db) == {"employees": 3, "embeddings": 4}
