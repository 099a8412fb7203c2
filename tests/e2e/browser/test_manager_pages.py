"""Issue 13's "Done when", in a real browser: the manager's week on a desktop and a phone.

Headless Chromium drives the dashboard, served over HTTP, on synthetic data (solid-colour
pictures, no models): presence and the head count, the period view (sorted, filtered, paged,
with totals), a correction with its reason, the CSV and XLSX exports, the schedule's holidays,
unknown faces grouped and assigned, the register page's errors, and the app's own error page.
At 1366x800 and 390x844 every page is checked for sideways scrolling, one h1, labelled inputs
and AA contrast, and saved under test-output/screenshots/.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from services.common.storage.sightings import SightingLog
from services.web import clock as web_clock
from tests.e2e.browser.conftest import DESKTOP, PHONE
from tests.helpers.messages import sighting
from tests.integration.web.conftest import NO_FACE, paris, photo, registered_since, see

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

NOW = paris(2, 9, 5)  # Wednesday 2026-11-25, 09:05 in Paris

# No sideways scrolling, one h1, labelled inputs, AA contrast (measured in the page).
CHECKS = (Path(__file__).parent / "page_checks.js").read_text("utf-8")


class Walk:
    """Checks every page it is shown and keeps a screenshot of it."""

    def __init__(self, page, screenshots: Path, size: str) -> None:
        self.page = page
        self.screenshots = screenshots
        self.size = size

    def check(self, name: str) -> None:
        self.page.wait_for_load_state("load")
        found = self.page.evaluate(CHECKS)
        self.page.screenshot(path=str(self.screenshots / f"{self.size}-{name}.png"), full_page=True)
        assert found["overflow"] <= 0, (
            f"{name} at {self.size} scrolls sideways by {found['overflow']} px"
        )
        assert found["h1"] == 1, f"{name} has {found['h1']} h1"
        assert found["unlabelled"] == [], f"{name}: inputs without a label {found['unlabelled']}"
        assert found["contrast"] == [], f"{name}: text below 4.5:1 {found['contrast']}"

    def visit(self, url: str, name: str) -> None:
        self.page.goto(url)
        self.check(name)


def wait_images(page, selector: str) -> None:
    page.wait_for_function(
        "s => [...document.querySelectorAll(s)].every(i => i.complete && i.naturalWidth > 0)",
        arg=selector,
    )


@pytest.fixture
def week(manager_site, monkeypatch):
    """Three employees' week of 2026-11-23 up to Wednesday 09:05, and an unknown visitor."""
    monkeypatch.setattr(web_clock, "now", lambda: NOW)
    app = manager_site.app
    c = app.extensions["attendance"]
    ids = {}
    for name, colour in (("Ana Lopez", (200, 40, 40)), ("Bo Chen", (180, 90, 60))):
        ids[name] = c.enrol.enroll(name, [photo(colour)]).employee_id
        registered_since(c.db, ids[name], paris(-30, 12))
    ids["Cleo Martin"] = c.enrol.enroll("Cleo Martin", [photo((160, 60, 90))]).employee_id
    registered_since(c.db, ids["Cleo Martin"], paris(1, 8))
    visits = {
        "Ana Lopez": [(0, 8, 58), (0, 17, 3), (1, 9, 20), (1, 16, 20), (2, 8, 57), (2, 9, 1)],
        "Bo Chen": [(0, 9, 0), (0, 12, 0), (2, 8, 40)],
        "Cleo Martin": [(1, 10, 0), (1, 18, 0)],
    }
    for name, moments in visits.items():
        for day, hour, minute in moments:
            see(app, ids[name], name, paris(day, hour, minute))
    log = SightingLog(c.db, c.pictures)
    for n in range(30):
        at = paris(2, 8, 30) + timedelta(seconds=2 * n)
        log.add(sighting(None).model_copy(update={"seen_at": at, "track_id": "visitor"}))
    for n in range(2):
        at = paris(1, 14, 0) + timedelta(seconds=2 * n)
        log.add(sighting(None).model_copy(update={"seen_at": at, "track_id": "courier"}))
    return ids


def test_a_managers_week_on_a_desktop(open_page, manager_site, week, screenshots):
    from playwright.sync_api import expect

    page = open_page(DESKTOP)
    walk = Walk(page, screenshots, "desktop")

    # --- Presence: Ana is still in front of the camera, her departure only "last seen".
    walk.check("dashboard")
    expect(page.locator("[data-headcount]")).to_have_text("In now: 1 of 3")
    ana = page.locator(".today-card tbody tr").filter(has_text="Ana Lopez")
    expect(ana.locator(".pill-in")).to_have_text("In")
    expect(ana).to_contain_text("last seen")
    expect(page.locator(".today-card tbody tr").filter(has_text="Bo Chen")).not_to_contain_text(
        "last seen"
    )
    wait_images(page, "img[data-chart]")
    # Thumbnails open the full picture.
    assert ana.locator("a.thumb-link").first.get_attribute("target") == "_blank"

    # --- The period view: this week by default, totals, sorting, filtering, paging.
    page.click("nav.mainnav >> text=Attendance")
    expect(page.locator("h1")).to_have_text("Attendance · 2026-11-23 to 2026-11-29")
    walk.check("attendance-week")
    totals = page.locator("table.totals tbody tr")
    expect(totals).to_have_count(3)
    expect(totals.filter(has_text="Ana Lopez").locator('td[data-label="Late"]')).to_have_text("1")
    expect(
        totals.filter(has_text="Cleo Martin").locator('td[data-label="Days present"]')
    ).to_have_text("1")
    page.click("table.days thead >> text=Hours")
    expect(page).to_have_url(re.compile(r"sort=hours"))
    page.select_option('select[name="employee"]', label="Ana Lopez")
    page.click("form.filters button[type=submit]")
    days = page.locator("table.days tbody tr")
    expect(days).to_have_count(7)
    expect(days.filter(has_text="2026-11-24").locator(".pill")).to_have_text("late")
    expect(days.filter(has_text="2026-11-28").locator(".pill")).to_have_text("off")
    page.goto("/attendance?from=2026-11-01&to=2026-11-30")
    expect(page.locator(".pager")).to_contain_text("Page 1 of 2")
    page.click("text=Next page")
    expect(page.locator(".pager")).to_contain_text("Page 2 of 2")
    walk.check("attendance-month-page-2")

    # --- A correction with its reason, shown with a mark, audited.
    page.goto(f"/attendance?from=2026-11-23&to=2026-11-29&employee={week['Ana Lopez']}")
    tuesday = page.locator("table.days tbody tr").filter(has_text="2026-11-24")
    tuesday.locator("text=Correct").click()
    walk.check("correct")
    page.check('input[name="arrival_choice"][value="set"]')
    page.fill('input[name="arrival_time"]', "08:55")
    page.fill('input[name="reason"]', "The badge reader was down")
    page.click("text=Save correction")
    expect(page.locator(".alert-success")).to_contain_text("is corrected")
    row = page.locator("table.days tbody tr").filter(has_text="2026-11-24")
    expect(row.locator(".corrected-mark")).to_be_visible()
    expect(row.locator(".pill")).to_have_text("present")
    stored = manager_site.db.attendance_corrections.find_one({})
    assert stored["reason"] == "The badge reader was down"

    # --- Exports of the week: CSV with a corrected column, XLSX with two sheets.
    page.goto("/attendance?from=2026-11-23&to=2026-11-29")
    with page.expect_download() as download:
        page.click("text=Download CSV")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text("utf-8"))))
    fixed = next(r for r in rows if r["employee_name"] == "Ana Lopez" and r["date"] == "2026-11-24")
    assert fixed["corrected"] == "yes" and fixed["arrival_time"].startswith("2026-11-24T08:55")
    assert not [r for r in rows if r["status"] == "not seen"]
    assert {
        r["status"]
        for r in rows
        if r["employee_name"] == "Cleo Martin" and r["date"] == "2026-11-23"
    } == {"not yet employed"}
    with page.expect_download() as download:
        page.click("text=Download XLSX")
    workbook = Path(download.value.path()).read_bytes()
    assert load_workbook(io.BytesIO(workbook)).sheetnames == ["Days", "Summary"]
    (screenshots.parent / "attendance-week.xlsx").write_bytes(workbook)

    # --- A holiday, with the button busy while the request runs.
    page.click("nav.mainnav >> text=Schedule")
    walk.check("schedule")
    held = []
    page.route("**/schedule/holidays", lambda route: held.append(route))
    page.fill('form[action$="/schedule/holidays"] input[name="day"]', "2026-11-26")
    page.fill('form[action$="/schedule/holidays"] input[name="name"]', "Founders' day")
    button = page.locator('form[action$="/schedule/holidays"] button[type=submit]')
    # Pressed and read in one script: locators would wait for the navigation it starts.
    state = button.evaluate(
        """b => { b.click();
                  return new Promise(r => setTimeout(
                      () => r([b.disabled, b.getAttribute("aria-busy")]), 100)); }"""
    )
    assert state == [True, "true"]
    assert len(held) == 1
    held[0].continue_()
    page.unroute("**/schedule/holidays")
    expect(page.locator(".alert-success")).to_contain_text("2026-11-26 is a holiday")
    page.goto("/attendance?from=2026-11-26&to=2026-11-26")
    expect(page.locator("table.days .pill").first).to_have_text("holiday")

    # --- Unknown faces: one card per visitor with the real count; assign a whole group.
    expect(page.locator("[data-unknown-count]")).to_have_text("2")
    page.click("nav.mainnav >> text=Unknown faces")
    walk.check("unknown-faces")
    cards = page.locator(".face-card")
    expect(cards).to_have_count(2)
    visitor = cards.filter(has_text="30 sightings")
    visitor.locator('select[name="employee_id"]').select_option(label="Bo Chen")
    visitor.locator('input[name="make_attendance"]').check()
    visitor.locator("text=Assign").click()
    expect(page.locator(".alert-success")).to_contain_text("30 sightings were given to Bo Chen")
    expect(page.locator("[data-unknown-count]")).to_have_text("1")
    bo = manager_site.db.attendance.find_one({"employee_name": "Bo Chen", "day": "2026-11-25"})
    assert bo["arrival"]["seen_at"].astimezone(paris(0, 0).tzinfo).minute == 30

    # --- The register page: a refused photo is said in words and stays chosen.
    page.click("nav.mainnav >> text=Register")
    page.fill('input[name="name"]', "Dan Okoro")
    page.set_input_files(
        'input[name="photo"]',
        files=[{"name": "dark.jpg", "mimeType": "image/jpeg", "buffer": NO_FACE}],
    )
    expect(page.locator("[data-face-error]")).to_have_text("No face found.")
    page.click('form.form button[type="submit"]')
    expect(page.locator(".alert-error")).to_have_text("No face found.")
    assert page.eval_on_selector('input[name="photo"]', "e => e.files.length") == 1
    expect(page.locator('input[name="name"]')).to_have_value("Dan Okoro")
    walk.check("register-refused")

    # --- The rest, and a bad address.
    for url, name in (
        (f"/employees/{week['Ana Lopez']}", "employee"),
        ("/employees", "employees"),
        ("/audit", "audit"),
        ("/no/such/page", "error-page"),
    ):
        walk.visit(url, name)
    expect(page.locator("h1")).to_have_text("This page does not exist")
    page.goto("/audit")
    expect(page.locator("main")).to_contain_text("attendance.correct")


PHONE_PAGES = (
    ("/", "dashboard"),
    ("/attendance", "attendance-week"),
    ("/employees", "employees"),
    ("/unknown", "unknown-faces"),
    ("/schedule", "schedule"),
    ("/employees/new", "register"),
    ("/audit", "audit"),
    ("/accounts", "accounts"),
    ("/tokens", "tokens"),
    ("/employees/search?q=o", "search"),
    ("/no/such/page", "error-page"),
)


def test_every_page_fits_a_phone(open_page, week, screenshots):
    from playwright.sync_api import expect

    page = open_page(PHONE)
    walk = Walk(page, screenshots, "phone")
    # The navigation folds into a menu.
    menu = page.locator("[data-nav-toggle]")
    expect(menu).to_be_visible()
    expect(page.locator("nav.mainnav")).to_be_hidden()
    menu.click()
    expect(page.locator("nav.mainnav")).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "true")
    walk.check("menu-open")
    for url, name in PHONE_PAGES:
        walk.visit(url, name)
    page.goto(f"/employees/{week['Ana Lopez']}")
    walk.check("employee")
    page.goto(f"/attendance/correct?employee={week['Ana Lopez']}&day=2026-11-24")
    walk.check("correct")
    # Tables are stacked cards: no header row, each cell says what it is.
    page.goto("/attendance")
    assert page.eval_on_selector("table.days thead", "e => e.getBoundingClientRect().width") <= 1
    label = page.eval_on_selector(
        "table.days tbody td[data-label=Status]", "e => getComputedStyle(e, '::before').content"
    )
    assert label == '"Status"'
    # Finger-sized: buttons and thumbnails at least 44 px.
    sizes = page.eval_on_selector_all(
        "main .btn, main img.thumb-sm",
        "els => els.map(e => e.getBoundingClientRect())"
        ".filter(r => r.width > 0).map(r => Math.min(r.width, r.height))",
    )
    assert sizes and min(sizes) >= 44, sizes
