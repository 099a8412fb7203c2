"""The quality gate on real photos, through the real detector and FaceNet, as the recognizer's
enrolment is built: a photo blurred or shrunk past what a camera could judge is refused."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from services.common.cache import InMemoryCache
from services.common.domain.enrolment import EnrolmentError
from services.common.gallery import Gallery
from services.common.images import decode_image, encode_jpeg
from services.common.storage.employees import EmployeeRepository
from services.recognizer.enrolment import Enroller
from services.recognizer.main import build_policy
from services.recognizer.settings import RecognizerSettings
from tests.fixtures.models import ONE_FACE_PHOTO

pytestmark = [pytest.mark.integration, pytest.mark.models]


@pytest.fixture
def enroller(recognition_models, mongo_db) -> Enroller:
    finder, embedder = recognition_models
    settings = RecognizerSettings.from_env({})
    employees = EmployeeRepository(mongo_db)
    return Enroller(
        finder,
        embedder,
        employees,
        Gallery(InMemoryCache(), employees, embedder.model_id),
        policy=build_policy(settings, embedder.model_id),
        quality_gate=settings.quality_gate,
    )


@pytest.fixture
def lin(face_photo) -> np.ndarray:
    return decode_image(face_photo(ONE_FACE_PHOTO))


def test_the_photo_as_taken_passes_the_gate(enroller, lin, mongo_db):
    enroller.enroll("Lin", [encode_jpeg(lin, quality=95)])

    assert mongo_db.embeddings.count_documents({}) == 1


def test_a_heavily_blurred_photo_is_refused_as_blurred(enroller, lin, mongo_db):
    blurred = cv2.GaussianBlur(lin, (0, 0), 8)

    with pytest.raises(EnrolmentError, match="too blurred") as error:
        enroller.enroll("Lin", [encode_jpeg(blurred, quality=95)])

    assert error.value.code == "face_blurred"
    assert mongo_db.employees.count_documents({}) == 0


def test_a_photo_shrunk_to_a_28_pixel_face_is_refused_as_too_small(enroller, lin, mongo_db):
    small = cv2.resize(lin, None, fx=0.09, fy=0.09, interpolation=cv2.INTER_AREA)

    with pytest.raises(EnrolmentError, match=r"\d+ px wide; at least 32 px") as error:
        enroller.enroll("Lin", [encode_jpeg(small, quality=95)])

    assert error.value.code == "face_too_small"
    assert mongo_db.employees.count_documents({}) == 0
