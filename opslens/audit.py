"""The audit log (SPEC §4): who signed in, downloaded what and loaded which files, and when.

One JSON object per line in `<store>.audit.jsonl`, beside the store and never inside it: the store
is replaced whole by every ingest (opslens/writer.py), so writing there would mean copying it, and
a log must survive a restore. Lines are only ever appended. Several app processes may write at
once: each line is written by one `write()` on a descriptor opened with O_APPEND, under an
exclusive `flock`, so lines never interleave. A process killed mid-write can leave at most a
partial last line; the next writer starts a fresh line after it and readers skip it, so one
broken line never costs the next.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

EVENTS = ("sign_in", "sign_out", "download", "load", "digest")  # digest: one per e-mail sent (opslens digest)
COLUMNS = {
    "at": pl.Datetime("us", "UTC"),
    "user": pl.String,
    "event": pl.String,
    "dataset": pl.String,
    "format": pl.String,
    "filters": pl.String,
    "files": pl.String,
    "outcome": pl.String,
    "detail": pl.String,
}


def log_path(store: str | os.PathLike[str]) -> Path:
    """`data/opslens.duckdb` -> `data/opslens.duckdb.audit.jsonl`."""
    store = Path(store)
    return store.with_name(store.name + ".audit.jsonl")


def record(store: str | os.PathLike[str], user: str, event: str, **details: object) -> None:
    """Append one event by `user` (details: dataset, format, filters, files, outcome, detail)."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event '{event}'; known: {', '.join(EVENTS)}")
    unknown = set(details) - set(COLUMNS)
    if unknown:
        raise ValueError(f"unknown audit field(s) {', '.join(sorted(unknown))}; known: {', '.join(COLUMNS)}")
    entry = {"at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"), "user": user, "event": event}
    entry.update({key: value for key, value in details.items() if value is not None})
    line = (json.dumps(entry, ensure_ascii=False, default=str, sort_keys=False) + "\n").encode("utf-8")
    fd = os.open(log_path(store), os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)  # read: the last byte
    try:
        with _locked(fd):
            if _ends_mid_line(fd):  # a writer was killed mid-line: never glue this line onto its fragment
                line = b"\n" + line
            written = os.write(fd, line)
            if written != len(line):  # a full disk: say so rather than leave a silent gap
                raise OSError(f"the audit log {log_path(store)} was written in part ({written} of {len(line)} bytes)")
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(fd: int) -> Iterator[None]:
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _ends_mid_line(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


@dataclass(frozen=True)
class AuditLog:
    """The events (newest first) and how many lines could not be read (a killed writer's fragment)."""

    events: pl.DataFrame
    skipped_lines: int


def read(store: str | os.PathLike[str]) -> AuditLog:
    """Every event in the log, newest first; unreadable lines are counted and skipped, never fatal."""
    path = log_path(store)
    rows, skipped = [], 0
    if path.exists():
        with path.open("rb") as file:
            for raw in file:
                if not raw.strip():
                    continue
                try:
                    entry = json.loads(raw)
                except ValueError:  # a partial line (also invalid UTF-8) from a killed writer
                    skipped += 1
                    continue
                if not isinstance(entry, dict) or "at" not in entry or "event" not in entry:
                    skipped += 1
                    continue
                rows.append({key: _text(entry.get(key)) for key in COLUMNS})
    frame = pl.DataFrame(rows, schema={key: pl.String for key in COLUMNS}, orient="row")
    frame = frame.with_columns(pl.col("at").str.to_datetime(time_zone="UTC", strict=False))
    return AuditLog(frame.sort("at", descending=True, maintain_order=True, nulls_last=True), skipped)


def _text(value: object) -> str | None:
    """A field as text: lists joined by ', ', mappings as `key=value; ...` (filters)."""
    if value is None:
        return None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}={v}" for k, v in value.items())
    return str(value)
