"""Real-browser tests: the app served by `streamlit run`, driven by headless Chromium through Playwright.

Each test opens pages in a fresh browser context (a fresh Streamlit session) against one server started
for this module with the small demo store (`demo_db`). Expected numbers come from `queries.dataset`, the
same definitions the pages use. Run only these with `pytest -m browser`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
from pathlib import Path

import pytest
from browser_support import (
    CHART,
    CHROMIUM,
    EXCEPTION,
    PAGES,
    app_server,
    choose_option,
    launch_browser,
    live,
    new_context,
    open_page,
)

from opslens.queries import RULES, dataset

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright is not installed (pip install -e '.[test]')", allow_module_level=True)

# Expectations retry for up to 15 s instead of Playwright's 5 s: a busy 2-core CI machine draws slower.
expect.set_options(timeout=15_000)

pytestmark = pytest.mark.browser

LATEST = "2026-11-20"


@pytest.fixture(scope="module")
def chromium_path() -> Path:
    """/usr/bin/chromium; missing fails the run in CI and skips it elsewhere."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: the browser tests need Debian's chromium package (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="module")
def base_url(demo_db: Path, chromium_path: Path):
    with app_server(demo_db) as url:
        yield url


@pytest.fixture(scope="module")
def browser(chromium_path: Path):
    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, base_url: str):
    context = new_context(browser, base_url=base_url)
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()


def metric(page, label: str):
    """The tile whose label starts with `label` (labels may carry a unit, e.g. 'MRR in backlog ($/mo)')."""
    label_re = re.compile(rf"^\s*{re.escape(label)}")
    tiles = page.locator(live('[data-testid="stMetric"]'))
    return tiles.filter(has=page.locator('[data-testid="stMetricLabel"]', has_text=label_re))


def metric_value(page, label: str):
    return metric(page, label).locator('[data-testid="stMetricValue"]')


def title(page):
    return page.locator('[data-testid="stMain"]').locator(live('[data-testid="stHeading"] h1'))


def page_caption(page):
    """The caption under the page title (the one naming the as-of date and filters)."""
    captions = page.locator(live('[data-testid="stCaptionContainer"]'))
    return page.locator('[data-testid="stMain"]').locator(captions).filter(has_text=" · as of").first


def selected_markets(page) -> list[str]:
    widget = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').filter(has_text="Markets")
    return widget.locator("[data-tag]").evaluate_all("tags => tags.map(t => t.getAttribute('aria-label'))")


def drill_caption(page):
    return page.locator(live('[data-testid="stCaptionContainer"]')).filter(has_text=re.compile(r"orders in "))


def click_bar(page, chart, index: int) -> None:
    """A real mouse click in the middle of the index-th bar of a Plotly bar chart."""
    chart.scroll_into_view_if_needed()
    bar = chart.locator("g.point path").nth(index)
    box = bar.bounding_box()
    assert box, "the bar has no box: the chart is not drawn"
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


# 1. Every page renders -------------------------------------------------------------------------------


def test_sidebar_names_every_page_with_its_url(page, base_url: str) -> None:
    open_page(page, "/", charts=1)
    links = page.locator('[data-testid="stSidebarNav"] a[data-testid="stSidebarNavLink"]')
    expect(links).to_have_count(len(PAGES))
    names = links.locator('[data-testid="stMarkdownContainer"]').all_inner_texts()
    found = dict(
        zip([n.strip() for n in names], [links.nth(i).get_attribute("href") for i in range(len(PAGES))], strict=True)
    )
    assert found == {title: base_url + path for _name, path, title, _charts in PAGES}


@pytest.mark.parametrize(("path", "page_title", "charts"), [p[1:] for p in PAGES], ids=[p[0] for p in PAGES])
def test_page_renders_its_charts_without_errors(page, path: str, page_title: str, charts: int) -> None:
    open_page(page, path, charts=charts)
    expect(title(page)).to_have_text(page_title)
    expect(page).to_have_title(f"{page_title} · Ops Lens")
    expect(page_caption(page)).to_contain_text(f"as of {LATEST}")
    expect(page.locator(EXCEPTION)).to_have_count(0)
    expect(page.locator(CHART)).to_have_count(charts)
    for index in range(charts):
        chart = page.locator(CHART).nth(index)
        # Every figure says what it shows (charts.py promises a title and axis titles).
        assert chart.locator(".gtitle").text_content().strip(), f"chart {index} on {page_title} has no title"
        assert chart.locator(".xtitle").count() and chart.locator(".ytitle").count(), f"chart {index} lacks axis titles"
    # The sidebar frame is there too: store line and the shared filters.
    sidebar = page.locator('[data-testid="stSidebar"]')
    expect(sidebar).to_contain_text("60 snapshots")
    expect(sidebar.get_by_role("combobox", name="Snapshot (as of)")).to_have_value(LATEST)


# 2. The market filter ---------------------------------------------------------------------------------


def test_market_filter_updates_url_and_numbers(page, demo_db: Path) -> None:
    everywhere = dataset("headline", db=demo_db).filter(measure="open_orders")["value"][0]
    north = dataset("headline", db=demo_db, markets=["NORTH"]).filter(measure="open_orders")["value"][0]
    assert everywhere != north

    open_page(page, "/", charts=1)
    expect(metric_value(page, "Open orders")).to_have_text(f"{everywhere:,.0f}")

    choose_option(page, "Markets", "NORTH", scope=page.locator('[data-testid="stSidebar"]'))
    page.keyboard.press("Escape")

    expect(page).to_have_url(re.compile(r"[?&]market=NORTH(&|$)"))
    expect(metric_value(page, "Open orders")).to_have_text(f"{north:,.0f}")
    expect(page_caption(page)).to_contain_text("markets: NORTH")
    assert selected_markets(page) == ["NORTH"]
    expect(page.locator(EXCEPTION)).to_have_count(0)


def test_overview_tile_arrows_follow_the_sign_of_the_change(page, demo_db: Path) -> None:
    """A fall points down and a rise up (regression: decreases were written with U+2212 and drawn as rises)."""
    headline = dataset("headline", db=demo_db, markets=["NORTH"])
    fell, rose = headline.filter(headline["change"] < 0), headline.filter(headline["change"] > 0)
    assert fell.height and rose.height, "the demo store should have NORTH tiles that fell and that rose"
    open_page(page, "/?market=NORTH", charts=1)
    for frame, direction in ((fell, "Down"), (rose, "Up")):
        for label in frame["label"]:
            expect(metric(page, label).locator('[data-testid^="stMetricDeltaIcon-"]')).to_have_attribute(
                "data-testid", f"stMetricDeltaIcon-{direction}"
            )


# 3. Links reproduce a view ------------------------------------------------------------------------------


def test_link_with_filters_opens_the_same_view_and_filters_survive_navigation(page, demo_db: Path) -> None:
    backlog = dataset("backlog", db=demo_db, markets=["WEST"], as_of=dt.date(2026, 11, 10))
    everywhere = dataset("backlog", db=demo_db)
    assert backlog["orders"].to_list() != everywhere["orders"].to_list()

    open_page(page, "/backlog?market=WEST&as_of=2026-11-10", charts=5)
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert selected_markets(page) == ["WEST"]
    expect(sidebar.get_by_role("combobox", name="Snapshot (as of)")).to_have_value("2026-11-10")
    expect(page_caption(page)).to_contain_text("markets: WEST")
    expect(page_caption(page)).to_contain_text("as of 2026-11-10")
    # The bars show the numbers of that view, not of the latest snapshot in all markets.
    bar_labels = page.locator(CHART).first.locator("text.bartext").all_text_contents()
    assert bar_labels == [f"{n:,}" for n in backlog["orders"]]

    page.locator('[data-testid="stSidebarNavLink"]').filter(has_text="Exceptions").click()
    expect(page).to_have_url(re.compile(r"/exceptions\?"))
    expect(title(page)).to_have_text("Exceptions")
    expect(page).to_have_url(re.compile(r"[?&]market=WEST(&|$)"))
    expect(page).to_have_url(re.compile(r"[?&]as_of=2026-11-10(&|$)"))
    expect(page_caption(page)).to_contain_text("markets: WEST")
    expect(page_caption(page)).to_contain_text("as of 2026-11-10")
    assert selected_markets(page) == ["WEST"]
    expect(page.locator(EXCEPTION)).to_have_count(0)


# 4. Drill-down on Backlog ---------------------------------------------------------------------------------


def test_backlog_drill_down_by_select_box(page, demo_db: Path) -> None:
    expected = dataset("orders", db=demo_db, stages=["scheduled"]).height
    assert expected > 0
    open_page(page, "/backlog", charts=5)
    expect(drill_caption(page)).to_have_count(0)

    choose_option(page, "Show the open orders in stage", "Scheduled")

    expect(drill_caption(page)).to_have_text(f"{expected:,} orders in Scheduled, longest in stage first")
    drill_table = page.locator('[data-testid="stDataFrame"]').nth(1)
    expect(drill_table).to_be_visible()
    expect(page.locator(EXCEPTION)).to_have_count(0)


def test_backlog_drill_down_by_clicking_a_bar(page, demo_db: Path) -> None:
    open_page(page, "/backlog", charts=5)
    chart = page.locator(CHART).first
    combobox = page.get_by_role("combobox", name="Show the open orders in stage", exact=True)

    # Bars are in lifecycle order, top to bottom: index 1 is awaiting_network, 3 is scheduled.
    for index, stage, label in ((1, "awaiting_network", "Awaiting network"), (3, "scheduled", "Scheduled")):
        expected = dataset("orders", db=demo_db, stages=[stage]).height
        click_bar(page, chart, index)
        expect(combobox).to_have_value(label)
        expect(drill_caption(page)).to_have_text(f"{expected:,} orders in {label}, longest in stage first")
    expect(page.locator(EXCEPTION)).to_have_count(0)


def test_every_backlog_chart_leads_to_its_orders(page, demo_db: Path) -> None:
    """The MRR tab's bars drill like the orders tab's; the Overview's bars open the Backlog's order list,
    in the same view (the link keeps the filters)."""
    open_page(page, "/backlog?market=WEST", charts=5)
    page.get_by_role("tab", name="MRR").click()
    mrr_chart = page.locator(CHART).nth(1)
    expect(mrr_chart).to_be_visible()
    click_bar(page, mrr_chart, 3)
    combobox = page.get_by_role("combobox", name="Show the open orders in stage", exact=True)
    expect(combobox).to_have_value("Scheduled")
    expected = dataset("orders", db=demo_db, markets=["WEST"], stages=["scheduled"]).height
    expect(drill_caption(page)).to_have_text(f"{expected:,} orders in Scheduled, longest in stage first")

    open_page(page, "/?market=WEST", charts=1)
    click_bar(page, page.locator(CHART).first, 1)
    expect(page).to_have_url(re.compile(r"/backlog\?.*backlog-drill=Awaiting"))
    # the sidebar's filters are written back to the link once the Backlog page has drawn them
    expect(page).to_have_url(re.compile(r"[?&]market=WEST(&|$)"))
    expected = dataset("orders", db=demo_db, markets=["WEST"], stages=["awaiting_network"]).height
    expect(drill_caption(page)).to_have_text(f"{expected:,} orders in Awaiting network, longest in stage first")
    # back on the Overview, the same bar works again (and the page does not jump away by itself)
    page.go_back()
    expect(page).to_have_url(re.compile(r"/\?market=WEST$"))
    open_page(page, page.url, charts=1)
    click_bar(page, page.locator(CHART).first, 1)
    expect(page).to_have_url(re.compile(r"/backlog\?.*backlog-drill=Awaiting"))
    expect(page.locator(EXCEPTION)).to_have_count(0)


def test_exceptions_heatmap_cell_lists_its_exceptions(page, demo_db: Path) -> None:
    """A click on a cell (a rule in a market) sets the list's Rules and Markets pickers, kept in the link."""
    import polars as pl

    counts = dataset("exception_counts", db=demo_db)
    rules = [name for name in RULES if name in set(counts["rule"])]  # the heatmap's rows, top to bottom
    markets = sorted(set(counts["market"]))  # its columns
    open_page(page, "/exceptions", charts=1)
    chart = page.locator(CHART).first
    chart.scroll_into_view_if_needed()
    area = chart.locator(".nsewdrag").first.bounding_box()
    row, column = 0, 1  # the first rule, in the second market
    page.mouse.click(
        area["x"] + (column + 0.5) * area["width"] / len(markets), area["y"] + (row + 0.5) * area["height"] / len(rules)
    )
    rule, market = rules[row], markets[column]
    expected = dataset("exceptions", db=demo_db, rules=[rule], markets=[market]).height
    expect(page.locator(live('[data-testid="stCaptionContainer"]')).filter(has_text=" rows · sort")).to_have_text(
        f"{expected:,} rows · sort by clicking a column header"
    )
    expect(page).to_have_url(re.compile(rf"exceptions-markets={market}"))
    listed = counts.filter((pl.col("rule") == rule) & (pl.col("market") == market))["orders"].item()
    assert expected == listed > 0  # the cell's number is the list's length
    expect(page.locator(EXCEPTION)).to_have_count(0)


def test_backlog_select_box_wins_after_a_bar_click(page, demo_db: Path) -> None:
    """The box and the chart are one selection: the box wins after a click, the chart shows the box's
    stage, a click on any bar (also the one clicked before) picks it, and the link keeps it."""
    open_page(page, "/backlog", charts=5)
    click_bar(page, page.locator(CHART).first, 1)
    combobox = page.get_by_role("combobox", name="Show the open orders in stage", exact=True)
    expect(combobox).to_have_value("Awaiting network")

    choose_option(page, "Show the open orders in stage", "Scheduled")

    expected = dataset("orders", db=demo_db, stages=["scheduled"]).height
    expect(drill_caption(page)).to_have_text(f"{expected:,} orders in Scheduled, longest in stage first")
    expect(combobox).to_have_value("Scheduled")

    # The link holds the drill-down, and the chart lights the box's stage, not the bar clicked before.
    expect(page).to_have_url(re.compile(r"[?&]backlog-drill=Scheduled(&|$)"))
    expect(page.locator(CHART).first.locator("g.point path").nth(3)).to_have_css("opacity", "1")
    expect(page.locator(CHART).first.locator("g.point path").nth(1)).not_to_have_css("opacity", "1")
    # Clicking the bar clicked before works the first time.
    click_bar(page, page.locator(CHART).first, 1)
    expect(combobox).to_have_value("Awaiting network")

    # A new click on the chart wins again.
    click_bar(page, page.locator(CHART).first, 4)
    expect(combobox).to_have_value("Installed")
    expected = dataset("orders", db=demo_db, stages=["installed"]).height
    expect(drill_caption(page)).to_have_text(f"{expected:,} orders in Installed, longest in stage first")
    expect(page.locator(EXCEPTION)).to_have_count(0)


# 5. Downloads ------------------------------------------------------------------------------------------------


def test_backlog_downloads_are_valid_files(page, demo_db: Path, tmp_path: Path) -> None:
    import openpyxl
    import polars as pl

    backlog = dataset("backlog", db=demo_db)
    open_page(page, "/backlog", charts=5)
    page.locator('[data-testid="stPopover"]').first.get_by_role("button", name="Download").click()
    body = page.locator('[data-testid="stPopoverBody"]')
    expect(body).to_be_visible()
    expect(body).to_contain_text("Data (6 rows)")

    files: dict[str, Path] = {}
    for fmt in ("CSV", "XLSX", "PARQUET", "HTML", "PNG"):
        # PNG goes through Kaleido and Chromium on the server: seconds, not milliseconds.
        with page.expect_download(timeout=60_000) as info:
            body.get_by_role("button", name=fmt, exact=True).click()
        download = info.value
        assert download.failure() is None, f"{fmt} download failed: {download.failure()}"
        name = download.suggested_filename
        assert name == f"backlog_{LATEST}.{fmt.lower()}", name
        files[fmt] = tmp_path / name
        download.save_as(files[fmt])

    rows = list(csv.reader(io.StringIO(files["CSV"].read_text(encoding="utf-8"))))
    assert rows[0] == ["stage", "orders", "mrr", "median_age_days", "stalled"]
    assert len(rows) == 7
    assert [(r[0], int(r[1])) for r in rows[1:]] == list(zip(backlog["stage"], backlog["orders"], strict=True))

    workbook = openpyxl.load_workbook(files["XLSX"], read_only=True)
    assert workbook.sheetnames == ["data", "about"]
    data_rows = list(workbook["data"].iter_rows(values_only=True))
    assert data_rows[0][:5] == ("stage", "orders", "mrr", "median_age_days", "stalled")
    assert [r[1] for r in data_rows[1:]] == backlog["orders"].to_list()
    about = dict(workbook["about"].iter_rows(min_row=2, values_only=True))
    assert about["dataset"] == "backlog" and about["as_of"] == LATEST
    workbook.close()

    parquet = pl.read_parquet(files["PARQUET"])
    assert parquet.height == 6
    assert parquet.select("stage", "orders").equals(backlog.select("stage", "orders"))
    meta = json.loads(pl.read_parquet_metadata(files["PARQUET"])["opslens"])
    assert meta["dataset"] == "backlog" and meta["as_of"] == LATEST

    html = files["HTML"].read_text(encoding="utf-8")
    assert "plotly" in html.lower() and "Open orders by stage" in html

    png = files["PNG"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png[16:20], "big") == 1200  # IHDR width, as chart_bytes renders it
    assert len(png) > 10_000


def test_the_orders_behind_the_histogram_download_on_click(page, demo_db: Path, tmp_path: Path) -> None:
    """The histogram ships one bar per day count; its popover still downloads every order behind it."""
    orders = dataset("install_to_invoice_orders", db=demo_db)
    distribution = dataset("install_to_invoice_distribution", db=demo_db)
    assert orders.height == distribution["orders"].sum() > 0
    open_page(page, "/install_to_invoice", charts=4)
    page.locator('[data-testid="stPopover"]').first.get_by_role("button", name="Download").click()
    body = page.locator('[data-testid="stPopoverBody"]')
    expect(body).to_contain_text(f"Data ({distribution.height:,} rows)")
    expect(body).to_contain_text(f"The orders behind it ({orders.height:,} rows)")
    with page.expect_download(timeout=60_000) as info:
        body.get_by_role("button", name="CSV", exact=True).nth(1).click()  # the second CSV: the orders
    download = info.value
    assert download.suggested_filename == f"install_to_invoice_orders_{LATEST}.csv"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert rows[0][:3] == ["order_id", "market", "product"]
    assert sorted(r[0] for r in rows[1:]) == sorted(orders["order_id"].to_list())


# 6. Link values the store does not know ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "shown"), [("market=NOPE", "all markets"), ("market=NOPE&market=WEST", "markets: WEST")]
)
def test_unknown_market_in_link_is_named_and_page_still_renders(page, query: str, shown: str) -> None:
    open_page(page, f"/?{query}", charts=1)
    warning = page.locator('[data-testid="stSidebar"] [data-testid="stAlert"]')
    expect(warning).to_contain_text("'NOPE'")
    expect(warning).to_contain_text("does not have")
    expect(title(page)).to_have_text("Overview")
    expect(page_caption(page)).to_contain_text(shown)
    expect(page.locator(live('[data-testid="stMetric"]'))).to_have_count(6)
    expect(page.locator(EXCEPTION)).to_have_count(0)
    expect(page).not_to_have_url(re.compile("NOPE"))


# 7. The Changes page ---------------------------------------------------------------------------------------


def test_changes_picker_goes_into_the_url_and_the_drilled_orders_download(page, demo_db: Path, tmp_path: Path) -> None:
    compare_to = dt.date(2026, 11, 17)
    total = dataset("changes", db=demo_db, compare_to=compare_to).filter(market="ALL")
    default = dataset("changes", db=demo_db).filter(market="ALL")
    assert total["new"].sum() != default["new"].sum()
    open_page(page, "/changes", charts=4)
    expect(page_caption(page)).to_contain_text("compared with 2026-11-13")  # a week before the latest
    expect(metric_value(page, "New")).to_have_text(f"{default['new'].sum():,}")

    choose_option(page, "Compare with", compare_to.isoformat(), scope=page.locator('[data-testid="stSidebar"]'))

    expect(page).to_have_url(re.compile(r"[?&]compare_to=2026-11-17(&|$)"))
    expect(page_caption(page)).to_contain_text("compared with 2026-11-17")
    expect(metric_value(page, "New")).to_have_text(f"{total['new'].sum():,}")

    resolved = dataset("exception_changes", db=demo_db, compare_to=compare_to, rules=["stalled"]).filter(
        change="resolved"
    )
    assert resolved.height
    choose_option(page, "Rule", "Stalled")
    choose_option(page, "Change", "Resolved")
    caption = f"{resolved.height:,} resolved Stalled exceptions"
    expect(page.locator(live('[data-testid="stCaptionContainer"]')).filter(has_text=caption)).to_have_count(1)

    after_caption = f'//*[@data-testid="stCaptionContainer"][contains(., "{caption}")]'
    popover = page.locator(f'xpath={after_caption}/following::*[@data-testid="stPopover"][1]')
    popover.get_by_role("button", name="Download").click()
    with page.expect_download(timeout=60_000) as info:
        page.locator(".st-key-changes-orders-table-csv").get_by_role("button", name="CSV").click()
    download = info.value
    assert download.suggested_filename == f"exception_changes_{LATEST}_rules-stalled_compare_to-2026-11-17.csv"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert list(rows[0])[:6] == ["order_id", "market", "rule", "change", "stage_then", "stage_now"]
    assert sorted(r["order_id"] for r in rows) == sorted(resolved["order_id"])
    assert {r["change"] for r in rows} == {"resolved"}
    expect(page.locator(EXCEPTION)).to_have_count(0)
