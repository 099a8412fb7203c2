import numpy as np
import pytest

from services.common.domain.enrolment import EmployeeError
from services.common.storage.employees import EmployeeRepository, NewFace
from tests.helpers.messages import TINY_JPEG, unit_vector

pytestmark = pytest.mark.integration


def face(seed: int) -> NewFace:
    return NewFace(photo_jpeg=TINY_JPEG, face_jpeg=TINY_JPEG, embedding=unit_vector(seed))


@pytest.fixture
def employees(mongo_db):
    return EmployeeRepository(mongo_db)


def test_a_registered_employee_can_be_found_by_name_in_any_case(employees):
    created = employees.create("  Ana   Lopez ", [face(1)], "model-a")
    assert created.name == "Ana Lopez"
    assert employees.find_by_name("ANA LOPEZ").employee_id == created.employee_id


def test_a_duplicate_name_is_refused_and_stores_nothing(employees, mongo_db):
    employees.create("Ana Lopez", [face(1)], "model-a")
    with pytest.raises(EmployeeError, match="already registered") as error:
        employees.create("ana lopez", [face(2)], "model-a")
    assert error.value.code == "duplicate_name"
    assert mongo_db.employees.count_documents({}) == 1
    assert mongo_db.embeddings.count_documents({}) == 1


@pytest.mark.parametrize("bad_name", ["", "   ", "x" * 121, "tab\tname\x00"])
def test_an_unusable_name_is_refused(employees, bad_name):
    with pytest.raises(EmployeeError):
        employees.create(bad_name, [face(1)], "model-a")


def test_the_gallery_holds_only_embeddings_of_the_requested_model(employees):
    ana = employees.create("Ana", [face(1), face(2)], "model-a")
    employees.create("Bo", [face(3)], "model-b")
    ids, matrix = employees.gallery("model-a")
    assert ids == [ana.employee_id, ana.employee_id]
    assert matrix.shape == (2, 512)
    assert np.allclose(matrix[0], unit_vector(1)) or np.allclose(matrix[1], unit_vector(1))


def test_more_photos_can_be_added_to_an_employee(employees):
    ana = employees.create("Ana", [face(1)], "model-a")
    updated = employees.add_faces(ana.employee_id, [face(2)], "model-a")
    assert len(updated.photo_ids) == 2
    assert len(employees.gallery("model-a")[0]) == 2


def test_deleting_an_employee_removes_their_embeddings_and_pictures(employees, mongo_db):
    ana = employees.create("Ana", [face(1)], "model-a")
    assert employees.delete(ana.employee_id)
    assert employees.get(ana.employee_id) is None
    assert mongo_db.embeddings.count_documents({}) == 0
    assert mongo_db.pictures.count_documents({"owner_id": ana.employee_id}) == 0
    assert employees.create("Ana", [face(1)], "model-a").name == "Ana"


def test_search_finds_names_containing_the_text(employees):
    employees.create("Ana Lopez", [face(1)], "m")
    employees.create("Bo Lindqvist", [face(2)], "m")
    assert [e.name for e in employees.search("lo")] == ["Ana Lopez"]
    assert [e.name for e in employees.search("L")] == ["Ana Lopez", "Bo Lindqvist"]


def test_photos_owed_a_vector_are_those_without_one_of_the_new_model(employees):
    ana = employees.create("Ana Lopez", [face(1), face(2)], "model-a")
    employees.add_embedding(ana.photo_ids[0], ana.employee_id, "model-b", unit_vector(3))
    assert employees.photos_without_embedding("model-b") == [(ana.photo_ids[1], ana.employee_id)]


def test_storing_a_photo_s_vector_twice_replaces_it(employees):
    ana = employees.create("Ana Lopez", [face(1)], "model-a")
    employees.add_embedding(ana.photo_ids[0], ana.employee_id, "model-b", unit_vector(3))
    employees.add_embedding(ana.photo_ids[0], ana.employee_id, "model-b", unit_vector(4))
    ids, matrix = employees.gallery("model-b")
    assert ids == [ana.employee_id]
    np.testing.assert_allclose(matrix[0], unit_vector(4), atol=1e-6)


def test_a_vector_stored_for_an_employee_erased_meanwhile_is_not_kept(employees, mongo_db):
    ana = employees.create("Ana Lopez", [face(1)], "model-a")
    employees.delete(ana.employee_id)
    employees.add_embedding(ana.photo_ids[0], ana.employee_id, "model-b", unit_vector(3))
    assert mongo_db.embeddings.count_documents({}) == 0
