"""The Overview's headline measures, built from the other datasets so each number has one definition.

One row per measure with its value at S, at the previous snapshot date (the store's latest date
before S) and the change, so a manager sees the direction at a glance. The previous value and the
change cover only the markets that reported on both dates: a market whose extract is missing on one
of them would otherwise show up as a jump. `compared_markets` lists the markets compared.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import duckdb
import polars as pl

from queries.db import run, sql_text

# (key, label, unit, how it is read off the datasets)
MEASURES: list[tuple[str, str, str, str]] = [
    ("open_orders", "Open orders", "orders", "sum of backlog.orders"),
    ("backlog_mrr", "MRR in backlog ($/mo)", "$/month", "sum of backlog.mrr"),
    ("exception_orders", "Orders with exceptions", "orders", "distinct exceptions.order_id"),
    ("awaiting_network_share", "Awaiting network", "share of open", "backlog: awaiting_network orders / all orders"),
    ("install_to_invoice_p85", "Install to invoice P85", "days", "install_to_invoice ALL days_p85"),
    ("unbilled_mrr", "Unbilled MRR ($/mo)", "$/month", "install_to_invoice ALL unbilled_mrr"),
]


def headline(con: duckdb.DuckDBPyConnection, params: dict[str, object]) -> pl.DataFrame:
    """Each measure now and at the previous snapshot, with the change over the markets both dates have."""

    def measures(overrides: dict[str, object]) -> dict[str, float | None]:
        return _measures(lambda name: run(con, sql_text(name), {**params, **overrides}, name))

    now = measures({})
    now_compared: dict[str, float | None] = {}
    before: dict[str, float | None] = {}
    compared = None
    previous = _previous_date(con, params["as_of"])
    if previous:
        reporting_now = _reporting(con, params["as_of"], params["markets"])
        compared = sorted(set(reporting_now) & set(_reporting(con, previous, params["markets"])))
        before = measures({"as_of": previous, "markets": compared})
        now_compared = now if compared == reporting_now else measures({"markets": compared})
    rows = []
    for key, label, unit, _source in MEASURES:
        value, earlier, comparable = now.get(key), before.get(key), now_compared.get(key)
        change = None if earlier is None or comparable is None else comparable - earlier
        rows.append((key, label, unit, value, earlier, change, params["as_of"], previous, compared))
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
    rows = con.sql(
        """
        select distinct market from market_days
        where snapshot_date = $day and ($markets is null or list_contains($markets, market))
        order by market
        """,
        params={"day": day, "markets": markets},
    ).fetchall()
    return [row[0] for row in rows]


def _previous_date(con: duckdb.DuckDBPyConnection, as_of: dt.date | None) -> dt.date | None:
    if as_of is None:
        return None
    return con.sql(
        "select max(snapshot_date) from market_days where snapshot_date < $d", params={"d": as_of}
    ).fetchall()[0][0]


def _measures(load: Callable[[str], pl.DataFrame]) -> dict[str, float | None]:
    backlog = load("backlog")
    totals = load("install_to_invoice").filter(pl.col("is_total"))
    open_orders = float(backlog["orders"].sum())
    # The same count as readiness.awaiting_network summed over markets, without readiness's other work.
    awaiting = float(backlog.filter(pl.col("stage") == "awaiting_network")["orders"].sum())
    return {
        "open_orders": open_orders,
        "backlog_mrr": float(backlog["mrr"].sum()),
        "exception_orders": float(load("exceptions")["order_id"].n_unique()),
        "awaiting_network_share": awaiting / open_orders if open_orders else None,
        "install_to_invoice_p85": totals["days_p85"].item() if totals.height else None,
        "unbilled_mrr": float(totals["unbilled_mrr"].item()) if totals.height else 0.0,
    }
