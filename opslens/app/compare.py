"""The comparison-date picker of the Changes page, kept in the URL like the sidebar filters.

Its choices are the store's snapshot dates before the as-of date, newest first; empty means the
default (queries.compare: the latest snapshot a week or more earlier, else the earliest). A link
naming another date (after the as-of date, or not a snapshot) is named in a sidebar warning and the
default is used, as for the other filters.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from opslens.app.text import plain_list

COMPARE_TO = "compare_to"  # widget key = query-parameter name


def earlier_dates(dates: list[dt.date], as_of: dt.date) -> list[dt.date]:
    """The snapshot dates a comparison as of `as_of` can use, newest first."""
    return [d for d in dates if d < as_of]


def compare_to_picker(dates: list[dt.date], as_of: dt.date) -> dt.date | None:
    """Draw the picker in the sidebar; the chosen date, or None for the default."""
    choices = [d.isoformat() for d in earlier_dates(dates, as_of)]
    asked = [v for v in st.query_params.get_all(COMPARE_TO) if v and v not in choices]
    if asked:
        st.sidebar.warning(
            f"The link asked to compare with {plain_list(repr(v) for v in asked)}, which is not a snapshot date "
            f"before {as_of}; comparing with the default instead.",
            icon=":material/link_off:",
        )
    if not choices:
        return None
    st.sidebar.selectbox(
        "Compare with",
        choices,
        index=None,
        key=COMPARE_TO,
        bind="query-params",
        placeholder="a week earlier",
        help="The earlier snapshot the Changes page compares with. Default: the latest snapshot at least "
        "7 days before the as-of date, else the earliest.",
    )
    value = st.session_state.get(COMPARE_TO)
    return dt.date.fromisoformat(value) if value in choices else None
