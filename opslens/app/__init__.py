"""The Streamlit side of the engine: filter state, cached data access and shared widgets.

Only this package and `pages/` import Streamlit; `queries/` never does.
"""
