"""Enrolment through the real detector and FaceNet: errors are specific and store nothing."""

import pytest

from services.common.cache import InMemoryCache
from services.common.gallery import Gallery
from services.common.storage.employees import EmployeeRepository
from services.detector.main import build_finder
from services.recognizer.enrolment import Enroller, EnrolmentError
from services.recognizer.main import build_embedder
from services.recognizer.settings import RecognizerSettings

pytestmark = [pytest.mark.integration, pytest.mark.models]


@pytest.fixture(scope="module")
def settings(models_dir):
    return RecognizerSettings.from_env({}, attendance_models_dir=models_dir)


@pytest.fixture(scope="module")
def models(settings):
    """One detector and embedder for the module, closed explicitly: a MediaPipe detector left
    to the garbage collector can block in its native close."""
    finder = build_finder(settings)
    yield finder, build_embedder(settings)
    finder.detector.close()


def make_enroller(models, db, max_photo_bytes: int = 10 * 1024 * 1024) -> Enroller:
    finder, embedder = models
    employees = EmployeeRepository(db)
    gallery = Gallery(InMemoryCache(), employees, embedder.model_id)
    return Enroller(finder, embedder, employees, gallery, max_photo_bytes)


@pytest.fixture
def enroller(models, mongo_db):
    return make_enroller(models, mongo_db)


@pytest.fixture
def photo(faces_dir):
    return lambda path: (faces_dir / path).read_bytes()


def stored(db):
    return {name: db[name].count_documents({}) for name in ("employees", "embeddings", "pictures")}


def test_an_employee_is_enrolled_from_one_photo(enroller, photo, mongo_db):
    employee = enroller.enroll(
        "Lin-Manuel Miranda", [photo("face_recognition/examples/lin-manuel-miranda.png")]
    )
    found = EmployeeRepository(mongo_db).find_by_name("lin-manuel miranda")
    assert found.employee_id == employee.employee_id
    assert stored(mongo_db) == {"employees": 1, "embeddings": 1, "pictures": 2}


@pytest.mark.parametrize(
    ("path", "code", "message"),
    [
        ("dlib/examples/faces/dogs.jpg", "no_face", "no face found"),
        ("face-api.js/test/images/white.png", "no_face", "no face found"),
        ("deepface/couple.jpg", "several_faces", "2 faces found"),
    ],
)
def test_a_photo_without_exactly_one_face_is_refused(
    enroller, photo, mongo_db, path, code, message
):
    with pytest.raises(EnrolmentError, match=message) as error:
        enroller.enroll("Somebody", [photo(path)])
    assert error.value.code == code
    assert stored(mongo_db) == {"employees": 0, "embeddings": 0, "pictures": 0}


def test_a_file_that_is_not_an_image_is_refused(enroller, mongo_db):
    with pytest.raises(EnrolmentError, match="not an image") as error:
        enroller.enroll("Somebody", [b"%PDF-1.4 a document"])
    assert error.value.code == "not_an_image"
    assert stored(mongo_db)["employees"] == 0


def test_one_bad_photo_among_good_ones_stores_nothing(enroller, photo, mongo_db):
    with pytest.raises(EnrolmentError, match="photo 2"):
        enroller.enroll(
            "Lin",
            [
                photo("face_recognition/examples/lin-manuel-miranda.png"),
                photo("dlib/examples/faces/dogs.jpg"),
            ],
        )
    assert stored(mongo_db) == {"employees": 0, "embeddings": 0, "pictures": 0}


def test_a_duplicate_name_is_refused_whatever_its_case(enroller, photo, mongo_db):
    lin = photo("face_recognition/examples/lin-manuel-miranda.png")
    enroller.enroll("Lin-Manuel Miranda", [lin])
    with pytest.raises(EnrolmentError, match="already registered") as error:
        enroller.enroll("LIN-MANUEL MIRANDA", [lin])
    assert error.value.code == "duplicate_name"
    assert stored(mongo_db)["employees"] == 1


def test_an_oversized_photo_is_refused_before_decoding(models, mongo_db, photo):
    enroller = make_enroller(models, mongo_db, max_photo_bytes=2048)
    with pytest.raises(EnrolmentError, match="the limit is") as error:
        enroller.enroll("Lin", [photo("face_recognition/examples/lin-manuel-miranda.png")])
    assert error.value.code == "image_too_large"
