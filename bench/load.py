"""Load test: N concurrent viewer sessions against the Streamlit app, then a report.

Usage (from the repository root):
    .venv/bin/python bench/load.py --db data/opslens.duckdb                        # 20 sessions, 60 s
    .venv/bin/python bench/load.py --db /tmp/big.duckdb --sessions 5 --seconds 20
    .venv/bin/python bench/load.py --db data/opslens.duckdb --url http://127.0.0.1:8501   # a running server
    .venv/bin/python bench/load.py --db data/opslens.duckdb --report docs/load.md
    .venv/bin/python bench/load.py --db data/opslens.duckdb --client browser       # real browsers

Unless --url is given it starts the app itself (`streamlit run app.py`, OPSLENS_DB=--db, headless,
127.0.0.1, no file watcher) and always stops it. That server runs in a child process of this script whose
only addition is a timer around each script run, so the report can give the server's own run times next to
what the viewers saw. Each viewer shows one of the six pages with random filters (as-of dates, markets,
products, segments and date ranges that exist in the store, read once at start), waits until it is done,
pauses briefly, and shows the next. What a viewer is depends on --client:

- ws (default): a raw Streamlit websocket session (`/_stcore/stream`, the protocol of Streamlit's frontend,
  spoken with the `websockets` package): each view is a rerun request with the view's query string and
  page on the same session, done when the server's script_finished arrives. Costs the machine almost
  nothing, so the numbers are the server's; nothing is drawn, so the browser's own work is left out.
- browser: one headless Chromium (/usr/bin/chromium, never a downloaded one) holds one browser context per
  viewer; each view is a page load of the view's link, done when the page is drawn. Realistic, but on a
  small machine 20 contexts take most of the CPU, and the server starves.

The load phase stops at --seconds; views still running get GRACE (10) seconds and are then cut off. The
whole run is bounded: server start (at most 60 s), one warm-up view (at most --page-timeout; if it already
fails, e.g. an old store schema, nothing else runs), the load phase, 10 s, teardown; a watchdog alarm,
SIGTERM/SIGHUP handling and a parent-death signal for the server make sure neither the server nor Chromium
outlive it. Other options: --think (mean pause between views), --page-timeout (30 s), --seed (the views),
--profile DIR (each server run's cProfile stats, one file per run, to find where a view's CPU goes).

Prints a Markdown report (and writes it to --report): views, errors with the page and filters that caused
them, response times per page as the viewers saw them and in the server, and the CPU used by the server,
the client and the rest of the machine. Not a test: the numbers depend on the machine, which the report
describes.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import cProfile
import dataclasses
import datetime as dt
import json
import math
import os
import platform
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync"]
HOST = "127.0.0.1"
VIEWPORT = {"width": 1500, "height": 1000}
SERVE = "_serve"  # first argument when this file runs the Streamlit server (see serve_with_run_timer)
SERVE_OPSLENS = "_serve_opslens"  # ... or `opslens serve` with its arguments (the processes behind nginx)
RUN_LOG_ENV = "OPSLENS_LOAD_RUN_LOG"
PROFILE_ENV = "OPSLENS_LOAD_PROFILE_DIR"  # set by --profile: each run's cProfile stats are written there


def app_pages(names: str | None = None) -> list[tuple[str, str, bool]]:
    """URL path (the first page is "/"), st.title and whether the page has the date range (`from`, `to`),
    for every page in the app's registry (or those named, comma-separated), so a new page is in the mix
    without editing this file."""
    sys.path.insert(0, str(ROOT))
    from opslens.app.registry import PAGES as REGISTERED

    wanted = None if names is None else set(names.split(","))
    unknown = (wanted or set()) - {page.name for page in REGISTERED}
    if unknown:
        sys.exit(f"load.py: no page {', '.join(sorted(unknown))}; pages: {', '.join(p.name for p in REGISTERED)}")
    chosen = [page for page in REGISTERED if wanted is None or page.name in wanted]
    return [(page.url_path, page.title, page.date_range is not None) for page in chosen]


# The floor: bench/minimal_app.py (a title, a number, a chart) viewed the same way (--app minimal).
MINIMAL_APP = ROOT / "bench" / "minimal_app.py"
MINIMAL_PAGES = [("/", "Minimal page", False)]
PAGES: list[tuple[str, str, bool]] = []  # set in main(): app_pages() or MINIMAL_PAGES

SERVER_START_TIMEOUT = 60.0  # seconds until /_stcore/health must answer
GRACE = 10.0  # seconds a view that started before the end may still run
TEARDOWN = 30.0  # seconds allowed for closing the browser and stopping the server
ERRORS_SHOWN = 8
STATUS_WIDGET = '[data-testid="stStatusWidget"]'
STATUS_WAIT = 10.0  # seconds the status widget may linger after a view is drawn

# Streamlit's frontend probes <page path>/_stcore/health and /host-config before the root ones; the 404s
# (and the console lines about them) are part of every deep link, not failures.
BASE_PATH_PROBE = re.compile(r"/[^/]+/_stcore/(health|host-config)$")

# Installed in every page before its scripts run. The time a view is "drawn" is the first moment all hold:
# the script run ended (stApp's data-test-script-state is "notRunning"; a fresh document starts "initial",
# so this can only be the end of this navigation's run) while connected, no element is stale, the main
# area has its title (or an exception), no lazy-loaded element still shows its skeleton placeholder
# (Plotly and the data grid load their code only when first needed), and every Plotly chart has drawn its
# SVG. The status widget ("Running..."/"Stop") is not part of this signal: it appears only after ~0.5 s of
# running and is often gone before lazy charts have drawn; it is checked, untimed, after the view is drawn.
# `scriptDoneAt` is the end of the script run as seen by the browser (server work plus delivery), `readyAt`
# adds the client's drawing; both are ms since the navigation started.
READY_SCRIPT = """
(() => {
  const state = () => document.querySelector('[data-testid="stApp"]');
  // What still keeps the view from being drawn; '' once it is.
  window.__opslensBlocker = () => {
    const app = state();
    if (!app) return 'no app';
    if (app.dataset.testScriptState !== 'notRunning') return 'script ' + app.dataset.testScriptState;
    if (app.dataset.testConnectionState !== 'CONNECTED') return app.dataset.testConnectionState;
    const main = document.querySelector('[data-testid="stMain"]');
    if (!main || !main.querySelector('h1, [data-testid="stException"]')) return 'no title';
    if (document.querySelector('[data-stale="true"]')) return 'stale elements';
    if (document.querySelector('[data-testid="stSkeleton"]')) return 'placeholders';
    for (const chart of main.querySelectorAll('[data-testid="stPlotlyChart"]')) {
      if (!chart.querySelector('.js-plotly-plot .main-svg')) return 'charts not drawn';
    }
    return '';
  };
  const check = () => {
    const app = state();
    if (window.__opslensScriptDoneAt === undefined && app && app.dataset.testScriptState === 'notRunning') {
      window.__opslensScriptDoneAt = performance.now();
    }
    if (window.__opslensReadyAt === undefined && !window.__opslensBlocker()) {
      window.__opslensReadyAt = performance.now();
    }
  };
  new MutationObserver(check).observe(document, {
    subtree: true, childList: true, attributes: true,
    attributeFilter: ['data-test-script-state', 'data-test-connection-state', 'data-stale'],
  });
})();
"""

# What the page shows: its title, exceptions, st.error texts, link values the app rejected, and its state.
INSPECT_SCRIPT = """
() => {
  const text = (e) => ((e.querySelector('[data-testid="stMarkdownContainer"]') || e).innerText || '')
    .trim().replace(/\\s+/g, ' ').slice(0, 300);
  const app = document.querySelector('[data-testid="stApp"]');
  const title = document.querySelector('[data-testid="stMain"] h1');
  return {
    readyAt: window.__opslensReadyAt ?? null,
    scriptDoneAt: window.__opslensScriptDoneAt ?? null,
    title: title ? text(title) : '',
    exceptions: [...document.querySelectorAll('[data-testid="stException"]')].map(text),
    errors: [...document.querySelectorAll('[data-testid="stAlertContentError"]')]
      .filter((e) => !e.closest('[data-testid="stException"]')).map(text),
    rejectedLinks: [...document.querySelectorAll('[data-testid="stSidebar"] [data-testid="stAlertContentWarning"]')]
      .map(text).filter((t) => t.includes('The link asked for')),
    blocker: window.__opslensBlocker ? window.__opslensBlocker() : 'no ready script',
    scriptState: app ? app.dataset.testScriptState : 'no app',
    connection: app ? app.dataset.testConnectionState : 'no app',
    skeletons: document.querySelectorAll('[data-testid="stSkeleton"]').length,
    charts: document.querySelectorAll('[data-testid="stPlotlyChart"]').length,
    chartsDrawn: [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
      .filter((c) => c.querySelector('.js-plotly-plot .main-svg')).length,
  };
}
"""


@dataclasses.dataclass(frozen=True)
class Store:
    """What the store offers the filters, so every generated link names values the app knows."""

    dates: list[dt.date]  # newest first, like the as-of picker
    markets: list[str]
    products: list[str]
    segments: list[str]


@dataclasses.dataclass(frozen=True)
class View:
    """One page with its filters, as a viewer would open it from a link."""

    path: str
    title: str
    params: tuple[tuple[str, str], ...]

    def link(self) -> str:
        """Path and query string, as shown in the report."""
        query = urllib.parse.urlencode(self.params)
        return f"{self.path}?{query}" if query else self.path


@dataclasses.dataclass
class Outcome:
    """One view: its timings (seconds) when it was drawn, and what went wrong (kind, message)."""

    view: View
    session: int
    drawn: float | None = None
    script_done: float | None = None
    errors: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    cut_off: bool = False


@dataclasses.dataclass
class Cpu:
    """CPU seconds used so far, split by who used them; None where the platform cannot tell."""

    server: float | None
    client: float | None
    machine_busy: float | None
    wall: float


@dataclasses.dataclass
class LoadRun:
    """Everything the load phase produced, for the report."""

    outcomes: list[Outcome]
    warm_up: Outcome
    elapsed: float
    cpu: tuple[Cpu, Cpu]
    ignored: int
    client: str  # what the viewers were, for the report
    window: tuple[float, float]  # wall-clock (time.time) start and end of the load phase
    memory_mb: list[float] = dataclasses.field(default_factory=list)  # each server process's RSS at the end


# ---------------------------------------------------------------------------------------------- the store


def read_store(db: Path) -> Store:
    """Snapshot dates and filter values, read once with a read-only connection that is closed at once.

    Uses `stage_days` (small, what the app's pickers read) and falls back to `snapshots` for stores that
    lack it, so links only carry values the app offers.
    """
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = {row[0] for row in con.sql("select table_name from information_schema.tables").fetchall()}
        source = "stage_days" if "stage_days" in tables else "snapshots"

        def distinct(column: str) -> list:
            query = f"select distinct {column} from {source} where {column} is not null order by 1"
            return [row[0] for row in con.sql(query).fetchall()]

        dates = sorted(distinct("snapshot_date"), reverse=True)
        return Store(dates, distinct("market"), distinct("product"), distinct("segment"))
    finally:
        con.close()


def random_view(rng: random.Random, store: Store) -> View:
    """A page with filters like a planner's link: mostly recent snapshots, a few markets, sometimes more.

    The mix keeps missing the app's per-filter cache (many distinct combinations) while repeating popular
    views (the latest snapshot, no filter) as real traffic does.
    """
    path, title, dated = rng.choice(PAGES)
    params: list[tuple[str, str]] = []
    if store.dates and rng.random() < 0.75:
        recent = store.dates[:14] if rng.random() < 0.7 else store.dates
        params.append(("as_of", rng.choice(recent).isoformat()))
    for key, values, chance, most in (
        ("market", store.markets, 0.6, 3),
        ("product", store.products, 0.2, 2),
        ("segment", store.segments, 0.15, 1),
    ):
        if values and rng.random() < chance:
            chosen = rng.sample(values, rng.randint(1, min(most, len(values))))
            params += [(key, value) for value in sorted(chosen)]
    if dated and len(store.dates) > 1 and rng.random() < 0.4:
        start, end = sorted(rng.sample(store.dates, 2))
        params += [("from", start.isoformat()), ("to", end.isoformat())]
    return View(path, title, tuple(params))


# --------------------------------------------------------------------------------------------- the server


def serve_with_run_timer(streamlit_args: list[str]) -> None:
    """Run Streamlit in this process with the run timer installed (see install_run_timer)."""
    try:
        install_run_timer(Path(os.environ[RUN_LOG_ENV]))
    except (ImportError, AttributeError) as error:  # Streamlit's internals have moved: serve untimed
        print(f"load.py: run timer not installed ({error}); serving untimed", file=sys.stderr)
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", *streamlit_args]
    sys.exit(cli.main())


def install_run_timer(log_path: Path) -> None:
    """Log each script run's page, seconds and outcome as a JSON line in log_path.

    The browser's timings include the client's own work, which on a small machine with many Chromium
    contexts can dwarf the server's; this measures the server alone. It wraps three calls and changes
    nothing else: the runner's call of the script (timed, in seconds and in the CPU of the thread that ran
    it), `StreamlitPage.run` (which page ran) and `st.stop` (an empty state ends a run early but
    completely, unlike a viewer who left).
    """
    import streamlit
    from streamlit.navigation.page import StreamlitPage
    from streamlit.runtime.scriptrunner import script_runner

    local, lock = threading.local(), threading.Lock()
    profile_dir = Path(os.environ[PROFILE_ENV]) if os.environ.get(PROFILE_ENV) else None
    original_exec, original_page_run, original_stop = (
        script_runner.exec_func_with_error_handling,
        StreamlitPage.run,
        streamlit.stop,
    )

    def page_run(self) -> None:
        local.page = "/" + self.url_path
        return original_page_run(self)

    def stop() -> None:
        local.stopped_by_app = True
        original_stop()

    def timed_exec(func, ctx):
        depth = getattr(local, "depth", 0)
        if depth == 0:
            local.page, local.stopped_by_app = None, False
        local.depth, started, cpu = depth + 1, time.perf_counter(), time.thread_time()
        profiler = cProfile.Profile(time.thread_time) if depth == 0 and profile_dir else None  # CPU, not waits
        try:
            result = profiler.runcall(original_exec, func, ctx) if profiler else original_exec(func, ctx)
        finally:
            local.depth = depth
        if profiler:
            profiler.dump_stats(profile_dir / f"run-{os.getpid()}-{threading.get_ident()}-{time.time_ns()}.prof")
        if depth == 0:  # the whole run, not a fragment inside it
            record = run_record(result, time.perf_counter() - started, local.page, local.stopped_by_app)
            record["cpu"] = time.thread_time() - cpu  # this thread's: the script, and its queries' own thread
            with lock, open(log_path, "a", encoding="utf-8") as log:
                log.write(json.dumps(record) + "\n")
        return result

    script_runner.exec_func_with_error_handling = timed_exec
    StreamlitPage.run = page_run
    streamlit.stop = stop


def run_record(result: tuple, seconds: float, page: str | None, stopped_by_app: bool) -> dict:
    """One line of the run log, from what Streamlit's exec_func_with_error_handling returned."""
    _, _, rerun, stopped, exception = result
    if exception:
        outcome = "raised"
    elif rerun:
        outcome = "rerun"
    elif stopped and not stopped_by_app:
        outcome = "stopped"
    else:
        outcome = "ok"
    text = f"{type(exception).__name__}: {exception}"[:300] if exception else None
    return {"end": time.time(), "seconds": seconds, "page": page, "outcome": outcome, "exception": text}


def free_port() -> int:
    """A port nobody listens on, so the server never collides with the app or the tests."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def healthy(url: str) -> bool:
    """Whether Streamlit answers its health check, i.e. can take sessions."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200 and response.read().strip() == b"ok"
    except (urllib.error.URLError, OSError):
        return False


@dataclasses.dataclass
class Server:
    """What this script started: where viewers connect, the app processes' pids and console logs, the
    run log they share, and (behind nginx) the proxy's access log."""

    url: str
    pids: list[int]
    outputs: list[Path]
    runs: Path
    access_log: Path | None = None


@contextlib.contextmanager
def app_server(db: Path, port: int, work: Path, script: str = "app.py") -> Iterator[Server]:
    """Run the app on db with the run timer; yield it once healthy; always stop it.

    The server gets its own process group, so stopping it reaches its children and nothing else. The file
    watcher is off: people editing pages/ must not make the server rerun the views under test.
    """
    url = f"http://{HOST}:{port}"
    streamlit_args = [script, "--server.headless", "true", "--server.address", HOST, "--server.port", str(port)]
    streamlit_args += ["--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"]
    output, runs = work / "server.log", work / "runs.jsonl"
    env = {**os.environ, "OPSLENS_DB": str(db), "PYTHONUNBUFFERED": "1", RUN_LOG_ENV: str(runs)}
    with open(output, "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), SERVE, *streamlit_args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        )
        try:
            deadline = time.monotonic() + SERVER_START_TIMEOUT
            while not healthy(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not become healthy; its output:\n{output.read_text()}")
                time.sleep(0.2)
            yield Server(url, [process.pid], [output], runs)
        finally:
            stop_server(process)


def serve_opslens_with_run_timer(argv: list[str]) -> None:
    """`opslens serve` (its production options) with the run timer: the command deploy/cluster.py starts."""
    sys.path.insert(0, str(ROOT))
    from opslens.serve import command

    parser = argparse.ArgumentParser()
    for option in ("--db", "--address", "--port"):
        parser.add_argument(option)
    known, rest = parser.parse_known_args(argv)
    os.environ["OPSLENS_DB"] = str(Path(known.db).resolve())
    serve_with_run_timer(command(int(known.port), known.address, rest)[4:])  # after `python -m streamlit run`


@contextlib.contextmanager
def cluster_server(db: Path, processes: int, work: Path) -> Iterator[Server]:
    """`processes` app processes behind nginx with the committed config (deploy/cluster.py), each with the
    run timer; yields once all answer; always stops them."""
    sys.path.insert(0, str(ROOT))
    from deploy.cluster import cluster

    runs = work / "runs.jsonl"
    os.environ[RUN_LOG_ENV] = str(runs)  # the processes inherit it and append to one log, a line per write
    serve_command = [sys.executable, str(Path(__file__).resolve()), SERVE_OPSLENS]
    with cluster(db, processes, work / "cluster", serve_command=serve_command) as running:
        outputs = sorted((work / "cluster").glob("app-*.log"))
        yield Server(running.url, running.pids, outputs, runs, running.access_log)


def balance(server: Server | None) -> str | None:
    """How nginx spread the viewers: sessions (sticky keys) per app process, from its access log."""
    if server is None or server.access_log is None or not server.access_log.exists():
        return None
    keys: dict[str, set[str]] = collections.defaultdict(set)
    for line in server.access_log.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split('"')
        if len(fields) > 2 and "/_stcore/stream" in fields[1]:
            key, upstream = fields[2].split()[1:3]
            keys[upstream].add(key)
    return ", ".join(f"{upstream}: {len(k)}" for upstream, k in sorted(keys.items())) or None


def die_with_parent() -> None:
    """Run in the server's process before it starts: Linux sends it SIGTERM when load.py dies, however it
    dies (even by SIGKILL), so no server outlives its load test."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def stop_server(process: subprocess.Popen) -> None:
    """SIGTERM the server's process group, SIGKILL it if it has not gone after 10 s."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


def server_runs(server: Server | None, window: tuple[float, float]) -> list[dict]:
    """The server's script runs that ended during the load phase (after the warm-up, before teardown)."""
    if server is None or not server.runs.exists():
        return []
    runs = [json.loads(line) for line in server.runs.read_text(encoding="utf-8").splitlines() if line]
    return [run for run in runs if window[0] <= run["end"] <= window[1]]


def server_problems(server: Server | None) -> list[str]:
    """Tracebacks and error lines the server printed: failures no browser may have seen."""
    if server is None:
        return []
    lines = [
        line
        for output in server.outputs
        if output.exists()
        for line in output.read_text(encoding="utf-8", errors="replace").splitlines()
    ]
    return [line.strip() for line in lines if re.search(r"Traceback|\bERROR\b|Exception:|Error:", line)]


# ------------------------------------------------------------------------------------------------ the CPU


def process_cpu() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds including reaped children), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]) / ticks)
    return table


def tree_cpu(table: dict[int, tuple[int, float]], root: int) -> float:
    """CPU seconds of a process and all its live descendants."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += table.get(pid, (0, 0.0))[1]
        todo += children.get(pid, [])
    return total


def machine_busy() -> float | None:
    """CPU seconds all cores spent busy since boot (everything but idle and iowait)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except OSError:
        return None
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def cpu_now(server_pids: list[int]) -> Cpu:
    """Who has used how much CPU: the server tree, this process's other descendants (Chromium, the
    Playwright driver, this script) and the whole machine, so the report can say whether the client or
    other work (a benchmark running alongside) competed with the server."""
    if not Path("/proc/stat").exists():
        return Cpu(None, None, None, time.monotonic())
    table = process_cpu()
    server = sum(tree_cpu(table, pid) for pid in server_pids) if server_pids else None
    client = tree_cpu(table, os.getpid()) - (server or 0.0)
    return Cpu(server, client, machine_busy(), time.monotonic())


# ------------------------------------------------------------------------------------------ the sessions


def benign(url: str, status: int | None = None) -> bool:
    """Streamlit's base-path probes (404 on <page>/_stcore/health|host-config) are expected, not errors."""
    path = urllib.parse.urlsplit(url).path
    return status in (None, 404) and bool(BASE_PATH_PROBE.search(path))


def suspicious(text: str) -> bool:
    """An st.error that reports a failure rather than data (e.g. 'N ingests were rejected' is data)."""
    return bool(re.search(r"traceback|exception|error|could not|cannot|failed|lock|\bstore\b", text, re.IGNORECASE))


def timeout_kind(state: dict | str) -> str:
    """Why a view was not drawn in time, from the page's state: server still busy or the browser behind."""
    if not isinstance(state, dict):
        return "timeout: page unresponsive"
    if state["connection"] != "CONNECTED":
        return f"timeout: not connected ({state['connection']})"
    if state["scriptState"] == "notRunning":
        return "timeout: script done, browser still drawing"
    if state["scriptState"] == "running":
        return "timeout: script still running"
    return "timeout: script run not started"


class WarmUpFailed(RuntimeError):
    """The first view already fails (no store, an old schema, a crash): loading such a server says nothing."""


class Viewer:
    """One viewer session that opens random views until the end; `open` is the client's."""

    def __init__(self, number: int, store: Store, rng: random.Random) -> None:
        self.number, self.store, self.rng = number, store, rng
        self.ignored = 0  # expected base-path probe 404s (browser only)
        self.end = math.inf  # monotonic time by which every wait must be over (set by run)

    async def open(self, view: View, timeout: float, cut_off_possible: bool) -> Outcome:
        raise NotImplementedError

    async def close(self) -> None:
        """Release the session's connection (bounded by the caller)."""

    async def run(self, deadline: float, think: float, page_timeout: float, outcomes: list[Outcome]) -> None:
        """Open views until the deadline; the last one may run GRACE seconds past it, then is cut off."""
        self.end = deadline + GRACE
        while time.monotonic() < deadline:
            view = random_view(self.rng, self.store)
            limit = min(page_timeout, deadline + GRACE - time.monotonic())
            outcome = await self.open(view, limit, cut_off_possible=limit < page_timeout)
            outcomes.append(outcome)
            pause = think * self.rng.uniform(0.5, 1.5)
            await asyncio.sleep(max(0.0, min(pause, deadline - time.monotonic())))


class Session(Viewer):
    """A browser context (its own Streamlit session) that opens each view from a link, as a new page load."""

    def __init__(self, number: int, context, base_url: str, store: Store, rng: random.Random) -> None:
        super().__init__(number, store, rng)
        self.context, self.base_url = context, base_url
        self.pending: list[tuple[str, str]] = []  # console/HTTP problems since the last view was recorded
        self.last: Outcome | None = None

    async def start(self) -> None:
        """Open the page and listen for problems the DOM does not show (console, HTTP, JS errors)."""
        await self.context.add_init_script(READY_SCRIPT)
        self.page = await self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.pending.append(("JS error", str(error)[:300])))
        self.page.on("response", self._response)
        self.page.on("requestfailed", self._request_failed)

    def _console(self, message) -> None:
        """Console errors (Streamlit logs its own failures there), except the base-path probe 404s."""
        if message.type != "error":
            return
        if "404" in message.text and benign(message.location.get("url", "")):
            self.ignored += 1
            return
        self.pending.append(("console error", message.text[:300]))

    def _response(self, response) -> None:
        """HTTP errors from the app server."""
        if response.status >= 400:
            if benign(response.url, response.status):
                self.ignored += 1
            else:
                self.pending.append((f"HTTP {response.status}", response.url))

    def _request_failed(self, request) -> None:
        """Network failures; aborted requests (navigating away) are normal."""
        failure = request.failure or ""
        if "ERR_ABORTED" not in failure:
            self.pending.append(("request failed", f"{request.url} {failure}"))

    async def open(self, view: View, timeout: float, cut_off_possible: bool) -> Outcome:
        """Navigate to the view and wait until it is drawn; record the timings and every problem."""
        outcome = Outcome(view, self.number)
        if self.pending and self.last is not None:  # arrived after the previous view was drawn
            self.last.errors += [(kind, f"(after it was drawn) {text}") for kind, text in self.pending]
        self.pending.clear()
        self.last = outcome
        try:
            response = await self.page.goto(self.base_url + view.link(), wait_until="commit", timeout=timeout * 1000)
            if response is not None and response.status >= 400:
                outcome.errors.append((f"HTTP {response.status}", "for the page itself"))
            await self.page.wait_for_function(
                "() => window.__opslensReadyAt !== undefined", polling=100, timeout=timeout * 1000
            )
        except Exception as error:  # Playwright's TimeoutError and navigation errors alike
            if cut_off_possible and "Timeout" in type(error).__name__:
                outcome.cut_off = True
                return outcome
            state = await self._state()
            if (
                isinstance(state, dict)
                and state["scriptDoneAt"] is not None
                and state["scriptDoneAt"] <= timeout * 1000
            ):
                outcome.script_done = state["scriptDoneAt"] / 1000  # the run ended in time; the drawing did not
            outcome.errors.append((timeout_kind(state), f"not drawn within {timeout:.0f} s; {describe(state)}"))
        else:
            self._judge(outcome, await self.page.evaluate(INSPECT_SCRIPT))
            await self._status_widget_gone(outcome)
        outcome.errors += self.pending
        self.pending.clear()
        return outcome

    def _judge(self, outcome: Outcome, seen: dict) -> None:
        """Timings from the page's clock, then what the page shows."""
        outcome.drawn = seen["readyAt"] / 1000
        outcome.script_done = seen["scriptDoneAt"] / 1000 if seen["scriptDoneAt"] is not None else None
        judge(outcome, seen["title"], seen["exceptions"], seen["errors"], seen["rejectedLinks"])

    async def _status_widget_gone(self, outcome: Outcome) -> None:
        """The "Running..."/"Stop" status widget fades out a moment after the run ends (untimed); if it is
        still there STATUS_WAIT seconds after the page was drawn, something keeps the app busy or asks for
        attention (a rerun loop, a 'source file changed' prompt), which is an error."""
        widget = self.page.locator(STATUS_WIDGET)
        wait = min(STATUS_WAIT, max(1.0, self.end - time.monotonic()))
        try:
            await widget.wait_for(state="detached", timeout=wait * 1000)
        except Exception:
            try:
                text = await widget.first.inner_text(timeout=1000)
            except Exception:
                text = ""
            outcome.errors.append(("status widget stays", f"{wait:.0f} s after drawn: {text!r}"))

    async def _state(self) -> dict | str:
        """What the page showed when a view failed, for the report (bounded: the page may be stuck)."""
        try:
            return await asyncio.wait_for(self.page.evaluate(INSPECT_SCRIPT), 3)
        except Exception as error:
            return f"unavailable ({type(error).__name__})"


def judge(outcome: Outcome, title: str, exceptions: list[str], errors: list[str], rejected: list[str]) -> None:
    """Errors for exceptions, st.error texts that report a failure (e.g. the store screen), a wrong title
    (the store screen's 'Ops Lens', or the wrong page) and link values the app rejected."""
    outcome.errors += [("exception shown", text) for text in exceptions]
    outcome.errors += [("st.error shown", text) for text in errors if suspicious(text)]
    if title != outcome.view.title and not exceptions:
        outcome.errors.append(("wrong page", f"title {title!r} instead of {outcome.view.title!r}; st.error: {errors}"))
    outcome.errors += [("link value rejected", text) for text in rejected]


def describe(state: dict | str) -> str:
    """A page state in a few words for an error line."""
    if not isinstance(state, dict):
        return f"page state {state}"
    done = f", script done at {state['scriptDoneAt'] / 1000:.1f} s" if state["scriptDoneAt"] else ""
    return (
        f"script {state['scriptState']}{done}, title {state['title']!r}, "
        f"{state['chartsDrawn']}/{state['charts']} charts drawn, {state['skeletons']} placeholders, "
        + (
            f"drawn at {state['readyAt'] / 1000:.1f} s, just after the timeout"
            if state["readyAt"] is not None
            else f"still waiting for: {state['blocker'] or 'nothing'}"
        )
    )


class WsSession(Viewer):
    """A raw Streamlit websocket session, as the browser's, without a browser: each view is a rerun request
    (BackMsg rerun_script) with the view's query string and page on the same connection, like a viewer who
    changes filters or pages; the response time runs from the request until the server's script_finished.
    The client claims no cached messages, so every element arrives in full, never as a reference."""

    def __init__(self, number: int, ws_url: str, store: Store, rng: random.Random) -> None:
        super().__init__(number, store, rng)
        self.ws_url, self.socket = ws_url, None

    async def start(self) -> None:
        """Connect (the server creates the session; it runs nothing until asked)."""
        from websockets.asyncio.client import connect

        # Behind nginx the sticky cookie keeps a viewer on one app process, as a browser's does.
        cookie = {"Cookie": f"opslens_backend=load-viewer-{self.number}"}
        self.socket = await connect(
            self.ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=30, additional_headers=cookie
        )

    async def close(self) -> None:
        if self.socket is not None:
            socket, self.socket = self.socket, None
            await socket.close()

    async def open(self, view: View, timeout: float, cut_off_possible: bool) -> Outcome:
        """Ask for the view, read the run's messages until script_finished; judge what it showed."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        outcome, phase = Outcome(view, self.number), "script run not started"
        request = BackMsg()
        request.rerun_script.query_string = urllib.parse.urlencode(view.params)
        request.rerun_script.page_name = view.path.strip("/")  # the url_path; "" is the default page
        # As on back/forward in a browser: the query string decides every URL-bound filter, and a filter it
        # leaves out goes back to its default instead of keeping this session's last value.
        request.rerun_script.is_history_navigation = True
        elements: dict[tuple[int, ...], object] = {}  # delta path -> element: the final state of the view
        try:
            async with asyncio.timeout(timeout):
                if self.socket is None:  # after a failure: a new session
                    phase = "connecting"
                    await self.start()
                    phase = "script run not started"
                started = time.monotonic()
                await self.socket.send(request.SerializeToString())
                while True:
                    msg = ForwardMsg.FromString(await self.socket.recv())
                    kind = msg.WhichOneof("type")
                    if kind == "new_session":
                        phase = "script still running"
                    elif kind == "delta" and phase == "script still running":
                        path = tuple(msg.metadata.delta_path)
                        new = msg.delta.WhichOneof("type")
                        elements[path] = msg.delta.new_element if new == "new_element" else None
                    elif kind == "page_not_found" and not outcome.errors:  # sent once per run, or twice
                        outcome.errors.append(("wrong page", f"the server found no page {view.path!r}"))
                    elif kind == "ref_hash":
                        outcome.errors.append(("cached reference", "the server sent a message by reference"))
                    elif kind == "script_finished" and phase == "script still running":
                        break
        except TimeoutError:
            await self._drop()
            if cut_off_possible:
                outcome.cut_off = True
            else:
                outcome.errors.append((f"timeout: {phase}", f"no script_finished within {timeout:.0f} s"))
            return outcome
        except Exception as error:  # connection refused, closed, protocol errors
            await self._drop()
            outcome.errors.append(("connection failed", f"{phase}: {type(error).__name__}: {error}"[:300]))
            return outcome
        outcome.drawn = time.monotonic() - started
        status = ForwardMsg.ScriptFinishedStatus.Name(msg.script_finished)
        if status != "FINISHED_SUCCESSFULLY":
            outcome.errors.append(("script not finished normally", status))
        title, exceptions, errors, rejected = "", [], [], []
        for path, element in sorted(elements.items()):
            if element is None:
                continue
            root, kind = path[0] if path else 0, element.WhichOneof("type")
            if kind == "heading" and element.heading.tag == "h1" and root == 0 and not title:
                title = element.heading.body
            elif kind == "exception":
                exceptions.append(f"{element.exception.type}: {element.exception.message}"[:300])
            elif kind == "alert" and element.alert.format == 1:  # ERROR
                errors.append(element.alert.body[:300])
            elif kind == "alert" and root == 1 and "The link asked for" in element.alert.body:
                rejected.append(element.alert.body[:300])
        judge(outcome, title, exceptions, errors, rejected)
        if outcome.errors:  # a fast error screen is not a fast response
            outcome.drawn = None
        return outcome

    async def _drop(self) -> None:
        """Give up a session in an unknown state (a run may still be going); the next view reconnects."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.close(), 5)
        self.socket = None


async def run_load(base_url: str, server_pids: list[int], store: Store, args: argparse.Namespace) -> LoadRun:
    """Start the clients, warm the server up with one view, run the sessions, return outcomes and CPU use."""
    rngs = [random.Random(f"{args.seed}-{number}") for number in range(args.sessions)]
    if args.client == "ws":
        ws_url = "ws" + base_url.removeprefix("http") + "/_stcore/stream"
        sessions = [WsSession(number, ws_url, store, rng) for number, rng in enumerate(rngs)]
        try:
            try:
                for session in sessions:
                    await session.start()
            except Exception as error:
                raise WarmUpFailed(f"cannot open a websocket session at {ws_url}: {error}") from None
            return await load_phase(sessions, server_pids, args, "raw websocket sessions (Python `websockets`)")
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*(s._drop() for s in sessions)), 15)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            sessions = []
            for number, rng in enumerate(rngs):
                session = Session(number, await browser.new_context(viewport=VIEWPORT), base_url, store, rng)
                await session.start()
                sessions.append(session)
            return await load_phase(
                sessions, server_pids, args, f"browser contexts in headless Chromium {browser.version}"
            )
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(browser.close(), 15)


async def load_phase(sessions: list[Viewer], server_pids: list[int], args: argparse.Namespace, client: str) -> LoadRun:
    """One warm-up view, then every session until --seconds (plus GRACE).

    Sessions start spread over a short ramp so they do not all ask at the same instant, and the load phase
    is bounded by `--seconds` plus GRACE whatever the app does.
    """
    outcomes: list[Outcome] = []
    warm = await sessions[0].open(View(PAGES[0][0], PAGES[0][1], ()), args.page_timeout, False)
    if warm.errors:
        raise WarmUpFailed("; ".join(f"{kind}: {text}" for kind, text in warm.errors)[:1000])
    cpu_before, wall_start = cpu_now(server_pids), time.time()
    started = time.monotonic()
    deadline = started + args.seconds
    ramp = min(5.0, args.seconds / 4)

    async def one(session: Viewer) -> None:
        await asyncio.sleep(ramp * session.number / args.sessions)
        await session.run(deadline, args.think, args.page_timeout, outcomes)

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*map(one, sessions)), args.seconds + GRACE + 5)
    cpu_after, wall_end = cpu_now(server_pids), time.time()
    ignored = sum(session.ignored for session in sessions)
    cpu = (cpu_before, cpu_after)
    window = (wall_start, wall_end)
    return LoadRun(outcomes, warm, time.monotonic() - started, cpu, ignored, client, window, resident_mb(server_pids))


def resident_mb(pids: list[int]) -> list[float]:
    """Each process's resident memory in MB (VmRSS), where /proc tells."""
    sizes = []
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS:"))
            sizes.append(int(line.split()[1]) / 1024)
    return sizes


# ------------------------------------------------------------------------------------------------ the report


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile: an actual observation, honest for small samples."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def stats(values: list[float], shares: tuple[float, ...] = (0.5, 0.95, 1.0)) -> str:
    """Table cells for the given percentiles, a dash where there is nothing to measure."""
    if not values:
        return " | ".join("–" for _ in shares)
    return " | ".join(f"{percentile(values, share):.2f}" for share in shares)


def page_table(outcomes: list[Outcome], runs: list[dict], browser: bool) -> list[str]:
    """Per page: views, errors, seconds until the viewer had the view (drawn in the browser, or the run's
    script_finished over the websocket), in the browser also until the script ended, and the server's own
    run seconds and the CPU seconds of the thread that ran it (only when this script started the server)."""
    head = "| page | views | with errors | " + ("drawn" if browser else "response") + " p50 | p95 | max | "
    head += "script done p50 | p95 | " if browser else ""
    head += "server runs | server run p50 | p95 | max | script CPU mean |"
    lines = [head, "|---|" + "---:|" * (head.count("|") - 2)]
    for label, path in [("**all**", None), *((f"`{p}`", p) for p, _, _ in PAGES)]:
        mine = [o for o in outcomes if path in (None, o.view.path)]
        served = [r["seconds"] for r in runs if r["outcome"] == "ok" and path in (None, r["page"])]
        drawn = [o.drawn for o in mine if o.drawn is not None]
        done = [o.script_done for o in mine if o.script_done is not None]
        failed = sum(1 for o in mine if o.errors)
        cells = f"| {label} | {len(mine)} | {failed} | {stats(drawn)} | "
        cells += f"{stats(done, (0.5, 0.95))} | " if browser else ""
        cpu = [r["cpu"] for r in runs if "cpu" in r and path in (None, r["page"])]
        mean_cpu = f"{sum(cpu) / len(cpu):.3f}" if cpu else "–"
        lines.append(cells + f"{len(served)} | {stats(served)} | {mean_cpu} |")
    return lines


def cpu_lines(before: Cpu, after: Cpu, runs: list[dict], browser: bool) -> list[str]:
    """CPU used during the load phase by the server, the client and everything else, in cores, and the
    server's CPU per script run: unlike the timings, that cost hardly changes when others load the machine."""
    wall, cores = after.wall - before.wall, os.cpu_count() or 1
    if before.client is None or after.client is None or wall <= 0:
        return ["CPU use: not measured (needs Linux /proc)."]

    def rate(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else (b - a) / wall

    server, client = rate(before.server, after.server), rate(before.client, after.client)
    busy = rate(before.machine_busy, after.machine_busy)
    shown = "not measured (external server)" if server is None else f"{server:.2f} cores"
    lines = [
        f"CPU during the load phase ({wall:.0f} s, {cores} cores): server {shown}, "
        f"client ({'Chromium, Playwright, ' if browser else ''}this script) {client:.2f} cores"
        + ("." if busy is None else f", whole machine {busy:.2f} busy.")
    ]
    if server and runs:
        per_run = server * wall / len(runs)
        lines[0] += (
            f" Server CPU per script run (with the files and messages of its view): {per_run:.3f} s, so one "
            f"core could serve about {60 / per_run:.0f} views per minute of this mix if nothing else ran."
        )
        timed = [r["cpu"] for r in runs if "cpu" in r]
        if timed:
            script = sum(timed) / len(timed)
            lines[0] += (
                f" Of that, the thread running the script used {script:.3f} s (the page's Python and its queries"
                " with one DuckDB thread); the rest is Streamlit's own work around it (sessions, messages,"
                " websockets) and DuckDB's other threads."
            )
    if busy is not None and busy > 0.9 * cores:
        rest = busy - client - (server or 0)
        lines += [
            "",
            f"**The machine was saturated** ({busy:.2f} of {cores} cores busy), so every timing includes "
            f"waiting for CPU: the client used {client:.2f} cores"
            + (" (loading the app's JavaScript and drawing Plotly charts in every context)" if browser else "")
            + f", other processes {rest:.2f}. The *server run* columns leave out the client's work, though not "
            "the server's own waits for CPU; for fair timings run this script on another machine against the "
            "server (--url) or use fewer sessions.",
        ]
    return lines


def error_lines(outcomes: list[Outcome], runs: list[dict], printed: list[str]) -> list[str]:
    """Errors by kind, then the first few views with errors (page, filters, message), then the server's."""
    failed = [o for o in outcomes if o.errors]
    kinds = collections.Counter(kind for o in failed for kind in dict.fromkeys(k for k, _ in o.errors))
    crashed = [r for r in runs if r["exception"]]
    if not failed and not crashed and not printed:
        return ["Errors: none (no exception, st.error, HTTP or console error, timeout, or server traceback)."]
    lines = []
    if failed:
        lines.append("Views with errors, by kind: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()) + ".")
        lines += ["", f"First {min(ERRORS_SHOWN, len(failed))} of {len(failed)}:"]
        for o in failed[:ERRORS_SHOWN]:
            text = "; ".join(f"{kind}: {message}" for kind, message in o.errors)
            lines.append(f"- session {o.session}, `{o.view.link()}`: {text[:500]}")
    if crashed:
        lines += ["", f"Server script runs that raised: {len(crashed)}, e.g."]
        lines += [f"- `{r['page']}`: {r['exception']}" for r in crashed[:ERRORS_SHOWN]]
    if printed:
        lines += ["", f"Server output lines that look like errors: {len(printed)}, e.g."]
        lines += [f"- `{line[:300]}`" for line in printed[:ERRORS_SHOWN]]
    return lines


def setup_lines(
    args: argparse.Namespace, store: Store, base_url: str, run: LoadRun, server: Server | None
) -> list[str]:
    """What was measured, how, and on what machine: a report must be readable without this file."""
    if server is None:
        where = f"{base_url}, already running (its store may differ from --db; no server-side timings)"
    elif args.processes:
        spread = balance(server)
        where = (
            f"started by load.py: {args.processes} app process(es) (`opslens serve`, each with a run timer) behind "
            f"nginx with deploy/nginx/opslens.conf at {base_url}, sticky by cookie (one per viewer), "
            f"OPSLENS_DB={args.db}" + (f"; viewer sessions per process: {spread}" if spread else "")
        )
    else:
        where = f"started by load.py (`streamlit run {args.script}` with a run timer, {base_url}, OPSLENS_DB={args.db})"
    warm = run.warm_up
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return [
        f"## Load test: {args.sessions} viewer sessions for {args.seconds:.0f} s"
        + (f", {args.processes} process(es) behind nginx" if args.processes else "")
        + (" (the minimal page)" if args.app == "minimal" else ""),
        "",
        f"- Server: {where}.",
        f"- Store: `{args.db}`, {len(store.dates)} snapshot dates ({store.dates[-1]} to {store.dates[0]}), "
        f"markets {', '.join(store.markets)}.",
        f"- Viewers: {args.sessions} {run.client}, each its own Streamlit session; each "
        + (
            f"opens one of the {len(PAGES)} pages from a link with random filters, waits until it is drawn"
            if args.client == "browser"
            else f"asks its session to rerun on one of the {len(PAGES)} pages with random filters in the query "
            "string (as after a change of page or filters), waits for the run's end"
        )
        + f", pauses {args.think * 0.5:.1f}–{args.think * 1.5:.1f} s and repeats; a view not done in "
        f"{args.page_timeout:.0f} s is an error (seed {args.seed}; sessions start over the first "
        f"{min(5.0, args.seconds / 4):.0f} s). Warm-up, one Overview view before the clock starts: "
        f"{warm.drawn:.2f} s.",
        f"- Machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        + (f", load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min)" if load else "")
        + ".",
    ]


def render_report(args: argparse.Namespace, store: Store, base_url: str, run: LoadRun, server: Server | None) -> str:
    """The Markdown report: setup, totals, per-page timings, CPU, errors."""
    finished = [o for o in run.outcomes if not o.cut_off]
    failed = [o for o in finished if o.errors]
    cut = len(run.outcomes) - len(finished)
    runs = server_runs(server, run.window)
    totals = (
        f"**{len(finished)} views** in {run.elapsed:.0f} s ({len(finished) / (run.elapsed / 60):.0f} per minute, "
        f"{len({o.view.link() for o in finished})} distinct links), **{len(failed)} with errors**"
        + (f"; {cut} still loading at the end {'was' if cut == 1 else 'were'} cut off, not counted" if cut else "")
        + "."
    )
    if server:
        kinds = collections.Counter(r["outcome"] for r in runs)
        totals += (
            f" The server ran {len(runs)} scripts in that time ("
            + ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())
            + "; *stopped* = the viewer left before the run ended; *rerun* = a new run replaced it)."
        )
    browser = args.client == "browser"
    lines = [
        *setup_lines(args, store, base_url, run, server),
        "",
        totals,
        "",
        (
            "Seconds. *drawn*: in the browser, from navigation start until the script has finished and every "
            "chart and table is drawn (what a viewer waits for); views that failed to draw are counted under "
            "errors, not timed. *script done*: from navigation start until the browser learns the script run "
            "has ended (page load, connection, the server's run and the delivery of its output, not the "
            "drawing), also for views that then timed out drawing."
            if browser
            else "Seconds. *response*: from sending the rerun request until the server's script_finished "
            "message arrived (the server's run and the delivery of all its output; no page load, no drawing); "
            "views with errors (no script_finished in time, or an error shown) are counted under errors, not timed."
        )
        + " *server run*: the app script's run inside the server (queries, charts, serialisation), completed "
        "runs only.",
        "",
        *page_table(finished, runs, browser),
        "",
        *cpu_lines(*run.cpu, runs, browser),
        *(
            ["", "Server memory at the end (resident): " + ", ".join(f"{mb:,.0f} MB" for mb in run.memory_mb) + "."]
            if run.memory_mb
            else []
        ),
        "",
        *error_lines(finished, runs, server_problems(server)),
    ]
    if browser:
        lines += [
            "",
            f"(Not errors: {run.ignored} 404s of Streamlit's base-path probes, `<page>/_stcore/health` and "
            "`<page>/_stcore/host-config`, which its frontend tries before the root ones on every deep link.)",
        ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    """Command-line options; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="the store (read for filter values; served)")
    parser.add_argument("--sessions", type=int, default=20, help="concurrent viewer sessions (default 20)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the load phase (default 60)")
    parser.add_argument("--port", type=int, default=None, help="port for the server started here (default: free)")
    parser.add_argument("--url", default=None, help="use this running server instead of starting one")
    parser.add_argument("--report", type=Path, default=None, help="also write the Markdown report here")
    parser.add_argument("--think", type=float, default=1.0, help="mean pause between views, seconds (default 1)")
    parser.add_argument("--page-timeout", type=float, default=30.0, help="a view not drawn by then is an error")
    parser.add_argument("--seed", type=int, default=0, help="seed for the random views (default 0)")
    parser.add_argument(
        "--client",
        choices=("ws", "browser"),
        default="ws",
        help="ws: raw websocket sessions (light, measures the server; default); browser: headless Chromium",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help="serve with this many app processes behind nginx (deploy/cluster.py, the committed config) "
        "instead of one process viewers reach directly",
    )
    parser.add_argument(
        "--pages",
        default=None,
        help="only these pages, by script name, comma-separated (e.g. overview,backlog); default: every page",
    )
    parser.add_argument(
        "--app",
        choices=("opslens", "minimal"),
        default="opslens",
        help="minimal: serve bench/minimal_app.py instead, the floor of what any Streamlit page costs",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="write each server run's cProfile stats (thread CPU time) to DIR, for pstats; profiling slows the runs",
    )
    args = parser.parse_args()
    args.script = str(MINIMAL_APP) if args.app == "minimal" else "app.py"
    if args.processes is not None and (args.processes < 1 or args.url or args.app == "minimal"):
        parser.error("--processes must be at least 1, and cannot go with --url or --app minimal")
    if args.sessions < 1 or args.seconds <= 0 or args.page_timeout <= 0:
        parser.error("--sessions, --seconds and --page-timeout must be positive")
    if not args.db.exists():
        parser.error(f"no store at {args.db}")
    if args.client == "browser" and not CHROMIUM.exists():
        parser.error(f"{CHROMIUM} is missing (apt-get install chromium); nothing is downloaded")
    args.db = args.db.resolve()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        os.environ[PROFILE_ENV] = str(args.profile.resolve())  # the server processes inherit it
    return args


class Stopped(BaseException):
    """Raised by the watchdog or a termination signal; a BaseException, like KeyboardInterrupt, so no
    `except Exception` on the way swallows it and the finally blocks still close the browser and stop the
    server."""


def watchdog(seconds: float) -> None:
    """A last resort: SIGALRM after `seconds` raises Stopped; so do SIGTERM and SIGHUP (e.g. `timeout`)."""

    def expire(signum, frame) -> None:
        raise Stopped(f"load.py ran past its bound of {seconds:.0f} s")

    def terminate(signum, frame) -> None:
        raise Stopped(f"load.py stopped by {signal.Signals(signum).name}")

    signal.signal(signal.SIGALRM, expire)
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    signal.alarm(math.ceil(seconds))


def main() -> None:
    """Read the store, start the server (unless --url), run the load, always stop, print the report."""
    args = parse_args()
    PAGES[:] = MINIMAL_PAGES if args.app == "minimal" else app_pages(args.pages)
    try:
        store = read_store(args.db)
    except Exception as error:  # not a DuckDB file, not a store: nothing to generate links from
        sys.exit(f"load.py: cannot read the filter values from {args.db}: {error}")
    if not store.dates:
        sys.exit(f"{args.db} has no snapshots; nothing to view")
    watchdog(SERVER_START_TIMEOUT + args.page_timeout + args.seconds + GRACE + TEARDOWN)
    try:
        with tempfile.TemporaryDirectory(prefix="opslens-load-") as work:
            if args.url:
                base_url, server = args.url.rstrip("/"), None
                if not healthy(base_url):
                    sys.exit(f"{base_url}/_stcore/health does not answer ok")
                run = asyncio.run(run_load(base_url, None, store, args))
                report = render_report(args, store, base_url, run, server)
            else:
                starting = (
                    cluster_server(args.db, args.processes, Path(work))
                    if args.processes
                    else app_server(args.db, args.port or free_port(), Path(work), args.script)
                )
                with starting as server:
                    base_url = server.url
                    print(
                        f"server up at {base_url}; {args.sessions} sessions for {args.seconds:.0f} s", file=sys.stderr
                    )
                    run = asyncio.run(run_load(base_url, server.pids, store, args))
                report = render_report(args, store, base_url, run, server)  # the logs outlive the server
    finally:
        signal.alarm(0)
    print(report)
    if args.report:
        args.report.write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:2] == [SERVE]:
        serve_with_run_timer(sys.argv[2:])
    elif sys.argv[1:2] == [SERVE_OPSLENS]:
        serve_opslens_with_run_timer(sys.argv[2:])
    else:
        try:
            main()
        except Stopped as stopped:
            sys.exit(f"load.py: {stopped}; the server and the browser were stopped, no report")
        except WarmUpFailed as failed:
            sys.exit(f"load.py: the warm-up view of / failed, so no load was run: {failed}")
