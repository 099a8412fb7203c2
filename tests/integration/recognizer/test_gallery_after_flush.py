"""A recognizer follows the gallery across a flush of Redis (the cache losing every key).

FaceNet is replaced by a stand-in that maps each crop to a fixed vector (the crop's fill value
picks the vector): the test is about which gallery the recognizer matches against.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
from services.common.contracts import FaceMessage
from services.common.gallery import Gallery
from services.common.storage.employees import EmployeeRepository, NewFace
from services.recognizer.service import Recognizer
from tests.fixtures.bus import face
from tests.helpers.messages import TINY_JPEG, unit_vector
from tests.helpers.redis_keys import delete_prefixed_keys

pytestmark = pytest.mark.integration

MODEL = "stand-in"
ANA, BO = 1, 2
CROP = 4


class VectorPerFill:
    model_id = MODEL

    def embed(self, crops: Sequence[np.ndarray], *, mirror: bool | None = None) -> np.ndarray:
        return np.stack([unit_vector(int(crop[0, 0, 0])) for crop in crops])


def face_of(who: int, face_id: str) -> FaceMessage:
    return face(face_id).model_copy(
        update={"crop_size": CROP, "crop_rgb": bytes([who]) * CROP * CROP * 3}
    )


def test_a_person_enrolled_after_the_cache_was_flushed_is_recognised(
    mongo_db, redis_cache, redis_url, cache_prefix
):
    employees = EmployeeRepository(mongo_db)
    # The enrolling process and the recognizer each hold a gallery of their own.
    enrolment_gallery = Gallery(redis_cache, employees, MODEL)
    recognizer = Recognizer(
        InMemoryCommunicator(InMemoryBroker()),
        VectorPerFill(),
        Gallery(redis_cache, employees, MODEL),
        redis_cache,
        threshold=0.6,
        margin=0.05,
        sighting_cooldown=0,
        agreement_frames=1,
    )
    ana = employees.create("Ana", [NewFace(TINY_JPEG, TINY_JPEG, unit_vector(ANA))], MODEL)
    enrolment_gallery.changed()
    assert [s.employee_id for s in recognizer.recognise([face_of(ANA, "f1")])] == [ana.employee_id]

    delete_prefixed_keys(redis_url, cache_prefix)
    bo = employees.create("Bo", [NewFace(TINY_JPEG, TINY_JPEG, unit_vector(BO))], MODEL)
    enrolment_gallery.changed()

    sightings = recognizer.recognise([face_of(BO, "f2"), face_of(ANA, "f3")])
    assert [(s.employee_id, s.employee_name) for s in sightings] == [
        (bo.employee_id, "Bo"),
        (ana.employee_id, "Ana"),
    ]
