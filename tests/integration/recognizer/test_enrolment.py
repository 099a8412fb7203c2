"""Enrolment through the real detector and FaceNet: errors are specific and store nothing."""

import pytest

from services.common.contracts import EnrolmentRequest
from services.common.domain.enrolment import EnrolmentError
from services.common.images import decode_image
from services.common.storage.employees import EmployeeRepository
from tests.fixtures.models import NOT_ONE_FACE_PHOTOS, ONE_FACE_PHOTO, make_enroller

pytestmark = [pytest.mark.integration, pytest.mark.models]


@pytest.fixture
def enroller(recognition_models, mongo_db):
    return make_enroller(recognition_models, mongo_db)


def stored(db):
    return {name: db[name].count_documents({}) for name in ("employees", "embeddings", "pictures")}


def test_an_employee_is_enrolled_from_one_photo(enroller, face_photo, mongo_db):
    employee = enroller.enroll("Lin-Manuel Miranda", [face_photo(ONE_FACE_PHOTO)])
    found = EmployeeRepository(mongo_db).find_by_name("lin-manuel miranda")
    assert found.employee_id == employee.employee_id
    assert stored(mongo_db) == {"employees": 1, "embeddings": 1, "pictures": 2}


@pytest.mark.parametrize(("path", "code", "message"), NOT_ONE_FACE_PHOTOS)
def test_a_photo_without_exactly_one_face_is_refused(
    enroller, face_photo, mongo_db, path, code, message
):
    with pytest.raises(EnrolmentError, match=message) as error:
        enroller.enroll("Somebody", [face_photo(path)])
    assert error.value.code == code
    assert stored(mongo_db) == {"employees": 0, "embeddings": 0, "pictures": 0}


def test_a_file_that_is_not_an_image_is_refused(enroller, mongo_db):
    with pytest.raises(EnrolmentError, match="not an image") as error:
        enroller.enroll("Somebody", [b"%PDF-1.4 a document"])
    assert error.value.code == "not_an_image"
    assert stored(mongo_db)["employees"] == 0


def test_one_bad_photo_among_good_ones_stores_nothing(enroller, face_photo, mongo_db):
    with pytest.raises(EnrolmentError, match="photo 2"):
        enroller.enroll(
            "Lin",
            [
                face_photo(ONE_FACE_PHOTO),
                face_photo("dlib/examples/faces/dogs.jpg"),
            ],
        )
    assert stored(mongo_db) == {"employees": 0, "embeddings": 0, "pictures": 0}


def test_a_duplicate_name_is_refused_whatever_its_case(enroller, face_photo, mongo_db):
    lin = face_photo(ONE_FACE_PHOTO)
    enroller.enroll("Lin-Manuel Miranda", [lin])
    with pytest.raises(EnrolmentError, match="already registered") as error:
        enroller.enroll("LIN-MANUEL MIRANDA", [lin])
    assert error.value.code == "duplicate_name"
    assert stored(mongo_db)["employees"] == 1


def test_an_oversized_photo_is_refused_before_decoding(recognition_models, mongo_db, face_photo):
    enroller = make_enroller(recognition_models, mongo_db, max_photo_bytes=2048)
    with pytest.raises(EnrolmentError, match="the limit is") as error:
        enroller.enroll("Lin", [face_photo(ONE_FACE_PHOTO)])
    assert error.value.code == "image_too_large"


def test_a_preview_shows_the_aligned_face_and_stores_nothing(enroller, face_photo, mongo_db):
    data = face_photo(ONE_FACE_PHOTO)
    preview = enroller.preview(data)
    assert decode_image(preview.face_jpeg).shape == (160, 160, 3)
    height, width = decode_image(data).shape[:2]
    box = preview.box
    assert 0 <= box.x < box.x + box.width <= width and 0 <= box.y < box.y + box.height <= height
    assert stored(mongo_db) == {"employees": 0, "embeddings": 0, "pictures": 0}


def test_the_preview_is_the_face_enrolment_stores(enroller, face_photo, mongo_db):
    data = face_photo(ONE_FACE_PHOTO)
    preview = enroller.preview(data)
    employee = enroller.enroll("Lin-Manuel Miranda", [data])
    [photo_id] = employee.photo_ids
    assert EmployeeRepository(mongo_db).pictures.get(f"{photo_id}-face") == preview.face_jpeg


@pytest.mark.parametrize(("path", "code", "message"), NOT_ONE_FACE_PHOTOS)
def test_a_preview_refuses_what_enrolment_refuses(
    enroller, face_photo, mongo_db, path, code, message
):
    with pytest.raises(EnrolmentError, match=message) as error:
        enroller.preview(face_photo(path))
    assert error.value.code == code
    assert stored(mongo_db) == {"employees": 0, "embeddings": 0, "pictures": 0}


def test_a_preview_refuses_a_file_that_is_not_an_image(enroller):
    with pytest.raises(EnrolmentError, match="not an image") as error:
        enroller.preview(b"%PDF-1.4 a document")
    assert error.value.code == "not_an_image"


def test_a_preview_refuses_an_oversized_photo(recognition_models, mongo_db, face_photo):
    enroller = make_enroller(recognition_models, mongo_db, max_photo_bytes=2048)
    with pytest.raises(EnrolmentError, match="the limit is") as error:
        enroller.preview(face_photo(ONE_FACE_PHOTO))
    assert error.value.code == "image_too_large"


def test_a_preview_request_from_the_bus_is_answered_with_the_face(enroller, face_photo, mongo_db):
    request = EnrolmentRequest(request_id="r1", photos=[face_photo(ONE_FACE_PHOTO)], preview=True)
    result = enroller.handle(request)
    assert result.ok and result.request_id == "r1" and result.employee_id is None
    assert decode_image(result.face_jpeg).shape == (160, 160, 3)
    assert result.face_box is not None and result.face_box.width > 0
    assert stored(mongo_db) == {"employees": 0, "embeddings": 0, "pictures": 0}


def test_a_refused_preview_request_is_answered_with_the_reason(enroller, face_photo, mongo_db):
    request = EnrolmentRequest(
        request_id="r2", photos=[face_photo("deepface/couple.jpg")], preview=True
    )
    result = enroller.handle(request)
    assert not result.ok and result.error_code == "several_faces"
    assert "2 faces found" in result.error and result.face_jpeg is None
    assert stored(mongo_db) == {"employees": 0, "embeddings": 0, "pictures": 0}


# Two photos of one person (see the manifest of ../shared/faces): FaceNet puts them at 0.88.
CLOONEY, CLOONEY_AGAIN = "deepface/img38.jpg", "deepface/img41.jpg"


def test_a_face_already_enrolled_under_another_name_is_refused_naming_its_owner(
    enroller, face_photo, mongo_db
):
    clooney = enroller.enroll("George Clooney", [face_photo(CLOONEY)])
    before = stored(mongo_db)
    with pytest.raises(EnrolmentError) as error:
        enroller.enroll("G. Clooney", [face_photo(CLOONEY_AGAIN)])
    assert error.value.code == "face_already_enrolled"
    assert error.value.conflicting_employee_id == clooney.employee_id
    assert "George Clooney" in str(error.value) and clooney.employee_id in str(error.value)
    assert stored(mongo_db) == before == {"employees": 1, "embeddings": 1, "pictures": 2}


def test_an_admin_may_enrol_a_face_twice_on_purpose(enroller, face_photo, mongo_db):
    enroller.enroll("George Clooney", [face_photo(CLOONEY)])
    twin = enroller.enroll("Twin", [face_photo(CLOONEY_AGAIN)], allow_duplicate_face=True)
    assert EmployeeRepository(mongo_db).get(twin.employee_id).name == "Twin"
    assert stored(mongo_db) == {"employees": 2, "embeddings": 2, "pictures": 4}


def test_photos_of_other_people_and_of_the_same_employee_are_not_duplicates(
    enroller, face_photo, mongo_db
):
    clooney = enroller.enroll("George Clooney", [face_photo(CLOONEY)])
    enroller.enroll("Lin-Manuel Miranda", [face_photo(ONE_FACE_PHOTO)])
    enroller.add_photos(clooney.employee_id, [face_photo(CLOONEY_AGAIN)])
    assert stored(mongo_db) == {"employees": 2, "embeddings": 3, "pictures": 6}


def test_a_photo_of_someone_else_is_not_added_to_an_employee(enroller, face_photo, mongo_db):
    clooney = enroller.enroll("George Clooney", [face_photo(CLOONEY)])
    lin = enroller.enroll("Lin-Manuel Miranda", [face_photo(ONE_FACE_PHOTO)])
    result = enroller.handle(
        EnrolmentRequest(
            request_id="r3", employee_id=lin.employee_id, photos=[face_photo(CLOONEY_AGAIN)]
        )
    )
    assert not result.ok and result.error_code == "face_already_enrolled"
    assert result.conflicting_employee_id == clooney.employee_id
    assert stored(mongo_db)["embeddings"] == 2
