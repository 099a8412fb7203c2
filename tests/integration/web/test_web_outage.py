"""The dashboard while its database is away: a clear 503, then business as usual."""

from __future__ import annotations

import pytest

from services.common.storage.mongo import connect
from services.common.storage.mongo_wire import MongoWireServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def database_server(tmp_path):
    server = MongoWireServer(tmp_path / "mongo")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mongo_db(database_server):
    """The web app's database on a server of this test's own, which the test stops."""
    db = connect(database_server.url, "web_outage")
    yield db
    db.client.close()


def test_while_the_database_is_away_the_api_and_pages_say_so_and_then_recover(
    admin, database_server
):
    assert admin.get("/api/v1/employees").status_code == 200

    database_server.stop()
    api = admin.get("/api/v1/employees")
    page = admin.get("/employees")

    assert api.status_code == 503
    assert api.get_json()["error"]["code"] == "service_unavailable"
    assert api.headers["Retry-After"] == "5"
    assert page.status_code == 503
    assert "cannot be reached just now" in page.text
    assert admin.get("/readyz").status_code == 503
    # Alive all the same: restarting the web service would not bring the database back.
    assert admin.get("/healthz").status_code == 200

    database_server.start()
    assert admin.get("/api/v1/employees").status_code == 200
    assert admin.get("/readyz").status_code == 200
