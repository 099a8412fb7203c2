"""Enrolment refuses a face the recognizer would not judge (too small, blurred, turned), with
its own code and reason, storing nothing; and a face counts as already enrolled from the
recognizer's own threshold for the gallery's size.

The detector and FaceNet are stand-ins: a photo's red value says what kind of face it shows,
and the face's vector; the stores are real.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import pytest
from PIL import Image

from services.common.cache import InMemoryCache
from services.common.contracts import EnrolmentRequest
from services.common.domain.enrolment import EnrolmentError
from services.common.domain.open_set import ImpostorTail, OpenSetPolicy
from services.common.gallery import Gallery
from services.common.storage.employees import EmployeeRepository
from services.faces.finder import FoundFace
from services.faces.quality import QualityGate
from services.recognizer.enrolment import Enroller
from tests.unit.faces.test_face_quality import FRONTAL, textured_crop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

MODEL = "stand-in"
TAIL = ImpostorTail.from_rows(MODEL, [(0.3, -1.0), (0.9, -7.0)])
GOOD, SMALL, BLURRED, TURNED, LOOKALIKE, OTHER = 10, 20, 30, 40, 50, 60
TURNED_KEYPOINTS = (FRONTAL[0], FRONTAL[1], (160.0, 125.0), *FRONTAL[3:])


def axis(index: int) -> np.ndarray:
    vector = np.zeros(512, dtype=np.float32)
    vector[index] = 1.0
    return vector


# A look-alike of GOOD's face scores 0.6 with it; OTHER is nobody alike.
VECTORS = {
    GOOD: axis(0),
    LOOKALIKE: 0.6 * axis(0) + 0.8 * axis(1),
    OTHER: axis(2),
}


class KindFinder:
    """One face per photo, of the kind the photo's red value names."""

    def find(self, rgb: np.ndarray, *, thorough: bool = False, max_faces: int | None = None):
        kind = int(rgb[0, 0, 0])
        crop = textured_crop()
        crop[0, 0] = kind  # the stand-in embedder reads the kind back from the crop
        if kind == BLURRED:
            crop = np.full_like(crop, kind)
        side = 20 if kind == SMALL else 120
        keypoints = TURNED_KEYPOINTS if kind == TURNED else FRONTAL
        return [FoundFace((10, 10, side, side), 0.95, keypoints, crop)]


class VectorPerKind:
    model_id = MODEL

    def embed(self, crops: Sequence[np.ndarray], *, mirror: bool | None = None) -> np.ndarray:
        return np.stack([VECTORS[int(crop[0, 0, 0])] for crop in crops])


def photo_of(kind: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 48), (kind, 90, 90)).save(buffer, "PNG")
    return buffer.getvalue()


def stored(db) -> dict[str, int]:
    return {name: db[name].count_documents({}) for name in ("employees", "embeddings", "pictures")}


@pytest.fixture
def enroller(mongo_db) -> Enroller:
    employees = EmployeeRepository(mongo_db)
    return Enroller(
        KindFinder(),
        VectorPerKind(),
        employees,
        Gallery(InMemoryCache(), employees, MODEL),
        policy=OpenSetPolicy(MODEL, [TAIL]),
        quality_gate=QualityGate(),
    )


@pytest.mark.parametrize(
    ("kind", "code", "words"),
    [
        (SMALL, "face_too_small", "photo 2: the face is 20 px wide; at least 32 px"),
        (BLURRED, "face_blurred", "photo 2: the face is too blurred"),
        (TURNED, "face_turned", "photo 2: the face is turned away"),
    ],
)
def test_a_photo_whose_face_cannot_be_judged_is_refused_and_nothing_is_stored(
    enroller, mongo_db, kind, code, words
):
    with pytest.raises(EnrolmentError, match=words) as error:
        enroller.enroll("Ana", [photo_of(GOOD), photo_of(kind)])

    assert error.value.code == code
    assert stored(mongo_db) == {"employees": 0, "embeddings": 0, "pictures": 0}


def test_a_good_photo_is_enrolled_through_the_gate(enroller, mongo_db):
    enroller.enroll("Ana", [photo_of(GOOD)])

    assert stored(mongo_db) == {"employees": 1, "embeddings": 1, "pictures": 2}


def test_a_preview_refuses_a_face_that_cannot_be_judged_as_enrolment_would(enroller, mongo_db):
    with pytest.raises(EnrolmentError) as error:
        enroller.preview(photo_of(BLURRED))

    assert error.value.code == "face_blurred"
    assert stored(mongo_db)["pictures"] == 0


def test_a_request_from_the_bus_is_answered_with_the_quality_code(enroller, mongo_db):
    result = enroller.handle(
        EnrolmentRequest(request_id="r1", name="Ana", photos=[photo_of(TURNED)])
    )

    assert result is not None and not result.ok
    assert result.error_code == "face_turned"
    assert "photo 1" in (result.error or "")
    assert stored(mongo_db)["employees"] == 0


def test_adding_a_photo_that_cannot_be_judged_to_an_employee_is_refused(enroller, mongo_db):
    ana = enroller.enroll("Ana", [photo_of(GOOD)])

    with pytest.raises(EnrolmentError) as error:
        enroller.add_photos(ana.employee_id, [photo_of(SMALL)])

    assert error.value.code == "face_too_small"
    assert stored(mongo_db) == {"employees": 1, "embeddings": 1, "pictures": 2}


def test_a_lookalike_is_already_enrolled_at_the_threshold_of_a_small_gallery(enroller, mongo_db):
    """One enrolled face: the recognizer's threshold is 0.40, so a 0.6 look-alike would be
    taken for Ana at the door and is refused."""
    enroller.enroll("Ana", [photo_of(GOOD)])

    with pytest.raises(EnrolmentError) as error:
        enroller.enroll("Anna", [photo_of(LOOKALIKE)])

    assert error.value.code == "face_already_enrolled"
    assert "threshold 0.40" in str(error.value)
    assert stored(mongo_db)["employees"] == 1


def test_with_a_configured_threshold_the_lookalike_is_someone_else(mongo_db):
    employees = EmployeeRepository(mongo_db)
    enroller = Enroller(
        KindFinder(),
        VectorPerKind(),
        employees,
        Gallery(InMemoryCache(), employees, MODEL),
        policy=OpenSetPolicy(MODEL, [TAIL], threshold=0.7),
        quality_gate=QualityGate(),
    )
    enroller.enroll("Ana", [photo_of(GOOD)])

    enroller.enroll("Anna", [photo_of(LOOKALIKE)])

    assert stored(mongo_db)["employees"] == 2
