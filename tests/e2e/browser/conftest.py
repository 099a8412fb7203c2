"""Browser fixtures: headless Chromium (Debian's package) driven by playwright, and the web app
served over real HTTP in a thread, wired to the real RabbitMQ, Redis and MongoDB-wire server
exactly as ``services.web.main`` wires it.

The tests are skipped, with the reason, only when /usr/bin/chromium or the playwright package is
missing. Install both with ``apt-get install -y chromium`` and ``pip install playwright==1.65.2``
(never ``playwright install``: the browser comes from Debian).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import free_port
from tests.helpers.redis_keys import delete_prefixed_keys

CHROMIUM = Path(os.environ.get("TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ADMIN_PASSWORD = "browser-admin-pass"
SECRET_KEY = "browser-test-secret-key-0123456789abcdef"

logger = logging.getLogger(__name__)


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found (apt-get install -y chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install playwright==1.65.2)"
    return None


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium for the session."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def screenshots(test_output_dir) -> Path:
    path = test_output_dir / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class RunningWeb:
    url: str
    app: Flask
    settings: object

    @property
    def db(self):
        return self.app.extensions["attendance"].db

    @property
    def cache(self):
        return self.app.extensions["attendance"].cache


@pytest.fixture
def web(pipeline_env, redis_url, bus_prefix) -> Iterator[RunningWeb]:
    """The dashboard and API on a free port, as ``services.web.main`` builds them: frames and
    enrolment requests over RabbitMQ (enrolments answered by the recognizer process), the live
    feed on a connection of its own, the gallery cache in Redis under the pipeline's prefix."""
    from werkzeug.serving import make_server

    from services.common.storage.mongo import connect
    from services.web.main import build_app
    from services.web.settings import WebSettings

    port = free_port()
    environ = {k: v for k, v in pipeline_env.items() if k != "ATTENDANCE_MODELS_DIR"}
    settings = WebSettings.from_env(
        environ,
        web_host="127.0.0.1",
        web_port=port,
        web_secret_key=SECRET_KEY,
        web_admin_password=ADMIN_PASSWORD,
        enrolment_timeout=60.0,
    )
    db = connect(settings.mongo_url, settings.mongo_db)
    # Wired as `attendance web` wires it: Redis under the processes' prefix, buses to them.
    app, buses = build_app(settings, db)
    server = make_server("127.0.0.1", port, app, threaded=True)
    # Server-sent-event streams stay open; do not let them hold the shutdown.
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="web-under-test", daemon=True)
    thread.start()
    try:
        yield RunningWeb(f"http://127.0.0.1:{port}", app, settings)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["attendance"].live.stop()
        for bus in buses:
            try:
                bus.close()
            except Exception as exc:  # teardown is best effort; the vhost is dropped anyway
                logger.warning("closing a bus failed: %s", exc)
        db.client.close()
        delete_prefixed_keys(redis_url, bus_prefix)


@pytest.fixture
def page(chromium, web):
    """A fresh browser context (no camera permission granted) on the running app."""
    context = chromium.new_context(
        base_url=web.url, viewport={"width": 1366, "height": 900}, accept_downloads=True
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


# -- the manager's pages on synthetic data (no models, no broker) ------------------------------
MANAGER_PASSWORD = "browser-manager-pass"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 800}


@dataclass
class ManagerSite:
    url: str
    app: Flask

    @property
    def db(self):
        return self.app.extensions["attendance"].db


@pytest.fixture
def manager_site(mongo_db, monkeypatch) -> Iterator[ManagerSite]:
    """The dashboard on the in-memory bus and cache with the fake enroller of the web tests
    (solid-colour photos stand for faces), served over HTTP in a thread; its clock is pinned by
    the test (services.web.clock)."""
    from werkzeug.serving import make_server

    from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
    from services.common.cache import InMemoryCache
    from services.common.gallery import Gallery
    from services.common.storage.employees import EmployeeRepository
    from services.web.app import create_app
    from services.web.settings import WebSettings
    from tests.integration.web.conftest import MODEL_ID, PreviewingEnroller

    port = free_port()
    settings = WebSettings.from_env(
        {},
        web_secret_key=SECRET_KEY,
        web_admin_password=MANAGER_PASSWORD,
        site_timezone="Europe/Paris",
        gallery_model_id=MODEL_ID,
    )
    cache = InMemoryCache()
    employees = EmployeeRepository(mongo_db)
    enroller = PreviewingEnroller(employees, Gallery(cache, employees, MODEL_ID))
    bus = InMemoryCommunicator(InMemoryBroker())
    app = create_app(settings, db=mongo_db, cache=cache, bus=bus, enroller=enroller)
    server = make_server("127.0.0.1", port, app, threaded=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="manager-site", daemon=True)
    thread.start()
    try:
        yield ManagerSite(f"http://127.0.0.1:{port}", app)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["attendance"].live.stop()
        bus.close()


@pytest.fixture
def open_page(chromium, manager_site):
    """``open_page(viewport)``: a fresh browser context logged in as the admin."""
    contexts = []

    def make(viewport: dict):
        context = chromium.new_context(
            base_url=manager_site.url, viewport=viewport, accept_downloads=True
        )
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        page.goto("/login")
        page.fill('input[name="username"]', "admin")
        page.fill('input[name="password"]', MANAGER_PASSWORD)
        page.click('button[type="submit"]')
        page.wait_for_url(f"{manager_site.url}/")
        return page

    try:
        yield make
    finally:
        for context in contexts:
            context.close()
