"""Ops Lens: the entry point. The shared frame (store checks, sidebar filters), then the chosen page.

Run with `./run` (sets up, creates the demo store when none exists, starts Streamlit).
"""

import streamlit as st

from opslens.app import frame

st.set_page_config(page_icon="📡", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("pages/backlog.py", title="Backlog", icon=":material/stacked_bar_chart:"),
    st.Page("pages/exceptions.py", title="Exceptions", icon=":material/report:"),
    st.Page("pages/readiness.py", title="Readiness", icon=":material/cell_tower:"),
    st.Page("pages/install_to_invoice.py", title="Install to invoice", icon=":material/receipt_long:"),
    st.Page("pages/forecast.py", title="Forecast", icon=":material/online_prediction:"),
    st.Page("pages/data_health.py", title="Data health", icon=":material/health_and_safety:"),
]

page = st.navigation(PAGES)
if frame.render():
    page.run()
