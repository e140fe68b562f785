"""Ingest: read files, validate them against the contract, load them all or nothing.

`ingest_files` is what the CLI, the app's upload and the demo call; it either loads every file or
raises `IngestRejected` with every problem found, leaving the data exactly as it was. Files are read,
checked and loaded by DuckDB where they lie (see read.py, validate.py, load.py): no row passes
through Python.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from opslens import config
from opslens.config import IngestLimits
from opslens.contract import FOOTPRINT_NAMES, SNAPSHOT_NAMES
from opslens.ingest.load import drop_work_tables, load, log_rejection, stage_keys
from opslens.ingest.problems import IngestCancelled, IngestRejected, Problem, ProblemList
from opslens.ingest.read import FILE, ROW, Budget, drop_text, open_sources
from opslens.ingest.validate import CheckedSource, check_duplicates, check_source
from opslens.store import scalar
from opslens.text import printable
from opslens.writer import DEFAULT_WAIT_SECONDS, Draft, Stopped, draft

__all__ = ["IngestCancelled", "IngestRejected", "IngestResult", "Problem", "ingest_files"]


@dataclass
class IngestResult:
    """What one successful ingest loaded, for the CLI summary and the app's upload page."""

    ingest_id: int
    files: list[str]
    rows_by_date: dict[dt.date, int]
    markets: list[str]
    footprint_rows: int
    warnings: list[str] = field(default_factory=list)

    @property
    def snapshot_rows(self) -> int:
        return sum(self.rows_by_date.values())

    def summary(self) -> str:
        lines = [
            f"loaded {self.snapshot_rows} snapshot row(s) and {self.footprint_rows} footprint row(s)"
            f" from {len(self.files)} file(s) (ingest {self.ingest_id})"
        ]
        if self.markets:
            lines.append(printable(f"markets: {', '.join(self.markets)}"))
        lines += [f"  {day.isoformat()}: {rows} row(s)" for day, rows in sorted(self.rows_by_date.items())]
        return "\n".join(lines)


def ingest_files(
    db: str | Path,
    files: Sequence[str | Path],
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    on_wait: Callable[[str], None] | None = None,
    names: Sequence[str] | None = None,
    limits: IngestLimits | None = None,
    shown: Sequence[str] | None = None,
    cancel: threading.Event | None = None,
) -> IngestResult:
    """Validate every file, then load them all, or raise IngestRejected and change no data.

    The work happens on a private copy of the store that replaces it only when everything loaded
    (see opslens/writer.py), so viewers keep reading and a crash changes nothing. A rejection is
    still written to the ingest log, unless there was no store before (none is created for it).
    `names` are the files' names for the log when they differ from their paths (app uploads), and
    `shown` how messages name them (default: the paths as given). `limits` bound the ingest's
    inflated bytes, rows and time (default: `[ingest]` in opslens.toml); going over one rejects it.
    Setting `cancel` (from another thread: the app's Cancel button) stops the ingest soon, as a
    rejection that loads nothing.
    """
    limits = limits or config.ingest_limits()
    started = dt.datetime.now()
    paths = [Path(f) for f in files]
    names = list(names) if names is not None else [str(f) for f in files]
    entry: dict = {"started_at": started, "files": names, "snapshot_rows": 0, "footprint_rows": 0}
    shown = list(shown) if shown is not None else [str(path) for path in paths]  # how problems name the files
    rejection: IngestRejected | None = None
    with draft(db, wait_seconds=wait_seconds, on_wait=on_wait) as store:
        con = store.con
        finished = threading.Event()
        watcher = threading.Thread(
            target=_watch, args=(store, limits, cancel, finished), name="opslens-ingest-watch", daemon=True
        )
        watcher.start()
        try:
            try:
                with _time_limit(store, limits):
                    budget = Budget(limits, store.check)
                    warnings, in_date_order = _validate_into_staging(con, paths, shown, budget, limits)
                    entry["snapshot_rows"] = scalar(con, "select count(*) from incoming_keys")
                    entry["footprint_rows"] = scalar(con, "select count(*) from incoming_footprint")
                    entry["message"] = "\n".join(warnings) or None
                    ingest_id = load(con, entry, shown, in_date_order)
            finally:
                finished.set()
                watcher.join()
        except IngestRejected as error:
            error = _named(error, paths, shown)
            if store.is_new:
                raise error from None  # leaves no store behind
            drop_work_tables(con)
            log_rejection(con, {**entry, "snapshot_rows": 0, "footprint_rows": 0, "message": str(error)})
            rejection = error
        else:
            rows_by_date = dict(con.sql("select snapshot_date, count(*) from incoming_keys group by all").fetchall())
            markets = [r[0] for r in con.sql("select distinct market from incoming_keys order by 1").fetchall()]
            drop_work_tables(con)
    if rejection is not None:
        raise rejection
    return IngestResult(ingest_id, names, rows_by_date, markets, entry["footprint_rows"], warnings)


TIME_LIMIT = "time limit"
CANCELLED = "cancelled"


def _watch(store: Draft, limits: IngestLimits, cancel: threading.Event | None, finished: threading.Event) -> None:
    """Stop the ingest when it runs past its time limit or `cancel` is set, whichever comes first."""
    deadline = time.monotonic() + limits.max_seconds
    while not finished.wait(0.1):
        if cancel is not None and cancel.is_set():
            store.stop(CANCELLED)
            return
        if time.monotonic() >= deadline:
            store.stop(TIME_LIMIT)
            return


@contextlib.contextmanager
def _time_limit(store: Draft, limits: IngestLimits) -> Iterator[None]:
    """Turn a stop by the time limit (naming the setting) or a cancel into a rejection; SIGTERM passes through."""
    try:
        yield
    except (duckdb.InterruptException, Stopped):
        if store.stop_reason not in (TIME_LIMIT, CANCELLED):
            raise
        store.acknowledge()  # the connection is usable again, to log the rejection
        setting = limits.setting("max_seconds")
        message = (
            f"the ingest ran longer than {setting} = {limits.max_seconds:,} s and was stopped; nothing was"
            f" loaded. Load fewer files at a time or raise {setting} in opslens.toml"
            if store.stop_reason == TIME_LIMIT
            else "the ingest was cancelled before it finished; nothing was loaded"
        )
        kind = IngestRejected if store.stop_reason == TIME_LIMIT else IngestCancelled
        raise kind([Problem("(this ingest)", message)]) from None


def _named(error: IngestRejected, paths: list[Path], shown: list[str]) -> IngestRejected:
    """The rejection with every file path (reading names files by path; DuckDB's errors quote it)
    replaced by the file's shown name: an upload's path is a temporary one the ingest log must not keep.
    """
    swaps = {str(path): name for path, name in zip(paths, shown, strict=True) if str(path) != name}
    if not swaps:
        return error
    problems = []
    for problem in error.problems:
        message = problem.message
        for path, name in swaps.items():
            message = message.replace(path, name)
        file = swaps.get(problem.file, problem.file)
        problems.append(Problem(file, message, problem.row, problem.column, problem.value))
    return type(error)(problems, error.more)


def _validate_into_staging(
    con: duckdb.DuckDBPyConnection, paths: list[Path], names: list[str], budget: Budget, limits: IngestLimits
) -> tuple[list[str], bool]:
    """Check every file and stage the rows; return the warnings and whether rows arrive in date order.

    Raises IngestRejected with every problem found.
    """
    problems = ProblemList()
    warnings: list[str] = []
    if not paths:
        problems.add(Problem("(no files)", "give at least one file to ingest"))
    sources = open_sources(con, paths, problems, budget)
    if budget.over:
        problems.raise_if_any()
    latest = dt.date.today() + dt.timedelta(days=limits.future_days)
    checked = [c for c in (check_source(con, s, names, problems, warnings, latest) for s in sources) if c is not None]
    problems.raise_if_any()
    for source in checked:
        drop_text(con, source.source)  # a CSV's parsed text: its rows are typed by now
    _combine(con, checked)
    check_duplicates(con, "incoming_footprint", ["snapshot_date", "market"], names, problems)
    problems.raise_if_any()
    stage_keys(con)
    return warnings, _in_date_order(con)


def _combine(con: duckdb.DuckDBPyConnection, checked: list[CheckedSource]) -> None:
    """incoming_rows and incoming_footprint: every staged source of each kind, in the order given."""
    for kind, view, columns in (
        ("snapshots", "incoming_rows", SNAPSHOT_NAMES),
        ("footprint", "incoming_footprint", FOOTPRINT_NAMES),
    ):
        parts = [c.relation for c in checked if c.kind == kind]
        selects = [f"select {', '.join(columns)}, {FILE}, {ROW} from {relation}" for relation in parts]
        if not selects:  # an empty relation of the right shape (kind names the store's table)
            selects = [f"select {', '.join(columns)}, 0::INTEGER as {FILE}, 0::BIGINT as {ROW} from {kind} limit 0"]
        con.sql(f"create or replace temp view {view} as {' union all '.join(selects)}")


def _in_date_order(con: duckdb.DuckDBPyConnection) -> bool:
    """True when each file holds one snapshot date and the files come in date order (no sort needed)."""
    per_file = con.sql(
        f"select {FILE}, min(snapshot_date), max(snapshot_date) from incoming_keys group by 1 order by 1"
    ).fetchall()
    days = [low for _, low, high in per_file if low == high]
    return len(days) == len(per_file) and days == sorted(days)
