"""Screenshots of the Ops Lens pages for the docs, taken in headless Chromium at 1500x1000.

    .venv/bin/opslens demo --db /tmp/shots.duckdb --end 2026-11-20
    .venv/bin/python scripts/screenshots.py --db /tmp/shots.duckdb

Without --db (and without OPSLENS_DB) a demo store is generated in a temporary directory first.
Starts the app like the browser tests do (tests/browser_support.py), on a free port on 127.0.0.1,
and writes docs/screenshots/{overview,backlog,exceptions,readiness,install_to_invoice,forecast,data_health}.png.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from browser_support import (  # noqa: E402
    CHROMIUM,
    EXCEPTION,
    PAGES,
    app_server,
    launch_browser,
    new_context,
    open_page,
)

DEMO_END = "2026-11-20"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        type=Path,
        default=os.environ.get("OPSLENS_DB"),
        help="store to show (default: $OPSLENS_DB, else a fresh demo store in a temporary directory)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="output directory")
    parser.add_argument("--page", action="append", choices=[p[0] for p in PAGES], help="only these pages")
    parser.add_argument(
        "--all-views",
        action="store_true",
        help="also the dark theme and a phone's width (390x844): NAME-dark.png, NAME-phone.png, NAME-phone-dark.png",
    )
    return parser.parse_args(argv)


# (file name suffix, browser colour scheme, viewport): the docs keep the first; --all-views takes all four
VIEWS = [
    ("", "light", {"width": 1500, "height": 1000}),
    ("-dark", "dark", {"width": 1500, "height": 1000}),
    ("-phone", "light", {"width": 390, "height": 844}),
    ("-phone-dark", "dark", {"width": 390, "height": 844}),
]


def demo_store(directory: Path) -> Path:
    from opslens.cli import main

    path = directory / "demo.duckdb"
    if main(["demo", "--db", str(path), "--end", DEMO_END]) != 0:
        raise SystemExit("could not create the demo store")
    return path


def take(db: Path, out: Path, only: list[str] | None, all_views: bool = False) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with app_server(db) as url, sync_playwright() as playwright:
        browser = launch_browser(playwright)
        try:
            for (name, path, title, charts), (suffix, scheme, viewport) in (
                (page, view) for page in PAGES for view in (VIEWS if all_views else VIEWS[:1])
            ):
                if only and name not in only:
                    continue
                context = new_context(browser, base_url=url, color_scheme=scheme)
                page = context.new_page()
                page.set_viewport_size(viewport)
                started = time.monotonic()
                open_page(page, path, charts=charts, timeout=90_000)
                if page.locator(EXCEPTION).count():
                    print(f"warning: {title} shows an exception", file=sys.stderr)
                page.wait_for_timeout(1_000)  # let Plotly finish resizing to the column width
                target = out / f"{name}{suffix}.png"
                page.screenshot(path=str(target), full_page=False)
                written.append(target)
                print(f"{target}  ({time.monotonic() - started:.1f} s)")
                context.close()
        finally:
            browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: install Debian's chromium package", file=sys.stderr)
        return 2
    if args.db:
        if not Path(args.db).exists():
            print(f"no store at {args.db}", file=sys.stderr)
            return 2
        take(Path(args.db), args.out, args.page, args.all_views)
        return 0
    with tempfile.TemporaryDirectory(prefix="opslens-shots-") as directory:
        take(demo_store(Path(directory)), args.out, args.page, args.all_views)
    return 0


if __name__ == "__main__":
    sys.exit(main())
