"""Many markets in Chromium: the sidebar's market picker finds markets by what they contain.

With hundreds of markets a planner types part of a name. Streamlit's default fuzzy search matches
any names holding those letters in order ("M2" finds M12 and M02 as well as M20); the pickers
search by substring, so "M0" lists M07, M08 and M09, not M10, M20 and M30 too.
"""

from __future__ import annotations

import os
import re

import pytest
from browser_support import CHROMIUM, app_server, launch_browser, new_context, open_page

from opslens.queries import dataset

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright is not installed (pip install -e '.[test]')", allow_module_level=True)

pytestmark = pytest.mark.browser


def test_market_picker_lists_the_markets_containing_what_was_typed(many_markets_db):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing") if os.environ.get("CI") else pytest.skip(f"{CHROMIUM} is missing")
    with app_server(many_markets_db) as url, sync_playwright() as playwright:
        browser = launch_browser(playwright)
        page = new_context(browser).new_page()
        open_page(page, f"{url}/readiness", charts=3)
        picker = page.get_by_role("combobox", name="Markets", exact=True)
        picker.focus()
        page.keyboard.press("ArrowDown")
        page.keyboard.type("M0")
        page.get_by_role("option", name="M09", exact=True).wait_for()
        names = [n for n in page.get_by_role("option").all_inner_texts() if not n.startswith("Select")]
        markets = dataset("readiness", db=many_markets_db)["market"]
        assert sorted(names) == sorted(m for m in markets if "M0" in m) == ["M07", "M08", "M09"]
        page.get_by_role("option", name="M08", exact=True).click()
        page.keyboard.press("Escape")
        open_page(page, page.url, charts=3)
        expect(page).to_have_url(re.compile(r"/readiness\?market=M08$"))
        browser.close()
