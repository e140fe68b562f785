"""The one guarded door to the store: every dataset query goes through `connection` and `run`.

Readers never open the store for writing. Opening a DuckDB instance costs tens of milliseconds,
more than most dataset queries, so each store file is opened once, read-only, attached to an
in-memory instance that also holds the shared macros, and every query gets its own cursor on it
(cursors may run at the same time in different threads). Writers never change the file in place:
they swap in a new one (see opslens/writer.py). The pool notices the swap by the file's identity
(inode, modification time, size) on the next query, opens the new file and closes the old instance
once its last query has finished. Attaching to a fresh in-memory instance, rather than
`duckdb.connect(path)`, matters: DuckDB caches databases by path, so `connect` could hand back the
pre-swap file. User values are bound as parameters (never formatted into SQL) and each query's
duration is logged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
import warnings
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TypeVar

import duckdb
import polars as pl

from opslens import config
from opslens.store import SCHEMA_VERSION, StoreError, schema_version

from .catalog import RULES

SQL_DIR = Path(__file__).parent / "sql"
_PARAMETER = re.compile(r"\$([a-z_]+)")
_SEARCH_PATH = "set search_path = 'store.main,memory.main'"
log = logging.getLogger("opslens.queries")

Database = str | Path | duckdb.DuckDBPyConnection
T = TypeVar("T")


@cache
def sql_text(name: str) -> str:
    """The SQL of a dataset or building block, from queries/sql/NAME.sql."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


@contextlib.contextmanager
def connection(db: Database) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection with the macros installed: the caller's own, or a cursor on the pooled read-only store."""
    if isinstance(db, duckdb.DuckDBPyConnection):
        _install_temp_macros(db)
        yield db
        return
    opened = _POOL.acquire(Path(db))
    try:
        cursor = opened.con.cursor()
        _CURSORS[id(cursor)] = opened
        try:
            cursor.sql(_SEARCH_PATH)
            yield cursor
        finally:
            del _CURSORS[id(cursor)]
            cursor.close()
    finally:
        _POOL.release(opened)


def remembered(con: duckdb.DuckDBPyConnection, key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, remembered per store file version when `con` is a pooled cursor.

    For facts every query checks (the snapshot dates, the filters' choices): a pooled file never changes
    while it is open (writers swap in a new file, which is opened afresh), so asking the store again for
    every dataset only costs CPU. On a caller's own connection, which may be written to, it is computed.
    """
    opened = _CURSORS.get(id(con))
    if opened is None:
        return compute()
    if key not in opened.facts:
        opened.facts[key] = compute()  # two threads may both compute it: the same value
    return opened.facts[key]


def store_local(con: duckdb.DuckDBPyConnection, key: Hashable, make: Callable[[], T]) -> T | None:
    """The object kept under `key` with the pooled store file version `con` reads, made on first use;
    None on a caller's own connection, which has no store version to keep it with."""
    opened = _CURSORS.get(id(con))
    if opened is None:
        return None
    with opened.lock:
        if key not in opened.facts:
            opened.facts[key] = make()
        return opened.facts[key]


def identity(path: Path) -> tuple[int, int, int] | None:
    """Changes whenever a writer swaps in a new store file; None when there is no file."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


@dataclass(eq=False)
class _OpenStore:
    """One store file version opened read-only, and how many queries are using it."""

    con: duckdb.DuckDBPyConnection
    identity: tuple[int, int, int]
    threads: int = 0
    facts: dict[Hashable, object] = field(default_factory=dict)  # see `remembered` and `store_local`
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0
    retired: bool = False


class _StorePool:
    """The open store per path; a new file version replaces the old, which closes when its users are done."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[Path, _OpenStore] = {}

    def acquire(self, path: Path) -> _OpenStore:
        current = identity(path)
        if current is None:
            raise StoreError(f"no store at {path}: run `opslens demo` or `opslens ingest FILE...` first")
        with self._lock:
            opened = self._open.get(path)
            if opened is None or opened.identity != current:
                if opened is not None:
                    self._retire(opened)
                opened = self._open[path] = _OpenStore(_open_read_only(path), current)
            threads = config.query_threads()  # an edited opslens.toml applies from the next query
            if opened.threads != threads:
                opened.con.sql(f"set threads = {int(threads)}")
                opened.threads = threads
            opened.users += 1
            return opened

    def release(self, opened: _OpenStore) -> None:
        with self._lock:
            opened.users -= 1
            if opened.retired and opened.users == 0:
                opened.con.close()

    def _retire(self, opened: _OpenStore) -> None:
        opened.retired = True
        if opened.users == 0:
            opened.con.close()

    def close_all(self) -> None:
        """Close every idle store (tests call this before deleting store files)."""
        with self._lock:
            for opened in self._open.values():
                self._retire(opened)
            self._open.clear()


_POOL = _StorePool()
_CURSORS: dict[int, _OpenStore] = {}  # id of each pooled cursor in use -> its store (see `remembered`)
close_all = _POOL.close_all


def _open_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """The store attached read-only to a fresh in-memory instance, with the macros created there."""
    con = duckdb.connect(":memory:")
    try:
        try:
            con.sql("attach $path as store (read_only)", params={"path": str(path)})
            con.sql(_SEARCH_PATH)
        except duckdb.Error as error:
            raise StoreError(f"cannot open the store {path}: {error}") from None
        version = schema_version(con)
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"the store {path} has schema version {version}, this Ops Lens expects {SCHEMA_VERSION}:"
                " run `opslens migrate` (or any ingest) to upgrade it"
            )
        con.sql(_macros("macro memory.main."))
    except BaseException:
        con.close()
        raise
    return con


def _macros(prefix: str) -> str:
    """The shared macros as one script; `prefix` is where they are created ("temp " or a schema)."""
    return macros_sql().replace("create or replace temp macro ", f"create or replace {prefix}")


@cache
def macros_sql() -> str:
    """queries/sql/_macros.sql with the exception rules written in from the RULES registry.

    The registry is the only place a rule is defined, so the flag columns, each row's `rules` list
    and the rule order cannot drift apart. The text comes from code, never from users.
    """
    flagged = [rule for rule in RULES.values() if rule.flag]
    parts = {
        "RULE_ORDER": ", ".join(f"('{rule.name}', {index})" for index, rule in enumerate(RULES.values(), start=1)),
        "RULE_FLAGS": ",\n        ".join(f"coalesce({rule.flag}, false) as {rule.flag_column}" for rule in flagged),
        "RULE_LIST": ",\n        ".join(f"case when {rule.flag_column} then '{rule.name}' end" for rule in flagged),
        # bit `rule_index` set for each flag that holds: all of a row's rules in one integer
        "RULE_BITS": " | ".join(
            f"(case when {rule.flag_column} then {1 << index} else 0 end)"
            for index, rule in enumerate(RULES.values(), start=1)
            if rule.flag
        ),
    }
    text = sql_text("_macros")
    for marker, sql in parts.items():
        text = text.replace(f"/* {marker} */", sql)
    return text


def _install_temp_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create the shared macros on a caller's connection unless it has them (probing one is cheap)."""
    try:
        rows(con, "select opslens_passes(null, null, null, 'm', 'p', 's')")
    except duckdb.CatalogException:
        con.sql(_macros("temp macro "))


class QueryTimeout(RuntimeError):
    """A dataset query ran past its time limit and was stopped; the message names the dataset and limit."""


class _Watchdog:
    """Interrupts the cursor once `limit` seconds have passed, and again every 10 ms until the query
    ends: an interrupt that lands before DuckDB starts executing is forgotten, so one is not enough."""

    def __init__(self, con: duckdb.DuckDBPyConnection, limit: float) -> None:
        self._con, self._limit, self._done = con, limit, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        if self._done.wait(self._limit):
            return
        while not self._done.wait(0.01):
            self._con.interrupt()

    def __enter__(self) -> _Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()


# `con.sql(text).pl()` binds a query twice: once to describe the lazy relation `sql` returns and again
# when it runs. A dataset's SQL expands many macros, so that first bind costs 3-6 ms of CPU per query
# (tens of ms per page view); `execute` binds once. Reading its result as Arrow makes a copy that
# DuckDB warns about, which costs less than the bind it saves (bench/bench.py measures the datasets).
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result makes an extra copy", category=UserWarning)


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object] | None = None) -> list[tuple]:
    """The rows of a small query, bound once (see the note above `run`)."""
    return con.execute(sql, params or {}).fetchall()


def run(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: dict[str, object],
    label: str,
    timeout: float | None = None,
) -> pl.DataFrame:
    """Run SQL with exactly the parameters it names bound, stop it after `timeout` seconds (default:
    `[query] timeout_seconds`), and log its duration.

    A runaway query (a huge store, an unlucky filter) would otherwise hold a core and the viewer's
    page forever; DuckDB has no statement timeout, so a timer interrupts the cursor.
    """
    wanted = set(_PARAMETER.findall(sql))
    limit = config.query_timeout_seconds() if timeout is None else timeout
    started = time.perf_counter()
    with _Watchdog(con, limit):
        try:
            con.execute(sql, {k: v for k, v in params.items() if k in wanted})
            frame = pl.from_arrow(con.to_arrow_table(), rechunk=False)
        except duckdb.InterruptException:
            raise QueryTimeout(
                f"the dataset '{label}' took longer than {limit:g} s and was stopped; narrow the filters, or raise"
                " `[query] timeout_seconds` in opslens.toml"
            ) from None
    log.info("%s: %d rows in %.1f ms", label, frame.height, (time.perf_counter() - started) * 1000)
    return frame
