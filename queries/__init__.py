"""Every Ops Lens dataset, defined once: `dataset(name, db=..., **filters)` returns a Polars frame.

The same call feeds the app's pages and their export buttons, `opslens export` and notebooks:

    from queries import dataset
    df = dataset("backlog", db="data/opslens.duckdb", as_of=date(2026, 3, 1), markets=["NORTH"])

A filter value the store does not have (a market, product or segment, an as-of date that is not a
snapshot date, a stage or rule that does not exist) raises FilterError naming it and the values
that would work, rather than answering with zeros (see `check_filters`).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

import duckdb
import polars as pl

from opslens import config
from opslens.contract import OPEN_STAGES, STAGES

from . import daybits, forecast
from .catalog import COMPARISONS, DATASETS, RULES, DatasetInfo, RuleInfo
from .compare import ComparisonDateError, comparison_date
from .db import Database, connection, remembered, rows, run, sql_text
from .forecast import DEFAULT_HISTORY, DEFAULT_HORIZON
from .headline import headline

__all__ = [
    "COMPARISONS",
    "DATASETS",
    "RULES",
    "ComparisonDateError",
    "DatasetInfo",
    "FilterError",
    "Filters",
    "RuleInfo",
    "check_filters",
    "comparison_date",
    "dataset",
    "filter_options",
    "snapshot_dates",
]


class FilterError(ValueError):
    """A filter value no dataset can answer: the message names it and the values that would work."""


_LISTED = 20  # a message names this many choices at most (a store may hold thousands of markets)
# The filters that hold several values, with the singular that names one value in messages.
_MULTI = {"markets": "market", "products": "product", "segments": "segment", "stages": "stage", "rules": "rule"}


@dataclass(frozen=True)
class Filters:
    """The filters every dataset accepts (SPEC §3); None or an empty list means all."""

    as_of: dt.date | None = None
    markets: tuple[str, ...] | None = None
    products: tuple[str, ...] | None = None
    segments: tuple[str, ...] | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    stages: tuple[str, ...] | None = None  # drill-down: orders and exceptions in these stages
    rules: tuple[str, ...] | None = None  # drill-down: orders and exceptions breaking these rules
    # The markets the user may see (SPEC §4; None: all). Not a filter the user picks: set by the
    # app and `opslens export --as` from the user's grants, and applied by `market_filter`.
    scope: tuple[str, ...] | None = None
    compare_to: dt.date | None = None  # SPEC §5: the comparison date C of the *_changes datasets

    def __post_init__(self) -> None:
        # A string where values belong would be read letter by letter ("WEST" -> W, E, S, T).
        for name in (*_MULTI, "scope"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise FilterError(f"{name} must be a list of values, not the string {value!r}: {name}=[{value!r}]")

    def market_filter(self) -> tuple[str, ...] | None:
        """The markets a query reads: the market filter within the scope. None: all; (): none at all.

        The one place where the scope meets the filters: every dataset's `$markets` is this, so a
        dataset never sees a market outside the user's scope, whatever filter or link named it.
        """
        markets = self.markets or None  # an empty filter means all, as everywhere
        if self.scope is None:
            return markets
        if markets is None:
            return self.scope
        return tuple(market for market in markets if market in self.scope)

    # Flow and forecasts (SPEC §6): days ahead, and days of history up to S; None = the defaults
    horizon: int | None = None
    history: int | None = None
    # install_forecast and backlog_clearance simulate at most this many markets (the busiest) besides
    # ALL, which still counts every market; None: every market (queries/forecast.py, `top_markets`)
    top_markets: int | None = None

    def with_drill(
        self,
        *,
        markets: tuple[str, ...] | None = None,
        stages: tuple[str, ...] | None = None,
        rules: tuple[str, ...] | None = None,
    ) -> Filters:
        """The same view narrowed to the orders behind one number (a market, stage or rule)."""
        return replace(self, markets=markets or self.markets, stages=stages or self.stages, rules=rules or self.rules)

    def with_dates(self, start: dt.date | None, end: dt.date | None) -> Filters:
        """The same view over another date range."""
        return replace(self, start=start, end=end)

    def described(self) -> dict[str, str]:
        """The filters that are set, as text, for export captions and file metadata.

        Under a scope, `markets` names the markets the data covers (the filter within the scope).
        """
        values = {**asdict(self), "markets": self.market_filter()}
        values.pop("scope")
        described = {k: (", ".join(v) if isinstance(v, tuple) else str(v)) for k, v in values.items() if v}
        if values["markets"] == ():
            described["markets"] = "none available"
        return described


def dataset(
    name: str,
    db: Database | None = None,
    *,
    as_of: dt.date | None = None,
    markets: Sequence[str] | None = None,
    products: Sequence[str] | None = None,
    segments: Sequence[str] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    stages: Sequence[str] | None = None,
    rules: Sequence[str] | None = None,
    thresholds: dict[str, int] | None = None,
    scope: Sequence[str] | None = None,
    compare_to: dt.date | None = None,
    horizon: int | None = None,
    history: int | None = None,
    top_markets: int | None = None,
) -> pl.DataFrame:
    """The named dataset as of a snapshot (default: the store's latest) under the given filters.

    `scope` limits it to the markets a user may see (SPEC §4), as the app does for a signed-in user.
    `compare_to` is the comparison date of the datasets about what changed (queries.COMPARISONS);
    see `comparison_date` for its default and which dates are accepted. `horizon` and `history` are the
    days ahead and behind of the forecasts (SPEC §6); `top_markets` limits their per-market rows to
    the busiest markets (see queries/forecast.py).
    """
    db = _resolve(db)
    values = {"markets": markets, "products": products, "segments": segments, "stages": stages, "rules": rules}
    for key, value in values.items():
        if isinstance(value, str):  # a common slip: name the value, the list form and the choices
            scoped = None if scope is None or isinstance(scope, str) else tuple(scope)
            choices = _choices(db, key, scoped)
            raise FilterError(
                f"{key} must be a list, not the string {value!r}: {key}=[{value!r}];"
                f" {_listing(key, choices, scoped is not None)}"
            )
    filters = Filters(
        as_of=as_of,
        markets=_tuple(markets),
        products=_tuple(products),
        segments=_tuple(segments),
        start=start,
        end=end,
        stages=_tuple(stages),
        rules=_tuple(rules),
        scope=scope if scope is None or isinstance(scope, str) else tuple(scope),
        compare_to=compare_to,
        horizon=horizon,
        history=history,
        top_markets=top_markets,
    )
    return fetch(name, db, filters, thresholds)


def fetch(name: str, db: Database, filters: Filters, thresholds: dict[str, int] | None = None) -> pl.DataFrame:
    """`dataset` for callers that already hold a Filters value (the app, the CLI)."""
    if name not in DATASETS:
        raise KeyError(f"unknown dataset '{name}'; available: {', '.join(DATASETS)}")
    limits = config.stall_limits(thresholds)
    horizon, history = forecast_window(filters)
    with connection(db) as con:
        check_filters(con, filters)
        as_of = filters.as_of or latest_snapshot(con)
        params = {
            "as_of": as_of,
            "markets": _markets(filters.market_filter()),
            "scope": _markets(filters.scope),
            "products": _list(filters.products),
            "segments": _list(filters.segments),
            "start_date": filters.start,
            "end_date": filters.end,
            "stages": _list(filters.stages),
            "rules": _list(filters.rules),
            "stall_limits": [limits[stage] for stage in OPEN_STAGES],
            "horizon": horizon,
            "history": history,
            "top_markets": forecast.checked_top_markets(filters.top_markets),
        }
        if name in COMPARISONS:
            params["compare_to"] = comparison_date(con, as_of, filters.compare_to)
        computed = PYTHON_DATASETS.get(name)
        with daybits.day_tables(con, _day_bits_dates(name, params), params["stall_limits"]) as tables:
            params.update(zip(("bits_now", "bits_then")[: len(tables)], tables, strict=True))
            frame = computed(con, params) if computed else run(con, sql_text(name), params, name)
    return frame.drop([c for c in frame.columns if c in DATASETS[name].internal_columns])


# SQL datasets reading the exceptions of whole days (`opslens_day_bits`, queries/daybits.py): bound as
# $bits_now (the table of S) and $bits_then (of the comparison date C). The headline binds its own.
_DAY_BITS = {
    "exception_changes": ("as_of", "compare_to"),
    "changes": ("as_of", "compare_to"),
    "exception_summary": ("as_of",),
    "market_attention": ("as_of",),
}


def _day_bits_dates(name: str, params: dict[str, object]) -> list[dt.date | None]:
    """The dates whose day tables the dataset reads; without a comparison date, C's is S's (the
    comparison datasets are then empty, but their SQL still names a table)."""
    return [params[key] or params["as_of"] for key in _DAY_BITS.get(name, ())]


# Datasets computed in Python on SQL inputs (the others are one SQL file each).
PYTHON_DATASETS: dict[str, Callable[[duckdb.DuckDBPyConnection, dict[str, object]], pl.DataFrame]] = {
    "headline": headline,
    "install_forecast": forecast.install_forecast,
    "install_forecast_backtest": forecast.install_forecast_backtest,
    "install_forecast_calibration": lambda con, params: forecast.install_forecast_calibration(
        forecast.install_forecast_backtest(con, params)
    ),
    "backlog_clearance": forecast.backlog_clearance,
}
HORIZON_RANGE = (1, 365)  # days ahead a forecast may look
HISTORY_RANGE = (1, 3650)  # days of history it may draw on


def forecast_window(filters: Filters) -> tuple[int, int]:
    """The horizon and history in days (defaults 28 and 56), checked: whole numbers in range."""
    checked = []
    for name, value, default, (low, high) in (
        ("horizon", filters.horizon, DEFAULT_HORIZON, HORIZON_RANGE),
        ("history", filters.history, DEFAULT_HISTORY, HISTORY_RANGE),
    ):
        if value is None:
            value = default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{name} must be a whole number of days from {low} to {high}, not {value!r}")
        checked.append(value)
    return checked[0], checked[1]


def check_filters(con: duckdb.DuckDBPyConnection, filters: Filters) -> None:
    """Raise FilterError for a filter value that would answer with zeros instead of data.

    The as-of date must be a snapshot date of the store; stages and rules must exist; markets,
    products and segments must be in the store. Under a scope (SPEC §4) a market outside it is not
    an error but shows nothing (`market_filter`), whether the store has it or not, and the choices
    named are those within the scope, so a message never tells whether another market exists.
    """
    if filters.as_of is not None:
        _check_as_of(con, filters.as_of)
    scoped = filters.scope is not None
    for key in _MULTI:
        asked = getattr(filters, key) or ()
        if key == "markets" and scoped:
            asked = tuple(m for m in asked if m in filters.scope)  # the others are "not available", not wrong
        if not asked:
            continue
        choices = _choices(con, key, filters.scope)
        unknown = [value for value in asked if value not in choices]
        if unknown:
            noun = _MULTI[key] if len(unknown) == 1 else key
            named = ", ".join(repr(value) for value in unknown)
            raise FilterError(f"unknown {noun} {named}; {_listing(key, choices, scoped)}")


def _check_as_of(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> None:
    dates = _snapshot_dates(con)
    at = bisect.bisect_left(dates, as_of)
    if at < len(dates) and dates[at] == as_of:
        return
    if not dates:
        raise FilterError(f"as-of date {as_of}: the store has no snapshots yet; ingest some extracts first")
    earliest, latest = dates[0], dates[-1]
    if as_of < earliest:
        where = f"before the store's first snapshot, {earliest}"
    elif as_of > latest:
        where = f"after the store's latest snapshot, {latest}"
    else:
        where = f"not a snapshot date; the nearest are {dates[at - 1]} and {dates[at]}"
    raise FilterError(f"as-of date {as_of} is {where} (snapshots run from {earliest} to {latest})")


def _choices(db: Database | duckdb.DuckDBPyConnection, key: str, scope: tuple[str, ...] | None) -> tuple[str, ...]:
    """The values the store has for a filter, within the scope (the choices of the app's filter)."""
    if key == "stages":
        return STAGES
    if key == "rules":
        return tuple(RULES)
    column = _MULTI[key]
    table = "market_days" if key == "markets" else "stage_days"  # market_days: small, one row per day and market
    query = (
        f"select distinct {column} from {table} where {column} is not null"
        " and ($scope is null or list_contains($scope, market)) order by 1"
    )
    params = {"scope": None if scope is None else list(scope)}
    if _is_connection(db):
        return remembered(db, ("choices", key, scope), lambda: tuple(row[0] for row in rows(db, query, params)))
    with connection(db) as con:
        return tuple(row[0] for row in rows(con, query, params))


def _listing(key: str, choices: Sequence[str], scoped: bool) -> str:
    """'this store's markets: A, B' (under a scope: 'your markets in this store: ...'), for a message."""
    if key in ("stages", "rules"):
        where = "stages" if key == "stages" else "exception rules"
    elif scoped:
        where = f"your {key} in this store" if key == "markets" else f"{key} in your markets"
    else:
        where = f"this store's {key}"
    named = ", ".join(choices[:_LISTED]) or "none"
    more = f" and {len(choices) - _LISTED:,} more" if len(choices) > _LISTED else ""
    return f"{where}: {named}{more}"


def latest_snapshot(con) -> dt.date | None:
    """The store's latest snapshot date (None for an empty store)."""
    dates = _snapshot_dates(con)
    return dates[-1] if dates else None


def _snapshot_dates(con: duckdb.DuckDBPyConnection) -> tuple[dt.date, ...]:
    """Every snapshot date, oldest first; asked of the store once per file version (`remembered`)."""
    query = "select distinct snapshot_date from market_days order by 1"
    return remembered(con, "snapshot_dates", lambda: tuple(row[0] for row in rows(con, query)))


def snapshot_dates(db: Database | None = None) -> list[dt.date]:
    """Every snapshot date in the store, newest first: the choices of the as-of picker."""
    with connection(_resolve(db)) as con:
        return list(reversed(_snapshot_dates(con)))


def filter_options(db: Database | None = None, scope: Sequence[str] | None = None) -> dict[str, list[str]]:
    """Distinct markets, products and segments in the store (within `scope`), for the filter widgets."""
    params = {"scope": None if scope is None else list(scope)}
    with connection(_resolve(db)) as con:
        return {
            column + "s": [
                row[0]
                for row in rows(
                    con,
                    f"select distinct {column} from stage_days where {column} is not null"
                    " and ($scope is null or list_contains($scope, market)) order by 1",
                    params,
                )
            ]
            for column in ("market", "product", "segment")
        }


def _resolve(db: Database | None) -> Database:
    return db if _is_connection(db) else config.db_path(db)


def _is_connection(db: object) -> bool:
    return db is not None and not isinstance(db, (str, bytes)) and hasattr(db, "sql")


def _tuple(values: Sequence[str] | None) -> tuple[str, ...] | None:
    return tuple(values) if values else None


def _list(values: tuple[str, ...] | None) -> list[str] | None:
    return list(values) if values else None


def _markets(values: tuple[str, ...] | None) -> list[str] | None:
    """Markets as bound: None reads every market, an empty list none (a filter outside the scope)."""
    return None if values is None else list(values)
