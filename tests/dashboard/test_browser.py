"""End to end in a real headless Chromium: each role signs in, walks its main path, and cannot reach the rest.

Debian's /usr/bin/chromium, driven by Playwright (no browser is downloaded); the dashboard runs as
`contactpoint dashboard` runs it, against the real API on the real test Neo4j. Screenshots of the main
pages go to var/screenshots/, or to docs/screenshots/ (the README's) with `make screenshots`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from neo4j import Driver

from contactpoint.dashboard_cli import command
from graph.config import PROJECT_ROOT, GraphSettings
from graph.users import DEMO_USERS
from tests.dashboard.conftest import free_port, fresh_code
from tests.dashboard.world import SHIELDED_SECRETS

CHROMIUM = Path("/usr/bin/chromium")
MISSING = (f"Chromium not found at {CHROMIUM}: install Debian's chromium package ('make chromium', needs root "
           "or sudo) to run the browser test")
if not CHROMIUM.exists() and not os.environ.get("CI"):  # one line in the summary; under CI `browser` fails instead
    pytest.skip(MISSING, allow_module_level=True)
pytestmark = pytest.mark.usefixtures("dash_world")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# A run writes its screenshots under var/ (git-ignored); `make screenshots` refreshes the README's.
SHOTS = Path(os.environ.get("CP_SCREENSHOTS_DIR") or PROJECT_ROOT / "var" / "screenshots")
WAIT_MS = 45_000
PURPOSE = "planning a home visit"
NAV = ("Find a child", "Contacts card", "Involvement network", "Chronology", "Moves and map", "Record accesses",
       "Alerts inbox", "Shielding", "Users", "Audit search", "Chain verification", "Patterns", "Cases",
       "Network measures")
# The usability timings of the main tasks (test_usability_*), for the README.
TIMINGS = PROJECT_ROOT / "var" / "usability.json"


@pytest.fixture(scope="module")
def dashboard_url(api_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dashboard as `contactpoint dashboard start` runs it, on a free port, using the test API."""
    port = free_port()
    log = tmp_path_factory.mktemp("dashboard") / "streamlit.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(command(port), cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "CP_DASHBOARD_API_URL": api_url}, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the dashboard did not start: {log.read_text()[-2000:]}")
        time.sleep(0.3)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Debian Chromium for the module."""
    if not CHROMIUM.exists():
        pytest.fail(f"CI needs {CHROMIUM} for the browser test ('make chromium' installs it, as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1400})
    tab = context.new_page()
    tab.set_default_timeout(WAIT_MS)
    yield tab
    context.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)  # let charts finish their transition before the picture
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, url: str, driver: Driver, settings: GraphSettings, username: str, *,
            picture: str | None = None) -> None:
    user = next(u for u in DEMO_USERS if u.username == username)
    page.goto(url)
    page.get_by_label("Username", exact=True).fill(user.username)
    page.get_by_label("Password", exact=True).fill(user.password)
    page.get_by_label("Authenticator code", exact=True).fill(fresh_code(driver, settings.database, username,
                                                                        user.totp_secret))
    if picture:
        shot(page, picture)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("button", name="Sign out").wait_for()


def menu(page: Any) -> list[str]:
    """The titles in the sidebar navigation."""
    links = page.locator('[data-testid="stSidebarNavLink"]')
    links.first.wait_for()
    texts = " | ".join(links.all_inner_texts())
    return [title for title in NAV if title in texts]


def go(page: Any, title: str) -> None:
    page.locator('[data-testid="stSidebarNavLink"]', has_text=title).click()
    page.get_by_role("heading", name=title if title != "Patterns" else "Serious-case patterns").wait_for()


def open_record(page: Any, child_id: str, purpose: str = PURPOSE) -> None:
    page.get_by_label("Directory ID", exact=True).fill(child_id)
    page.get_by_label("Why are you opening this record?", exact=True).fill(purpose)
    page.get_by_role("button", name="Open record", exact=True).click()


def settled(page: Any, selector: str) -> None:
    """Wait until exactly one element matches: a rerun leaves the previous run's element until it ends."""
    page.wait_for_function("s => document.querySelectorAll(s).length === 1", arg=selector)
    page.locator(selector).wait_for()


def never_shown(page: Any, secrets: tuple[str, ...] = SHIELDED_SECRETS) -> None:
    html = page.content()
    assert not [s for s in secrets if s in html]


def test_practitioner_finds_a_child_and_never_sees_a_shielded_home(page: Any, dashboard_url: str, driver: Driver,
                                                                    neo4j_settings: GraphSettings) -> None:
    sign_in(page, dashboard_url, driver, neo4j_settings, "practitioner.birmingham", picture="sign-in")
    assert menu(page) == ["Find a child", "Contacts card"]
    page.get_by_label("Given name", exact=True).fill("Amara")
    page.get_by_label("Family name", exact=True).fill("Bello")
    page.get_by_label("Why are you looking?", exact=True).fill(PURPOSE)
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_text("1 match").wait_for()
    shot(page, "practitioner-search")
    page.locator(".st-key-result-C1").get_by_role("button", name="Open", exact=True).click()
    page.get_by_role("heading", name="Contacts card").wait_for()
    page.get_by_role("button", name="Open record", exact=True).click()  # the purpose prompt, filled from the search
    page.get_by_text("Lead professional: Bea Whitfield").wait_for()
    assert "Cal Minter" not in page.content()
    shot(page, "practitioner-card")
    open_record(page, "S1")
    page.get_by_text("This record is shielded").wait_for()
    never_shown(page)
    assert page.get_by_text("Break-glass").count() == 0
    shot(page, "practitioner-shielded")
    open_record(page, "A1")
    page.get_by_text("withheld to protect").first.wait_for()
    never_shown(page)


def test_a_practitioner_cannot_reach_the_network_page(page: Any, dashboard_url: str, driver: Driver,
                                                      neo4j_settings: GraphSettings) -> None:
    page.goto(f"{dashboard_url}/network")  # before signing in: there is no such page
    page.get_by_role("dialog").get_by_text("Page not found").wait_for()
    assert page.get_by_role("heading", name="Involvement network").count() == 0
    sign_in(page, dashboard_url, driver, neo4j_settings, "practitioner.leeds")
    assert "Involvement network" not in menu(page)
    # Signed in, ask for the page by its URL in the same session (as the browser's history would): the
    # dashboard knows only this role's pages, so it stays on its own page and puts its address back.
    page.evaluate("""() => { window.history.pushState({}, '', '/network');
                             window.dispatchEvent(new PopStateEvent('popstate')); }""")
    page.wait_for_function("() => window.location.pathname !== '/network'")
    page.get_by_role("heading", name="Find a child").wait_for()
    assert page.get_by_role("heading", name="Involvement network").count() == 0


def test_lead_expands_the_network_follows_moves_works_the_inbox_and_breaks_glass(
        page: Any, dashboard_url: str, driver: Driver, neo4j_settings: GraphSettings) -> None:
    sign_in(page, dashboard_url, driver, neo4j_settings, "safeguarding_lead.birmingham")
    assert menu(page) == ["Find a child", "Contacts card", "Involvement network", "Chronology", "Moves and map",
                          "Record accesses", "Alerts inbox"]
    go(page, "Contacts card")
    open_record(page, "C1")
    page.get_by_text("Lead professional: Bea Whitfield").wait_for()
    assert "Cal Minter" in page.content()  # a sensitive service, shown to leads (rule 5)
    page.get_by_role("button", name="Involvement network").click()
    settled(page, ".st-key-network-chart-1 .js-plotly-plot")
    point = page.evaluate("""() => {
        const gd = document.querySelector('.st-key-network-chart-1 .js-plotly-plot');
        for (let i = 0; i < gd.data.length; i++) {
            const j = (gd.data[i].customdata || []).indexOf('child:C2');
            if (j >= 0) {
                const r = gd.querySelectorAll('.scatterlayer .trace')[i].querySelectorAll('path.point')[j]
                    .getBoundingClientRect();
                return {x: r.x + r.width / 2, y: r.y + r.height / 2};
            }
        }
        return null;
    }""")
    assert point is not None
    page.mouse.click(point["x"], point["y"])
    page.wait_for_function("""() => [...document.querySelectorAll('.st-key-network-chart-2 .js-plotly-plot')]
        .some(gd => (gd.data || []).some(t => (t.customdata || []).includes('practitioner:P-HV')))""")
    shot(page, "lead-network")
    go(page, "Moves and map")
    open_record(page, "X1", "transfer-in conference preparation")
    page.get_by_text("Sheffield → Birmingham").wait_for()
    settled(page, ".st-key-moves-timeline .js-plotly-plot")
    settled(page, ".st-key-moves-map .js-plotly-plot")  # the map: drawn offline, no tiles
    shot(page, "lead-moves")
    go(page, "Alerts inbox")
    top = page.locator(".st-key-group-1")
    top.get_by_text("Lived in 4 authorities in the 12 months").wait_for()
    assert "1. Zara Nomad" in top.inner_text()
    shot(page, "lead-triage")
    second = page.locator(".st-key-group-2")  # the child with no school and no GP (the first stays open for later)
    second.get_by_text(re.compile(r"^The \d+ alerts$")).click()  # its scan alerts and its emergency visits
    first = second.locator('[class*="st-key-alert-"]', has_text="registered with no GP practice").first
    first.wait_for()
    first.get_by_label("What is being done", exact=True).fill("Transfer-in conference booked for Monday")
    first.get_by_role("button", name="Acknowledge", exact=True).click()
    page.get_by_text("Alert acknowledged").wait_for()
    go(page, "Contacts card")
    open_record(page, "S1", "police report of immediate risk")
    page.get_by_text("This record is shielded").wait_for()
    never_shown(page)
    page.get_by_text("Break-glass: open this shielded record").click()
    page.get_by_label("Reason for the override", exact=True).fill("Police report of immediate risk tonight")
    page.get_by_text("I understand this override will be investigated").click()
    page.get_by_role("button", name="Open shielded record", exact=True).click()
    page.get_by_text("1 Hidden Row").wait_for()
    assert "will be investigated" in page.content()
    shot(page, "lead-break-glass")


def test_admin_sees_the_break_glass_alert_shields_and_lists_users(page: Any, dashboard_url: str, api_url: str,
                                                                  driver: Driver,
                                                                  neo4j_settings: GraphSettings) -> None:
    lead = next(u for u in DEMO_USERS if u.username == "safeguarding_lead.leeds")
    token = httpx.post(f"{api_url}/auth/token", data={
        "username": lead.username, "password": lead.password,
        "otp": fresh_code(driver, neo4j_settings.database, lead.username, lead.totp_secret)}).json()["access_token"]
    opened = httpx.post(f"{api_url}/children/S1/override", json={"reason": "Leeds police: child reported missing"},
                        headers={"Authorization": f"Bearer {token}", "X-Purpose": "missing child report"})
    assert opened.status_code == 200, opened.text
    sign_in(page, dashboard_url, driver, neo4j_settings, "la_admin.birmingham")
    assert menu(page) == ["Find a child", "Contacts card", "Involvement network", "Chronology", "Moves and map",
                          "Record accesses", "Alerts inbox", "Shielding", "Users"]
    go(page, "Alerts inbox")
    page.get_by_text("Every alert, newest first").click()
    page.get_by_text("by override: Leeds police: child reported missing").wait_for()
    go(page, "Users")
    page.get_by_text("practitioner.birmingham", exact=True).wait_for()
    assert "practitioner.leeds" not in page.content() and "argon2" not in page.content()
    shot(page, "admin-users")
    go(page, "Shielding")
    open_record(page, "C2", "shielding decision after a risk assessment")
    page.get_by_text("Currently").wait_for()
    page.get_by_label("Reason (recorded)", exact=True).fill("Risk from an estranged parent")
    page.get_by_text("Shield this record").click()
    page.get_by_role("button", name="Shield record", exact=True).click()
    page.get_by_text("is now shielded").wait_for()
    shot(page, "admin-shielding")
    page.get_by_label("Reason (recorded)", exact=True).fill("Risk reviewed and passed")
    page.get_by_text("Lift the shield").click()
    page.get_by_role("button", name="Lift shield", exact=True).click()
    page.get_by_text("is no longer shielded").wait_for()


def test_auditor_searches_the_trail_and_verifies_it(page: Any, dashboard_url: str, driver: Driver,
                                                    neo4j_settings: GraphSettings) -> None:
    sign_in(page, dashboard_url, driver, neo4j_settings, "auditor.birmingham")
    assert menu(page) == ["Audit search", "Chain verification"]
    page.get_by_label("Child directory ID", exact=True).fill("C1")
    page.get_by_role("button", name="Search the trail", exact=True).click()
    page.get_by_text("events, newest first").wait_for()
    shot(page, "auditor-search")
    go(page, "Chain verification")
    page.get_by_role("button", name="Verify the chain now").click()
    page.get_by_text("Chain intact.").wait_for()
    shot(page, "auditor-verify")


def test_reviewer_reads_suppressed_patterns_and_a_pseudonymised_case(page: Any, dashboard_url: str, driver: Driver,
                                                                     neo4j_settings: GraphSettings) -> None:
    sign_in(page, dashboard_url, driver, neo4j_settings, "reviewer.birmingham")
    assert menu(page) == ["Patterns", "Cases", "Network measures"]
    page.get_by_role("cell", name="<5").first.wait_for()
    shot(page, "reviewer-patterns")
    go(page, "Cases")
    page.locator('[data-testid="stSelectbox"]', has_text="Open a case").click()
    page.get_by_role("option").nth(1).click()
    page.get_by_text("Chronology by agency").wait_for()
    assert "Bello" not in page.content() and "Nomad" not in page.content()
    shot(page, "reviewer-case")
    go(page, "Network measures")
    page.get_by_text("Fragmentation").first.wait_for()


# -- usability: the main tasks, timed from the sign-in page, with the clicks they take --------------------


class Task:
    """One main task from the sign-in page (code in hand) to its answer on screen: clicks, fields typed, seconds.

    The seconds are the dashboard's and the API's (Playwright types and clicks at once): the time a person spends
    reading and typing comes on top.
    """

    def __init__(self, name: str, page: Any, url: str, username: str, code: str) -> None:
        self.name, self.page, self.clicks, self.fields = name, page, 0, 0
        user = next(u for u in DEMO_USERS if u.username == username)
        page.goto(url)
        page.get_by_label("Username", exact=True).wait_for()
        self.began = time.monotonic()
        self.fill(page.get_by_label("Username", exact=True), user.username)
        self.fill(page.get_by_label("Password", exact=True), user.password)
        self.fill(page.get_by_label("Authenticator code", exact=True), code)
        self.click(page.get_by_role("button", name="Sign in", exact=True))

    def click(self, target: Any) -> None:
        target.click()
        self.clicks += 1

    def fill(self, target: Any, text: str) -> None:
        target.fill(text)
        self.fields += 1

    def done(self) -> dict[str, Any]:
        """Record the task in var/usability.json (merged with the other task's)."""
        seconds = round(time.monotonic() - self.began, 1)
        found = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
        found[self.name] = {"clicks": self.clicks, "fields_typed": self.fields, "seconds": seconds,
                            "measured": datetime.now(UTC).isoformat(timespec="seconds"),
                            "command": "make screenshots (tests/dashboard/test_browser.py -k usability)"}
        TIMINGS.parent.mkdir(parents=True, exist_ok=True)
        TIMINGS.write_text(json.dumps(found, indent=2) + "\n")
        return found[self.name]


def test_usability_a_practitioner_finds_who_else_works_with_a_child(page: Any, dashboard_url: str, driver: Driver,
                                                                    neo4j_settings: GraphSettings) -> None:
    user = next(u for u in DEMO_USERS if u.username == "practitioner.birmingham")
    code = fresh_code(driver, neo4j_settings.database, user.username, user.totp_secret)
    task = Task("practitioner_finds_who_else_works_with_a_child", page, dashboard_url, user.username, code)
    task.fill(page.get_by_label("Given name", exact=True), "Amara")
    task.fill(page.get_by_label("Family name", exact=True), "Bello")
    task.fill(page.get_by_label("Why are you looking?", exact=True), PURPOSE)
    task.click(page.get_by_role("button", name="Search", exact=True))
    task.click(page.locator(".st-key-result-C1").get_by_role("button", name="Open", exact=True))
    task.click(page.get_by_role("button", name="Open record", exact=True))  # the purpose, filled from the search
    page.get_by_text("Lead professional: Bea Whitfield").wait_for()
    page.get_by_text("Rio Mensah").first.wait_for()  # everyone working with the child, with how to reach them
    result = task.done()
    assert result["clicks"] == 4 and result["fields_typed"] == 6


def test_usability_a_lead_reaches_the_chronology_of_the_top_ranked_child(page: Any, dashboard_url: str,
                                                                         driver: Driver,
                                                                         neo4j_settings: GraphSettings) -> None:
    user = next(u for u in DEMO_USERS if u.username == "safeguarding_lead.birmingham")
    code = fresh_code(driver, neo4j_settings.database, user.username, user.totp_secret)
    task = Task("lead_reaches_the_chronology_of_the_top_ranked_child", page, dashboard_url, user.username, code)
    task.click(page.locator('[data-testid="stSidebarNavLink"]', has_text="Alerts inbox"))
    top = page.locator(".st-key-group-1")
    top.get_by_text("1. Zara Nomad").wait_for()
    task.click(top.get_by_role("button", name="Chronology"))
    task.click(page.get_by_role("button", name="Open record", exact=True))  # the purpose, filled from the alert
    settled(page, ".st-key-chronology-chart .js-plotly-plot")
    page.get_by_text("Authorities lived in").wait_for()  # the summary above the swimlanes
    result = task.done()
    assert result["clicks"] == 4 and result["fields_typed"] == 3
    shot(page, "lead-chronology")
    never_shown(page)
