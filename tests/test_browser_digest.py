"""The digest mail's link, clicked in a real Chromium: it opens the app on the digest's view (the same
snapshot and markets) and the app's tiles show the numbers the digest shows."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from browser_support import CHROMIUM, EXCEPTION, app_server, launch_browser, live, new_context, open_page

from opslens.app import fmt
from opslens.digest import content, mail

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright is not installed (pip install -e '.[test]')", allow_module_level=True)

expect.set_options(timeout=15_000)
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def app_url(demo_db: Path):
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: the browser tests need Debian's chromium package (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with app_server(demo_db) as url:
        yield url


def test_the_mail_link_opens_the_digests_view_with_the_same_numbers(app_url: str, demo_db: Path) -> None:
    digest = content.build(demo_db, "ann@example.com", ("WEST", "NORTH"), dt.date(2026, 11, 10))
    link = mail.app_link(app_url, digest)
    assert link == f"{app_url}/?as_of=2026-11-10&market=NORTH&market=WEST"
    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        try:
            page = new_context(browser, base_url=app_url).new_page()
            open_page(page, link.removeprefix(app_url), charts=1)
            sidebar = page.locator('[data-testid="stSidebar"]')
            markets = sidebar.locator('[data-testid="stMultiSelect"]').filter(has_text="Markets")
            tags = markets.locator("[data-tag]").evaluate_all("tags => tags.map(t => t.getAttribute('aria-label'))")
            assert sorted(tags) == ["NORTH", "WEST"]
            expect(sidebar.get_by_role("combobox", name="Snapshot (as of)")).to_have_value("2026-11-10")
            for row in digest.frames["headline"].iter_rows(named=True):
                label = re.compile(rf"^\s*{re.escape(row['label'])}")
                tile = page.locator(live('[data-testid="stMetric"]')).filter(
                    has=page.locator('[data-testid="stMetricLabel"]', has_text=label)
                )
                value = fmt.FORMATTERS[row["unit"]](row["value"])
                expect(tile.locator('[data-testid="stMetricValue"]')).to_have_text(value)
            expect(page.locator(EXCEPTION)).to_have_count(0)
        finally:
            browser.close()
