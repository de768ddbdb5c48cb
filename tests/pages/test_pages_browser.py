"""The pages in headless Chromium: each loads from disk with no console error and asks the network for
nothing, shows the statements' totals, opens a registry row's explanation when its link is clicked, is
screenshot at desktop and phone widths, and passes the accessibility check (tables headed with scope, inputs
labelled, charts titled, language and title set, text contrast of at least 4.5:1 from the page's own CSS
colors). One browser serves the whole module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.runs import REPORTS
from shared.logic.money import parse_dollars
from tests.pages.plan import PagesPlan, statement_totals
from tests.pages.webdriver import Browser, missing

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("pages")]

DESKTOP, PHONE = (1280, 900), (390, 844)
MIN_CONTRAST = 4.5
A11Y = (Path(__file__).parent / "a11y.js").read_text()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    reason = missing()
    if reason:
        pytest.skip(reason)
    session = Browser(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(scope="module")
def pages(pages_plan: PagesPlan, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The year's pages (annual run) and March's, on disk as a browser opens them: name -> path."""
    folder = tmp_path_factory.mktemp("pages")
    found = {}
    for run_id in (pages_plan.run_ids[-1], pages_plan.annual_id):
        prefix = f"pages/{run_id}/"
        for key in pages_plan.store.keys(REPORTS, prefix):
            path = folder / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(pages_plan.store.get_bytes(REPORTS, key))
            found[key] = path
    return found


def _load(browser: Browser, path: Path) -> None:
    browser.console()  # what an earlier page logged is not this page's
    browser.resize(*DESKTOP)
    browser.open(path.as_uri())


def test_every_page_loads_with_no_console_error_and_no_request(
    browser: Browser, pages: dict[str, Path]
) -> None:
    for key, path in pages.items():
        # WHEN the page is opened from disk, the network blocked
        _load(browser, path)
        # THEN nothing was logged and nothing was fetched
        assert browser.console() == [], key
        assert browser.run("return performance.getEntriesByType('resource').length") == 0, key
        assert browser.run("return document.readyState") == "complete", key


def test_the_totals_the_browser_shows_are_the_statements(
    browser: Browser, pages: dict[str, Path], pages_plan: PagesPlan
) -> None:
    for run_id in (pages_plan.run_ids[-1], pages_plan.annual_id):
        statements = statement_totals(pages_plan, run_id)
        shown = {}
        for clinic_id in pages_plan.gaps.clinics():
            # WHEN a clinic's page is open
            _load(browser, pages[f"pages/{run_id}/clinic/{clinic_id}.html"])
            text = browser.run("return document.getElementById('run-total').textContent")
            shown[clinic_id] = parse_dollars(text.lstrip("$"))
        # THEN each clinic's total is its statement's, and the plan page's their sum
        assert shown == {c: statements.get(c, 0) for c in shown}
        _load(browser, pages[f"pages/{run_id}/plan.html"])
        total = browser.run("return document.getElementById('run-total').textContent")
        assert parse_dollars(total.lstrip("$")) == sum(statements.values())


def test_a_registry_rows_link_opens_its_explanation(
    browser: Browser, pages: dict[str, Path], pages_plan: PagesPlan
) -> None:
    run_id = pages_plan.annual_id
    for clinic_id in sorted(pages_plan.gaps.clinics()):
        _load(browser, pages[f"pages/{run_id}/clinic/{clinic_id}.html"])
        member, action = browser.run(ROW)
        if member is None:
            continue  # no registry (a clinic not in Care Gap P4P)
        # WHEN the first registry row's "why" is clicked
        browser.click("[aria-labelledby='registry-caption'] tbody tr:first-child a")
        # THEN the clinic's explanation page is open at that row's member and action, showing what was paid
        # and what stopped each step, with nothing logged and nothing fetched
        assert browser.run("return location.pathname").endswith(f"/pages/{run_id}/explain/{clinic_id}/1.html")
        shown = browser.run(TARGET)
        assert shown["heading"] == f"{member}, {action}"
        assert shown["text"].startswith(f"Clinic {clinic_id}, member {member}: {action} ")
        assert "Steps" in shown["text"] and shown["visible"], shown
        assert browser.console() == []
        assert browser.run("return performance.getEntriesByType('resource').length") == 0
        return
    pytest.fail("no clinic page has a registry row")


ROW = """const row = document.querySelector('[aria-labelledby="registry-caption"] tbody tr');
return row ? [row.cells[1].textContent, row.cells[2].textContent.split(' ')[0]] : [null, null];"""
TARGET = """const section = document.querySelector('section:target');
const box = section.getBoundingClientRect();
return {heading: section.querySelector('h2').textContent, text: section.querySelector('pre').textContent,
        visible: box.top < window.innerHeight && box.bottom > 0};"""


def test_screenshots_at_desktop_and_phone_widths(
    browser: Browser, pages: dict[str, Path], tmp_path: Path
) -> None:
    for key, path in pages.items():
        _load(browser, path)
        for name, (width, height) in (("desktop", DESKTOP), ("phone", PHONE)):
            # WHEN the page is laid out at the width
            browser.resize(width, height, mobile=name == "phone")
            shot = browser.screenshot(tmp_path / f"{key.replace('/', '_')}-{name}.png")
            # THEN the screenshot is taken and the page fits the width (wide tables scroll in their region)
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert browser.run("return document.documentElement.scrollWidth") <= width, (key, name)


def test_every_page_passes_the_accessibility_check(browser: Browser, pages: dict[str, Path]) -> None:
    for key, path in pages.items():
        _load(browser, path)
        # WHEN the check runs in the page
        found = browser.run(A11Y, MIN_CONTRAST)
        # THEN it finds nothing, having looked at the text
        assert found["problems"] == [], key
        assert found["checked"] > 20 and found["lowest"] >= MIN_CONTRAST, key
