"""Several app processes behind nginx with the committed config (deploy/nginx/opslens.conf): every
viewer's requests stick to one process (Streamlit keeps sessions in the process), viewers spread over
the processes, and the app works through the proxy in Chromium (pages, a filter, the websocket)."""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from browser_support import CHROMIUM, EXCEPTION, choose_option, launch_browser, new_context, open_page

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "deploy"))

from cluster import NGINX, cluster  # noqa: E402

pytestmark = pytest.mark.browser


LOG_LINE = re.compile(r'"(?P<request>[^"]*)" \d+ \S+ (?P<upstream>\S+) \S+ "(?P<agent>[^"]*)"$')


def _backends_by_viewer(access_log: Path) -> dict[str, set[str]]:
    """Viewer (each browser context has its own user agent) -> the app processes that served its requests,
    from nginx's log (see the log_format)."""
    seen: dict[str, set[str]] = collections.defaultdict(set)
    for line in access_log.read_text().splitlines():
        found = LOG_LINE.search(line)
        assert found, line
        if found["agent"].startswith("viewer-"):
            seen[found["agent"]].add(found["upstream"])
    return seen


def test_viewers_stick_to_one_process_and_spread_over_both(demo_db, tmp_path):
    if not (CHROMIUM.exists() and NGINX.exists()):  # missing fails the run in CI and skips it elsewhere
        missing = f"this test needs {CHROMIUM} and {NGINX} (.ci/run installs both)"
        (pytest.fail if os.environ.get("CI") else pytest.skip)(missing)
    from playwright.sync_api import sync_playwright

    with cluster(demo_db, 2, tmp_path / "cluster") as running, sync_playwright() as pw:
        browser = launch_browser(pw)
        try:
            used: set[str] = set()
            for viewer in range(8):  # each viewer lands on a random process; 8 tries make both all but certain
                context = new_context(browser, base_url=running.url, user_agent=f"viewer-{viewer}")
                page = context.new_page()
                open_page(page, "/backlog", charts=5, timeout=90_000)
                if viewer == 0:  # a filter change goes over the websocket to the same process
                    choose_option(page, "Markets", "WEST")
                    page.wait_for_url("**market=WEST**", timeout=30_000)
                    open_page(page, page.url, charts=5, timeout=90_000)
                assert page.locator(EXCEPTION).count() == 0
                context.close()
                served = _backends_by_viewer(running.access_log)
                used = set().union(*served.values())
                if len(used) == 2 and viewer >= 2:
                    break
        finally:
            browser.close()
    served = _backends_by_viewer(running.access_log)
    assert len(served) >= 3 and all(len(backends) == 1 for backends in served.values()), served  # sticky
    assert used == {b.removeprefix("http://") for b in running.backends}  # both processes served viewers


def test_the_load_test_runs_through_nginx_and_reports_both_processes(demo_db, tmp_path):
    """`bench/load.py --processes 2`: viewers through the committed nginx config, CPU of both processes,
    and which process served how many viewers (what docs/benchmarks.md's comparison is made with)."""
    if not NGINX.exists():
        missing = f"this test needs {NGINX} (.ci/run installs it)"
        (pytest.fail if os.environ.get("CI") else pytest.skip)(missing)
    report = tmp_path / "load.md"
    command = [sys.executable, str(ROOT / "bench" / "load.py"), "--db", str(demo_db), "--processes", "2"]
    command += ["--sessions", "4", "--seconds", "5", "--think", "0.3", "--report", str(report)]
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert finished.returncode == 0, finished.stderr[-3000:]
    text = report.read_text(encoding="utf-8")
    assert "2 process(es) behind nginx" in text and "**0 with errors**" in text, text[:3000]
    spread = re.search(r"viewer sessions per process: (.*)\.\n", text)
    assert spread and sum(int(n) for n in re.findall(r": (\d+)", spread[1])) == 4, text[:2000]
    assert re.search(r"Server CPU per script run \(with the files and messages of its view\): \d\.\d{3} s", text)
