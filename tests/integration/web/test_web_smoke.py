import pytest

pytestmark = pytest.mark.integration


def test_smoke(admin, registered):
    data = registered("Ana Lopez")
    for url in [
        "/",
        "/employees",
        f"/employees/{data['employee_id']}",
        "/attendance",
        "/unknown",
        "/employees/new",
        "/kiosk",
        "/tokens",
        "/api/v1/openapi.json",
    ]:
        r = admin.get(url)
        assert r.status_code == 200, (url, r.text[:2000])
