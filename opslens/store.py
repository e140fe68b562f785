"""The DuckDB store: opening it, its schema and the forward migrations that build it.

Each migration runs in one transaction together with the row that records it, so a store is
always at a known version. Writers call `open_store`; readers (the app, exports) open the file
read-only through `queries.db`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from opslens.contract import FOOTPRINT_COLUMNS, OPEN_STAGES, SNAPSHOT_COLUMNS, SQL_TYPES, STAGES


def _column_list(columns) -> str:
    return ",\n    ".join(f"{c.name} {SQL_TYPES[c.kind]}{' NOT NULL' if c.required else ''}" for c in columns)


def _v1_initial_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Snapshots with their derived run columns, footprint, the ingest log and the stage catalogue."""
    con.sql(
        f"""
        create table snapshots (
            {_column_list(SNAPSHOT_COLUMNS)},
            -- Derived at ingest, per order over its own rows ordered by date (see opslens/ingest/load.py):
            stage_run_start DATE NOT NULL,  -- first date of the unbroken run of rows in this stage
            next_snapshot_date DATE         -- the order's next row; NULL on its latest row
        )
        """
    )
    con.sql(
        f"""
        create table footprint (
            {_column_list(FOOTPRINT_COLUMNS)}
        )
        """
    )
    con.sql(
        """
        create table ingests (
            ingest_id INTEGER PRIMARY KEY,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP NOT NULL,
            outcome VARCHAR NOT NULL,      -- loaded | rejected
            files VARCHAR[] NOT NULL,
            snapshot_rows BIGINT NOT NULL,
            footprint_rows BIGINT NOT NULL,
            message VARCHAR                -- the rejection reason, or warnings
        )
        """
    )
    con.sql(
        """
        create table ingest_contents (   -- what one loaded ingest brought: rows per (kind, date, market)
            ingest_id INTEGER NOT NULL,
            kind VARCHAR NOT NULL,         -- snapshots | footprint
            snapshot_date DATE NOT NULL,
            market VARCHAR NOT NULL,
            rows BIGINT NOT NULL
        )
        """
    )
    con.sql("create table stages (stage VARCHAR PRIMARY KEY, stage_index INTEGER NOT NULL, is_open BOOLEAN NOT NULL)")
    rows = ", ".join(f"('{s}', {i}, {str(s in OPEN_STAGES).lower()})" for i, s in enumerate(STAGES, start=1))
    con.sql(f"insert into stages values {rows}")


def _v2_flows_and_daily_aggregate(con: duckdb.DuckDBPyConnection) -> None:
    """Each row's previous stage, and per-day stage counts, so trends and flows never scan history."""
    con.sql("alter table snapshots add column previous_stage VARCHAR")
    con.sql(
        """
        update snapshots s set previous_stage = p.previous_stage
        from (
            select order_id, snapshot_date,
                   lag(stage) over (partition by order_id order by snapshot_date) as previous_stage
            from snapshots
        ) p
        where s.order_id = p.order_id and s.snapshot_date = p.snapshot_date
        """
    )
    con.sql(
        """
        create table stage_days (   -- one row per snapshot date, market, product, segment, stage, previous stage
            snapshot_date DATE NOT NULL,
            market VARCHAR NOT NULL,
            product VARCHAR,
            segment VARCHAR,
            stage VARCHAR NOT NULL,
            previous_stage VARCHAR,     -- the stage on each order's previous row; NULL for new orders
            orders BIGINT NOT NULL,
            mrr DOUBLE NOT NULL
        )
        """
    )
    con.sql(f"insert into stage_days {STAGE_DAYS_SELECT}", params={"dates": None})


def _v3_latest_rows(con: duckdb.DuckDBPyConnection) -> None:
    """Each order's latest row, so "latest as of the newest snapshot" reads one row per order, not a year."""
    con.sql("create table latest_rows as select * from snapshots where next_snapshot_date is null")


def _v4_latest_as_of_tables_and_market_days(con: duckdb.DuckDBPyConnection) -> None:
    """Tables for "each order's latest row as of S" at any S; rows per market and day; narrow latest_rows.

    Install to invoice and order to ready read a few rows per order from LATEST_AS_OF tables instead
    of the history; `latest_rows` shrinks to what the next ingest continues from.
    """
    for latest in LATEST_AS_OF:
        con.sql(
            f"""
            create table {latest.table} as
            select {", ".join(latest.columns)} from snapshots where {latest.condition}
            order by snapshot_date
            """
        )
    con.sql(
        """
        create or replace table latest_rows as
        select order_id, snapshot_date, stage, stage_run_start, previous_stage from latest_rows
        """
    )
    con.sql(
        """
        create table market_days (   -- one row per snapshot date and market that delivered rows
            snapshot_date DATE NOT NULL,
            market VARCHAR NOT NULL,
            rows BIGINT NOT NULL
        )
        """
    )
    con.sql(f"insert into market_days {MARKET_DAYS_SELECT}", params={"dates": None})


def _v5_stage_exits(con: duckdb.DuckDBPyConnection) -> None:
    """Each change of stage with the days spent in the stage left, so service levels never self-join the history."""
    con.sql(
        """
        create table stage_exits (   -- one row per snapshot row in another stage than the order's previous row
            left_on DATE NOT NULL,       -- the row's snapshot date: the first snapshot showing the order gone
            order_id VARCHAR NOT NULL,
            market VARCHAR NOT NULL,     -- market, product and segment of the leaving row
            product VARCHAR,
            segment VARCHAR,
            stage VARCHAR NOT NULL,      -- the stage left: the previous row's stage
            next_stage VARCHAR NOT NULL, -- the row's stage
            days_in_stage INTEGER NOT NULL  -- left_on - the date the order entered the stage it left
        )
        """
    )
    con.sql(f"insert into stage_exits {STAGE_EXITS_SELECT}", params={"dates": None})


@dataclass(frozen=True)
class LatestAsOf:
    """The snapshot rows that can be an order's latest row as of some S in one population.

    Such a row is the latest as of S when snapshot_date <= S < next_snapshot_date (or it has no next
    row), so a population at any S is a filter of this small table, kept by ingest.
    """

    table: str
    columns: tuple[str, ...]  # the key, then what the population's datasets read
    condition: str  # the rows that can be in the population


_KEY = ("order_id", "snapshot_date", "next_snapshot_date")
_FILTERS = ("market", "product", "segment")
LATEST_AS_OF: tuple[LatestAsOf, ...] = (
    LatestAsOf(  # install to invoice: installed and invoiced
        "invoiced_rows",
        (*_KEY, *_FILTERS, "installed_at", "activated_at", "invoiced_at", "mrr"),
        "installed_at is not null and invoiced_at is not null",
    ),
    LatestAsOf(  # readiness: order to ready, for orders that became ready after they were placed
        "ready_rows",
        (*_KEY, *_FILTERS, "ordered_at", "network_ready_at"),
        "network_ready_at > ordered_at",
    ),
)

# The market_days rows for some snapshot dates ($dates; NULL = all), computed from stage_days.
MARKET_DAYS_SELECT = """
    select snapshot_date, market, sum(orders)::bigint
    from stage_days
    where $dates is null or list_contains($dates, snapshot_date)
    group by all
"""

# The stage_days rows for some snapshot dates ($dates; NULL = all), computed from the snapshot rows.
STAGE_DAYS_SELECT = """
    select snapshot_date, market, product, segment, stage, previous_stage, count(*), sum(coalesce(mrr, 0))
    from snapshots
    where $dates is null or list_contains($dates, snapshot_date)
    group by all
"""

# The stage_exits rows leaving on some snapshot dates ($dates; NULL = all), from the snapshot rows: each
# row whose stage differs from its previous row's, with the days since it entered the stage it left
# (date(stage_entered_at) of the previous row when given, else that row's run start). An exit on d
# depends on the rows at d and on their previous rows, whose changes always change a row at d too
# (its previous stage or its previous row), so ingest recomputes the dates whose rows it changed.
STAGE_EXITS_SELECT = """
    select
        s.snapshot_date, s.order_id, s.market, s.product, s.segment, s.previous_stage, s.stage,
        s.snapshot_date - coalesce(p.stage_entered_at::date, p.stage_run_start)
    from snapshots s
    join snapshots p on p.order_id = s.order_id and p.next_snapshot_date = s.snapshot_date
    where s.previous_stage <> s.stage
      and ($dates is null or list_contains($dates, s.snapshot_date))
      and ($dates is null or list_contains($dates, p.next_snapshot_date))
    order by s.snapshot_date
"""

# Ordered forward migrations: (version, name, function). Append, never edit an applied one.
MIGRATIONS: list[tuple[int, str, Callable[[duckdb.DuckDBPyConnection], None]]] = [
    (1, "initial schema", _v1_initial_schema),
    (2, "previous stage and daily stage counts", _v2_flows_and_daily_aggregate),
    (3, "each order's latest row", _v3_latest_rows),
    (4, "latest-as-of tables, market days, narrow latest rows", _v4_latest_as_of_tables_and_market_days),
    (5, "stage exits with days in stage", _v5_stage_exits),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None):
    """The single value a query returns (DuckDB 2.0 relations have no fetchone)."""
    return con.sql(sql, params=params).fetchall()[0][0]


WRITER_MEMORY = "2GB"


class StoreError(RuntimeError):
    """The store cannot be opened or is not an Ops Lens store; the message says what to do."""


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The highest applied migration, 0 for an empty database."""
    has_table = scalar(
        con, "select count(*) from duckdb_tables() where table_name = 'schema_migrations' and schema_name = 'main'"
    )
    if not has_table:
        return 0
    return scalar(con, "select coalesce(max(version), 0) from schema_migrations")


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Everything in the block is committed together, or rolled back on any error or interrupt."""
    con.sql("begin transaction")
    try:
        yield
    except BaseException:
        con.sql("rollback")
        raise
    con.sql("commit")


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply every migration the store has not had yet; return the versions applied."""
    con.sql(
        "create table if not exists schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)"
    )
    current = schema_version(con)
    if current > SCHEMA_VERSION:
        raise StoreError(
            f"the store has schema version {current}, newer than this Ops Lens ({SCHEMA_VERSION}); upgrade Ops Lens"
        )
    applied = []
    for version, name, step in MIGRATIONS:
        if version <= current:
            continue
        with transaction(con):
            step(con)
            con.sql("insert into schema_migrations values ($v, $n, now()::timestamp)", params={"v": version, "n": name})
        applied.append(version)
    return applied


def open_store(path: str | Path) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the store for writing, migrated to the current schema."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path))
    except duckdb.IOException as error:
        raise StoreError(f"cannot open the store {path} for writing: {error}") from None
    try:
        # Writers keep memory bounded and spill to disk: ingest of a year of snapshots stays under ~3 GB.
        con.sql(f"set memory_limit = '{WRITER_MEMORY}'")
        con.sql("set temp_directory = $dir", params={"dir": f"{path}.tmp"})
        migrate(con)
    except Exception:
        con.close()
        raise
    return con
