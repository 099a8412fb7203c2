import urllib.error
import urllib.request

import pytest

from services.common.bus.base import Delivery
from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
from services.common.bus.topology import FACES
from services.common.runtime import serve_worker_health
from services.common.settings import CommonSettings
from tests.conftest import free_port
from tests.helpers.messages import sighting

pytestmark = pytest.mark.integration


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_a_worker_reports_liveness_readiness_and_its_queue_depth():
    port = free_port()
    bus = InMemoryCommunicator(InMemoryBroker())
    bus.subscribe(FACES, lambda batch: None)
    for _ in range(3):
        bus.broker.route(FACES, Delivery(sighting(None).to_bytes()))
    dependency_up = [True]
    serve_worker_health(
        CommonSettings.from_env({}, health_port=port), bus, FACES, lambda: dependency_up[0]
    )
    assert get(port, "/healthz")[0] == 200
    assert get(port, "/readyz")[0] == 200
    status, metrics = get(port, "/metrics")
    assert status == 200
    assert 'attendance_queue_depth{queue="faces.recognize"} 3.0' in metrics
    dependency_up[0] = False
    assert get(port, "/readyz")[0] == 503
