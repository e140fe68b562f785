"""The sidebar filters, shared by every page and kept in the URL.

Widgets are bound to query parameters (`bind="query-params"`), so a link reproduces the exact view
and the filters survive page switches. Values in a link that the store does not know are dropped by
Streamlit; we say so in the sidebar instead of silently showing something else.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from opslens.app.registry import FILTERS, RANGE_FILTERS
from opslens.queries import Filters

# Query-parameter names (also the widget keys, from the registry): short and readable in a shared link.
AS_OF, MARKETS, PRODUCTS, SEGMENTS = (f.key for f in FILTERS)
START, END = (f.key for f in RANGE_FILTERS)
_LATEST_SEEN = "_latest_snapshot_seen"


def sidebar_filters(dates: list[dt.date], options: dict[str, list[str]]) -> None:
    """Draw the shared filters; pages read the result with `current_filters()`."""
    _warn_about_unknown_link_values(dates, options)
    with st.sidebar:
        st.header("Filters")
        labels = [d.isoformat() for d in dates]
        _follow_new_snapshots(labels)
        st.selectbox(
            FILTERS[0].label,
            labels,
            index=0,
            key=AS_OF,
            bind="query-params",
            help="Every number is as of this daily snapshot; the latest by default.",
        )
        for choice in FILTERS[1:]:
            st.multiselect(
                choice.label,
                options[choice.choices],
                key=choice.key,
                bind="query-params",
                placeholder="All",
                help=f"Empty means all {choice.label.lower()}.",
            )


def _follow_new_snapshots(labels: list[str]) -> None:
    """Keep a viewer who is on the latest snapshot on the latest one when an ingest adds a newer day.

    A widget keeps its value while that value is still an option, so without this a dashboard left
    open would stay on yesterday's snapshot after tonight's ingest. A date chosen on purpose stays.
    """
    state = st.session_state
    latest, seen = (labels[0] if labels else None), state.get(_LATEST_SEEN)
    if seen and latest != seen and state.get(AS_OF) == seen:
        state[AS_OF] = latest
    state[_LATEST_SEEN] = latest


def date_range_filter(dates: list[dt.date], label: str = "Date range") -> None:
    """Start and end dates for pages that show time; bound to the URL like the other filters."""
    if not dates:
        return
    labels = [d.isoformat() for d in sorted(dates)]
    with st.sidebar:
        st.selectbox(f"{label} from", labels, index=None, key=START, bind="query-params", placeholder="the start")
        st.selectbox(f"{label} to", labels, index=None, key=END, bind="query-params", placeholder="the end")


def current_filters(with_dates: bool = False) -> Filters:
    """The filters as chosen in the sidebar (and so in the URL)."""
    state = st.session_state
    start, end = (_date(state.get(START)), _date(state.get(END))) if with_dates else (None, None)
    if start and end and start > end:
        start, end = end, start
    return Filters(
        as_of=_date(state.get(AS_OF)),
        markets=tuple(state.get(MARKETS) or ()) or None,
        products=tuple(state.get(PRODUCTS) or ()) or None,
        segments=tuple(state.get(SEGMENTS) or ()) or None,
        start=start,
        end=end,
    )


def describe(filters: Filters) -> str:
    """One line for captions and exported files: as-of date and the filters in force."""
    parts = [f"as of {filters.as_of}" if filters.as_of else "as of the latest snapshot"]
    for label, values in (("markets", filters.markets), ("products", filters.products), ("segments", filters.segments)):
        parts.append(f"{label}: {', '.join(values)}" if values else f"all {label}")
    if filters.start or filters.end:
        parts.append(f"dates {filters.start or '…'} to {filters.end or '…'}")
    return " · ".join(parts)


def _warn_about_unknown_link_values(dates: list[dt.date], options: dict[str, list[str]]) -> None:
    """Name link values the store does not have; Streamlit drops them and uses the default."""
    day_labels = {d.isoformat() for d in dates}
    known = {f.key: day_labels if f.choices == "dates" else set(options[f.choices]) for f in FILTERS + RANGE_FILTERS}
    params = st.query_params
    for key, allowed in known.items():
        unknown = [v for v in params.get_all(key) if v and v not in allowed]
        if unknown:
            st.sidebar.warning(
                f"The link asked for {key.replace('_', ' ')} {', '.join(repr(v) for v in unknown)}, "
                "which this store does not have; showing the default instead.",
                icon=":material/link_off:",
            )


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
