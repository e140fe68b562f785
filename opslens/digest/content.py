"""What a digest says: the datasets of the Overview, Readiness, Install to invoice and Data health
pages for one recipient's markets, as of one snapshot.

Every number is a dataset fetched through the same door as the app and `opslens export`, with the
recipient's markets as the scope, so a digest can never show a number the app would not. Only the
data-health notices are composed here, as sentences, from the freshness and snapshot_rows datasets.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import polars as pl

from opslens.queries import Filters, fetch, filter_options, snapshot_dates
from opslens.queries.db import Database


class DigestError(ValueError):
    """A digest that cannot be built (no snapshots, an as-of date the store does not have)."""


@dataclass(frozen=True)
class Digest:
    """One recipient's digest: the scope, the dates and the dataset frames the PDF and mail show."""

    recipient: str | None
    markets: tuple[str, ...] | None  # the scope; None = every market
    as_of: dt.date
    previous_as_of: dt.date | None  # the headline's comparison (the previous snapshot)
    compare_to: dt.date | None  # C of the exception changes (SPEC §5); None: no earlier snapshot
    frames: dict[str, pl.DataFrame]
    store_markets: tuple[str, ...]  # the markets of the scope the store has data for
    warnings: list[str] = field(default_factory=list)

    @property
    def compared_markets(self) -> list[str]:
        """The markets the headline's changes cover (those that reported on both dates)."""
        compared = self.frames["headline"]["compared_markets"].to_list()[0]
        return list(compared or []) if self.previous_as_of else []

    def scope_text(self, limit: int | None = None) -> str:
        """'all markets (6)' or 'NORTH, WEST'; with a limit, long lists end in '+N more'."""
        if self.markets is None:
            return f"all markets ({len(self.store_markets)})"
        names = list(self.markets)
        if limit is not None and len(names) > limit:
            return ", ".join(names[:limit]) + f" +{len(names) - limit} more"
        return ", ".join(names)


# The datasets a digest shows, in the order the PDF shows them; the comparison ones (SPEC §5) are
# evaluated at the default comparison date C.
DATASET_NAMES = (
    "headline",
    "backlog",
    "market_attention",
    "changes",
    "exception_changes",
    "compared_markets",
    "readiness",
    "install_to_invoice",
    "freshness",
)


def resolve_as_of(db: Database, as_of: dt.date | None) -> dt.date:
    """The snapshot to digest: the given date, which must be one of the store's, else the latest."""
    dates = snapshot_dates(db)
    if not dates:
        raise DigestError("the store has no snapshots yet: ingest some extracts first")
    if as_of is None:
        return dates[0]
    if as_of not in dates:
        earlier = [d for d in dates if d < as_of]
        hint = f"the nearest earlier one is {earlier[0]}" if earlier else f"the earliest is {dates[-1]}"
        raise DigestError(f"{as_of} is not a snapshot date in the store ({hint}; the latest is {dates[0]})")
    return as_of


def build(db: Database, recipient: str | None, markets: tuple[str, ...] | None, as_of: dt.date) -> Digest:
    """Fetch every dataset of the digest for the markets (None: all) as of a snapshot (see resolve_as_of)."""
    markets = tuple(sorted(set(markets))) if markets is not None else None
    filters = Filters(as_of=as_of, scope=markets)  # the recipient's markets, applied in the query door
    frames = {name: fetch(name, db, filters) for name in DATASET_NAMES}
    previous = frames["headline"]["previous_as_of"][0]
    compared = frames["compared_markets"]
    compare_to = compared["compare_to"][0] if compared.height else None
    store_markets = tuple(filter_options(db, scope=markets)["markets"])
    since = min(d for d in (compare_to, previous, as_of) if d is not None)
    window = replace(filters, start=since, end=as_of)
    frames["missing_extracts"] = fetch("snapshot_rows", db, window).filter(pl.col("rows") == 0)
    digest = Digest(recipient, markets, as_of, previous, compare_to, frames, store_markets)
    digest.warnings.extend(health_warnings(digest))
    return digest


def health_warnings(digest: Digest) -> list[str]:
    """Sentences for a manager: markets without data, late or missing extracts, changes over fewer markets."""
    notes = []
    if digest.markets is not None:
        absent = [m for m in digest.markets if m not in digest.store_markets]
        if absent:
            notes.append(f"No data in the store for {', '.join(absent)}: check the market codes of the grant.")
    late = digest.frames["freshness"].filter(pl.col("days_behind") > 0)
    for row in late.iter_rows(named=True):
        notes.append(
            f"{row['market']} has no extract for {digest.as_of}: its latest is {row['latest_snapshot_date']}"
            f" ({row['days_behind']} days behind), so its numbers are missing from this digest."
        )
    missing = digest.frames["missing_extracts"].filter(pl.col("snapshot_date") < digest.as_of)
    for row in missing.iter_rows(named=True):
        notes.append(f"{row['market']}'s extract for {row['snapshot_date']} is missing.")
    compared = digest.compared_markets
    reporting = [m for m in digest.store_markets if m not in set(late["market"])]
    if digest.previous_as_of and sorted(compared) != sorted(reporting):
        notes.append(
            f"The tiles' changes since {digest.previous_as_of} cover only the markets that reported on both dates"
            f" ({', '.join(compared) or 'none'})."
        )
    unmatched = digest.frames["compared_markets"].filter(~pl.col("reported_both"))
    if unmatched.height:
        notes.append(
            f"New and resolved exceptions since {digest.compare_to}: {', '.join(unmatched['market'])} did not"
            " report on both dates, so the totals leave them out."
        )
    return notes


def headline_rows(digest: Digest) -> list[dict]:
    """The headline measures as dicts (label, unit, value, change), in tile order."""
    return list(digest.frames["headline"].iter_rows(named=True))
