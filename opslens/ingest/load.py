"""Staging validated files and writing them into the store in one transaction.

Files are validated one at a time and appended to temporary staging tables, so memory holds one
file at a time while DuckDB spills to disk beyond its limit. Loading then replaces every
(snapshot_date, market) pair the staged rows contain, all inside one transaction: a failure or a
kill leaves the store as before.

The derived columns (`stage_run_start`, `previous_stage`, `next_snapshot_date`) depend on an
order's neighbouring rows. For each order the ingest touches, only the rows from its earliest
changed date on are recomputed, seeded by its last unchanged row (the "anchor"), whose
`next_snapshot_date` is updated in place. Appending a new day therefore writes one row per order
and updates one, however long the history. `stage_days` is recomputed for the changed dates only,
and `latest_rows` (each order's latest row) for the touched orders only.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from opslens.contract import FOOTPRINT_NAMES, SNAPSHOT_NAMES
from opslens.store import STAGE_DAYS_SELECT, scalar

SNAPSHOT_LIST = ", ".join(SNAPSHOT_NAMES)
STAGING = ("incoming_rows", "incoming_footprint")
WORK_TABLES = ("incoming_pairs", "removed", "touched", "anchors", "tail", "rebuilt", "changed_dates")

# Rows of the touched orders from their anchor on (kept ones and new ones), recomputed in order.
REBUILD_TAILS = f"""
create temp table rebuilt as
with tail as (
    select {SNAPSHOT_LIST},
        coalesce(s.snapshot_date = a.anchor_date, false) as is_anchor,
        s.stage_run_start as known_run_start,
        s.previous_stage as known_previous_stage
    from snapshots s
    join touched t using (order_id)
    left join anchors a using (order_id)
    where s.snapshot_date >= coalesce(a.anchor_date, t.from_date)
      and not exists (
          select 1 from removed r where r.order_id = s.order_id and r.snapshot_date = s.snapshot_date
      )
    union all
    select {SNAPSHOT_LIST}, false, null, null from incoming_rows
),
flagged as (
    select *,
        lag(stage) over by_date as lag_stage,
        lead(snapshot_date) over by_date as next_snapshot_date
    from tail
    window by_date as (partition by order_id order by snapshot_date)
),
numbered as (
    select *,
        sum(case when is_anchor or stage is distinct from lag_stage then 1 else 0 end)
            over (partition by order_id order by snapshot_date rows unbounded preceding) as run_no
    from flagged
),
final as (
    select {SNAPSHOT_LIST},
        min(coalesce(known_run_start, snapshot_date)) over (partition by order_id, run_no) as stage_run_start,
        next_snapshot_date,
        case when is_anchor then known_previous_stage else lag_stage end as previous_stage,
        is_anchor
    from numbered
)
select * from final
"""


def create_staging(con: duckdb.DuckDBPyConnection) -> None:
    """Empty staging tables shaped like the store's, plus where each row came from."""
    for table, source, columns in (
        ("incoming_rows", "snapshots", SNAPSHOT_LIST),
        ("incoming_footprint", "footprint", ", ".join(FOOTPRINT_NAMES)),
    ):
        con.sql(
            f"""
            create or replace temp table {table} as
            select {columns}, ''::varchar as source_file, 0::integer as source_order, 0::bigint as source_row
            from {source} limit 0
            """
        )


def stage(con: duckdb.DuckDBPyConnection, kind: str, frame: pl.DataFrame) -> None:
    """Append one validated file's typed frame (contract columns, source file and row) to staging."""
    table = "incoming_rows" if kind == "snapshots" else "incoming_footprint"
    con.register("staged_frame", frame)
    try:
        con.sql(f"insert into {table} by name select * from staged_frame")
    finally:
        con.unregister("staged_frame")


def drop_staging(con: duckdb.DuckDBPyConnection) -> None:
    for table in STAGING + WORK_TABLES:
        con.sql(f"drop table if exists temp.{table}")


def next_ingest_id(con: duckdb.DuckDBPyConnection) -> int:
    return scalar(con, "select coalesce(max(ingest_id), 0) + 1 from ingests")


def load(con: duckdb.DuckDBPyConnection, log_entry: dict) -> int:
    """Replace the pairs the staged rows contain and log the ingest, in one transaction; return its id."""
    con.sql("begin transaction")
    try:
        ingest_id = next_ingest_id(con)
        if scalar(con, "select count(*) from incoming_rows"):
            _load_snapshots(con, ingest_id)
        if scalar(con, "select count(*) from incoming_footprint"):
            _load_footprint(con, ingest_id)
        _log(con, ingest_id, "loaded", log_entry)
        con.sql("commit")
    except BaseException:
        con.sql("rollback")
        raise
    return ingest_id


def _load_snapshots(con: duckdb.DuckDBPyConnection, ingest_id: int) -> None:
    con.sql("create temp table incoming_pairs as select distinct snapshot_date, market from incoming_rows")
    # Store rows this ingest replaces: its (date, market) pairs, and its (date, order) keys elsewhere.
    con.sql(
        """
        create temp table removed as
        select s.order_id, s.snapshot_date from snapshots s join incoming_pairs p using (snapshot_date, market)
        union
        select s.order_id, s.snapshot_date from snapshots s join incoming_rows i using (snapshot_date, order_id)
        """
    )
    con.sql(
        """
        create temp table touched as
        select order_id, min(snapshot_date) as from_date
        from (select order_id, snapshot_date from incoming_rows union all select * from removed)
        group by order_id
        """
    )
    # The last unchanged row before each touched order's first change.
    con.sql(
        """
        create temp table anchors as
        select s.order_id, max(s.snapshot_date) as anchor_date
        from snapshots s join touched t using (order_id)
        where s.snapshot_date < t.from_date
        group by s.order_id
        """
    )
    con.sql(REBUILD_TAILS)
    con.sql(
        """
        create temp table changed_dates as
        select distinct snapshot_date from rebuilt where not is_anchor
        union
        select distinct snapshot_date from removed
        """
    )
    con.sql(
        """
        delete from snapshots s using touched t
        where s.order_id = t.order_id and s.snapshot_date >= t.from_date
        """
    )
    con.sql(
        f"""
        insert into snapshots
        select {SNAPSHOT_LIST}, stage_run_start, next_snapshot_date, previous_stage
        from rebuilt where not is_anchor
        order by snapshot_date, market, order_id
        """
    )
    con.sql(
        """
        update snapshots s set next_snapshot_date = r.next_snapshot_date
        from rebuilt r
        where r.is_anchor and s.order_id = r.order_id and s.snapshot_date = r.snapshot_date
          and s.next_snapshot_date is distinct from r.next_snapshot_date
        """
    )
    con.sql("delete from latest_rows where order_id in (select order_id from touched)")
    con.sql(
        """
        insert into latest_rows
        select s.* from snapshots s
        where s.next_snapshot_date is null and s.order_id in (select order_id from touched)
        """
    )
    dates = [row[0] for row in con.sql("select snapshot_date from changed_dates").fetchall()]
    con.sql("delete from stage_days where list_contains($dates, snapshot_date)", params={"dates": dates})
    con.sql(f"insert into stage_days {STAGE_DAYS_SELECT}", params={"dates": dates})
    con.sql(
        """
        insert into ingest_contents
        select $ingest_id, 'snapshots', snapshot_date, market, count(*) from incoming_rows group by all
        """,
        params={"ingest_id": ingest_id},
    )


def _load_footprint(con: duckdb.DuckDBPyConnection, ingest_id: int) -> None:
    con.sql(
        "delete from footprint f using incoming_footprint i"
        " where f.snapshot_date = i.snapshot_date and f.market = i.market"
    )
    con.sql(f"insert into footprint select {', '.join(FOOTPRINT_NAMES)} from incoming_footprint")
    con.sql(
        """
        insert into ingest_contents
        select $id, 'footprint', snapshot_date, market, count(*) from incoming_footprint group by all
        """,
        params={"id": ingest_id},
    )


def _log(con: duckdb.DuckDBPyConnection, ingest_id: int, outcome: str, entry: dict) -> None:
    con.sql(
        """
        insert into ingests values ($id, $started_at, $finished_at, $outcome, $files, $snapshot_rows,
                                    $footprint_rows, $message)
        """,
        params={"id": ingest_id, "outcome": outcome, "finished_at": dt.datetime.now(), **entry},
    )


def log_rejection(con: duckdb.DuckDBPyConnection, entry: dict) -> int:
    """Record a refused ingest for the data-health view; the data tables are not touched."""
    con.sql("begin transaction")
    try:
        ingest_id = next_ingest_id(con)
        _log(con, ingest_id, "rejected", entry)
        con.sql("commit")
    except BaseException:
        con.sql("rollback")
        raise
    return ingest_id
