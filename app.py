"""Ops Lens: the entry point. The pages, the shared frame (store checks, sidebar filters), then the chosen page.

Start it with `./run` or `opslens serve`; both run opslens/app/main.py, which this file runs too, so
`streamlit run app.py` in a clone gives the same app. Pages are listed in opslens/app/registry.py.
"""

from opslens.app.main import run

run()
