import pytest

from services.common.gallery import Gallery
from services.common.storage.employees import EmployeeRepository, NewFace
from tests.helpers.messages import TINY_JPEG, unit_vector

pytestmark = pytest.mark.integration


def face(seed):
    return NewFace(TINY_JPEG, TINY_JPEG, unit_vector(seed))


@pytest.fixture
def employees(mongo_db):
    return EmployeeRepository(mongo_db)


def test_an_empty_cache_is_rebuilt_from_the_database(employees, redis_cache):
    ana = employees.create("Ana", [face(1)], "model-a")
    snapshot = Gallery(redis_cache, employees, "model-a").current()
    assert snapshot.employee_ids == (ana.employee_id,)
    assert snapshot.names == {ana.employee_id: "Ana"}


def test_a_recognizer_sees_a_new_employee_once_the_version_moves(employees, redis_cache):
    writer = Gallery(redis_cache, employees, "model-a")
    reader = Gallery(redis_cache, employees, "model-a")
    assert len(reader.current().employee_ids) == 0
    employees.create("Ana", [face(1)], "model-a")
    writer.changed()
    assert len(reader.current().employee_ids) == 1


def test_the_snapshot_is_not_reloaded_while_the_version_stands(employees, redis_cache):
    gallery = Gallery(redis_cache, employees, "model-a")
    employees.create("Ana", [face(1)], "model-a")
    first = gallery.current()
    assert gallery.current() is first


def test_a_flushed_cache_is_rebuilt_and_a_deleted_employee_disappears(
    employees, redis_cache, cache_prefix, redis_url
):
    import redis

    gallery = Gallery(redis_cache, employees, "model-a")
    ana = employees.create("Ana", [face(1)], "model-a")
    gallery.changed()
    assert len(gallery.current().employee_ids) == 1
    employees.delete(ana.employee_id)
    client = redis.Redis.from_url(redis_url)
    client.delete(*client.scan_iter(f"{cache_prefix}:*"))
    assert gallery.current().employee_ids == ()


def test_embeddings_of_another_model_are_never_loaded(employees, redis_cache):
    employees.create("Ana", [face(1)], "model-a")
    assert Gallery(redis_cache, employees, "model-b").current().employee_ids == ()
