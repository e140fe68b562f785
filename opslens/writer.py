"""Every write to the store: on a private copy, swapped in whole, one writer at a time.

DuckDB lets one process write a database file, and no other process may even read it meanwhile.
Ops Lens therefore never writes the store in place. A writer takes an exclusive lock
(`<store>.lock`; a second writer waits for it), copies the store to a draft next to it, changes the
draft, checkpoints and syncs it, and renames it over the store (`os.replace`, atomic). So:

- viewers always open a complete, committed store read-only, never meet a lock, and see the new
  data on the next query after the rename (a query already running finishes on the old file);
- a writer killed at any moment, or failing on a full disk, leaves the store exactly as it was:
  at worst a draft is left over, which the next writer deletes;
- the price is a copy of the store per write and free disk space for a second store.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from opslens.store import SCHEMA_VERSION, StoreError, open_store, schema_version

DEFAULT_WAIT_SECONDS = 600.0
_POLL_SECONDS = 0.2


class StoreBusy(StoreError):
    """Another writer held the store for longer than this one was willing to wait."""


@dataclass
class Draft:
    """A writable private copy of the store; `is_new` when there was no store before."""

    con: duckdb.DuckDBPyConnection
    is_new: bool


def lock_path(store: Path) -> Path:
    return store.with_name(store.name + ".lock")


def _draft_prefix(store: Path) -> str:
    return f".{store.name}.draft-"


@contextlib.contextmanager
def writer_lock(
    store: str | Path, wait_seconds: float = DEFAULT_WAIT_SECONDS, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the store's writer lock; wait for another writer up to `wait_seconds`, telling `on_wait` once.

    An flock is released by the kernel when its process dies, so a killed writer never leaves the
    store locked.
    """
    store = Path(store)
    store.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path(store), "a+", encoding="utf-8") as handle:
        deadline = time.monotonic() + wait_seconds
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                if time.monotonic() >= deadline:
                    raise StoreBusy(
                        f"the store {store} is still being written by {holder} after {wait_seconds:.0f} s;"
                        " try again when it has finished (or pass a longer --wait)"
                    ) from None
                if on_wait and not told:
                    on_wait(f"the store {store} is being written by {holder}; waiting up to {wait_seconds:.0f} s")
                    told = True
                time.sleep(_POLL_SECONDS)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"process {os.getpid()} since {dt.datetime.now():%Y-%m-%d %H:%M:%S}")
            handle.flush()
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def draft(
    store: str | Path,
    source: str | Path | None = None,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[Draft]:
    """A writable copy of `source` (default: the store itself), migrated; it replaces the store on success.

    If the body raises, or the process dies, the store is untouched and the draft is deleted (now,
    or by the next writer).
    """
    store = Path(store)
    source = Path(source) if source is not None else store
    with writer_lock(store, wait_seconds, on_wait):
        _delete_leftover_drafts(store)
        work = store.with_name(f"{_draft_prefix(store)}{os.getpid()}")
        is_new = not source.exists()
        try:
            with _write_errors(store):
                if not is_new:
                    _copy_database(source, work)
                con = open_store(work)
            try:
                with _write_errors(store):
                    yield Draft(con, is_new)
                    con.sql("checkpoint")
            finally:
                con.close()
            with _write_errors(store):
                _sync(work)
                os.replace(work, store)
                _sync(store.parent)
                Path(f"{store}.wal").unlink(missing_ok=True)  # only ever left by a store written in place
        finally:
            _delete_drafts(work)


def install(store: str | Path, source: str | Path, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> None:
    """Replace the store with a copy of another Ops Lens store (restore, demo --replace), checked first."""
    source = Path(source)
    if not source.is_file():
        raise StoreError(f"no store at {source}")
    check_readable(source)
    with draft(store, source, wait_seconds):
        pass


def backup(store: str | Path, target: str | Path, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> int:
    """Copy the store to `target` (atomically) and check the copy opens; return its snapshot row count.

    The writer lock is held while copying so that no swap happens mid-copy.
    """
    store, target = Path(store), Path(target)
    if not store.is_file():
        raise StoreError(f"no store at {store}")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        with _write_errors(target):
            with writer_lock(store, wait_seconds):
                _copy_database(store, partial)
            _fold_write_ahead_log(partial)
            rows = check_readable(partial)
            _sync(partial)
            os.replace(partial, target)
    finally:
        _delete_drafts(partial)
    return rows


def check_readable(path: Path) -> int:
    """Open an Ops Lens store read-only, check its schema version and read every table's rows; return snapshot rows."""
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as error:
        raise StoreError(f"{path} is not a readable DuckDB store: {error}") from None
    try:
        version = schema_version(con)
        if not 0 < version <= SCHEMA_VERSION:
            raise StoreError(f"{path} is not an Ops Lens store this version can use (schema version {version})")
        tables = [r[0] for r in con.sql("select table_name from duckdb_tables() where schema_name = 'main'").fetchall()]
        counts = {t: con.sql(f'select count(*) from "{t}"').fetchall()[0][0] for t in tables}
    except duckdb.Error as error:
        raise StoreError(f"{path} cannot be read: {error}") from None
    finally:
        con.close()
    return counts.get("snapshots", 0)


def _copy_database(source: Path, target: Path) -> None:
    """Copy a database file, and its write-ahead log if an older Ops Lens left one."""
    shutil.copyfile(source, target)
    wal = Path(f"{source}.wal")
    if wal.exists():
        shutil.copyfile(wal, f"{target}.wal")


def _fold_write_ahead_log(path: Path) -> None:
    """Checkpoint a copied database so it is one self-contained file (a WAL only exists for older stores)."""
    if Path(f"{path}.wal").exists():
        con = duckdb.connect(str(path))
        try:
            con.sql("checkpoint")
        finally:
            con.close()


def _sync(path: Path) -> None:
    """Flush a file (or a directory's entries) to disk, so a rename never exposes unwritten data."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _delete_drafts(work: Path) -> None:
    for leftover in (work, Path(f"{work}.wal")):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(f"{work}.tmp", ignore_errors=True)


def _delete_leftover_drafts(store: Path) -> None:
    """Drafts of writers that died; safe to delete because we hold the writer lock."""
    for leftover in store.parent.glob(f"{_draft_prefix(store)}*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


@contextlib.contextmanager
def _write_errors(path: Path) -> Iterator[None]:
    """Turn a failed write (a full disk above all) into a StoreError that says nothing was changed."""
    try:
        yield
    except (OSError, duckdb.IOException, duckdb.FatalException) as error:
        raise _disk_error(error, path) from None


def _disk_error(error: Exception, path: Path) -> StoreError:
    """A write failure as a message for people; a full disk says so."""
    text = str(error)
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        text = f"not enough disk space ({error.strerror})"
    elif "No space left" in text or "File too large" in text:
        text = f"not enough disk space ({text})"
    return StoreError(f"cannot write {path}: {text}; nothing was changed")
