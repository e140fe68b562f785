"""Benchmark: the pages with many markets (10,000 by default), against drawing every market.

Usage (from the repository root):
    .venv/bin/python bench/many_markets.py                    # builds /tmp/opslens-markets.duckdb once
    .venv/bin/python bench/many_markets.py --markets 1000 --browser

Prints a Markdown report: for each per-market chart, the median time to build the figure and its
size as sent to the browser, drawing the top markets (`charts.top_n`) and, as the naive baseline
measured in the same run, every market; then each page's server run (AppTest: first run on a cold
cache, median of warm reruns) and, with --browser, each page's load in headless Chromium until its
charts are drawn. Not a test: numbers depend on the machine (and on what else it runs).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from bench import median_ms  # noqa: E402
from opslens import charts  # noqa: E402
from opslens.cli import main  # noqa: E402
from opslens.queries import RULES, dataset  # noqa: E402


def median_s(action, repeat: int) -> float:
    """Median seconds of `repeat` warm runs, as bench.py measures every dataset."""
    return median_ms(action, repeat) / 1000


def per_market_charts(db: Path) -> dict[str, tuple]:
    """The pages' per-market charts: (frame, top_n arguments, builder) each, as the pages call them."""
    readiness = dataset("readiness", db=db)
    labels = {name: rule.label for name, rule in RULES.items()}
    counts = dataset("exception_counts", db=db).with_columns(pl.col("rule").replace_strict(labels).alias("rule_label"))
    summary = dataset("install_to_invoice", db=db).filter(pl.col("market") != "ALL")
    rows = dataset("snapshot_rows", db=db).with_columns(pl.col("snapshot_date").cast(pl.String))
    waiting = {"awaiting_network": "Awaiting network", "scheduled_before_ready": "Booked before ready"}
    return {
        "Readiness: orders waiting": (
            readiness,
            {"by": "awaiting_network", "summed": tuple(waiting)},
            lambda f: charts.grouped_bars(f, "market", waiting, "t", "Market", "Orders"),
        ),
        "Exceptions: rule x market": (
            counts,
            {"by": "orders", "summed": ("orders",), "keys": ("rule", "rule_label")},
            lambda f: charts.heatmap(f, "market", "rule_label", "orders", "t", "Market", "Rule", list(labels.values())),
        ),
        "Install to invoice: per market": (
            summary,
            {"by": "invoiced_orders"},
            lambda f: charts.grouped_bars(f, "market", {"days_p50": "P50", "days_p85": "P85"}, "t", "Market", "Days"),
        ),
        "Data health: rows per day": (
            rows,
            {"by": pl.col("rows") == 0},
            lambda f: charts.heatmap(f, "snapshot_date", "market", "rows", "t", "Date", "Market"),
        ),
    }


def chart_lines(db: Path, repeat: int) -> list[str]:
    lines = [
        "| chart | every market: ms / MB | top 20: ms / MB | faster |",
        "|---|---:|---:|---:|",
    ]
    for name, (frame, options, build) in per_market_charts(db).items():
        every = median_s(lambda f=frame, b=build: b(f).to_json(), repeat)
        every_mb = len(build(frame).to_json()) / 1e6
        top = median_s(lambda f=frame, o=options, b=build: b(charts.top_n(f, "market", **o)[0]).to_json(), repeat)
        top_mb = len(build(charts.top_n(frame, "market", **options)[0]).to_json()) / 1e6
        every_text, top_text = f"{every * 1000:,.0f} / {every_mb:.2f}", f"{top * 1000:,.0f} / {top_mb:.3f}"
        lines.append(f"| {name} | {every_text} | {top_text} | {every / top:,.0f}x |")
    return lines


def page_lines(db: Path, repeat: int) -> list[str]:
    import pytest
    from apptest_harness import PAGES, page_app

    lines = ["| page | first run s | warm run s (median) |", "|---|---:|---:|"]
    patch = pytest.MonkeyPatch()
    for page in PAGES:
        app = page_app(page, db, patch)
        started = time.perf_counter()
        app.run(timeout=600)
        first = time.perf_counter() - started
        if app.exception:
            raise SystemExit(f"{page}: {app.exception[0].value}")
        warm = median_s(lambda a=app: a.run(timeout=600), repeat)
        lines.append(f"| {page} | {first:.2f} | {warm:.2f} |")
    patch.undo()
    return lines


def browser_lines(db: Path) -> list[str]:
    from browser_support import PAGES, app_server, launch_browser, new_context, open_page
    from playwright.sync_api import sync_playwright

    lines = ["| page | first load s | again s |", "|---|---:|---:|"]
    with app_server(db, timeout=120) as url, sync_playwright() as playwright:
        browser = launch_browser(playwright)
        page = new_context(browser).new_page()
        for name, path, _, chart_count in PAGES:
            loads = []
            for _ in range(2):
                started = time.perf_counter()
                open_page(page, f"{url}{path}", chart_count, timeout=600_000)
                loads.append(time.perf_counter() - started)
            lines.append(f"| {name} | {loads[0]:.2f} | {loads[1]:.2f} |")
        browser.close()
    return lines


def main_(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markets", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--db", type=Path, help="the store (default: /tmp/opslens-markets-<markets>.duckdb)")
    parser.add_argument("--repeat", type=int, default=5, help="warm runs per timing (default 5)")
    parser.add_argument("--browser", action="store_true", help="also time each page in headless Chromium")
    args = parser.parse_args(argv)
    db = args.db or Path(f"/tmp/opslens-markets-{args.markets}.duckdb")
    if not db.exists():
        demo = ["demo", "--db", str(db), "--markets", str(args.markets), "--orders", str(args.orders)]
        assert main([*demo, "--days", str(args.days), "--end", "2026-11-20"]) == 0
    os.environ["OPSLENS_DB"] = str(db)
    markets = dataset("freshness", db=db).height
    print(f"## Many markets: {markets:,} markets, {args.orders:,} orders, {args.days} days")
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    print("\n".join(chart_lines(db, args.repeat)))
    print()
    print("\n".join(page_lines(db, args.repeat)))
    if args.browser:
        print()
        print("\n".join(browser_lines(db)))


if __name__ == "__main__":
    main_()
