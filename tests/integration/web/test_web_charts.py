"""Charts drawn on the server: arrivals per hour on the dashboard, hours per day on an
employee's page, late days marked."""

from __future__ import annotations

import pytest

from tests.integration.web.conftest import paris, see

pytestmark = pytest.mark.integration


def test_the_dashboard_shows_arrivals_per_hour_of_today(admin, app, staff, clock):
    ids = staff("Ana", "Bo")
    see(app, ids["Ana"], "Ana", paris(1, 8, 10))
    see(app, ids["Bo"], "Bo", paris(1, 9, 40))
    clock.set(paris(1, 12))
    response = admin.get("/charts/arrivals-today.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    svg = response.text
    assert svg.lstrip().startswith("<?xml") and "Arrivals per hour" in svg
    assert ">08<" in svg and ">09<" in svg
    assert 'src="/charts/arrivals-today.svg"' in admin.get("/").text


def test_an_employees_page_shows_hours_per_day_with_late_days_marked(admin, app, staff, clock):
    ana = staff("Ana")["Ana"]
    see(app, ana, "Ana", paris(0, 8, 55))
    see(app, ana, "Ana", paris(0, 17, 0))
    see(app, ana, "Ana", paris(1, 9, 30))  # late
    see(app, ana, "Ana", paris(1, 18, 0))
    clock.set(paris(2, 12))
    svg = admin.get(f"/employees/{ana}/hours.svg").text
    assert svg.count(">late<") == 1 and "Hours on site" in svg
    assert f'src="/employees/{ana}/hours.svg"' in admin.get(f"/employees/{ana}").text
    assert admin.get("/employees/0123456789ab/hours.svg").status_code == 404
