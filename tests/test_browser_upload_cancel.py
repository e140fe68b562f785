"""A person loads a large file on Data health, changes their mind and presses Cancel (real Chromium).

The load must stop within seconds, say it was cancelled, and leave the store's data as it was.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest
from browser_support import CHROMIUM, app_server, launch_browser, new_context, open_page
from hostile import bomb_rows
from ingest_rows import csv_text, write

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright is not installed (pip install -e '.[test]')", allow_module_level=True)

pytestmark = pytest.mark.browser


def snapshot_rows(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.sql("select count(*) from snapshots").fetchall()[0][0]
    finally:
        con.close()


def test_cancel_stops_an_upload_and_loads_nothing(demo_db: Path, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is missing")
    store = tmp_path / "opslens.duckdb"
    shutil.copyfile(demo_db, store)
    big = write(tmp_path / "big.csv", csv_text(bomb_rows(600_000, snapshot_date="2026-11-21")))  # loads for seconds
    rows = snapshot_rows(store)
    with app_server(store) as url, sync_playwright() as playwright:
        browser = launch_browser(playwright)
        try:
            context = new_context(browser, base_url=url)
            context.set_default_timeout(30_000)
            page = context.new_page()
            open_page(page, f"{url}/data_health", charts=1)
            page.get_by_text("Load snapshot files").click()
            page.locator('input[type="file"]').set_input_files(str(big))
            load = page.get_by_role("button", name="Load", exact=True)
            expect(load).to_be_enabled(timeout=30_000)
            load.click()
            cancel = page.get_by_role("button", name="Cancel loading")
            expect(cancel).to_be_visible(timeout=30_000)
            page.wait_for_timeout(1_000)  # well into the load
            cancel.click()
            expect(page.get_by_text("cancelled before it finished").first).to_be_visible(timeout=20_000)
        finally:
            browser.close()
    assert snapshot_rows(store) == rows
    con = duckdb.connect(str(store), read_only=True)
    try:
        outcome, message = con.sql("select outcome, message from ingests order by ingest_id desc limit 1").fetchall()[0]
    finally:
        con.close()
    assert outcome == "rejected" and "cancelled" in message
