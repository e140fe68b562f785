"""The Overview's headline measures, at S and at the previous snapshot, with the change.

One row per measure with its value at S, at the previous snapshot date (the store's latest date
before S) and the change, so a manager sees the direction at a glance. The previous value and the
change cover only the markets that reported on both dates: a market whose extract is missing on one
of them would otherwise show up as a jump. `compared_markets` lists the markets compared. The
measures themselves are the `opslens_measures` macro (queries/sql/_macros.sql), built on the same
definitions as the pages, evaluated in one query for every date and market set needed.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from .daybits import day_tables
from .db import rows, run

# (key, label, unit, how it is read off the datasets)
MEASURES: list[tuple[str, str, str, str]] = [
    ("open_orders", "Open orders", "orders", "sum of backlog.orders"),
    ("backlog_mrr", "MRR in backlog ($/mo)", "$/month", "sum of backlog.mrr"),
    ("exception_orders", "Orders with exceptions", "orders", "distinct exceptions.order_id"),
    ("awaiting_network_share", "Awaiting network", "share of open", "backlog: awaiting_network orders / all orders"),
    ("install_to_invoice_p85", "Install to invoice P85", "days", "install_to_invoice ALL days_p85"),
    ("unbilled_mrr", "Unbilled MRR ($/mo)", "$/month", "install_to_invoice ALL unbilled_mrr"),
]

# The measures now, then (when there is a previous date), and now over the compared markets when
# some market reported on only one of the two dates. Only the evaluations needed are put in the query:
# DuckDB plans a branch behind a false `where` all the same, which costs about as much CPU as running it.
SQL_NOW = "select 'now' as evaluated, * from opslens_measures($as_of, $bits_now, $markets, $products, $segments)"
SQL_BEFORE = "select 'before', * from opslens_measures($previous, $bits_then, $compared, $products, $segments)"
SQL_NOW_COMPARED = (
    "select 'now_compared', * from opslens_measures($as_of, $bits_now, $compared, $products, $segments)"
)


def headline_sql(previous: bool, some_missing: bool) -> str:
    """The query of the evaluations needed (its text depends only on these two flags, never on user values)."""
    parts = [SQL_NOW]
    if previous:
        parts.append(SQL_BEFORE)
        if some_missing:
            parts.append(SQL_NOW_COMPARED)
    return "\nunion all\n".join(parts)


def headline(con: duckdb.DuckDBPyConnection, params: dict[str, object]) -> pl.DataFrame:
    """Each measure now and at the previous snapshot, with the change over the markets both dates have."""
    as_of = params["as_of"]
    previous = _previous_date(con, as_of)
    compared, some_missing = None, False
    if previous:
        reporting_now = _reporting(con, as_of, params["markets"])
        compared = sorted(set(reporting_now) & set(_reporting(con, previous, params["markets"])))
        some_missing = compared != reporting_now
    sql = headline_sql(previous is not None, some_missing)
    with day_tables(con, [as_of, previous or as_of], params["stall_limits"]) as (bits_now, bits_then):
        bound = {**params, "previous": previous, "compared": compared or []}
        bound.update(bits_now=bits_now, bits_then=bits_then)
        values = {row["evaluated"]: row for row in run(con, sql, bound, "headline").iter_rows(named=True)}
    now, before = values["now"], values.get("before", {})
    now_compared = values.get("now_compared", now if previous else {})
    rows = []
    for key, label, unit, _source in MEASURES:
        earlier, comparable = before.get(key), now_compared.get(key)
        change = None if earlier is None or comparable is None else comparable - earlier
        rows.append((key, label, unit, now[key], earlier, change, as_of, previous, compared))
    return pl.DataFrame(
        rows,
        schema={
            "measure": pl.String,
            "label": pl.String,
            "unit": pl.String,
            "value": pl.Float64,
            "previous_value": pl.Float64,
            "change": pl.Float64,
            "as_of": pl.Date,
            "previous_as_of": pl.Date,
            "compared_markets": pl.List(pl.String),
        },
        orient="row",
    )


def _reporting(con: duckdb.DuckDBPyConnection, day: dt.date, markets: list[str] | None) -> list[str]:
    """Markets with rows on that snapshot date (within the market filter)."""
    found = rows(
        con,
        """
        select market from market_days
        where snapshot_date = $day and ($markets is null or list_contains($markets, market))
        order by market
        """,
        {"day": day, "markets": markets},
    )
    return [row[0] for row in found]


def _previous_date(con: duckdb.DuckDBPyConnection, as_of: dt.date | None) -> dt.date | None:
    if as_of is None:
        return None
    sql = "select max(snapshot_date) from market_days where snapshot_date < $d"
    return rows(con, sql, {"d": as_of})[0][0]
