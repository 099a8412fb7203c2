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

from collections.abc import Callable
from itertools import count

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
from schemathesis.generation.overrides import Override
from schemathesis.specs.openapi.checks import status_code_conformance

from services.common.domain.enrolment import EnrolmentError, FaceBox, FacePreview
from services.common.images import ImageError, decode_image
from tests.helpers.messages import TINY_JPEG
from tests.integration.web import conftest as web

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

# The web tests' app, built the same way: their fixtures, taken over under their own names.
settings, cache, broker, bus, employees, gallery, app, unknown = (
    web.settings,
    web.cache,
    web.broker,
    web.bus,
    web.employees,
    web.gallery,
    web.app,
    web.unknown,
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
    """The fake enroller with a face preview too, so that the preview endpoint reaches the
    app's own handling: an image shows a face, anything else is refused as an enrolment is."""

    def preview(self, photo: bytes) -> FacePreview:
        try:
            decode_image(photo)
        except ImageError as exc:
            raise EnrolmentError("not_an_image", f"photo 1: {exc}") from exc
        return FacePreview(face_jpeg=TINY_JPEG, box=FaceBox(x=0, y=0, width=1, height=1))


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


@pytest.fixture
def existing(app, enroller, unknown) -> Callable[[], dict[str, str]]:
    """Fresh things for path parameters to name, so that calls get past "not found" into the
    handlers: an employee with a picture, an unknown face and a token."""
    users = app.extensions["attendance"].users
    made = count(1)

    def make() -> dict[str, str]:
        number = next(made)
        employee = enroller.enroll(f"Fuzz Target {number}", [web.ONE_FACE])
        token, _ = users.create_token(f"fuzz target {number}", "viewer", "tests")
        return {
            "employee_id": employee.employee_id,
            "picture_id": employee.photo_ids[0],
            "sighting_id": unknown(),
            "token_id": token.token_id,
        }

    return make


def fuzz(
    operation: schemathesis.APIOperation,
    auth: dict[str, str],
    path_parameters: dict[str, str] | None = None,
) -> str | None:
    """What went wrong in ``operation`` (the smallest failing case of each kind, with a curl
    command that reproduces it), or None when every answer passed the checks. Path parameters
    not given are generated."""
    names = {parameter.name for parameter in operation.path_parameters}
    fixed = {name: value for name, value in (path_parameters or {}).items() if name in names}

    def call(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=auth, checks=CHECKS)

    test = create_test(
        operation=operation,
        test_func=call,
        config=HypothesisTestConfig(
            project=operation.schema.config,
            modes=list(HypothesisTestMode),
            settings=FUZZING,
            override=Override(path_parameters=fixed),
        ),
    )
    try:
        test()
    # A check failed (schemathesis groups distinct ones in a BaseExceptionGroup), or the call
    # itself raised: both are findings.
    except (Exception, BaseExceptionGroup) as exc:
        target = f" on {fixed}" if fixed else ""
        return f"{operation.label}{target}:\n{exc}"
    return None


def test_no_input_makes_the_api_fail_on_the_server(app, admin_token, existing):
    auth = {"Authorization": f"Bearer {admin_token}"}
    schema = schemathesis.openapi.from_wsgi(OPENAPI, app, headers=auth)
    operations = [result.ok() for result in schema.get_all_operations()]
    fuzzed = [operation for operation in operations if not streams(operation)]
    assert len(fuzzed) >= 20, [operation.label for operation in operations]

    failures = []
    for operation in fuzzed:
        failures.append(fuzz(operation, auth))
        if len(operation.path_parameters):
            # Again on things that exist: an earlier call may have deleted or assigned them.
            failures.append(fuzz(operation, auth, existing()))
    failures = [failure for failure in failures if failure is not None]

    assert not failures, f"{len(failures)} failing operation(s):\n\n" + "\n\n".join(failures)
