"""Render docs/dashboard.png and docs/period.png, the README's screenshots of the dashboard and of
the attendance of a week, from synthetic data only.

The documentation must never carry a real person's face, so nothing here reads a photo: every
employee, visitor, enrolment photo, attendance snapshot and camera frame is a cartoon drawn with
OpenCV (``docs/screenshot/drawing.py``), and the embeddings are random unit vectors (nothing is
recognised; ``docs/screenshot/cast.py``). Everything else is the real product: a throwaway
nx-27017 MongoDB-wire server, the dashboard built by ``services.web.app.create_app`` on the
in-memory bus and cache, attendance records written by the recorder's own rules
(``services.recorder.service.Recorder``), and the live view fed through the app's
:class:`~services.web.live.LiveFeed`. Headless Chromium (Debian's, driven by playwright) logs in
and photographs the page.

The web's clock is stopped at the moment the live camera shows (late afternoon), so presence and
the day's statuses read as they would then, whatever the time of the run.

Run from the repository root::

    .venv/bin/python docs/make_screenshot.py [--out PNG] [--period-out PNG]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import secrets
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask
from PIL import Image

from services.allinone import MongoWireServer, free_port
from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator
from services.common.cache import InMemoryCache
from services.common.storage.mongo import connect
from services.web import clock as web_clock
from services.web.app import create_app
from services.web.context import WebContext
from services.web.server import WebServer
from services.web.settings import WebSettings

# The synthetic data lives in the ``screenshot`` package beside this file. Run as a script, this
# folder is already first on sys.path; it is put there explicitly so that the import also works
# when the module is loaded another way (runpy, an import from the repository root).
DOCS_DIR = Path(__file__).resolve().parent
if str(DOCS_DIR) not in sys.path:
    sys.path.insert(0, str(DOCS_DIR))

from screenshot.cast import (  # noqa: E402
    LIVE_TIME,
    LiveCamera,
    live_scene,
    seed_day,
    seed_earlier_days,
)

logger = logging.getLogger("make_screenshot")

DEFAULT_OUT = DOCS_DIR / "dashboard.png"
DEFAULT_PERIOD_OUT = DOCS_DIR / "period.png"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1366, "height": 860}
MAX_HEIGHT = 1200  # the viewport grows to the page's height (every row shown), up to this
MAX_PNG_BYTES = 400_000
ADMIN_PASSWORD = "synthetic-demo-password"
SITE_TIMEZONE = "Europe/Paris"


# -- the running dashboard ---------------------------------------------------------------------
@dataclass
class RunningWeb:
    """The dashboard served in a thread, and what it needs stopped with it."""

    url: str
    app: Flask
    server: WebServer
    thread: threading.Thread
    broker: InMemoryBroker
    buses: list[InMemoryCommunicator]

    @property
    def context(self) -> WebContext:
        return self.app.extensions["attendance"]

    def new_bus(self) -> InMemoryCommunicator:
        bus = InMemoryCommunicator(self.broker)
        self.buses.append(bus)
        return bus

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(timeout=10)
        self.context.live.stop()
        for bus in self.buses:
            bus.close()
        self.context.db.client.close()
        logger.info("dashboard stopped")


def start_web(mongo_url: str, timezone: str) -> RunningWeb:
    """The real app on the in-memory bus and cache, served over HTTP in a thread."""
    port = free_port()
    settings = WebSettings.from_env(
        {},
        mongo_url=mongo_url,
        mongo_db="attendance_demo",
        web_host="127.0.0.1",
        web_port=port,
        web_secret_key=secrets.token_hex(32),
        web_admin_password=ADMIN_PASSWORD,
        site_timezone=timezone,
    )
    db = connect(settings.mongo_url, settings.mongo_db)
    broker = InMemoryBroker()
    buses = [InMemoryCommunicator(broker), InMemoryCommunicator(broker)]
    app = create_app(settings, db=db, cache=InMemoryCache(), bus=buses[0], live_bus=buses[1])
    server = WebServer(app, "127.0.0.1", port, threads=8)
    thread = threading.Thread(target=server.serve_forever, name="web", daemon=True)
    thread.start()
    logger.info("dashboard on http://127.0.0.1:%d", port)
    return RunningWeb(f"http://127.0.0.1:{port}", app, server, thread, broker, buses)


# -- the browser -------------------------------------------------------------------------------
THUMBS_READY = """() => [...document.querySelectorAll("img")]
  .filter((img) => img.getBoundingClientRect().top < 1200)
  .every((img) => img.complete && img.naturalWidth > 0)"""
PAGE_READY = """() => {
  const live = document.querySelector("img[data-live-img]");
  const thumbs = [...document.querySelectorAll(".entries img, .today-card img")]
    .filter((img) => img.getBoundingClientRect().top < window.innerHeight);
  return live !== null && live.naturalWidth > 0 && thumbs.length > 0
    && thumbs.every((img) => img.complete && img.naturalWidth > 0);
}"""


def take_screenshots(url: str, out: Path, period_out: Path, period_query: str) -> None:
    """Log in with headless Chromium, photograph the dashboard, then the week's attendance."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(base_url=url, viewport=VIEWPORT)
            page.set_default_timeout(20_000)
            page.goto("/login")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", ADMIN_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/")
            height = page.evaluate("document.documentElement.scrollHeight")
            page.set_viewport_size(
                {
                    "width": VIEWPORT["width"],
                    "height": min(MAX_HEIGHT, max(VIEWPORT["height"], height)),
                }
            )
            page.wait_for_function(PAGE_READY)
            page.wait_for_timeout(800)  # a few more live frames: boxes drawn, stream settled
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), animations="disabled", caret="hide")
            page.set_viewport_size(VIEWPORT)
            page.goto(f"/attendance?{period_query}")
            page.wait_for_function(THUMBS_READY)
            page.screenshot(
                path=str(period_out),
                animations="disabled",
                caret="hide",
                clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": MAX_HEIGHT},
                full_page=True,
            )
        finally:
            browser.close()


def shrink_png(path: Path) -> None:
    """Reduce to a 256-colour palette when the screenshot is heavier than MAX_PNG_BYTES."""
    if path.stat().st_size <= MAX_PNG_BYTES:
        return
    with Image.open(path) as image:
        reduced = image.convert("RGB").quantize(
            colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
    reduced.save(path, optimize=True)


# -- main --------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="dashboard PNG to write")
    parser.add_argument(
        "--period-out", type=Path, default=DEFAULT_PERIOD_OUT, help="week's attendance PNG"
    )
    parser.add_argument("--timezone", default=SITE_TIMEZONE, help="the site's IANA time zone")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in (logger.name, "screenshot"):  # this script's progress lines, not the product's
        logging.getLogger(name).setLevel(logging.INFO)
    zone = ZoneInfo(args.timezone)
    with (
        tempfile.TemporaryDirectory(prefix="attendance-screenshot-") as scratch,
        contextlib.ExitStack() as cleanup,
    ):
        mongo = MongoWireServer(Path(scratch) / "mongo")
        mongo.start()
        cleanup.callback(mongo.stop)
        web = start_web(mongo.url, args.timezone)
        cleanup.callback(web.stop)
        day = web.context.today()
        moment = datetime.combine(day, LIVE_TIME, tzinfo=zone)
        web_clock.now = lambda: moment.astimezone(UTC)
        employees = seed_day(web.context, web.new_bus(), zone, day)
        week = [day - timedelta(days=n) for n in range(6, 0, -1)]
        seed_earlier_days(web.context, web.new_bus(), zone, employees, week)
        camera = LiveCamera(web.context.live, live_scene(employees), moment)
        camera.start()
        cleanup.callback(camera.stop)
        query = f"from={week[0].isoformat()}&to={day.isoformat()}"
        take_screenshots(web.url, args.out, args.period_out, query)
    for out in (args.out, args.period_out):
        shrink_png(out)
        logger.info("wrote %s (%d bytes)", out, out.stat().st_size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
