"""The face a registration would take, shown before saving: found and aligned by the
recognizer's own enrolment code, refused with the same errors as registering, storing nothing."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from services.common.images import decode_image
from tests.fixtures.models import NOT_ONE_FACE_PHOTOS, ONE_FACE_PHOTO, make_enroller
from tests.integration.web.conftest import MAX_UPLOAD, counts, upload

pytestmark = [pytest.mark.integration, pytest.mark.models]

PREVIEW = "/api/v1/employees/preview"
NOTHING = {"employees": 0, "embeddings": 0, "pictures": 0}
DATA_URL = "data:image/jpeg;base64,"
# Over the 2 MB upload limit of the web fixtures (deepface/img1.jpg is 2.2 MB).
LARGE_PHOTO = "deepface/img1.jpg"


@pytest.fixture
def enroller(recognition_models, mongo_db):
    """The recognizer's real enroller instead of the fake one: the preview is the real face."""
    return make_enroller(recognition_models, mongo_db)


def preview(caller, data: bytes, **kwargs):
    return caller.post(
        PREVIEW, data={"photo": upload(data)}, content_type="multipart/form-data", **kwargs
    )


def face_jpeg(answer: dict) -> bytes:
    url = answer["face_data_url"]
    assert url.startswith(DATA_URL)
    return base64.b64decode(url[len(DATA_URL) :])


def face_pixels(answer: dict) -> np.ndarray:
    jpeg = face_jpeg(answer)
    assert jpeg.startswith(b"\xff\xd8\xff"), "the face is not a JPEG"
    return decode_image(jpeg)


def assert_refused(response, status: int, code: str, words: str) -> None:
    assert response.status_code == status, response.text
    error = response.get_json()["error"]
    assert error["code"] == code and words in error["message"], error


def test_a_one_face_photo_shows_its_aligned_160_pixel_face(admin, face_photo, mongo_db):
    data = face_photo(ONE_FACE_PHOTO)
    response = preview(admin, data)
    assert response.status_code == 200, response.text
    answer = response.get_json()
    assert face_pixels(answer).shape == (160, 160, 3)
    height, width = decode_image(data).shape[:2]
    box = answer["face_box"]
    assert 0 <= box["x"] < box["x"] + box["width"] <= width
    assert 0 <= box["y"] < box["y"] + box["height"] <= height
    assert counts(mongo_db) == NOTHING


def test_registering_after_the_preview_stores_the_face_that_was_shown(
    admin, registered, face_photo
):
    data = face_photo(ONE_FACE_PHOTO)
    shown = face_jpeg(preview(admin, data).get_json())
    employee = registered("Lin-Manuel Miranda", data)
    [photo_id] = employee["photo_ids"]
    assert admin.get(f"/api/v1/pictures/{photo_id}-face").data == shown


@pytest.mark.parametrize(("path", "code", "words"), NOT_ONE_FACE_PHOTOS)
def test_a_photo_without_exactly_one_face_says_why_and_stores_nothing(
    admin, face_photo, mongo_db, path, code, words
):
    assert_refused(preview(admin, face_photo(path)), 422, code, words)
    assert counts(mongo_db) == NOTHING


def test_a_file_that_is_not_an_image_says_so_and_stores_nothing(admin, mongo_db):
    assert_refused(preview(admin, b"%PDF-1.4 a document"), 415, "not_an_image", "not an image")
    assert counts(mongo_db) == NOTHING


def test_an_upload_over_the_size_limit_is_refused_and_stores_nothing(admin, mongo_db):
    oversized = b"\xff\xd8\xff" + b"\0" * (MAX_UPLOAD + 10)
    assert_refused(preview(admin, oversized), 413, "payload_too_large", "larger than the limit")
    assert counts(mongo_db) == NOTHING


def test_the_live_camera_s_latest_frame_can_be_previewed(admin, app, face_photo, mongo_db):
    app.extensions["attendance"].live.add_frame("door", face_photo(ONE_FACE_PHOTO))
    response = admin.post(PREVIEW, data={"camera_id": "door"})
    assert response.status_code == 200, response.text
    assert face_pixels(response.get_json()).shape == (160, 160, 3)
    assert counts(mongo_db) == NOTHING


def test_a_camera_frame_over_the_size_limit_is_refused(admin, app, face_photo, mongo_db):
    app.extensions["attendance"].live.add_frame("door", face_photo(LARGE_PHOTO))
    response = admin.post(PREVIEW, data={"camera_id": "door"})
    assert_refused(response, 413, "image_too_large", "the limit is 2 MB")
    assert counts(mongo_db) == NOTHING


def test_a_camera_without_frames_cannot_be_previewed(admin, mongo_db):
    response = admin.post(PREVIEW, data={"camera_id": "nowhere"})
    assert_refused(response, 409, "no_live_frame", "no recent frame")


def test_a_preview_shows_one_photo_at_a_time(admin, face_photo):
    data = face_photo(ONE_FACE_PHOTO)
    response = admin.post(
        PREVIEW,
        data={"photo": [upload(data, "a.png"), upload(data, "b.png")]},
        content_type="multipart/form-data",
    )
    assert_refused(response, 400, "one_photo_only", "one photo at a time")


def test_a_preview_without_a_photo_asks_for_one(admin):
    response = admin.post(PREVIEW, data={}, content_type="multipart/form-data")
    assert_refused(response, 400, "photo_required", "photo")
    assert admin.post(PREVIEW, json={}).status_code == 415


def test_nobody_but_an_admin_can_preview(client, viewer, face_photo):
    data = face_photo(ONE_FACE_PHOTO)
    assert_refused(preview(client, data), 401, "unauthenticated", "log in")
    assert_refused(preview(viewer, data), 403, "forbidden", "admin role")


def test_a_session_preview_needs_the_csrf_token(admin, face_photo):
    response = preview(admin.client, face_photo(ONE_FACE_PHOTO))
    assert_refused(response, 400, "csrf_failed", "CSRF token")


def test_an_admin_token_previews_without_a_csrf_token(admin, client, face_photo):
    created = admin.post("/api/v1/tokens", json={"name": "enrol script", "role": "admin"})
    bearer = {"Authorization": f"Bearer {created.get_json()['token']}"}
    response = preview(client, face_photo(ONE_FACE_PHOTO), headers=bearer)
    assert response.status_code == 200, response.text


def test_the_register_page_has_a_face_preview_for_the_photo_and_the_camera(admin, app):
    app.extensions["attendance"].live.add_frame("door", b"\xff\xd8\xff frame")
    page = admin.get("/employees/new")
    html = page.text
    assert 'data-face-preview="photo"' in html and 'data-face-preview="camera"' in html
    assert "data-live-preview" in html and "Detected face" in html
    assert f'data-max-bytes="{MAX_UPLOAD}"' in html
    # The CSP allows scripts from the app's own files only: the page must have no inline one.
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "<script>" not in html


def test_the_openapi_document_describes_the_preview(admin):
    document = admin.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/employees/preview"]["post"]
    form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(form["properties"]) == {"photo", "camera_id"}
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/FacePreview"}
    schema = document["components"]["schemas"]["FacePreview"]
    assert schema["required"] == ["face_data_url", "face_box"]
    assert {"401", "403", "413", "415", "422"} <= set(operation["responses"])
