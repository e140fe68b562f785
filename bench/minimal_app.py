"""The floor for bench.py's first-page-view time: a Streamlit page with a title, a number and one chart.

Anything a Streamlit app with a Plotly chart needs (server, browser, the chart library) and nothing
of Ops Lens's, so `bench/bench.py` can say how much of the first view is the app's own work.
"""

import plotly.graph_objects as go
import streamlit as st

st.title("Minimal page")
st.metric("A number", 1)
st.plotly_chart(go.Figure(go.Bar(x=["a", "b"], y=[3, 4])))
