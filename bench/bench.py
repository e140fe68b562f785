"""Benchmark: build a large demo store, time ingest and every dataset against naive baselines.

Usage (from the repository root):
    .venv/bin/python bench/bench.py --orders 1000000 --days 365          # the issue's scale
    .venv/bin/python bench/bench.py --orders 50000 --days 90 --repeat 3  # a quick look
    .venv/bin/python bench/bench.py --changes /work/big/year.duckdb      # the comparison datasets only

Prints a Markdown report (medians of warm runs; ratios against a straightforward single SQL query
over the raw snapshot rows and a naive Polars version, both measured in the same run) and writes
it to --report. Not a test: numbers depend on the machine, which the report describes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from baselines import POLARS, SQL  # noqa: E402

from opslens.contract import SNAPSHOT_NAMES  # noqa: E402
from opslens.demo import generate  # noqa: E402
from opslens.queries import COMPARISONS, DATASETS, dataset  # noqa: E402
from opslens.queries.compare import comparison_date  # noqa: E402
from opslens.store import WRITER_MEMORY  # noqa: E402

END = dt.date(2026, 11, 20)
THREE_MARKETS = ["NORTH", "WEST", "COAST"]
SPEC_DATASETS = ["backlog", "backlog_trend", "exceptions", "readiness", "install_to_invoice", "orders", "freshness"]
# Flow and forecasts (SPEC §6): the page's datasets, then the backtest (an analysis, replayed at every past
# snapshot: timed once, not per page view, and left out of the per-dataset table)
FORECAST_DATASETS = ["install_forecast", "backlog_clearance", "service_levels", "ageing_orders"]
BACKTEST_DATASETS = ["install_forecast_backtest", "install_forecast_calibration"]


def median_ms(action, repeat: int) -> float:
    """Median wall time of `repeat` warm runs (one untimed warm-up first)."""
    action()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def build_extracts(work: Path, orders: int, days: int) -> tuple[list[Path], Path, Path, int]:
    """Demo snapshots as one Parquet file per day (the last day kept apart) and one CSV month."""
    started = time.perf_counter()
    data = generate(orders=orders, days=days + 1, end=END + dt.timedelta(days=1))
    print(f"generated {data.snapshots.height:,} rows in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    folder = work / "extracts"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    files = []
    for (day,), rows in data.snapshots.sort("snapshot_date").group_by("snapshot_date", maintain_order=True):
        path = folder / f"snapshots_{day}.parquet"
        rows.write_parquet(path)
        files.append(path)
    footprint = folder / "footprint.parquet"
    data.footprint.write_parquet(footprint)
    csv_month = folder / "month.csv"
    first_month = data.snapshots.filter(
        pl.col("snapshot_date") < data.snapshots["snapshot_date"].min() + dt.timedelta(30)
    )
    first_month.select(SNAPSHOT_NAMES).write_csv(csv_month)
    rows = data.snapshots.height - pl.read_parquet(files[-1]).height
    return files, footprint, csv_month, rows


def timed_ingest(db: Path, files: list[Path]) -> tuple[float, float]:
    """Seconds and peak resident memory (GB) of `opslens ingest` in its own process.

    The peak is the child's own high-water mark (VmHWM), read until it exits: getrusage's
    RUSAGE_CHILDREN would also count this process's memory, which a forked child shares until exec.
    """
    started = time.perf_counter()
    child = subprocess.Popen(
        [str(ROOT / ".venv/bin/opslens"), "ingest", "--db", str(db), *map(str, files)], stdout=subprocess.DEVNULL
    )
    peak_kb = 0
    while child.poll() is None:
        peak_kb = max(peak_kb, _high_water_mark_kb(child.pid))
        time.sleep(0.1)
    if child.returncode:
        raise SystemExit(f"opslens ingest failed with exit code {child.returncode}")
    return time.perf_counter() - started, peak_kb / 1024 / 1024


def _high_water_mark_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def first_page_view(db: Path, app: Path = ROOT / "app.py") -> float | None:
    """Seconds from starting the server to the first page's chart drawn in headless Chromium.

    Measured for Ops Lens and, as the floor of any Streamlit page on this machine, for
    bench/minimal_app.py (a title, a number and one Plotly chart, no data).
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path("/usr/bin/chromium").exists():
        return None
    port = 8765
    env = {**os.environ, "OPSLENS_DB": str(db)}
    started = time.perf_counter()
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/streamlit"),
            "run",
            str(app),
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            for _ in range(600):
                try:
                    page.goto(f"http://127.0.0.1:{port}/", timeout=2000)
                    break
                except Exception:
                    time.sleep(0.05)
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60000)
            elapsed = time.perf_counter() - started
            browser.close()
            return elapsed
    finally:
        server.terminate()
        server.wait(timeout=20)


def bare_load_seconds(work: Path, files: list[Path]) -> float:
    """Seconds DuckDB alone takes to copy the files into a table (no checks, nothing derived): the floor.

    Same memory limit as Ops Lens's writer, a fresh database file, checkpointed, like an ingest.
    """
    target = work / "bare.duckdb"
    target.unlink(missing_ok=True)
    con = duckdb.connect(str(target))
    try:
        con.sql(f"set memory_limit = '{WRITER_MEMORY}'")
        started = time.perf_counter()
        if files[0].suffix == ".parquet":
            con.read_parquet([str(f) for f in files]).create("bare")
        else:
            con.read_csv([str(f) for f in files], header=True).create("bare")
        con.sql("checkpoint")
        return time.perf_counter() - started
    finally:
        con.close()
        target.unlink(missing_ok=True)


def check_against_baseline(name: str, ours: pl.DataFrame, baseline: pl.DataFrame) -> str:
    """A light agreement check: the counts a baseline computes must equal ours."""
    if name == "backlog":
        a = dict(zip(ours["stage"], ours["orders"], strict=True))
        b = dict(zip(baseline["stage"], baseline["orders"], strict=True))
        return "ok" if all(a[s] == b.get(s, 0) for s in a) else "DIFFERS"
    if name == "exceptions":
        a = ours.group_by("rule").len().sort("rule")
        return "ok" if a["len"].to_list() == baseline["n"].to_list() else "DIFFERS"
    if name == "freshness":
        a = ours.select("market", "rows", "stage_mismatch_orders").rows()
        b = baseline.select("market", "rows", pl.col("stage_mismatch_orders").fill_null(0)).rows()
        return "ok" if a == b else "DIFFERS"
    if name in ("readiness", "orders"):
        return "ok" if ours.height == baseline.height else "DIFFERS"
    if name == "install_to_invoice":
        per_market = ours.filter(pl.col("market") != "ALL").filter(pl.col("invoiced_orders") > 0)
        return "ok" if per_market["invoiced_orders"].to_list() == baseline["invoiced_orders"].to_list() else "DIFFERS"
    if name == "backlog_trend":
        return "ok" if ours["orders"].sum() == baseline["orders"].sum() else "DIFFERS"
    return _check_comparison(name, ours, baseline)


def _check_comparison(name: str, ours: pl.DataFrame, baseline: pl.DataFrame) -> str:
    """The comparison datasets (SPEC §5) against theirs: counts per change, rule, market, or the orders."""
    markets = ours.filter(pl.col("market") != "ALL") if "market" in ours.columns else ours
    if name == "exception_changes":
        a = ours.group_by("change").len().sort("change")["len"].to_list()
        return "ok" if a == baseline["n"].to_list() else "DIFFERS"
    if name == "changes":
        a = (
            markets.group_by("rule")
            .agg(pl.col("new", "resolved", "persisting").sum())
            .filter(pl.sum_horizontal("new", "resolved", "persisting") > 0)
        )
        return "ok" if a.sort("rule").rows() == baseline.sort("rule").rows() else "DIFFERS"
    if name == "backlog_changes":
        a = markets.select(pl.col("orders_then", "orders_now").sum()).row(0)
        return "ok" if a == baseline.select(pl.col("orders_then", "orders_now").sum()).row(0) else "DIFFERS"
    if name == "moved_backwards":
        return "ok" if sorted(ours["order_id"]) == sorted(baseline["order_id"]) else "DIFFERS"
    if name == "compared_markets":
        a = ours.select("market", "rows_then", "rows_now").rows()
        return "ok" if a == baseline.select("market", "rows_then", "rows_now").rows() else "DIFFERS"
    return "-"
    return "-"


def dataset_row(
    con, db: Path, name, label, markets, as_of, parquet_files, repeat: int, polars: bool, baseline_once: bool = False
) -> str:
    """One report row: Ops Lens's median, the baselines' medians and ratios, and whether they agree.

    Ops Lens is called with the store's path, as the app calls it: through the pool of read-only
    instances, a fresh cursor per call (queries/db.py). `baseline_once`: the SQL baseline is timed in
    one cold run, whose result is also the one checked (the comparison baselines take minutes at scale).
    """
    ours = median_ms(lambda: dataset(name, db=db, as_of=as_of, markets=markets), repeat)
    row = f"| `{name}` | {label} | {ours:.0f} |"
    agrees = "-"
    if name in SQL:
        params = {"as_of": as_of, "markets": markets, "compare_to": comparison_date(con, as_of, None)}
        params = {key: value for key, value in params.items() if f"${key}" in SQL[name]}
        if baseline_once:
            started = time.perf_counter()
            theirs = con.sql(SQL[name], params=params).pl()
            base = (time.perf_counter() - started) * 1000
        else:
            base = median_ms(lambda: con.sql(SQL[name], params=params).fetchall(), max(1, repeat // 2))
            theirs = con.sql(SQL[name], params=params).pl()
        agrees = check_against_baseline(name, dataset(name, db=db, as_of=as_of, markets=markets), theirs)
        row += f" {base:.0f} | {ours / base:.2f} |"
    else:
        row += " | |"
    if name in POLARS and polars:
        naive = median_ms(lambda: POLARS[name](parquet_files, as_of, markets), 1)
        row += f" {naive:.0f} | {ours / naive:.3f} |"
    else:
        row += " | |"
    return row + f" {agrees} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--work", type=Path, default=Path("/tmp/opslens-bench"))
    parser.add_argument("--report", type=Path, default=None, help="also write the Markdown report here")
    parser.add_argument("--skip-polars", action="store_true", help="skip the (slow) naive Polars baselines")
    parser.add_argument(
        "--forecasts",
        type=Path,
        metavar="STORE",
        help="only time the Flow and forecasts datasets on this store (no generation, ingest or baselines)",
    )
    parser.add_argument(
        "--changes",
        type=Path,
        metavar="STORE",
        help="only time the datasets about what changed (SPEC §5) on this store, beside their SQL baselines",
    )
    parser.add_argument(
        "--datasets-only",
        action="store_true",
        help="time the datasets on the store and extracts an earlier run left in --work (no generation or ingest)",
    )
    args = parser.parse_args()
    if args.changes:
        lines = time_changes(args.changes, args.repeat)
        print("\n".join(lines))
        if args.report:
            args.report.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return
    if args.forecasts:
        lines = time_forecasts(args.forecasts, args.repeat)
        print("\n".join(lines))
        if args.report:
            args.report.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return
    args.work.mkdir(parents=True, exist_ok=True)
    lines = [
        f"Machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"DuckDB {duckdb.__version__}, Polars {pl.__version__}. Scale: --orders {args.orders:,} --days {args.days}.",
        "",
    ]
    db = args.work / "bench.duckdb"
    if args.datasets_only:
        parquet_files = sorted((args.work / "extracts").glob("snapshots_*.parquet"))
        if not db.exists() or not parquet_files:
            raise SystemExit(f"--datasets-only needs an earlier run's {db} and extracts in {args.work}")
    else:
        parquet_files = build_and_ingest(args.work, db, args.orders, args.days, lines)
    time_datasets(db, parquet_files, args, lines)
    report = "\n".join(lines)
    print(report)
    if args.report:
        args.report.write_text(report + "\n", encoding="utf-8")


def build_and_ingest(work: Path, db: Path, orders: int, days: int, lines: list[str]) -> list[Path]:
    """Generate the extracts, time the ingests and DuckDB's bare load, report them; return the Parquet files."""
    files, footprint, csv_month, rows = build_extracts(work, orders, days)
    history, new_day = files[:-1], files[-1]
    db.unlink(missing_ok=True)
    seconds, peak = timed_ingest(db, [*history, footprint])
    csv_db = work / "csv.duckdb"
    csv_db.unlink(missing_ok=True)
    csv_rows = pl.scan_csv(csv_month).select(pl.len()).collect().item()
    csv_seconds, _ = timed_ingest(csv_db, [csv_month])
    day_rows = pl.read_parquet(new_day).height
    day_seconds, _ = timed_ingest(db, [new_day])
    bare_parquet, bare_csv = bare_load_seconds(work, history), bare_load_seconds(work, [csv_month])
    size = db.stat().st_size
    total_rows = rows + day_rows
    lines += [
        "| ingest | rows | seconds | rows/s | peak memory | DuckDB alone: seconds | rows/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| Parquet, {len(history)} daily files + footprint, empty store | {rows:,} | {seconds:.1f} | "
        f"{rows / seconds:,.0f} | {peak:.2f} GB | {bare_parquet:.1f} | {rows / bare_parquet:,.0f} |",
        f"| CSV, one month in one file, empty store | {csv_rows:,} | {csv_seconds:.1f} | "
        f"{csv_rows / csv_seconds:,.0f} | | {bare_csv:.1f} | {csv_rows / bare_csv:,.0f} |",
        f"| one new day on top of the year | {day_rows:,} | {day_seconds:.2f} | {day_rows / day_seconds:,.0f} | | | |",
        "",
        "*DuckDB alone*: the same files copied into a table by DuckDB with nothing checked or derived"
        " (`create table as select * from read_parquet(...)`, same memory limit), in the same run: the floor"
        " of any ingest that stores the rows in DuckDB on this machine.",
        "",
        f"Store: {size / 1e9:.2f} GB for {total_rows:,} snapshot rows = {size / total_rows:.1f} bytes per row.",
        "",
    ]
    return files


def time_datasets(db: Path, parquet_files: list[Path], args: argparse.Namespace, lines: list[str]) -> None:
    """Every dataset against its baselines at the latest snapshot and a week before, then the first page view."""
    con = duckdb.connect(str(db), read_only=True)
    latest = con.sql("select max(snapshot_date) from snapshots").fetchall()[0][0]
    header = [
        "| dataset | filter | Ops Lens ms | SQL baseline ms | ratio | Polars ms | ratio | agrees |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    per_view = [name for name in DATASETS if name not in BACKTEST_DATASETS]
    for as_of, names in ((latest, per_view), (latest - dt.timedelta(days=7), SPEC_DATASETS)):
        lines += [
            f"Datasets at {'the latest snapshot' if as_of == latest else 'a snapshot a week earlier'} ({as_of}),"
            f" median of {args.repeat} warm runs, no result cache. Baselines: one straightforward SQL query over"
            " the raw snapshot rows; naive Polars over the Parquet extracts.",
            "",
            *header,
        ]
        for name in names:
            for label, markets in (("all markets", None), ("3 markets", THREE_MARKETS)):
                polars = as_of == latest and not args.skip_polars  # the naive baselines once: they are slow
                lines.append(dataset_row(con, db, name, label, markets, as_of, parquet_files, args.repeat, polars))
                print(lines[-1], file=sys.stderr)
        lines.append("")
    con.close()
    lines += time_forecasts(db, args.repeat)[1:]
    view, floor = first_page_view(db), first_page_view(db, ROOT / "bench" / "minimal_app.py")
    lines += [
        "First page view, server start to the first chart drawn in headless Chromium: "
        + (
            f"Ops Lens's Overview {view:.1f} s; a minimal Streamlit page with one Plotly chart and no data"
            f" (bench/minimal_app.py), the floor on this machine, {floor:.1f} s."
            if view and floor
            else "not measured (no Chromium/Playwright)"
        ),
    ]


def time_changes(db: Path, repeat: int) -> list[str]:
    """The comparison datasets at the latest snapshot against the default comparison date (a week
    earlier), unfiltered and for three markets: median of warm runs beside the direct-SQL baseline."""
    con = duckdb.connect(str(db), read_only=True)
    latest = con.sql("select max(snapshot_date) from market_days").fetchall()[0][0]
    rows = con.sql("select count(*) from snapshots").fetchall()[0][0]
    compare_to = comparison_date(con, latest, None)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        f"Machine: {platform.platform()}, {os.cpu_count()} cores, load average {load} at the start."
        f" Store: {db} ({rows:,} snapshot rows).",
        "",
        f"What changed between {compare_to} and {latest}: Ops Lens the median of {repeat} warm runs (one untimed"
        " first), the SQL baseline one run, its result checked against Ops Lens's:",
        "",
        "| dataset | filter | Ops Lens ms | SQL baseline ms | ratio | Polars ms | ratio | agrees |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for name in COMPARISONS:
        for label, markets in (("all markets", None), ("3 markets", THREE_MARKETS)):
            lines.append(dataset_row(con, db, name, label, markets, latest, [], repeat, False, baseline_once=True))
            print(lines[-1], file=sys.stderr)
    con.close()
    lines += ["", f"Load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}."]
    return lines


def time_forecasts(db: Path, repeat: int) -> list[str]:
    """The Flow and forecasts datasets at the latest snapshot (median of warm runs), the backtest once."""
    con = duckdb.connect(str(db), read_only=True)
    latest = con.sql("select max(snapshot_date) from market_days").fetchall()[0][0]
    rows = con.sql("select count(*) from snapshots").fetchall()[0][0]
    con.close()
    lines = [
        f"Machine: {platform.platform()}, {os.cpu_count()} cores. Store: {db} ({rows:,} snapshot rows).",
        "",
        f"Flow and forecasts at {latest} (horizon 28, history 56; 10,000 trials per simulation), median of"
        f" {repeat} warm runs; the backtest replays every past snapshot, one run:",
        "",
        "| dataset | filter | Ops Lens ms | rows |",
        "|---|---|---:|---:|",
    ]
    for name in FORECAST_DATASETS + BACKTEST_DATASETS:
        runs = 1 if name in BACKTEST_DATASETS else repeat
        for label, markets in (("all markets", None), ("3 markets", THREE_MARKETS)):
            ms = median_ms(lambda name=name, markets=markets: dataset(name, db=db, as_of=latest, markets=markets), runs)
            height = dataset(name, db=db, as_of=latest, markets=markets).height
            lines.append(f"| `{name}` | {label} | {ms:.0f} | {height:,} |")
            print(lines[-1], file=sys.stderr)
    return [*lines, ""]


if __name__ == "__main__":
    main()
