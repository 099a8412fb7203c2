"""Fuzzing the REST API from its own OpenAPI document: no input may make it fail on the server.

schemathesis reads /api/v1/openapi.json from the real app (a MongoDB-wire server, an in-memory
bus and cache, a fake enroller) and calls every operation in process, as an admin API token:
the document's examples, the boundaries of every parameter and body (coverage: empty, longest,
smallest and largest values, wrong types, missing fields) and bounded random inputs, valid and
invalid. Every answer must be below 500 and one the document lists for that operation. The run
is derandomized, so CI sends the same inputs every time.

Each operation gets the Hypothesis test schemathesis' pytest plugin would build (the plugin's
fixture-based loader cannot name its sub-tests under pytest 9), and every failure is gathered
before the test fails, so one run lists them all.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.hypothesis.builder import (
    HypothesisTestConfig,
    HypothesisTestMode,
    create_test,
)
from schemathesis.specs.openapi.checks import status_code_conformance

from services.common.contracts import BoundingBox
from services.recognizer.enrolment import FacePreview
from tests.helpers.messages import TINY_JPEG
from tests.integration.web import conftest as web

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

# The web tests' app, built the same way: their fixtures, taken over under their own names.
settings, cache, broker, bus, employees, gallery, app = (
    web.settings,
    web.cache,
    web.broker,
    web.bus,
    web.employees,
    web.gallery,
    web.app,
)

OPENAPI = "/api/v1/openapi.json"
# Random inputs per operation, on top of its examples and boundary cases.
EXAMPLES_PER_OPERATION = 50
CHECKS = [not_a_server_error, status_code_conformance]
STREAMING_TYPES = ("text/event-stream", "multipart/x-mixed-replace")
FUZZING = hypothesis_settings(
    max_examples=EXAMPLES_PER_OPERATION,
    # The same inputs on every run and machine; nothing remembered between runs.
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


class FuzzedEnroller(web.FakeEnroller):
    """The fake enroller with the whole Enroller interface, so that every enrolment endpoint
    reaches the app's own handling: the face preview too, and the duplicate-face override."""

    def enroll(self, name: str, photos: Sequence[bytes], *, allow_duplicate_face: bool = False):
        return super().enroll(name, photos)

    def add_photos(
        self, employee_id: str, photos: Sequence[bytes], *, allow_duplicate_face: bool = False
    ):
        return super().add_photos(employee_id, photos)

    def preview(self, photo: bytes) -> FacePreview:
        self._faces([photo])  # the same refusals as an enrolment
        return FacePreview(face_jpeg=TINY_JPEG, box=BoundingBox(x=0, y=0, width=1, height=1))


@pytest.fixture
def enroller(employees, gallery) -> FuzzedEnroller:
    return FuzzedEnroller(employees, gallery)


@pytest.fixture
def admin_token(app) -> str:
    _, secret = app.extensions["attendance"].users.create_token("fuzzer", "admin", "tests")
    return secret


def streams(operation: schemathesis.APIOperation) -> bool:
    """Answers that last until the client leaves (MJPEG, Server-Sent Events) would hold a
    fuzzing call forever."""
    if operation.path.endswith(".mjpg") or operation.path.startswith("/live/"):
        return True
    responses = operation.definition.raw.get("responses") or {}
    return any(
        kind.startswith(STREAMING_TYPES)
        for response in responses.values()
        for kind in (response.get("content") or {})
    )


def fuzz(operation: schemathesis.APIOperation, auth: dict[str, str]) -> str | None:
    """What went wrong in ``operation`` (the smallest failing case of each kind, with a curl
    command that reproduces it), or None when every answer passed the checks."""

    def call(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=auth, checks=CHECKS)

    test = create_test(
        operation=operation,
        test_func=call,
        config=HypothesisTestConfig(
            project=operation.schema.config, modes=list(HypothesisTestMode), settings=FUZZING
        ),
    )
    try:
        test()
    # A check failed (schemathesis groups distinct ones in a BaseExceptionGroup), or the call
    # itself raised: both are findings.
    except (Exception, BaseExceptionGroup) as exc:
        return f"{operation.label}:\n{exc}"
    return None


def test_no_input_makes_the_api_fail_on_the_server(app, admin_token):
    auth = {"Authorization": f"Bearer {admin_token}"}
    schema = schemathesis.openapi.from_wsgi(OPENAPI, app, headers=auth)
    operations = [result.ok() for result in schema.get_all_operations()]
    fuzzed = [operation for operation in operations if not streams(operation)]
    assert len(fuzzed) >= 20, [operation.label for operation in operations]

    failures = [failure for operation in fuzzed if (failure := fuzz(operation, auth)) is not None]

    assert not failures, f"{len(failures)} failing operation(s):\n\n" + "\n\n".join(failures)
