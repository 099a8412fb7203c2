"""Enrolment photos are not liveness-checked (ID photos are often photos of photos), but the
preview says when a photo looks like a screen or a print: a photo of a printed NUAA photo gets
the hint, a photo of the live person does not, and neither is refused."""

from __future__ import annotations

import pytest

from services.common.cache import InMemoryCache
from services.common.contracts import EnrolmentRequest
from services.common.gallery import Gallery
from services.common.storage.employees import EmployeeRepository
from services.faces.liveness import LivenessScorer
from services.recognizer.enrolment import LOOKS_LIKE_A_REPRODUCTION, Enroller
from services.recognizer.settings import RecognizerSettings

pytestmark = [pytest.mark.integration, pytest.mark.models]


@pytest.fixture
def enroller(recognition_models, mongo_db, models_dir) -> Enroller:
    finder, embedder = recognition_models
    employees = EmployeeRepository(mongo_db)
    return Enroller(
        finder,
        embedder,
        employees,
        Gallery(InMemoryCache(), employees, embedder.model_id),
        quality_gate=RecognizerSettings.from_env({}).quality_gate,
        liveness=LivenessScorer(models_dir),
    )


def nuaa(faces_dir, kind: str) -> bytes:
    return sorted((faces_dir / "liveness" / "nuaa" / kind / "0001").glob("*.jpg"))[0].read_bytes()


def preview(enroller: Enroller, photo: bytes):
    result = enroller.handle(EnrolmentRequest(request_id="r1", photos=[photo], preview=True))
    assert result is not None and result.ok, result
    return result


def test_the_preview_of_a_printed_photo_says_it_looks_like_a_screen_or_a_print(enroller, faces_dir):
    result = preview(enroller, nuaa(faces_dir, "print"))
    assert result.face_jpeg is not None
    assert result.liveness_hint == LOOKS_LIKE_A_REPRODUCTION
    assert result.liveness_score is not None and result.liveness_score < 0.5


def test_the_preview_of_a_live_person_gives_no_hint(enroller, faces_dir):
    result = preview(enroller, nuaa(faces_dir, "real"))
    assert result.liveness_hint is None
    assert result.liveness_score is not None and result.liveness_score >= 0.5


def test_a_printed_photo_is_still_enrolled(enroller, faces_dir, mongo_db):
    employee = enroller.enroll("Subject one", [nuaa(faces_dir, "print")])
    assert mongo_db.embeddings.count_documents({"employee_id": employee.employee_id}) == 1
