"""Writing checked rows into the store in one transaction, with everything derived from them.

Loading replaces every (snapshot_date, market) pair the incoming rows contain, and any stored row
with an incoming (snapshot_date, order_id) key; a failure or a kill leaves the store as before.

The derived columns (`stage_run_start`, `previous_stage`, `next_snapshot_date`) depend on an
order's neighbouring rows. They are computed on a narrow table of keys and stages only: for each
order the store already holds, from its last unchanged row (the "anchor", usually its latest row,
kept in `latest_rows`) on; for a new order, over its incoming rows. The wide incoming rows are then
written once, joined with their derived columns, and stored rows whose derived columns changed (the
anchor's `next_snapshot_date`, later rows after a backfill) are updated in place. Appending a new day
therefore writes one row per order and updates one, however long the history.

`latest_rows`, the LATEST_AS_OF tables, `stage_days`, `market_days` and `stage_exits` are kept up in
the same transaction, for the touched orders or the changed dates only.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from opslens.contract import FOOTPRINT_NAMES, SNAPSHOT_NAMES
from opslens.ingest.problems import IngestRejected, ProblemList
from opslens.ingest.read import FILE, ROW
from opslens.ingest.validate import check_duplicates
from opslens.store import (
    LATEST_AS_OF,
    MARKET_DAYS_SELECT,
    STAGE_DAYS_SELECT,
    STAGE_EXITS_SELECT,
    LatestAsOf,
    scalar,
    transaction,
)

SNAPSHOT_LIST = ", ".join(SNAPSHOT_NAMES)
# Rows are loaded in chunks of consecutive snapshot dates, so that deriving and joining stay in memory:
# a year of a million orders loads as a handful of appends instead of spilling one huge join to disk.
CHUNK_ROWS = 4_000_000
CHUNK_TABLES = ("chunk_keys", "incoming_pairs", "removed", "touched", "anchors", "kept", "derived", "changed_dates")
WORK_TABLES = ("incoming_keys", *CHUNK_TABLES)

# The derived columns for every row of the tail: anchors (known), kept stored rows and incoming rows.
DERIVE = """
create temp table derived as
with tail as (
    select order_id, snapshot_date, stage, true as is_anchor, false as is_incoming,
        stage_run_start as known_run_start, previous_stage as known_previous_stage,
        null::INTEGER as __file, null::BIGINT as __row
    from anchors
    union all
    select order_id, snapshot_date, stage, false, false, null, null, null, null from kept
    union all
    select order_id, snapshot_date, stage, false, true, null, null, __file, __row from chunk_keys
),
flagged as (
    select *,
        lag(stage) over by_date as lag_stage,
        lead(snapshot_date) over by_date as next_snapshot_date
    from tail
    window by_date as (partition by order_id order by snapshot_date)
),
final as (
    select
        order_id, snapshot_date, stage, is_anchor, is_incoming, __file, __row, next_snapshot_date,
        case when is_anchor then known_previous_stage else lag_stage end as previous_stage,
        -- a run starts where the stage changes; the latest start so far is the row's (dates only grow)
        max(case when is_anchor then known_run_start when stage is distinct from lag_stage then snapshot_date end)
            over (partition by order_id order by snapshot_date rows unbounded preceding) as stage_run_start
    from flagged
)
select * from final
"""


def load(con: duckdb.DuckDBPyConnection, log_entry: dict, names: list[str], in_date_order: bool) -> int:
    """Replace the pairs the staged rows contain and log the ingest, in one transaction; return its id.

    Raises IngestRejected (with nothing changed) when an (snapshot_date, order_id) repeats among the
    incoming rows: that is found while deriving, where it costs nothing extra.
    """
    with transaction(con):
        ingest_id = next_ingest_id(con)
        for first, last in _chunks(con):
            _load_snapshots(con, first, last, names, in_date_order)
        con.sql(
            """
            insert into ingest_contents
            select $ingest_id, 'snapshots', snapshot_date, market, count(*) from incoming_keys group by all
            """,
            params={"ingest_id": ingest_id},
        )
        if scalar(con, "select count(*) from incoming_footprint"):
            _load_footprint(con, ingest_id)
        _log(con, ingest_id, "loaded", log_entry)
    return ingest_id


def _chunks(con: duckdb.DuckDBPyConnection) -> list[tuple[dt.date, dt.date]]:
    """Consecutive date ranges of the incoming rows, each of at most CHUNK_ROWS rows (or one date)."""
    chunks: list[tuple[dt.date, dt.date]] = []
    rows_in_chunk = 0
    for day, rows in con.sql("select snapshot_date, count(*) from incoming_keys group by 1 order by 1").fetchall():
        if chunks and rows_in_chunk + rows <= CHUNK_ROWS:
            chunks[-1] = (chunks[-1][0], day)
            rows_in_chunk += rows
        else:
            chunks.append((day, day))
            rows_in_chunk = rows
    return chunks


def stage_keys(con: duckdb.DuckDBPyConnection) -> None:
    """The incoming rows' keys and stages, narrow, read once: the input of everything derived."""
    con.sql(
        f"""
        create or replace temp table incoming_keys as
        select order_id, snapshot_date, market, stage, {FILE}, {ROW} from incoming_rows
        """
    )


def drop_work_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table in WORK_TABLES:
        con.sql(f"drop table if exists temp.{table}")


def next_ingest_id(con: duckdb.DuckDBPyConnection) -> int:
    return scalar(con, "select coalesce(max(ingest_id), 0) + 1 from ingests")


def _load_snapshots(
    con: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date, names: list[str], in_date_order: bool
) -> None:
    """Load the incoming rows dated first..last, as an append to what the store holds by then."""
    for table in CHUNK_TABLES:
        con.sql(f"drop table if exists temp.{table}")
    con.sql(
        "create temp table chunk_keys as select * from incoming_keys where snapshot_date between $first and $last",
        params={"first": first, "last": last},
    )
    chunk = {"first": first, "last": last}
    first_load = not scalar(con, "select count(*) from latest_rows")
    _find_tails(con)
    con.sql(DERIVE)
    if con.sql("select 1 from derived where next_snapshot_date = snapshot_date limit 1").fetchall():
        problems = ProblemList()  # two tail rows on one date: only incoming rows can share a key
        check_duplicates(con, "chunk_keys", ["snapshot_date", "order_id"], names, problems)
        raise IngestRejected(problems.items, problems.more)
    con.sql(
        """
        create temp table changed_dates as
        select distinct snapshot_date from derived where not is_anchor
        union
        select distinct snapshot_date from removed
        """
    )
    _write_rows(con, chunk, in_date_order)
    _keep_up_derived_tables(con, chunk, first_load)


def _find_tails(con: duckdb.DuckDBPyConnection) -> None:
    """What the ingest replaces, which stored orders it touches, and where each one's tail begins."""
    con.sql("create temp table incoming_pairs as select distinct snapshot_date, market from chunk_keys")
    # Stored rows this ingest replaces: its (date, market) pairs, and its (date, order) keys elsewhere.
    con.sql(
        """
        create temp table removed as
        select s.order_id, s.snapshot_date from snapshots s join incoming_pairs p using (snapshot_date, market)
        union
        select s.order_id, s.snapshot_date from snapshots s join chunk_keys i using (snapshot_date, order_id)
        """
    )
    # Orders the store already holds, with the first date this ingest changes and whether that is
    # after their latest stored row (an append, the usual case) or not (a re-ingest or backfill).
    con.sql(
        """
        create temp table touched as
        select k.order_id, min(k.snapshot_date) as from_date, any_value(l.snapshot_date) as latest_date
        from (select order_id, snapshot_date from chunk_keys union all select * from removed) k
        join latest_rows l using (order_id)
        group by k.order_id
        """
    )
    # The last unchanged row before each touched order's first change: its latest row for an append,
    # else found in the history.
    con.sql(
        """
        create temp table anchors as
        select l.order_id, l.snapshot_date, l.stage, l.stage_run_start, l.previous_stage
        from latest_rows l join touched t using (order_id)
        where l.snapshot_date < t.from_date
        union all
        select s.order_id, s.snapshot_date, s.stage, s.stage_run_start, s.previous_stage
        from snapshots s join touched t using (order_id)
        where t.latest_date >= t.from_date and s.snapshot_date < t.from_date
        qualify row_number() over (partition by s.order_id order by s.snapshot_date desc) = 1
        """
    )
    # Stored rows after the anchor that stay (a backfill): their derived columns may change.
    con.sql(
        """
        create temp table kept as
        select s.order_id, s.snapshot_date, s.stage
        from snapshots s join touched t using (order_id)
        where t.latest_date >= t.from_date and s.snapshot_date >= t.from_date
          and not exists (select 1 from removed r where r.order_id = s.order_id and r.snapshot_date = s.snapshot_date)
        """
    )


# The incoming rows of the chunk being loaded (parameters $first and $last).
CHUNK_ROWS_SQL = "(select * from incoming_rows where snapshot_date between $first and $last)"


def _write_rows(con: duckdb.DuckDBPyConnection, chunk: dict[str, dt.date], in_date_order: bool) -> None:
    """Delete the replaced rows, update the stored rows whose derived columns changed, add the new ones."""
    con.sql(
        """
        delete from snapshots s using removed r
        where s.order_id = r.order_id and s.snapshot_date = r.snapshot_date
        """
    )
    con.sql(
        """
        update snapshots s
        set stage_run_start = d.stage_run_start, next_snapshot_date = d.next_snapshot_date,
            previous_stage = d.previous_stage
        from derived d
        where not d.is_incoming and s.order_id = d.order_id and s.snapshot_date = d.snapshot_date
          and (s.stage_run_start is distinct from d.stage_run_start
               or s.next_snapshot_date is distinct from d.next_snapshot_date
               or s.previous_stage is distinct from d.previous_stage)
        """
    )
    # Rows are stored in date order so a date filter skips the rest of the history; extracts of one
    # day per file, given in date order, already are, and need no sort.
    order = "" if in_date_order else "order by i.snapshot_date, i.market, i.order_id"
    con.sql(
        f"""
        insert into snapshots
        select {", ".join(f"i.{c}" for c in SNAPSHOT_NAMES)}, d.stage_run_start, d.next_snapshot_date, d.previous_stage
        from {CHUNK_ROWS_SQL} i
        join derived d on d.is_incoming and d.__file = i.__file and d.__row = i.__row
        {order}
        """,
        params=chunk,
    )


def _keep_up_derived_tables(con: duckdb.DuckDBPyConnection, chunk: dict[str, dt.date], first_load: bool) -> None:
    """latest_rows and the LATEST_AS_OF tables for the touched orders; the per-date tables for the changed dates.

    The changed dates are those of every tail row after the anchors and of every removed row: a row
    whose previous row changed is itself a tail row, so its date is among them (see STAGE_EXITS_SELECT).
    """
    con.sql("delete from latest_rows where order_id in (select order_id from touched)")
    con.sql(
        """
        insert into latest_rows
        select order_id, snapshot_date, stage, stage_run_start, previous_stage
        from derived where next_snapshot_date is null
        """
    )
    for latest in LATEST_AS_OF:
        _keep_up_latest_as_of(con, latest, chunk, first_load)
    dates = [row[0] for row in con.sql("select snapshot_date from changed_dates").fetchall()]
    con.sql("delete from stage_days where list_contains($dates, snapshot_date)", params={"dates": dates})
    con.sql(f"insert into stage_days {STAGE_DAYS_SELECT}", params={"dates": dates})
    con.sql("delete from market_days where list_contains($dates, snapshot_date)", params={"dates": dates})
    con.sql(f"insert into market_days {MARKET_DAYS_SELECT}", params={"dates": dates})
    con.sql("delete from stage_exits where list_contains($dates, left_on)", params={"dates": dates})
    con.sql(f"insert into stage_exits {STAGE_EXITS_SELECT}", params={"dates": dates})


def _keep_up_latest_as_of(
    con: duckdb.DuckDBPyConnection, latest: LatestAsOf, chunk: dict[str, dt.date], first_load: bool
) -> None:
    """Rewrite a latest-as-of table's rows for every tail row (the anchor's next date has changed).

    Into an empty store every row is new, so the table is a plain filter of the rows just written.
    """
    columns = ", ".join(latest.columns)
    if first_load:
        con.sql(f"insert into {latest.table} select {columns} from snapshots where {latest.condition}")
        return
    for gone in ("derived", "removed"):
        con.sql(
            f"""
            delete from {latest.table} t using {gone} g
            where t.order_id = g.order_id and t.snapshot_date = g.snapshot_date
            """
        )
    columns = ", ".join("d.next_snapshot_date" if c == "next_snapshot_date" else f"r.{c}" for c in latest.columns)
    stored = "not d.is_incoming and d.order_id = r.order_id and d.snapshot_date = r.snapshot_date"
    incoming = "d.is_incoming and d.__file = r.__file and d.__row = r.__row"
    for rows, match, params in (("snapshots", stored, None), (CHUNK_ROWS_SQL, incoming, chunk)):
        con.sql(
            f"insert into {latest.table} select {columns} from {rows} r join derived d on {match}"
            f" where {latest.condition}",
            params=params,
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
    with transaction(con):
        ingest_id = next_ingest_id(con)
        _log(con, ingest_id, "rejected", entry)
    return ingest_id
