"""The Changes page in a real browser: clicking a bar of the exceptions chart lists the orders behind it,
and the drill boxes follow the click (they are the one selection). Run with `pytest -m browser`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import CHART, EXCEPTION, live, open_page
from test_browser import base_url, browser, chromium_path, page  # noqa: F401

from opslens.queries import RULES, dataset

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect


def test_clicking_a_bar_lists_its_orders(page, demo_db: Path) -> None:  # noqa: F811
    total = dataset("changes", db=demo_db).filter(market="ALL")
    rules = total["rule"].to_list()
    rule = max(rules, key=lambda r: total.filter(rule=r)["new"].item())  # the rule with the most new exceptions
    new = dataset("exception_changes", db=demo_db, rules=[rule]).filter(change="new", reported_both=True)
    assert new.height == total.filter(rule=rule)["new"].item() > 0

    open_page(page, "/changes", charts=4)
    chart = page.locator(CHART).first
    chart.scroll_into_view_if_needed()
    # the traces are resolved, persisting, new; each has one bar per rule, in the dataset's rule order
    bar = chart.locator("g.trace.bars").nth(2).locator("g.point path").nth(rules.index(rule))
    box = bar.bounding_box()
    assert box and box["width"] > 0, "the bar is not drawn"
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)

    label = RULES[rule].label
    caption = f"{new.height:,} new {label} exceptions in the markets that reported on both dates"
    expect(page.locator(live('[data-testid="stCaptionContainer"]')).filter(has_text=caption)).to_have_count(1)
    boxes = (("Rule", label), ("Change", "New"), ("Market", "ALL (markets that reported on both dates)"))
    for box_label, shown in boxes:  # the boxes follow the click: they are the one selection
        expect(page.get_by_role("combobox", name=box_label, exact=True)).to_have_value(shown)
    after_caption = f'//*[@data-testid="stCaptionContainer"][contains(., "{caption}")]'
    expect(page.locator(f'xpath={after_caption}/following::*[@data-testid="stDataFrame"][1]')).to_be_visible()
    expect(page.locator(EXCEPTION)).to_have_count(0)
