"""Writing validated frames into the store in one transaction, with the derived columns kept right.

Re-ingest replaces every (snapshot_date, market) pair the new files contain. The derived columns
(`stage_run_start`, `next_snapshot_date`) depend on an order's neighbouring rows, so they are
recomputed for every order the ingest touches: orders in the new files and orders whose rows were
replaced. Everything happens inside one transaction: a failure or a kill leaves the store as before.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from opslens.contract import FOOTPRINT_NAMES, SNAPSHOT_NAMES
from opslens.store import scalar

SNAPSHOT_LIST = ", ".join(SNAPSHOT_NAMES)
_EMPTY_SNAPSHOTS = pl.DataFrame(schema=dict.fromkeys(SNAPSHOT_NAMES, pl.String))
_EMPTY_FOOTPRINT = pl.DataFrame(schema=dict.fromkeys(FOOTPRINT_NAMES, pl.String))

# Run start and next row for every row of the touched orders, kept rows and new rows together.
REBUILD_TOUCHED_ORDERS = f"""
create temp table rebuilt as
with kept as (
    select {SNAPSHOT_LIST}
    from snapshots s
    where s.order_id in (select order_id from touched_orders)
      and not exists (select 1 from incoming_pairs p where p.snapshot_date = s.snapshot_date and p.market = s.market)
      and not exists (select 1 from incoming_rows i where i.snapshot_date = s.snapshot_date and i.order_id = s.order_id)
),
all_rows as (
    select * from kept
    union all
    select {SNAPSHOT_LIST} from incoming_rows
),
flagged as (
    select *,
        (stage is distinct from lag(stage) over by_date)::integer as is_new_run,
        lead(snapshot_date) over by_date as next_snapshot_date
    from all_rows
    window by_date as (partition by order_id order by snapshot_date)
),
numbered as (
    select *, sum(is_new_run) over (partition by order_id order by snapshot_date rows unbounded preceding) as run_no
    from flagged
),
final as (
    select {SNAPSHOT_LIST},
        min(snapshot_date) over (partition by order_id, run_no) as stage_run_start,
        next_snapshot_date
    from numbered
)
select * from final
"""


def next_ingest_id(con: duckdb.DuckDBPyConnection) -> int:
    return scalar(con, "select coalesce(max(ingest_id), 0) + 1 from ingests")


def load(
    con: duckdb.DuckDBPyConnection,
    snapshots: pl.DataFrame | None,
    footprint: pl.DataFrame | None,
    log_entry: dict,
) -> int:
    """Replace the pairs the frames contain and log the ingest, all in one transaction; return its id."""
    con.register("incoming_frame", (snapshots if snapshots is not None else _EMPTY_SNAPSHOTS).select(SNAPSHOT_NAMES))
    con.register(
        "incoming_footprint", (footprint if footprint is not None else _EMPTY_FOOTPRINT).select(FOOTPRINT_NAMES)
    )
    try:
        con.sql("begin transaction")
        try:
            ingest_id = next_ingest_id(con)
            if snapshots is not None:
                _load_snapshots(con, ingest_id)
            if footprint is not None:
                _load_footprint(con, ingest_id)
            _log(con, ingest_id, "loaded", log_entry)
            con.sql("commit")
        except BaseException:
            con.sql("rollback")
            raise
    finally:
        con.unregister("incoming_frame")
        con.unregister("incoming_footprint")
        for table in ("incoming_rows", "incoming_pairs", "touched_orders", "rebuilt"):
            con.sql(f"drop table if exists temp.{table}")
    return ingest_id


def _load_snapshots(con: duckdb.DuckDBPyConnection, ingest_id: int) -> None:
    con.sql("create temp table incoming_rows as select * from incoming_frame")
    con.sql("create temp table incoming_pairs as select distinct snapshot_date, market from incoming_rows")
    con.sql(
        """
        create temp table touched_orders as
        select order_id from incoming_rows
        union
        select s.order_id from snapshots s join incoming_pairs p using (snapshot_date, market)
        """
    )
    con.sql(REBUILD_TOUCHED_ORDERS)
    con.sql("delete from snapshots where order_id in (select order_id from touched_orders)")
    con.sql("insert into snapshots select * from rebuilt order by snapshot_date, market, order_id")
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
        params={
            "id": ingest_id,
            "outcome": outcome,
            "finished_at": dt.datetime.now(),
            **entry,
        },
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
