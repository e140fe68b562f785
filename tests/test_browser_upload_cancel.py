"""Stopping a load on Data health (real Chromium): a person presses Cancel, or the server gets SIGTERM.

The load must stop within seconds, say (or log) that it was cancelled, and leave the store's data as
it was, with no draft left behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from browser_support import (
    CHROMIUM,
    HOST,
    ROOT,
    _healthy,
    app_server,
    free_port,
    launch_browser,
    new_context,
    open_page,
)
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


@pytest.fixture
def store(demo_db: Path, tmp_path: Path) -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is missing")
    path = tmp_path / "opslens.duckdb"
    shutil.copyfile(demo_db, path)
    return path


def start_loading(page, url: str, big: Path):
    """Open Data health, choose the file, press Load; return the Cancel button once the load runs."""
    page.context.set_default_timeout(30_000)
    open_page(page, f"{url}/data_health", charts=1)
    page.get_by_text("Load snapshot files").click()
    page.locator('input[type="file"]').set_input_files(str(big))
    load = page.get_by_role("button", name="Load", exact=True)
    expect(load).to_be_enabled(timeout=30_000)
    load.click()
    cancel = page.get_by_role("button", name="Cancel loading")
    expect(cancel).to_be_visible(timeout=30_000)
    page.wait_for_timeout(1_000)  # well into the load
    return cancel


def big_file(folder: Path) -> Path:
    return write(folder / "big.csv", csv_text(bomb_rows(600_000, snapshot_date="2026-11-21")))  # loads for seconds


def last_ingest(db: Path) -> tuple[str, str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.sql("select outcome, message from ingests order by ingest_id desc limit 1").fetchall()[0]
    finally:
        con.close()


def test_cancel_stops_an_upload_and_loads_nothing(store: Path, tmp_path: Path) -> None:
    big = big_file(tmp_path)
    rows = snapshot_rows(store)
    with app_server(store) as url, sync_playwright() as playwright:
        browser = launch_browser(playwright)
        try:
            page = new_context(browser, base_url=url).new_page()
            start_loading(page, url, big).click()
            expect(page.get_by_text("Loading was cancelled before it finished").first).to_be_visible(timeout=20_000)
        finally:
            browser.close()
    assert snapshot_rows(store) == rows
    outcome, message = last_ingest(store)
    assert outcome == "rejected" and "cancelled" in message


def test_sigterm_to_the_app_server_during_a_load_stops_it_cleanly(store: Path, tmp_path: Path) -> None:
    big = big_file(tmp_path)
    rows = snapshot_rows(store)
    port = free_port()
    url = f"http://{HOST}:{port}"
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.address",
        HOST,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
    ]
    env = {**os.environ, "OPSLENS_DB": str(store)}
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url) and time.monotonic() < deadline:
            time.sleep(0.2)
        with sync_playwright() as playwright:
            browser = launch_browser(playwright)
            try:
                start_loading(new_context(browser, base_url=url).new_page(), url, big)
                server.terminate()
                assert server.wait(timeout=30) == 0
            finally:
                browser.close()
    finally:
        if server.poll() is None:
            server.kill()
    assert snapshot_rows(store) == rows
    assert not list(store.parent.glob(".opslens.duckdb.draft-*"))
    outcome, message = last_ingest(store)
    assert outcome == "rejected" and "cancelled" in message
