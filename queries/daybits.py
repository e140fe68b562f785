"""Each snapshot date's exception rule bits (the `opslens_day_bits` macro), computed once and kept.

Comparing two snapshots (SPEC §5) reads every row of both dates and evaluates every exception rule
there, and most of a comparison's time went into that. The weekly review asks about the same few
dates again and again (the latest snapshot, a week before), and a day's bits depend only on the store
file and the stall limits, not on the filters. So on the pooled read-only store (queries/db.py) each
date's bits are a table in the in-memory instance, made by the first query that needs them and read
by the next ones. A store file version never changes while it is open (writers swap in a new file,
whose pool entry starts with no tables), so a table is never stale.

Memory stays bounded: once the tables hold more than MAX_CACHED_ROWS rows, the least recently used
ones that no query is reading are dropped. A query pins its tables from before it starts until it has
finished, so a table is never dropped under a query. On a caller's own connection, which may be
written to, the bits are made for the one query in temporary tables and dropped after it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import duckdb

from . import db

MAX_CACHED_ROWS = 1_000_000  # about 10 days of 100,000 orders: about 100 MB (a row takes about 100 bytes)
_FILL = "create {kind} table {name} as select * from opslens_day_bits($on_date, $stall_limits)"

Key = tuple[dt.date, tuple[int, ...]]


@dataclass
class _Table:
    name: str
    rows: int
    pins: int = 0


class DayBits:
    """The day tables of one open store file version; safe for the pool's concurrent cursors."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tables: OrderedDict[Key, _Table] = OrderedDict()  # least recently used first
        self._serial = itertools.count(1)

    @contextlib.contextmanager
    def pinned(
        self, con: duckdb.DuckDBPyConnection, dates: Sequence[dt.date], stall_limits: Sequence[int]
    ) -> Iterator[list[str]]:
        """The table name of each date, kept for the duration of the with block."""
        limits = tuple(stall_limits)
        with self._lock:
            tables = [self._pin(con, (date, limits)) for date in dates]
        try:
            yield [table.name for table in tables]
        finally:
            with self._lock:
                for table in tables:
                    table.pins -= 1
                self._evict(con)

    def _pin(self, con: duckdb.DuckDBPyConnection, key: Key) -> _Table:
        table = self._tables.get(key)
        if table is None:
            name = f"memory.main.opslens_day_bits_{next(self._serial)}"
            table = self._tables[key] = _Table(name, _fill(con, "", name, key))
        self._tables.move_to_end(key)
        table.pins += 1
        return table

    def _evict(self, con: duckdb.DuckDBPyConnection) -> None:
        rows = sum(table.rows for table in self._tables.values())
        for key, table in list(self._tables.items()):
            if rows <= MAX_CACHED_ROWS:
                break
            if table.pins == 0:
                con.sql(f"drop table {table.name}")
                del self._tables[key]
                rows -= table.rows


def _fill(con: duckdb.DuckDBPyConnection, kind: str, name: str, key: Key) -> int:
    """Make the table `name` of one date's bits; its number of rows."""
    date, limits = key
    con.sql(_FILL.format(kind=kind, name=name), params={"on_date": date, "stall_limits": list(limits)})
    return db.rows(con, f"select count(*) from {name}")[0][0]


@contextlib.contextmanager
def day_tables(
    con: duckdb.DuckDBPyConnection, dates: Sequence[dt.date], stall_limits: Sequence[int]
) -> Iterator[list[str]]:
    """The name of a table of `opslens_day_bits` for each date, readable for the with block.

    Kept with the pooled store for the next queries (see the module docstring); on a caller's own
    connection made in temporary tables for this query only.
    """
    unique = list(dict.fromkeys(dates))
    cache = db.store_local(con, "day_bits", DayBits)
    if cache is not None:
        with cache.pinned(con, unique, stall_limits) as names:
            yield [names[unique.index(date)] for date in dates]
        return
    names: list[str] = []
    try:
        for number, date in enumerate(unique):
            names.append(f"temp.main.opslens_day_bits_{number}")
            _fill(con, "or replace temp", names[-1], (date, tuple(stall_limits)))
        yield [names[unique.index(date)] for date in dates]
    finally:
        for name in names:
            con.sql(f"drop table if exists {name}")
