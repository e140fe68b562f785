"""Flow and forecasts (SPEC §6): the install forecast, its backtest, and backlog clearance.

The counts come from SQL (queries/sql/install_daily.sql, clearance_inputs.sql); the Monte Carlo
runs in NumPy (queries/montecarlo.py). Definitions, assumptions and the backtest on the demo store
are in docs/forecasts.md; the README's "Forecasts" section has them in the SPEC's words.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import duckdb
import numpy as np
import polars as pl

from opslens.contract import OPEN_STAGES

from . import montecarlo as mc
from .db import rows, run, sql_text

DEFAULT_HORIZON = 28  # days ahead (SPEC §6)
DEFAULT_HISTORY = 56  # days of history up to S (SPEC §6)
MIN_HISTORY_DAYS = 7 * mc.MIN_WEEKS  # shorter history: no forecast, and the page says how much is needed
LEVELS = (0.5, 0.85, 0.95)
ALL = "ALL"

FORECAST_SCHEMA = {
    "market": pl.String,
    "horizon_days": pl.Int64,
    "installs_p50": pl.Int64,
    "installs_at_least_85": pl.Int64,
    "installs_at_least_95": pl.Int64,
    "history_days": pl.Int64,
    "installs_in_history": pl.Int64,
    "min_history_days": pl.Int64,
}
BACKTEST_SCHEMA = {
    "as_of_date": pl.Date,
    "market": pl.String,
    "horizon_days": pl.Int64,
    "installs_p50": pl.Int64,
    "installs_at_least_85": pl.Int64,
    "installs_at_least_95": pl.Int64,
    "realised_installs": pl.Int64,
    "reached_p50": pl.Boolean,
    "reached_85": pl.Boolean,
    "reached_95": pl.Boolean,
}
CLEARANCE_SCHEMA = {
    "market": pl.String,
    "stage": pl.String,
    "open_orders": pl.Int64,
    "left_in_history": pl.Int64,
    "history_days": pl.Int64,
    "clear_days_p50": pl.Int64,
    "clear_days_85": pl.Int64,
    "clear_days_95": pl.Int64,
    "clear_by_p50": pl.Date,
    "clear_by_85": pl.Date,
    "clear_by_95": pl.Date,
    "status": pl.String,
}
# backlog_clearance.status: what the dates mean
CLEARANCE_STATUS = {
    "clears": "the dates by which the orders open now will have left, at 50/85/95% confidence",
    "nothing_open": "no order is open in the stage",
    "never": "no order left the stage in the history window's whole weeks: at that pace it never clears",
    "beyond_a_year": "in more than 5% of trials it takes over a year (dates beyond a year are empty)",
    "too_little_history": f"fewer than {MIN_HISTORY_DAYS} days of snapshots before S: no forecast",
}


def checked_top_markets(value: object) -> int | None:
    """`top_markets` as given (None: every market), or ValueError unless a whole number from 1."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"top_markets must be a whole number from 1, or None for every market, not {value!r}")
    return value


def install_forecast(con: duckdb.DuckDBPyConnection, params: dict[str, object]) -> pl.DataFrame:
    """Per market, then ALL: installs in (S, S + horizon] at 50/85/95% from the history's daily installs.

    With `top_markets` = N and more markets in the view, only the N with the most installs in the
    history window have a row (ties: by name); ALL still sums every market, and a market's numbers
    are the same either way (its simulation depends on its own counts only).
    """
    as_of, horizon, history = params["as_of"], params["horizon"], params["history"]
    first = _history_start(con, as_of, history, params["markets"])
    if first is None:
        return pl.DataFrame(schema=FORECAST_SCHEMA)
    history_days = (as_of - first).days + 1
    daily = _daily_installs(con, params, [as_of], history, first, as_of).get(as_of, {})
    markets = _markets(con, params["markets"], first, as_of)
    shown = _busiest(markets, {m: sum(daily.get(m, {}).values()) for m in markets}, params.get("top_markets"))
    rows = []
    for market, series in _with_total(daily, markets):
        if market != ALL and market not in shown:
            continue
        counts = _array(series, first, history_days)
        quantiles = _forecast(counts, horizon) if history_days >= MIN_HISTORY_DAYS else (None,) * 3
        rows.append((market, horizon, *quantiles, history_days, int(counts.sum()), MIN_HISTORY_DAYS))
    return pl.DataFrame(rows, schema=FORECAST_SCHEMA, orient="row")


def install_forecast_backtest(
    con: duckdb.DuckDBPyConnection, params: dict[str, object], method: str = "trend"
) -> pl.DataFrame:
    """The forecast replayed at every past snapshot T with a full history and T + horizon <= S.

    Per (T, market, then ALL): the forecast exactly as `install_forecast` gives it as of T, and the
    realised count: orders whose latest row as of T + horizon has date(installed_at) in (T, T + horizon].
    `start`/`end` limit the dates T.
    """
    as_of, horizon, history = params["as_of"], params["horizon"], params["history"]
    dates = _snapshot_dates(con, as_of, params["markets"])
    if not dates or history < MIN_HISTORY_DAYS:  # install_forecast gives no forecast to judge
        return pl.DataFrame(schema=BACKTEST_SCHEMA)
    first = dates[0]
    cases = [
        t
        for t in dates
        if (t - first).days + 1 >= history
        and t + dt.timedelta(days=horizon) <= as_of
        and (params.get("start_date") is None or t >= params["start_date"])
        and (params.get("end_date") is None or t <= params["end_date"])
    ]
    if not cases:
        return pl.DataFrame(schema=BACKTEST_SCHEMA)
    shift = dt.timedelta(days=horizon)
    past = _daily_installs(con, params, cases, history, cases[0] - dt.timedelta(days=history - 1), cases[-1])
    later = _daily_installs(con, params, [t + shift for t in cases], horizon, cases[0], cases[-1] + shift)
    markets = _markets(con, params["markets"], first, as_of)
    rows = []
    for t in cases:
        start = t - dt.timedelta(days=history - 1)
        realised = dict((m, sum(s.values())) for m, s in _with_total(later.get(t + shift, {}), markets))
        for market, series in _with_total(past.get(t, {}), markets):
            p50, p85, p95 = _forecast(_array(series, start, history), horizon, method)
            done = realised[market]
            rows.append((t, market, horizon, p50, p85, p95, done, done >= p50, done >= p85, done >= p95))
    return pl.DataFrame(rows, schema=BACKTEST_SCHEMA, orient="row")


def install_forecast_calibration(backtest: pl.DataFrame) -> pl.DataFrame:
    """Per market, then ALL: backtest cases and the share in which the realised count reached each level."""
    shares = [pl.col(c).mean().alias(f"share_{c}") for c in ("reached_p50", "reached_85", "reached_95")]
    per_market = backtest.group_by("market").agg(pl.len().cast(pl.Int64).alias("cases"), *shares)
    # the ALL row is the cases of the ALL forecast (the markets' totals), not a sum of the markets
    return per_market.sort(pl.col("market") == ALL, "market")


def backlog_clearance(con: duckdb.DuckDBPyConnection, params: dict[str, object]) -> pl.DataFrame:
    """Per market (then ALL) and open stage: when the orders open in it at S will have left it.

    With `top_markets` = N and more markets in the view, only the N with the most orders open in
    the open stages at S have rows (ties: by name); ALL still counts every market.
    """
    as_of, history = params["as_of"], params["history"]
    first = _history_start(con, as_of, history, params["markets"])
    if first is None:
        return pl.DataFrame(schema=CLEARANCE_SCHEMA)
    history_days = (as_of - first).days + 1
    inputs = run(con, sql_text("clearance_inputs"), params, "clearance_inputs")
    is_open = pl.col("kind") == "open"
    sizes = inputs.group_by("market").agg(pl.col("orders").filter(is_open).sum())  # open in the open stages
    markets = sorted(sizes["market"].to_list())
    shown = _busiest(markets, dict(sizes.iter_rows()), params.get("top_markets"))
    # the shown markets' counts, then every market's summed (market None: the ALL row)
    totals = inputs.group_by("kind", "stage", "snapshot_date").agg(pl.col("orders").sum())
    counts = pl.concat(
        [
            inputs.filter(pl.col("market").is_in(list(shown))),
            totals.select("kind", pl.lit(None, pl.String).alias("market"), "stage", "snapshot_date", "orders"),
        ]
    )
    open_now: dict[tuple[str | None, str], int] = {}
    left: dict[tuple[str | None, str], dict[dt.date, int]] = {}
    for kind, market, stage, day, orders in counts.iter_rows():
        if kind == "open":
            open_now[(market, stage)] = orders
        else:
            left.setdefault((market, stage), {})[day] = orders
    rows = []
    for market, key in [*((m, m) for m in markets if m in shown), (ALL, None)] if markets else []:
        for stage in OPEN_STAGES:
            exits = _array(left.get((key, stage), {}), first, history_days)
            rows.append(_clearance_row(market, stage, open_now.get((key, stage), 0), exits, as_of, history_days))
    return pl.DataFrame(rows, schema=CLEARANCE_SCHEMA, orient="row")


def _clearance_row(market: str, stage: str, backlog: int, exits: np.ndarray, as_of: dt.date, history_days: int):
    days: list[int | None] = [None, None, None]
    if history_days < MIN_HISTORY_DAYS:
        status = "too_little_history"
    elif backlog == 0:
        status, days = "nothing_open", [0, 0, 0]
    elif mc.whole_weeks(exits).sum() == 0:
        status = "never"
    else:
        trials = mc.days_to_clear(exits, backlog, mc.generator(exits, backlog))
        found = [mc.within(trials, level) for level in LEVELS]
        days = [int(d) if np.isfinite(d) else None for d in found]
        status = "clears" if days[-1] is not None else "beyond_a_year"
    dates = [None if d is None else as_of + dt.timedelta(days=d) for d in days]
    return (market, stage, backlog, int(exits.sum()), history_days, *days, *dates, status)


def _busiest(markets: list[str], size: dict[str, int], top: int | None) -> set[str]:
    """The `top` markets of the largest size (ties: by name); all of them when top is None or not fewer."""
    if top is None or len(markets) <= top:
        return set(markets)
    return set(sorted(markets, key=lambda m: (-size[m], m))[:top])


def _forecast(counts: np.ndarray, horizon: int, method: str = "trend"):
    trials = mc.totals(counts, horizon, mc.generator(counts, horizon), method)
    return tuple(mc.at_least(trials, level) for level in LEVELS)


def _history_start(con, as_of: dt.date | None, history: int, markets: list[str] | None) -> dt.date | None:
    if as_of is None:
        return None
    sql = "select opslens_history_start($as_of, $history, $markets)"
    return rows(con, sql, {"as_of": as_of, "history": history, "markets": markets})[0][0]


def _snapshot_dates(con, as_of: dt.date | None, markets: list[str] | None) -> list[dt.date]:
    if as_of is None:
        return []
    sql = """
        select distinct snapshot_date from market_days
        where snapshot_date <= $as_of and ($markets is null or list_contains($markets, market)) order by 1
    """
    return [r[0] for r in rows(con, sql, {"as_of": as_of, "markets": markets})]


def _markets(con, markets: list[str] | None, first: dt.date, last: dt.date) -> list[str]:
    """The markets that delivered an extract between first and last (within the market filter)."""
    sql = """
        select distinct market from market_days
        where snapshot_date between $first and $last and ($markets is null or list_contains($markets, market))
        order by 1
    """
    return [r[0] for r in rows(con, sql, {"first": first, "last": last, "markets": markets})]


def _daily_installs(
    con, params: dict[str, object], as_of_dates: list[dt.date], window: int, first: dt.date, last: dt.date
) -> dict[dt.date, dict[str, dict[dt.date, int]]]:
    """{as-of date: {market: {install day: installs}}} from queries/sql/install_daily.sql."""
    bound = {**params, "as_of_dates": as_of_dates, "window": window, "first_date": first, "last_date": last}
    found: dict[dt.date, dict[str, dict[dt.date, int]]] = {}
    for as_of, market, day, installs in run(con, sql_text("install_daily"), bound, "install_daily").iter_rows():
        found.setdefault(as_of, {}).setdefault(market, {})[day] = installs
    return found


def _with_total(per_market: dict[str, dict[dt.date, int]], markets: list[str]):
    """(market, {day: count}) for every market (empty when it had none), then ALL, their sum per day."""
    if not markets:
        return []
    pairs = [(m, per_market.get(m, {})) for m in markets]
    return [*pairs, (ALL, _summed(series for _, series in pairs))]


def _summed(series: Iterable[dict[dt.date, int]]) -> dict[dt.date, int]:
    total: dict[dt.date, int] = {}
    for one in series:
        for day, count in one.items():
            total[day] = total.get(day, 0) + count
    return total


def _array(series: dict[dt.date, int], first: dt.date, days: int) -> np.ndarray:
    """Counts per calendar day from `first`, oldest first, zeros on days without any."""
    counts = np.zeros(days, dtype=np.int64)
    for day, count in series.items():
        index = (day - first).days
        if 0 <= index < days:
            counts[index] += count
    return counts
