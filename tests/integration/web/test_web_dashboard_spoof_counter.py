"""The dashboard counts today's spoof attempts for admins, linking to their page; viewers do not
see it."""

from __future__ import annotations

import pytest

from tests.integration.web.test_web_spoof_attempts import attempts  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration


def test_the_dashboard_counts_todays_spoof_attempts_for_admins(admin, attempts):  # noqa: F811
    assert "Spoof attempts today: 0" in admin.get("/").text
    attempts("t1", "Ana Lopez")
    attempts("t2", None)
    attempts("yesterday", None, minutes_ago=60 * 30)
    page = admin.get("/").text
    assert "Spoof attempts today: 2" in page
    assert 'href="/spoof-attempts" data-spoof-today' in page


def test_viewers_see_no_spoof_counter_on_the_dashboard(viewer, attempts):  # noqa: F811
    attempts("t1", "Ana Lopez")
    assert "Spoof attempts today" not in viewer.get("/").text
