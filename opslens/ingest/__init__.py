"""Ingest: read files, validate them against the contract, load them all or nothing.

`ingest_files` is what the CLI, the app's upload and the demo call; it either loads every file or
raises `IngestRejected` with every problem found, leaving the data exactly as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from opslens.ingest.load import create_staging, drop_staging, load, log_rejection, stage
from opslens.ingest.problems import IngestRejected, Problem, ProblemList
from opslens.ingest.read import ROW, read_file
from opslens.ingest.validate import FILE, check_duplicates, check_file
from opslens.store import scalar
from opslens.writer import DEFAULT_WAIT_SECONDS, draft

__all__ = ["IngestRejected", "IngestResult", "Problem", "ingest_files"]


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
            lines.append(f"markets: {', '.join(self.markets)}")
        lines += [f"  {day.isoformat()}: {rows} row(s)" for day, rows in sorted(self.rows_by_date.items())]
        return "\n".join(lines)


def ingest_files(
    db: str | Path,
    files: Sequence[str | Path],
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    on_wait: Callable[[str], None] | None = None,
    names: Sequence[str] | None = None,
) -> IngestResult:
    """Validate every file, then load them all, or raise IngestRejected and change no data.

    The work happens on a private copy of the store that replaces it only when everything loaded
    (see opslens/writer.py), so viewers keep reading and a crash changes nothing. A rejection is
    still written to the ingest log, unless there was no store before (none is created for it).
    `names` are the files' names for the log when they differ from their paths (app uploads).
    """
    started = dt.datetime.now()
    names = list(names) if names is not None else [str(f) for f in files]
    rejection: IngestRejected | None = None
    with draft(db, wait_seconds=wait_seconds, on_wait=on_wait) as store:
        con = store.con
        create_staging(con)
        try:
            warnings = _validate_into_staging(con, files)
        except IngestRejected as error:
            if store.is_new:
                raise  # leaves no store behind
            drop_staging(con)
            entry = {"started_at": started, "files": names, "snapshot_rows": 0, "footprint_rows": 0}
            log_rejection(con, {**entry, "message": str(error)})
            rejection = error
        else:
            entry = {
                "started_at": started,
                "files": names,
                "snapshot_rows": scalar(con, "select count(*) from incoming_rows"),
                "footprint_rows": scalar(con, "select count(*) from incoming_footprint"),
                "message": "\n".join(warnings) or None,
            }
            ingest_id = load(con, entry)
            rows_by_date = dict(con.sql("select snapshot_date, count(*) from incoming_rows group by all").fetchall())
            markets = [r[0] for r in con.sql("select distinct market from incoming_rows order by 1").fetchall()]
            drop_staging(con)
    if rejection is not None:
        raise rejection
    return IngestResult(ingest_id, names, rows_by_date, markets, entry["footprint_rows"], warnings)


def _validate_into_staging(con, files: Sequence[str | Path]) -> list[str]:
    """Check each file in turn and stage it; raise IngestRejected with every problem found."""
    problems = ProblemList()
    warnings: list[str] = []
    if not files:
        problems.add(Problem("(no files)", "give at least one file to ingest"))
    for order, path in enumerate(files):
        raw = read_file(Path(path))
        if isinstance(raw, Problem):
            problems.add(raw)
            continue
        checked = check_file(raw, problems)
        if checked is not None and not problems.items:
            frame = checked.frame.rename({FILE: "source_file", ROW: "source_row"})
            stage(con, checked.kind, frame.with_columns(source_order=pl.lit(order, pl.Int32)))
            warnings += checked.warnings
    if not problems.items:
        check_duplicates(con, "incoming_rows", ["snapshot_date", "order_id"], problems)
        check_duplicates(con, "incoming_footprint", ["snapshot_date", "market"], problems)
    problems.raise_if_any()
    return warnings
