"""Run the Ops Lens app and drive it with a real Chromium (Playwright), for the browser tests and screenshots.

Used by `tests/test_browser.py` and `scripts/screenshots.py`. No pytest imports here, so the screenshot
script can use it too. The browser is Debian's Chromium (`/usr/bin/chromium`): nothing is downloaded,
and the pages may contact only the app on 127.0.0.1 (every other request is aborted).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOST = "127.0.0.1"
VIEWPORT = {"width": 1500, "height": 1000}

# The pages: URL path (as st.navigation derives it from the script name), title, number of charts.
PAGES = [
    ("overview", "/", "Overview", 1),
    ("backlog", "/backlog", "Backlog", 5),
    ("exceptions", "/exceptions", "Exceptions", 1),
    ("readiness", "/readiness", "Readiness", 3),
    ("install_to_invoice", "/install_to_invoice", "Install to invoice", 4),
    ("forecast", "/forecast", "Forecast", 2),
    ("data_health", "/data_health", "Data health", 1),
]

APP = '[data-testid="stApp"]'
CHART = '[data-testid="stPlotlyChart"]'
RENDERED_CHART = f"{CHART} .js-plotly-plot .main-svg"
EXCEPTION = '[data-testid="stException"]'


def live(selector: str) -> str:
    """`selector` inside an element that is not stale: during a rerun Streamlit keeps the previous run's
    elements (greyed out, data-stale="true") next to the new ones until the run ends."""
    return f'[data-testid="stElementContainer"]:not([data-stale="true"]) {selector}'


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200 and response.read().strip() == b"ok"
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def app_server(db: Path | str, timeout: float = 60.0, extra_args: list[str] | None = None) -> Iterator[str]:
    """Start `streamlit run app.py` on a free local port with OPSLENS_DB=db; yield its base URL.

    Waits (at most `timeout` seconds) until /_stcore/health answers ok; always stops the server and its
    children afterwards (they run in their own process group).
    """
    port = free_port()
    url = f"http://{HOST}:{port}"
    streamlit = Path(sys.executable).with_name("streamlit")
    command = [
        str(streamlit) if streamlit.exists() else sys.executable,
        *([] if streamlit.exists() else ["-m", "streamlit"]),
        "run",
        "app.py",
        "--server.address",
        HOST,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        *(extra_args or []),
    ]
    env = {**os.environ, "OPSLENS_DB": str(db), "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + timeout
            while not _healthy(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    state = f"exited with {process.returncode}" if process.poll() is not None else "not healthy"
                    raise RuntimeError(f"Ops Lens server {state} after {timeout:.0f} s; its output:\n{log.read()}")
                time.sleep(0.2)
            yield url
        finally:
            _stop(process)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the server's process group, then SIGKILL whatever is left after 10 s."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    # Children (e.g. Kaleido's Chromium) may outlive the leader; the group kill reaches them too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def launch_browser(playwright):
    """Debian's headless Chromium; never a downloaded one."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)


def new_context(browser, **options):
    """A fresh browser context (its own Streamlit session) that may talk to 127.0.0.1 only."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True, **options)

    def local_only(route) -> None:
        if route.request.url.startswith(f"http://{HOST}:"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", local_only)
    return context


def wait_for_app(page, timeout: float = 30_000) -> None:
    """Until the app is connected, its script has finished and no element is stale (greyed out)."""
    page.wait_for_selector(f'{APP}[data-test-connection-state="CONNECTED"]', timeout=timeout)
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            return app && app.dataset.testScriptState === 'notRunning'
                && !document.querySelector('[data-stale="true"]');
        }""",
        timeout=timeout,
    )


def wait_for_charts(page, count: int, timeout: float = 30_000) -> None:
    """Until `count` Plotly charts have drawn their SVG."""
    page.wait_for_function(
        "([selector, count]) => document.querySelectorAll(selector).length >= count",
        arg=[f"{CHART} .js-plotly-plot", count],
        timeout=timeout,
    )
    page.wait_for_function(
        """(count) => {
            const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')];
            return charts.filter(c => c.querySelector('.main-svg')).length >= count;
        }""",
        arg=count,
        timeout=timeout,
    )


def open_page(page, url: str, charts: int = 0, timeout: float = 45_000) -> None:
    """Go to url and wait until the script has run and its charts are drawn."""
    page.goto(url, wait_until="domcontentloaded", timeout=timeout)
    wait_for_app(page, timeout)
    if charts:
        wait_for_charts(page, charts, timeout)
    wait_for_app(page, timeout)


def choose_option(page, label: str, option: str, scope=None) -> None:
    """Pick `option` in the select box or multiselect labelled `label` (keyboard-opened, then clicked).

    A mouse click on a select box below the fold sometimes only focuses it (the scroll that brings it
    into view closes the list again), so the list is opened with the keyboard.
    """
    combobox = (scope or page).get_by_role("combobox", name=label, exact=True)
    combobox.scroll_into_view_if_needed()
    combobox.focus()
    if combobox.get_attribute("aria-expanded") != "true":
        page.keyboard.press("ArrowDown")
    page.get_by_role("option", name=option, exact=True).click()
