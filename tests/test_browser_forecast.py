"""The Forecast page in a real browser: open it, change a picker (the URL and the numbers follow), drill down
to the orders beyond the 85% service level, and download that list. Run with `pytest -m browser`.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import polars as pl
import pytest
from browser_support import EXCEPTION, choose_option, live, open_page, wait_for_app
from test_browser import LATEST, base_url, browser, chromium_path, metric_value, page, title  # noqa: F401

from opslens.queries import dataset

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect


def test_forecast_picker_drill_down_and_download(page, demo_db: Path, tmp_path: Path) -> None:  # noqa: F811
    default = dataset("install_forecast", db=demo_db, markets=["NORTH"]).row(-1, named=True)
    shorter = dataset("install_forecast", db=demo_db, markets=["NORTH"], horizon=14).row(-1, named=True)
    assert default["installs_at_least_85"] != shorter["installs_at_least_85"]

    open_page(page, "/", charts=1)  # a fresh server first runs app.py's navigation
    open_page(page, "/forecast?market=NORTH", charts=2)
    expect(title(page)).to_have_text("Forecast")
    expect(metric_value(page, "At least, 85% sure")).to_have_text(f"{default['installs_at_least_85']:,}")
    expect(page.get_by_text("New orders arriving are not counted", exact=False)).to_be_visible()

    choose_option(page, "Days ahead", "14", scope=page.locator('[data-testid="stSidebar"]'))
    expect(page).to_have_url(re.compile(r"[?&]horizon=14(&|$)"))
    expect(metric_value(page, "At least, 85% sure")).to_have_text(f"{shorter['installs_at_least_85']:,}")

    ageing = dataset("ageing_orders", db=demo_db, markets=["NORTH"], stages=["scheduled"])
    breaching = ageing.filter(pl.col("beyond_sle_85"))
    assert breaching.height > 0
    wait_for_app(page)
    popovers = page.locator('[data-testid="stPopover"]')
    before = popovers.count()
    choose_option(page, "Show the orders beyond the 85% service level in stage", "Scheduled")
    caption = page.locator(live('[data-testid="stCaptionContainer"]')).filter(has_text="beyond the 85% level")
    expect(caption).to_have_text(f"{breaching.height:,} orders in Scheduled beyond the 85% level, oldest first")

    expect(popovers).to_have_count(before + 1)  # the drill-down list's own Download
    wait_for_app(page)
    popovers.nth(before).get_by_role("button", name="Download").click()
    body = page.locator('[data-testid="stPopoverBody"]')
    expect(body).to_contain_text(f"Data ({breaching.height:,} rows)")
    with page.expect_download(timeout=60_000) as info:
        body.get_by_role("button", name="CSV", exact=True).click()
    download = info.value
    assert download.suggested_filename.startswith(f"ageing_orders_{LATEST}_")
    assert "horizon-14" in download.suggested_filename and "stages-scheduled" in download.suggested_filename
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert rows[0][:3] == ["order_id", "market", "stage"]
    assert [r[0] for r in rows[1:]] == breaching["order_id"].to_list()
    expect(page.locator(EXCEPTION)).to_have_count(0)
