"""Text from data or links is text, everywhere: market names written in Markdown or HTML, and link
values, are shown exactly as written, never as links, images, bold, colours, maths or chart markup.

A store whose markets are named like a phishing link, an image, an HTML anchor and Streamlit's own
directives; one of them misses an extract (so the warnings that name markets appear). Every page is
checked in AppTest (what is sent to the browser is escaped) and in Chromium (nothing became a link,
an image or formatting, and the names read as written).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
from urllib.parse import urlsplit

import pytest
from apptest_harness import PAGES, run_page
from browser_support import CHROMIUM, app_server, launch_browser, new_context, open_page
from browser_support import PAGES as BROWSER_PAGES

from opslens.app.text import plain
from opslens.ingest import ingest_files

PHISHING = "[Session expired - sign in again](http://evil.example/login)"
HOSTILE_MARKETS = [
    PHISHING,
    "![pixel](http://evil.example/p.png)",
    '<a href="http://evil.example/p">x</a>',
    "**BOLD** :red[red] $x^2$ http://evil.example",
    "NORTH",
]
DAYS = [dt.date(2026, 11, 18), dt.date(2026, 11, 19), dt.date(2026, 11, 20)]


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    path = folder / "snapshots.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["snapshot_date", "order_id", "market", "stage", "ordered_at", "appointment_at", "mrr"])
        for day in DAYS:
            for number, market in enumerate(HOSTILE_MARKETS):
                if market == PHISHING and day == DAYS[1]:
                    continue  # a missing extract: warnings name this market
                for stage in ("intake", "awaiting_network", "scheduled"):
                    appointment = "2026-11-01 09:00" if stage == "scheduled" else ""
                    writer.writerow([day, f"O{number}-{stage}", market, stage, "2026-10-01", appointment, 40])
    db = folder / "hostile.duckdb"
    ingest_files(db, [path])
    return db


def _markdown_texts(at) -> list[str]:
    """Every text the page sends to be rendered as Markdown (main area and sidebar)."""
    kinds = ("markdown", "caption", "warning", "info", "error", "success", "title", "subheader", "header")
    return [element.value for kind in kinds for element in at.get(kind)]


# Unescaped Markdown or HTML a hostile name would bring in: a link or image, a tag, bold, a directive, maths.
ACTIVE = re.compile(r"(?<!\\)\]\(|<a |<b>|(?<!\\)\*\*BOLD|(?<!\\):red(?<!\\)\[|(?<!\\)\$x|(?<![\\/])http:")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_sends_names_from_data_escaped(hostile_db, monkeypatch, page):
    at = run_page(page, hostile_db, monkeypatch, {"from": DAYS[0].isoformat()} if page != "overview" else None)
    texts = _markdown_texts(at)
    assert texts
    for text in texts:
        assert not ACTIVE.search(text), text


@pytest.mark.parametrize("page", PAGES)
def test_every_chart_sends_names_from_data_escaped(hostile_db, monkeypatch, page):
    """Plotly reads a few HTML tags in labels, hover texts and custom data shown in hovers."""
    link = {"compare_to": DAYS[0].isoformat()} if page == "changes" else None
    at = run_page(page, hostile_db, monkeypatch, link)
    traces = [trace for chart in at.get("plotly_chart") for trace in json.loads(chart.proto.spec)["data"]]
    # customdata is shown only where a hover template names it; elsewhere it holds codes for clicks
    shown = [
        {k: v for k, v in t.items() if k != "customdata" or "customdata" in t.get("hovertemplate", "")} for t in traces
    ]
    texts = _strings(shown)
    if page in ("changes", "readiness", "exceptions", "data_health"):
        assert any("evil.example" in text for text in texts), page  # the names are charted, escaped
    assert not [text for text in texts if "<a " in text or "<b>" in text], page


def _strings(value) -> list[str]:
    """Every string inside a decoded chart: labels, texts, hover data."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def test_names_are_still_shown_where_they_belong(hostile_db, monkeypatch):
    at = run_page("overview", hostile_db, monkeypatch)
    warning = " ".join(w.value for w in at.warning)
    assert plain(PHISHING) in warning  # named, escaped, in the missing-extracts warning


def test_a_link_value_is_named_as_text(hostile_db, monkeypatch):
    at = run_page("overview", hostile_db, monkeypatch, {"market": ["[Log in](http://evil.example/login)"]})
    notice = " ".join(w.value for w in at.sidebar.warning)
    assert "Log in" in notice and not ACTIVE.search(notice)


def test_plain_escapes_what_streamlit_would_render():
    joiner = "\u2060"  # an invisible word joiner: GitHub autolinks ignore escapes
    assert plain("[a](http://x.y)") == r"\[a\]\(http" + joiner + r"\://x.y\)"
    assert plain("see www.x.y or bob@x.y") == "see www" + joiner + ".x.y or bob" + joiner + "@x.y"
    assert plain("**b** :red[c] $d$ <e> &lt;") == r"\*\*b\*\* \:red\[c\] \$d\$ \<e\> \&lt;"
    assert plain("- item") == r"\- item" and plain("12. x") == r"12\. x"
    assert plain("as of 2026-11-20") == "as of 2026-11-20"  # dates and hyphens stay readable
    assert plain("WEST line\nbreak") == "WEST line break"
    assert plain("Ünïcode · fine") == "Ünïcode · fine"


@pytest.mark.browser
def test_in_chromium_nothing_from_data_becomes_a_link_image_or_formatting(hostile_db):
    if not CHROMIUM.exists():
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    evil_requests: list[str] = []
    with app_server(hostile_db) as url, sync_playwright() as pw:
        browser = launch_browser(pw)
        try:
            context = new_context(browser, base_url=url)
            page = context.new_page()
            page.on("request", lambda r: urlsplit(r.url).hostname == "evil.example" and evil_requests.append(r.url))
            for _name, path, title, _charts in BROWSER_PAGES:
                link = path + "?market=" + "%5BLog%20in%5D(http%3A%2F%2Fevil.example%2Flogin)"
                for target in (path, link):
                    open_page(page, target, timeout=90_000)
                    assert page.locator('a[href*="evil.example"]').count() == 0, (title, target)
                    assert page.locator('img[src*="evil.example"]').count() == 0, (title, target)
                    assert page.locator(".katex").count() == 0, title
                    assert page.locator(".js-plotly-plot svg a").count() == 0, title  # no link in a chart
                    assert page.locator("strong", has_text="BOLD").count() == 0, title
            open_page(page, "/", timeout=90_000)
            alerts = " ".join(page.locator('[data-testid="stAlert"]').all_inner_texts())
            assert "Missing extracts: [Session expired - sign in again](http" in alerts  # shown as written
            context.close()
        finally:
            browser.close()
    assert evil_requests == []
