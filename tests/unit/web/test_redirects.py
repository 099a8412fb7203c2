"""After login only paths of this site are followed: everything a browser could read as another
site is refused."""

from __future__ import annotations

import pytest

from services.web.redirects import is_local_path, local_path_or

pytestmark = pytest.mark.unit

LOCAL = ["/", "/employees", "/attendance?day=2025-01-02", "/kiosk?camera=lobby", "/a/b#c"]
FOREIGN = [
    "",
    "//evil.example/phish",
    "/\t/evil.example/phish",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "/ /evil.example",
    "/\x00/evil.example",
    "/\u00a0/evil.example",
    "/\u2028/evil.example",
    "/\u200b/evil.example",
    "\\\\evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "data:text/html,hi",
    "evil.example",
    "///evil.example",
    "employees",
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("target", LOCAL)
def test_a_path_of_this_site_is_followed(target):
    assert is_local_path(target)
    assert local_path_or(target, "/") == target


@pytest.mark.parametrize("target", FOREIGN)
def test_anything_a_browser_could_read_as_another_site_is_refused(target):
    assert not is_local_path(target)
    assert local_path_or(target, "/") == "/"


def test_no_target_means_the_fallback():
    assert local_path_or(None, "/kiosk") == "/kiosk"
