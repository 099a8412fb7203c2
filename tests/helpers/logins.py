"""Logging in through the real login form, as a browser would, from a chosen address."""

from __future__ import annotations

from tests.integration.web.conftest import csrf_from


def post_login(client, username: str, password: str, *, address: str = "127.0.0.1", **query):
    """POST the login form with a fresh CSRF token; return the response (no redirect followed)."""
    environ = {"REMOTE_ADDR": address}
    token = csrf_from(client.get("/login", environ_base=environ).text)
    return client.post(
        "/login",
        query_string=query,
        data={"username": username, "password": password, "csrf_token": token},
        environ_base=environ,
    )


def post_kiosk_token(client, secret: str, **query):
    token = csrf_from(client.get("/login").text)
    return client.post(
        "/login", query_string=query, data={"kiosk_token": secret, "csrf_token": token}
    )


def session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None, "no session cookie"
    return cookie.value


def page_csrf(client, url: str = "/kiosk") -> str:
    return csrf_from(client.get(url).text)
