"""The frame around every page: sign-in, store checks, the store line and the shared sidebar filters.

`app.py` calls `render()` before running the chosen page; the page tests call it too, so a page is
always tested inside the same frame users see.
"""

from __future__ import annotations

import streamlit as st

from opslens.app import auth, data, state
from opslens.app.registry import PageInfo
from opslens.app.text import plain
from opslens.store import StoreError


def render(page: PageInfo | None = None) -> bool:
    """Draw the sidebar frame for `page` (its filters, and its date range when it shows time); False
    (after explaining why) when there is nothing to show (no store, no snapshots, not signed in)."""
    user = auth.gate()
    if user is None:
        return False
    try:
        dates, options = data.choices()
    except StoreError as error:
        st.title("Ops Lens")
        st.error(plain(error), icon=":material/database:")
        st.markdown("Load data with `opslens ingest FILE...` or create the demo store with `opslens demo`.")
        return False
    if not dates:
        st.title("Ops Lens")
        st.info("The store has no snapshots yet. Load files with `opslens ingest FILE...`.", icon=":material/inbox:")
        return False
    st.sidebar.title("Ops Lens")
    st.sidebar.caption(f"Store {plain(data.store_path())} · {len(dates)} snapshots, {dates[-1]} to {dates[0]}")
    state.sidebar_filters(dates, options, scoped=user.markets is not None)
    if page is not None and page.date_range:
        state.date_range_filter(dates, page.date_range)
    return True
