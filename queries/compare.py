"""The comparison date C of the datasets about what changed (SPEC §5), resolved and checked once.

Default: the store's latest snapshot date <= S - 7 days (a week earlier for the weekly review), else
the earliest snapshot. A date given explicitly must be one of the store's snapshot dates and strictly
before S: any other date would compare S with an empty snapshot, and every exception would look new.
When the store has no snapshot before S there is nothing to compare with: C is None and the
comparison datasets are empty.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from .db import rows

DEFAULT_DAYS_BACK = 7


class ComparisonDateError(ValueError):
    """A comparison date the store cannot compare S with; the message says why and what would work."""


_DATES = """
select
    max(snapshot_date) filter (where snapshot_date <= $as_of - $days_back) as week_before,
    min(snapshot_date) filter (where snapshot_date < $as_of) as earliest,
    max(snapshot_date) filter (where snapshot_date < $as_of) as latest_before,
    coalesce(bool_or(snapshot_date = $compare_to), false) as is_snapshot,
    max(snapshot_date) filter (where snapshot_date < $compare_to) as nearest_before,
    min(snapshot_date) filter (where snapshot_date > $compare_to and snapshot_date < $as_of) as nearest_after
from (select distinct snapshot_date from market_days)
"""


def comparison_date(
    con: duckdb.DuckDBPyConnection, as_of: dt.date | None, compare_to: dt.date | None
) -> dt.date | None:
    """C for a comparison as of S: `compare_to` when it is valid, else the default; None when S has no past.

    Raises ComparisonDateError for a date on or after S, or one that is not a snapshot date.
    """
    if as_of is None:
        return None
    params = {"as_of": as_of, "compare_to": compare_to, "days_back": DEFAULT_DAYS_BACK}
    week_before, earliest, latest_before, is_snapshot, before, after = rows(con, _DATES, params)[0]
    if compare_to is None:
        return week_before or earliest
    if compare_to >= as_of:
        hint = f" (the latest before it is {latest_before})" if latest_before else " (the store has none before it)"
        raise ComparisonDateError(
            f"compare_to {compare_to} is not before the as-of date {as_of}: choose a snapshot date before it{hint}"
        )
    if not is_snapshot:
        nearest = " and ".join(str(d) for d in (before, after) if d) or "none"
        raise ComparisonDateError(
            f"compare_to {compare_to} is not a snapshot date of the store; the nearest snapshot dates before"
            f" {as_of} are {nearest}"
        )
    return compare_to
