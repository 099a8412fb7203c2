"""Pages as people meet them: one h1 each, the app's own error page for a bad address, a
favicon, and a registration sent in the background that keeps the chosen file on a refusal."""

from __future__ import annotations

import re

import pytest

from tests.integration.web.conftest import NO_FACE, ONE_FACE, upload

pytestmark = pytest.mark.integration

PAGES = ["/", "/attendance", "/employees", "/employees/new", "/unknown", "/schedule", "/audit"]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_has_exactly_one_h1_and_a_favicon(admin, url):
    page = admin.get(url).text
    assert len(re.findall(r"<h1[ >]", page)) == 1, url
    assert 'rel="icon"' in page
    assert admin.get("/static/favicon.svg").status_code == 200


def test_a_bad_address_shows_the_apps_own_error_page(admin):
    response = admin.get("/no/such/page")
    assert response.status_code == 404
    assert "This page does not exist" in response.text and 'class="topbar"' in response.text
    assert "Back to the dashboard" in response.text


def test_a_background_registration_answers_where_to_go_and_keeps_the_message(admin, mongo_db):
    headers = {"X-Requested-With": "fetch"}
    data = {"name": "Ana", "photo": upload(ONE_FACE), "csrf_token": admin.csrf}
    response = admin.post(
        "/employees/new", data=data, content_type="multipart/form-data", headers=headers
    )
    employee = mongo_db.employees.find_one({"name": "Ana"})
    assert response.get_json() == {"redirect": f"/employees/{employee['_id']}"}
    # The success message waits for the page the browser goes to.
    assert "Ana is registered." in admin.get(response.get_json()["redirect"]).text


def test_a_refused_background_registration_answers_the_page_with_its_error(admin, mongo_db):
    data = {"name": "Bo", "photo": upload(NO_FACE), "csrf_token": admin.csrf}
    response = admin.post(
        "/employees/new",
        data=data,
        content_type="multipart/form-data",
        headers={"X-Requested-With": "fetch"},
    )
    assert response.status_code == 422 and response.mimetype == "text/html"
    assert 'data-error-code="no_face"' in response.text and "data-keep-files" in response.text
    assert mongo_db.employees.count_documents({}) == 0
