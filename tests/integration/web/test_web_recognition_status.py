"""The Recognition page and GET /api/v1/recognition show what the gallery's size implies, as
the recognizer reported it: the threshold in use, the expected share of strangers accepted,
and the rule for larger galleries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pytest

from services.common.bus.memory import InMemoryCommunicator
from services.common.domain.open_set import ImpostorTail, OpenSetPolicy
from services.common.recognition_status import publish_status
from services.faces.quality import QualityGate
from services.recognizer.service import Recognizer
from services.recognizer.status import describe
from tests.fixtures.bus import face
from tests.integration.web.conftest import MODEL_ID, counts

pytestmark = pytest.mark.integration

# FAR falls tenfold for every 0.1 of similarity: 1e-1 at 0.3 ... 1e-7 at 0.9.
TAIL = ImpostorTail.from_rows(MODEL_ID, [(0.3, -1.0), (0.9, -7.0)], source="test tail")
NOON = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)


def report(cache, policy: OpenSetPolicy, embeddings: int = 100, people: int = 80) -> None:
    """What a recognizer holding such a gallery writes to the cache."""
    status = describe(
        policy,
        policy.rule_for(embeddings),
        gallery_version="v7",
        gallery_people=people,
        gate=QualityGate(),
        reported_at=NOON,
    )
    publish_status(cache, status)


def test_before_any_recognizer_reported_the_api_says_so_and_the_page_explains(viewer):
    assert viewer.get("/api/v1/recognition").get_json() == {"reported": False}

    page = viewer.get("/recognition")

    assert page.status_code == 200
    assert "No recognizer has reported yet" in page.text


def test_a_viewer_reads_the_threshold_and_the_expected_share_of_strangers(viewer, cache):
    report(cache, OpenSetPolicy(MODEL_ID, [TAIL], target_fpir=0.01), embeddings=100, people=80)

    body = viewer.get("/api/v1/recognition").get_json()

    assert body["reported"] is True
    assert (body["gallery_people"], body["gallery_embeddings"]) == (80, 100)
    assert body["rule"] == "calibrated"
    # FAR 1e-4 for 100 photos: 0.3 + 0.1 x 3 = 0.6.
    assert body["threshold"] == pytest.approx(0.6, abs=0.001)
    assert body["expected_fpir"] == pytest.approx(0.01, rel=0.01)
    assert body["target_fpir"] == 0.01 and body["margin"] == 0.05
    assert [row["gallery_embeddings"] for row in body["outlook"]] == [200, 500, 1000]
    assert body["outlook"][-1]["threshold"] == pytest.approx(0.7, abs=0.001)
    assert body["quality_gate"]["min_face_size"] == 32
    assert body["reported_at"].startswith("2026-11-24T11:00:00")
    assert "calibration_table" not in body


def test_the_page_shows_the_gallery_the_threshold_and_the_share_of_strangers(viewer, cache):
    report(cache, OpenSetPolicy(MODEL_ID, [TAIL], target_fpir=0.01), embeddings=100, people=80)

    page = viewer.get("/recognition").text

    assert "80 people, 100 enrolled photos" in page
    assert "0.600" in page and "follows the gallery's size" in page
    assert "1.00% expected" in page and "(target 1.00%)" in page
    assert "0.700" in page  # ten times the photos
    assert "QUALITY_MIN_FACE_SIZE" in page
    # Shown in the site's zone (Europe/Paris).
    assert "2026-11-24 12:00:00" in page


def test_asking_about_a_larger_gallery_shows_the_rule_there(viewer, cache):
    report(cache, OpenSetPolicy(MODEL_ID, [TAIL]), embeddings=100)

    asked = viewer.get("/api/v1/recognition?gallery_embeddings=100000").get_json()["asked"]
    page = viewer.get("/recognition?gallery_embeddings=100000").text

    assert asked["gallery_embeddings"] == 100_000
    assert asked["threshold"] == pytest.approx(0.9, abs=0.001)
    assert "100000 (asked)" in page


@pytest.mark.parametrize("value", ["0", "ten", "99999999999"])
def test_a_malformed_gallery_size_is_a_400_naming_the_field(viewer, cache, value):
    report(cache, OpenSetPolicy(MODEL_ID, [TAIL]))

    response = viewer.get(f"/api/v1/recognition?gallery_embeddings={value}")

    assert response.status_code == 400
    error = response.get_json()["error"]
    assert (error["code"], error["field"]) == ("invalid_input", "gallery_embeddings")


def test_a_configured_threshold_is_said_to_be_set_and_what_it_lets_through(viewer, cache):
    report(cache, OpenSetPolicy(MODEL_ID, [TAIL], threshold=0.5), embeddings=1000)

    body = viewer.get("/api/v1/recognition").get_json()
    page = viewer.get("/recognition").text

    assert (body["rule"], body["threshold"], body["target_fpir"]) == ("configured", 0.5, None)
    assert body["expected_fpir"] == pytest.approx(1 - (1 - 1e-3) ** 1000, rel=1e-3)
    assert "set by MATCH_THRESHOLD" in page
    assert "Unset it to let the threshold follow the gallery" in page


def test_a_model_without_calibration_is_flagged_with_what_to_do(viewer, cache):
    report(cache, OpenSetPolicy("another/model", [TAIL]))

    body = viewer.get("/api/v1/recognition").get_json()
    page = viewer.get("/recognition").text

    assert (body["rule"], body["expected_fpir"]) == ("uncalibrated", None)
    assert "has no calibration" in page and "calibrate_open_set" in page


def test_anonymous_callers_and_kiosks_are_refused(client, admin, cache):
    report(cache, OpenSetPolicy(MODEL_ID, [TAIL]))
    token = admin.post("/api/v1/tokens", json={"name": "lobby", "role": "kiosk"}).get_json()
    kiosk = {"Authorization": f"Bearer {token['token']}"}

    assert client.get("/api/v1/recognition").status_code == 401
    assert client.get("/recognition").status_code == 302
    assert client.get("/api/v1/recognition", headers=kiosk).status_code == 403


def test_the_api_is_in_the_openapi_document_with_its_query(viewer):
    document = viewer.get("/api/v1/openapi.json").get_json()

    operation = document["paths"]["/recognition"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["gallery_embeddings"]


class VectorPerFill:
    model_id = MODEL_ID

    def embed(self, crops: Sequence[np.ndarray], *, mirror: bool | None = None) -> np.ndarray:
        vectors = np.zeros((len(crops), 512), dtype=np.float32)
        vectors[:, 0] = 1.0
        return vectors


def test_registrations_move_the_threshold_the_running_recognizer_reports(
    app, viewer, registered, cache, gallery, mongo_db
):
    recognizer = Recognizer(
        InMemoryCommunicator(app.extensions["attendance"].bus.broker),
        VectorPerFill(),
        gallery,
        cache,
        policy=OpenSetPolicy(MODEL_ID, [TAIL]),
        quality_gate=QualityGate(),
        agreement_frames=1,
    )
    registered("Ana")
    recognizer.start()
    before = viewer.get("/api/v1/recognition").get_json()

    for name in ("Bo", "Cy", "Di"):
        registered(name)
    one = face("f1").model_copy(update={"crop_size": 4, "crop_rgb": bytes(48)})
    recognizer.recognise([one])
    after = viewer.get("/api/v1/recognition").get_json()

    assert (before["gallery_people"], after["gallery_people"]) == (1, 4)
    assert counts(mongo_db)["embeddings"] == after["gallery_embeddings"] == 4
    assert after["threshold"] > before["threshold"]
