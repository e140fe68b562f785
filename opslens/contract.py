"""The input contract of SPEC section 1, written down once.

Ingest validates against it, the store's schema is derived from it and the demo generator produces
it, so a change to the contract is a change in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass

OPEN_STAGES: tuple[str, ...] = (
    "intake",
    "awaiting_network",
    "awaiting_appointment",
    "scheduled",
    "installed",
    "activated",
)
TERMINAL_STAGES: tuple[str, ...] = ("invoiced", "cancelled")
STAGES: tuple[str, ...] = OPEN_STAGES + TERMINAL_STAGES


@dataclass(frozen=True)
class Column:
    """One contract column: its name, logical type and whether a value is required."""

    name: str
    kind: str  # date | timestamp | text | count | money
    required: bool = False


SNAPSHOT_COLUMNS: tuple[Column, ...] = (
    Column("snapshot_date", "date", True),
    Column("order_id", "text", True),
    Column("market", "text", True),
    Column("stage", "text", True),
    Column("ordered_at", "timestamp", True),
    Column("product", "text"),
    Column("segment", "text"),
    Column("network_ready_at", "timestamp"),
    Column("appointment_at", "timestamp"),
    Column("installed_at", "timestamp"),
    Column("activated_at", "timestamp"),
    Column("invoiced_at", "timestamp"),
    Column("cancelled_at", "timestamp"),
    Column("stage_entered_at", "timestamp"),
    Column("missed_appointments", "count"),
    Column("truck_rolls", "count"),
    Column("mrr", "money"),
    Column("fallout_code", "text"),
)

FOOTPRINT_COLUMNS: tuple[Column, ...] = (
    Column("snapshot_date", "date", True),
    Column("market", "text", True),
    Column("premises_passed", "count", True),
    Column("premises_ready", "count", True),
)

# Milestones that cannot lie in the future of the snapshot that reports them.
PAST_MILESTONES: tuple[str, ...] = ("installed_at", "activated_at", "invoiced_at", "cancelled_at")
# ...nor can the order itself have been placed after it.
NOT_AFTER_SNAPSHOT: tuple[str, ...] = ("ordered_at", *PAST_MILESTONES)

# No real monthly recurring revenue of one order is above this; it also keeps every sum finite.
MAX_MRR = 1_000_000
# Dates and timestamps outside these years (inclusive) are typing mistakes, not broadband orders.
YEARS: tuple[int, int] = (1990, 2100)

SQL_TYPES: dict[str, str] = {
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "text": "VARCHAR",
    "count": "BIGINT",
    "money": "DOUBLE",
}

# How each logical type is described in an error message.
TYPE_HINTS: dict[str, str] = {
    "date": "a date like 2026-03-01",
    "timestamp": "a date or timestamp like 2026-03-01 or 2026-03-01 14:30:00",
    "text": "text",
    "count": "a whole number >= 0",
    "money": "a number >= 0",
}

SNAPSHOT_NAMES: tuple[str, ...] = tuple(c.name for c in SNAPSHOT_COLUMNS)
FOOTPRINT_NAMES: tuple[str, ...] = tuple(c.name for c in FOOTPRINT_COLUMNS)
