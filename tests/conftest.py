"""Fixtures shared by every test: real servers, isolated per test run.

RabbitMQ gets a vhost of its own (tests/fixtures/rabbitmq.py), Redis a key prefix that is
deleted afterwards, MongoDB a database of its own on the server named by ``MONGO_URL``; when
that is unset, a MongoDB-wire server (nx-27017) is started for the session.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

# free_port is the tests' too: they import it from here.
from services.common.storage.mongo_wire import free_port as free_port
from tests.helpers.redis_keys import delete_prefixed_keys

pytest_plugins = ["tests.fixtures.rabbitmq", "tests.fixtures.models"]

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def models_dir() -> Path:
    path = Path(os.environ.get("ATTENDANCE_MODELS_DIR", SHARED / "models")).resolve()
    _export_facenet_graph(path)
    return path


def _export_facenet_graph(models: Path) -> None:
    """FaceNet's ONNX graph, exported here once if the cache has none, so that the services
    the tests start in processes of their own (whose start-up is timed) find it ready."""
    from services.common.model_files import FACENET_CASIA
    from services.recognizer.network_loader import load_network
    from services.recognizer.settings import RecognizerSettings

    weights = models / FACENET_CASIA
    if weights.is_file():
        onnx_dir = RecognizerSettings.from_env(attendance_models_dir=models).embedding_onnx_dir
        load_network("onnx", weights_path=weights, threads=1, onnx_dir=onnx_dir)


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    return (SHARED / "faces").resolve()


@pytest.fixture(scope="session")
def test_output_dir() -> Path:
    path = REPO_ROOT / "test-output"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def mongo_server_url(tmp_path_factory) -> str:
    if os.environ.get("MONGO_URL"):
        yield os.environ["MONGO_URL"]
        return
    from services.common.storage.mongo_wire import MongoWireServer

    server = MongoWireServer(tmp_path_factory.mktemp("mongo"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def mongo_db_name() -> str:
    return f"test_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def mongo_db(mongo_server_url, mongo_db_name):
    from services.common.storage.mongo import connect

    db = connect(mongo_server_url, mongo_db_name)
    yield db
    db.client.drop_database(mongo_db_name)
    db.client.close()


@pytest.fixture(scope="session")
def redis_url() -> str:
    return os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def cache_prefix(redis_url):
    prefix = f"attendance-test-{uuid.uuid4().hex[:10]}"
    yield prefix
    delete_prefixed_keys(redis_url, prefix)


@pytest.fixture
def redis_cache(redis_url, cache_prefix):
    from services.common.cache import RedisCache

    return RedisCache(redis_url, cache_prefix)
