"""The app itself: page set-up, navigation built from the page registry, the shared frame, the page.

`streamlit run app.py` (in a clone) and `opslens serve` (from anywhere, also when installed from a
wheel) both run this file, so the app is the same however it is started.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

# Imported once, here, before any session runs a page: Streamlit and Plotly import pandas inside their
# functions, and two sessions' first runs doing that at the same moment can get it half-imported
# (bench/load.py behind nginx hit "partially initialized module 'pandas' has no attribute 'Series'").
import pandas  # noqa: F401
import streamlit as st

from opslens.app import auth, frame
from opslens.app.registry import PAGES, PageInfo
from opslens.app.text import plain
from opslens.queries.db import QueryTimeout

# Everything imported so far lives as long as the process: keep it out of the garbage collector's
# full passes, which would otherwise walk these ~150,000 objects again each time (~0.1 s of CPU).
gc.freeze()


def run() -> None:
    st.set_page_config(page_title="Ops Lens", page_icon="📡", layout="wide")
    # Before sign-in (or without a grant) not even the page names are shown.
    chosen = st.navigation(
        [st.Page(info.path, title=info.title, icon=info.icon, default=index == 0) for index, info in enumerate(PAGES)],
        position="sidebar" if auth.signed_in() else "hidden",
    )
    info = next(info for info in PAGES if info.title == chosen.title)
    st.set_page_config(page_title=f"{info.title} · Ops Lens")  # the browser tab names the page and the app
    show(info, chosen.run)


def show(page: PageInfo, run_page: Callable[[], None]) -> None:
    """The frame for `page`, then the page itself; a query stopped by its time limit is explained,
    never shown as a traceback. The page tests call this too, so they see what users see."""
    if frame.render(page):
        try:
            run_page()
        except QueryTimeout as timeout:
            st.error(f"This view took too long: {plain(timeout)}.", icon=":material/timer_off:")


if __name__ == "__main__":
    run()
