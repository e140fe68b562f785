"""Numbers as a manager reads them: with units, thousands separators and a dash for 'no value'."""

from __future__ import annotations

NONE = "–"


def count(value: float | None) -> str:
    return NONE if value is None else f"{value:,.0f}"


def counted(value: int, noun: str) -> str:
    """'1 open order', '2 open orders': a count with its noun, singular when it is one."""
    return f"{value:,} {noun}" if value == 1 else f"{value:,} {noun}s"


def money(value: float | None) -> str:
    """Monthly recurring revenue, compact: $950, $12.3k, $1.2M (the label says it is per month)."""
    if value is None:
        return NONE
    if abs(value) >= 1_000_000:
        return f"${value / 1_000_000:,.1f}M"
    if abs(value) >= 10_000:
        return f"${value / 1000:,.1f}k"
    return f"${value:,.0f}"


def days(value: float | None) -> str:
    return NONE if value is None else f"{value:,.1f} d"


def share(value: float | None) -> str:
    return NONE if value is None else f"{value:.1%}"


FORMATTERS = {"orders": count, "$/month": money, "days": days, "share of open": share}


def change(value: float | None, unit: str) -> str | None:
    """A signed change in the measure's own unit, or None when there is no previous snapshot."""
    if value is None:
        return None
    if unit == "share of open":
        return f"{value * 100:+.1f} pts"
    text = FORMATTERS.get(unit, count)(abs(value))
    return ("+" if value >= 0 else "-") + text
