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
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from opslens.store import SCHEMA_VERSION, StoreError, open_store, schema_version

DEFAULT_WAIT_SECONDS = 600.0
_POLL_SECONDS = 0.2


class StoreBusy(StoreError):
    """Another writer held the store for longer than this one was willing to wait."""


class StoreDamaged(StoreError):
    """A store file whose blocks do not read back (truncated, overwritten, failing checksums)."""


class Stopped(StoreError):
    """The writer was asked to stop (SIGTERM, SIGINT) before it finished; nothing was changed."""


@dataclass
class Draft:
    """A writable private copy of the store; `is_new` when there was no store before.

    `stop(reason)` makes the writer give up soon and cleanly, from any thread or a signal handler:
    it interrupts the draft's DuckDB connection until the writer notices (`stop_reason` is set), so a
    query that is running ends now and the next one does not start. The draft is then discarded.
    """

    con: duckdb.DuckDBPyConnection
    is_new: bool
    stop_reason: str | None = None
    _interrupter: threading.Thread | None = None
    _acknowledged: threading.Event = field(default_factory=threading.Event)
    _lock: threading.RLock = field(default_factory=threading.RLock)  # re-entrant: stop() runs in signal handlers

    def stop(self, reason: str) -> None:
        with self._lock:  # the writer may acknowledge as soon as the first interrupt lands
            if self.stop_reason is not None:
                return
            self.stop_reason = reason  # before the first interrupt, so the writer knows why it was interrupted
            self._interrupter = threading.Thread(target=self._keep_interrupting, name="opslens-stop", daemon=True)
            self._interrupter.start()

    def _keep_interrupting(self) -> None:
        # An interrupt only reaches a running query; repeat it so a query started next is stopped too.
        while True:
            self.con.interrupt()
            if self._acknowledged.wait(0.05):
                return

    def acknowledge(self) -> None:
        """The writer has seen the stop: no more interrupts, so it may still use the connection (to log)."""
        self._acknowledged.set()
        with self._lock:
            interrupter = self._interrupter
        if interrupter is not None and interrupter is not threading.current_thread():
            interrupter.join()

    def check(self) -> None:
        """Raise Stopped if stop() was called: for long Python loops between queries."""
        if self.stop_reason is not None:
            raise Stopped(self.stop_reason)


_ACTIVE: list[Draft] = []  # drafts open in this process, for stop_writers()
_STOP_REASON: list[str] = []  # set once this process has been told to stop


def stop_writers(reason: str) -> None:
    """Ask every writer of this process to stop cleanly (a SIGTERM handler calls this).

    A writer with an open draft is interrupted; one that has none yet (waiting for the lock, copying
    the store) raises Stopped here, in the signal handler, which unwinds it before it changes anything.
    """
    if not _STOP_REASON:
        _STOP_REASON.append(reason)
    if _ACTIVE:
        for active in list(_ACTIVE):
            active.stop(reason)
    else:
        raise Stopped(reason)


def clear_stop() -> None:
    """Forget a stop request once the command it was meant for has ended (for callers of cli.main in-process)."""
    _STOP_REASON.clear()


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
    verify: bool = False,
) -> Iterator[Draft]:
    """A writable copy of `source` (default: the store itself), migrated; it replaces the store on success.

    If the body raises, the process dies or is stopped (`stop_writers`), the store is untouched and
    the draft is deleted (now, or by the next writer). `verify` reads every block of the copy first
    (restore, migrate), refusing a damaged store before it is migrated or swapped in.
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
                    if verify:
                        check_readable(work, source)  # the copy is what will be swapped in
                con = open_store(work)
            current = Draft(con, is_new)
            _ACTIVE.append(current)
            try:
                with _write_errors(store), _stops(current):
                    yield current
                    con.sql("checkpoint")
            finally:
                _ACTIVE.remove(current)
                current.acknowledge()
                con.close()
            if _STOP_REASON:  # told to stop after the last query: do not swap
                raise Stopped(_STOP_REASON[0])
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
    with draft(store, source, wait_seconds, verify=True):
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
            rows = check_readable(partial, store)
            _sync(partial)
            os.replace(partial, target)
    finally:
        _delete_drafts(partial)
    return rows


def check_readable(path: Path, name: Path | None = None) -> int:
    """Check an Ops Lens store by reading every block of every table; return its snapshot rows.

    DuckDB verifies a block's checksum when it reads it, and a count(*) reads no column data, so
    every column of every table is read in full (hashing each value). A truncated file ("could not
    read enough bytes") or an overwritten one (checksum mismatch) raises StoreDamaged. `name` is the
    file to name in messages when `path` is a copy of it.
    """
    name = name or path
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as error:
        raise StoreError(f"{name} is not a readable DuckDB store: {error}") from None
    try:
        version = schema_version(con)
        if not 0 < version <= SCHEMA_VERSION:
            raise StoreError(f"{name} is not an Ops Lens store this version can use (schema version {version})")
        counts = {}
        for table in _tables(con):
            try:
                counts[table] = con.sql(_read_every_value(con, table)).fetchall()[0][0]
            except duckdb.Error as error:
                raise StoreDamaged(
                    f"{name} is damaged: table {table} cannot be read ({_first_line(error)}); it was not used"
                ) from None
    except StoreError:
        raise
    except duckdb.Error as error:
        raise StoreDamaged(f"{name} is damaged: {_first_line(error)}; it was not used") from None
    finally:
        con.close()
    return counts.get("snapshots", 0)


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.sql("select table_name from duckdb_tables() where schema_name = 'main'").fetchall()]


def _read_every_value(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """SQL reading every value of every column of a table (names come from the catalogue, quoted)."""
    columns = [
        r[0]
        for r in con.sql(
            "select column_name from duckdb_columns()"
            " where schema_name = 'main' and table_name = $t order by column_index",
            params={"t": table},
        ).fetchall()
    ]
    hashed = ", ".join(f'bit_xor(hash("{c}"))' for c in columns)
    return f'select count(*), {hashed} from "{table}"'


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


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
def _stops(current: Draft) -> Iterator[None]:
    """An interrupt caused by stop() becomes Stopped, naming why."""
    try:
        yield
    except duckdb.InterruptException:
        if current.stop_reason is None:
            raise
        raise Stopped(current.stop_reason) from None


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
