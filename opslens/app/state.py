"""The sidebar filters, shared by every page and kept in the URL.

Widgets are bound to query parameters (`bind="query-params"`), so a link reproduces the exact view
and the filters survive page switches. Values in a link that the store does not know are dropped by
Streamlit; we say so in the sidebar instead of silently showing something else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import streamlit as st

from opslens.app import auth
from opslens.app.registry import FILTERS, RANGE_FILTERS
from opslens.app.text import LIST_LIMIT, listed, plain_list
from opslens.queries import Filters

# Query-parameter names (also the widget keys, from the registry): short and readable in a shared link.
AS_OF, MARKETS, PRODUCTS, SEGMENTS = (f.key for f in FILTERS)
START, END = (f.key for f in RANGE_FILTERS)
_LATEST_SEEN = "_latest_snapshot_seen"
_SCOPED = (MARKETS, PRODUCTS, SEGMENTS)  # choices that depend on the user's markets


def sidebar_filters(dates: list[dt.date], options: dict[str, list[str]], scoped: bool = False) -> None:
    """Draw the shared filters (the choices are the user's: see data.choices); pages read `current_filters()`.

    `scoped`: the user sees some markets only, so a link value outside them is "not available".
    """
    _warn_about_unknown_link_values(dates, options, scoped)
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
                help=f"Empty means all {choice.label.lower()}. Type to search.",
                filter_mode="contains",  # "M12" finds M12 and M120, not every name with an M, 1 and 2 in it
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
    """The filters as chosen in the sidebar (and so in the URL), within the user's markets.

    The scope here names the user's markets in captions; `data.dataset` sets it again for every
    dataset, so a page that builds its own Filters cannot step outside it.
    """
    state = st.session_state
    user = auth.current_access()
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
        scope=user.markets if user else (),
    )


def describe(filters: Filters) -> str:
    """One line for captions and exported files: as-of date and the filters in force."""
    parts = [f"as of {filters.as_of}" if filters.as_of else "as of the latest snapshot"]
    if filters.scope is not None and not filters.markets:
        parts.append(f"your markets: {listed(filters.scope)}")
    else:
        parts.append(f"markets: {listed(filters.market_filter())}" if filters.markets else "all markets")
    for label, values in (("products", filters.products), ("segments", filters.segments)):
        parts.append(f"{label}: {listed(values)}" if values else f"all {label}")
    if filters.start or filters.end:
        parts.append(f"dates {filters.start or '…'} to {filters.end or '…'}")
    if filters.compare_to:
        parts.append(f"compared with {filters.compare_to}")
    return " · ".join(parts)


def _warn_about_unknown_link_values(dates: list[dt.date], options: dict[str, list[str]], scoped: bool) -> None:
    """Name link values the store does not have (or the user may not see); Streamlit drops them and uses
    the default. For a scoped user the message never says whether another market exists."""
    day_labels = {d.isoformat() for d in dates}
    known = {f.key: day_labels if f.choices == "dates" else set(options[f.choices]) for f in FILTERS + RANGE_FILTERS}
    labels = {f.key: f.label.lower() for f in FILTERS[1:]}
    params = st.query_params
    for key, allowed in known.items():
        asked = params.get_all(key)
        unknown = [v for v in asked if v and v not in allowed]
        if unknown:
            missing = "which is not available to you" if scoped and key in _SCOPED else "which this store does not have"
            st.sidebar.warning(
                f"The link asked for {key.replace('_', ' ')} {plain_list((repr(v) for v in unknown), LIST_LIMIT)}, "
                f"{missing}; {_shown_instead(key, [v for v in asked if v in allowed], labels)}.",
                icon=":material/link_off:",
            )


def _shown_instead(key: str, kept: list[str], labels: dict[str, str]) -> str:
    """What the page shows after Streamlit dropped a link's unknown values: a multiselect keeps the
    known ones (`market=WEST&market=NOPE` shows WEST), a single choice falls back to its default."""
    if key in labels:
        return f"showing {plain_list(kept, LIST_LIMIT)} only" if kept else f"showing all {labels[key]}"
    return {AS_OF: "showing the latest snapshot", START: "showing from the start", END: "showing up to the end"}[key]


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


# --- Forecast page: horizon and history pickers (SPEC §6), bound to the URL like the filters -------------
HORIZON, HISTORY = "horizon", "history"
HORIZON_CHOICES = ("7", "14", "28", "42", "56", "91")  # days ahead
HISTORY_CHOICES = ("28", "56", "84", "112", "182")  # days of history up to the snapshot
DEFAULT_HORIZON, DEFAULT_HISTORY = "28", "56"
_HISTORY_HELP = "How many days up to the snapshot the forecasts, clearance and service levels learn from."


def forecast_pickers() -> None:
    """The horizon and history select boxes in the sidebar; a link value not offered is named and ignored."""
    with st.sidebar:
        st.subheader("Forecast settings")
        for key, label, choices, default, help_text in (
            (HORIZON, "Days ahead", HORIZON_CHOICES, DEFAULT_HORIZON, "How far ahead the install forecast looks."),
            (HISTORY, "Days of history", HISTORY_CHOICES, DEFAULT_HISTORY, _HISTORY_HELP),
        ):
            unknown = [v for v in st.query_params.get_all(key) if v and v not in choices]
            if unknown:
                st.warning(
                    f"The link asked for {key} {', '.join(repr(v) for v in unknown)}, which is not offered "
                    f"({', '.join(choices)} days); showing {default} days instead.",
                    icon=":material/link_off:",
                )
            st.selectbox(
                label,
                choices,
                index=choices.index(default),
                key=key,
                bind="query-params",
                help=help_text,
            )


def forecast_filters() -> Filters:
    """The sidebar filters with the chosen horizon and history (defaults 28 and 56 days)."""
    state = st.session_state
    return replace(
        current_filters(),
        horizon=int(state.get(HORIZON) or DEFAULT_HORIZON),
        history=int(state.get(HISTORY) or DEFAULT_HISTORY),
    )
