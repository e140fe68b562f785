"""Ingest: read files, validate them against the contract, load them all or nothing.

`ingest_files` is what the CLI, the app's upload and the demo call; it either loads every file or
raises `IngestRejected` with every problem found, leaving the data exactly as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from opslens.ingest.load import load, log_rejection
from opslens.ingest.problems import IngestRejected, Problem, ProblemList
from opslens.ingest.read import read_file
from opslens.ingest.validate import CheckedFile, check_duplicates, check_file
from opslens.store import open_store

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


def ingest_files(db: str | Path, files: Sequence[str | Path]) -> IngestResult:
    """Validate every file, then load them all in one transaction, or raise IngestRejected."""
    started = dt.datetime.now()
    names = [str(f) for f in files]
    try:
        checked = _validated(files)
    except IngestRejected as rejection:
        if Path(db).exists():
            _record_rejection(db, names, started, str(rejection))
        raise
    snapshots = _combined(checked, "snapshots")
    footprint = _combined(checked, "footprint")
    warnings = [w for c in checked for w in c.warnings]
    entry = {
        "started_at": started,
        "files": names,
        "snapshot_rows": 0 if snapshots is None else snapshots.height,
        "footprint_rows": 0 if footprint is None else footprint.height,
        "message": "\n".join(warnings) or None,
    }
    con = open_store(db)
    try:
        ingest_id = load(con, snapshots, footprint, entry)
    finally:
        con.close()
    return IngestResult(
        ingest_id=ingest_id,
        files=names,
        rows_by_date=_rows_by_date(snapshots),
        markets=sorted(snapshots["market"].unique().to_list()) if snapshots is not None else [],
        footprint_rows=entry["footprint_rows"],
        warnings=warnings,
    )


def _validated(files: Sequence[str | Path]) -> list[CheckedFile]:
    problems = ProblemList()
    if not files:
        problems.add(Problem("(no files)", "give at least one file to ingest"))
    checked: list[CheckedFile] = []
    for path in files:
        raw = read_file(Path(path))
        if isinstance(raw, Problem):
            problems.add(raw)
            continue
        result = check_file(raw, problems)
        if result is not None:
            checked.append(result)
    snapshots = _combined(checked, "snapshots")
    if snapshots is not None:
        check_duplicates(snapshots, ["snapshot_date", "order_id"], problems)
    footprint = _combined(checked, "footprint")
    if footprint is not None:
        check_duplicates(footprint, ["snapshot_date", "market"], problems)
    problems.raise_if_any()
    return checked


def _combined(checked: list[CheckedFile], kind: str) -> pl.DataFrame | None:
    frames = [c.frame for c in checked if c.kind == kind]
    return pl.concat(frames) if frames else None


def _rows_by_date(snapshots: pl.DataFrame | None) -> dict[dt.date, int]:
    if snapshots is None:
        return {}
    counts = snapshots.group_by("snapshot_date").len()
    return dict(counts.iter_rows())


def _record_rejection(db: str | Path, names: list[str], started: dt.datetime, reason: str) -> None:
    """Log the refusal in an existing store; a store that cannot be opened just skips the log."""
    entry = {"started_at": started, "files": names, "snapshot_rows": 0, "footprint_rows": 0, "message": reason}
    try:
        con = open_store(db)
    except Exception:
        return
    try:
        log_rejection(con, entry)
    finally:
        con.close()
