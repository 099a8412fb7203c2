"""Re-embedding after a recipe change, through the real detector and FaceNet on MongoDB-wire."""

import json
from datetime import timedelta

import numpy as np
import pytest

from services import cli
from services.common.cache import InMemoryCache
from services.common.contracts import utc_now
from services.common.gallery import Gallery
from services.common.images import decode_image
from services.common.storage.employees import EmployeeRepository, NewFace
from services.common.storage.maintenance import MaintenanceBusy, MaintenanceLocks
from services.recognizer.reembed import JOB, Reembedder
from tests.fixtures.models import ONE_FACE_PHOTO, make_enroller

pytestmark = [pytest.mark.integration, pytest.mark.models]

OLD_RECIPE = "facenet-inception-resnet-v1/old-weights/align-v0/std128-mirror"
SECOND_PHOTO = "face_recognition/examples/obama-480p.jpg"
WHITE_IMAGE = "face-api.js/test/images/white.png"


@pytest.fixture
def employees(mongo_db):
    return EmployeeRepository(mongo_db)


@pytest.fixture
def enrolled_under_old_recipe(recognition_models, mongo_db, face_photo):
    """Two employees enrolled, then their vectors labelled as an older recipe's (an upgrade)."""
    enroller = make_enroller(recognition_models, mongo_db)
    miranda = enroller.enroll("Lin-Manuel Miranda", [face_photo(ONE_FACE_PHOTO)])
    obama = enroller.enroll("Barack Obama", [face_photo(SECOND_PHOTO)])
    mongo_db.embeddings.update_many({}, {"$set": {"model_id": OLD_RECIPE}})
    return miranda, obama


def reembedder(recognition_models, mongo_db, *, holder="test", batch_size=16):
    finder, embedder = recognition_models
    employees = EmployeeRepository(mongo_db)
    return Reembedder(
        employees,
        finder,
        embedder,
        MaintenanceLocks(mongo_db),
        holder=holder,
        batch_size=batch_size,
    )


def test_every_enrolment_photo_gets_a_vector_of_the_current_recipe(
    recognition_models, mongo_db, employees, enrolled_under_old_recipe
):
    _, embedder = recognition_models
    assert Gallery(InMemoryCache(), employees, embedder.model_id).current().names == {}

    report = reembedder(recognition_models, mongo_db).run()

    assert report.embedded == 2
    assert report.failed == {}
    assert report.embeddings_by_model == {OLD_RECIPE: 2, embedder.model_id: 2}
    gallery = Gallery(InMemoryCache(), employees, embedder.model_id).current()
    assert set(gallery.names.values()) == {"Lin-Manuel Miranda", "Barack Obama"}


def test_the_new_vector_is_what_enrolment_computes_from_the_stored_photo(
    recognition_models, mongo_db, employees, enrolled_under_old_recipe
):
    finder, embedder = recognition_models
    miranda, _ = enrolled_under_old_recipe
    reembedder(recognition_models, mongo_db).run()

    photo = employees.pictures.get(miranda.photo_ids[0])
    expected = embedder.embed([finder.find(decode_image(photo), thorough=True)[0].crop])[0]
    stored = mongo_db.embeddings.find_one(
        {"employee_id": miranda.employee_id, "model_id": embedder.model_id}
    )
    vector = np.frombuffer(bytes(stored["vector"]), dtype=np.float32)
    assert float(vector @ expected) > 0.9999


def test_an_interrupted_run_resumes_where_it_stopped_without_duplicates(
    recognition_models, mongo_db, employees, enrolled_under_old_recipe
):
    _, embedder = recognition_models

    class StopAfterFirstBatch:
        def __init__(self, total):
            self.total = total

        def update(self, n=1):
            raise KeyboardInterrupt

        def close(self):
            pass

    with pytest.raises(KeyboardInterrupt):
        reembedder(recognition_models, mongo_db, batch_size=1).run(progress=StopAfterFirstBatch)
    assert len(employees.photos_without_embedding(embedder.model_id)) == 1
    assert MaintenanceLocks(mongo_db).current(JOB) is None

    report = reembedder(recognition_models, mongo_db).run()

    assert report.embedded == 1
    assert employees.embedding_models() == {OLD_RECIPE: 2, embedder.model_id: 2}
    assert employees.photos_without_embedding(embedder.model_id) == []


def test_a_second_run_is_refused_while_one_is_running(
    recognition_models, mongo_db, employees, enrolled_under_old_recipe
):
    _, embedder = recognition_models
    MaintenanceLocks(mongo_db).acquire(JOB, "other-host:42", embedder.model_id)

    with pytest.raises(MaintenanceBusy, match="other-host:42"):
        reembedder(recognition_models, mongo_db).run()
    assert employees.embedding_models() == {OLD_RECIPE: 2}


def test_a_lock_left_by_a_crashed_run_is_taken_over_once_silent(
    recognition_models, mongo_db, employees, enrolled_under_old_recipe
):
    _, embedder = recognition_models
    MaintenanceLocks(mongo_db).acquire(JOB, "crashed-host:7", embedder.model_id)
    mongo_db.maintenance_locks.update_one(
        {"_id": JOB}, {"$set": {"heartbeat_at": utc_now() - timedelta(hours=1)}}
    )

    report = reembedder(recognition_models, mongo_db).run()

    assert report.embedded == 2
    assert MaintenanceLocks(mongo_db).current(JOB) is None


def test_a_stored_photo_without_a_face_is_reported_and_keeps_its_old_vector(
    recognition_models, mongo_db, employees, face_photo
):
    # Stored directly: enrolment itself would refuse this photo today.
    blank = face_photo(WHITE_IMAGE)
    employee = employees.create(
        "Ada Lovelace",
        [NewFace(blank, blank, np.ones(512, dtype=np.float32) / np.sqrt(512))],
        OLD_RECIPE,
    )

    report = reembedder(recognition_models, mongo_db).run()

    assert report.embedded == 0
    assert report.failed == {employee.photo_ids[0]: "no face found in the stored photo"}
    assert employees.embedding_models() == {OLD_RECIPE: 1}


@pytest.fixture
def command_environment(
    mongo_server_url, mongo_db_name, redis_url, cache_prefix, models_dir, monkeypatch
):
    monkeypatch.setenv("MONGO_URL", mongo_server_url)
    monkeypatch.setenv("MONGO_DB", mongo_db_name)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("ATTENDANCE_BUS_PREFIX", cache_prefix)
    monkeypatch.setenv("ATTENDANCE_MODELS_DIR", str(models_dir))


def attendance_reembed(*argv: str) -> int:
    try:
        return cli.main(["reembed", *argv])
    except SystemExit as exit_:
        return exit_.code


def test_the_command_counts_what_is_owed_then_migrates_and_tells_the_recognizers(
    command_environment, recognition_models, enrolled_under_old_recipe, redis_cache, capsys
):
    _, embedder = recognition_models
    assert attendance_reembed("--dry-run", "--json") == 0
    owed = json.loads(capsys.readouterr().out)
    assert owed["model_id"] == embedder.model_id
    assert (owed["photos_owed"], owed["employees_owed"]) == (2, 2)

    assert attendance_reembed("--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["embedded"] == 2 and report["failed"] == {}
    assert redis_cache.get(f"gallery:{embedder.model_id}:version") is not None

    assert attendance_reembed("--dry-run", "--json") == 0
    assert json.loads(capsys.readouterr().out)["photos_owed"] == 0


def test_a_gallery_missing_people_of_its_recipe_says_to_run_reembed(
    recognition_models, employees, enrolled_under_old_recipe, caplog
):
    _, embedder = recognition_models
    with caplog.at_level("WARNING"):
        Gallery(InMemoryCache(), employees, embedder.model_id).changed()
    assert "2 enrolment photo(s) of 2 employee(s) have no vector" in caplog.text
    assert "attendance reembed" in caplog.text
