"""Run an Ops Lens page inside the app's frame with Streamlit's AppTest, and read what it shows.

With `st.navigation`, `AppTest.switch_page` runs a page script *without* `app.py`'s frame (store
checks, sidebar filters), so the page tests run each page the way users see it: `frame.render()`
first, then the page script.

    at = run_page("backlog", demo_db, monkeypatch, {"market": ["WEST"]})
    assert table(at) == records(dataset("backlog", db=demo_db, markets=["WEST"]))

`records` / `table` turn a dataset frame and a rendered `st.dataframe` into the same plain Python
values (floats rounded, nulls as None, dates and timestamps as ISO text), so they compare with `==`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from opslens.app.widgets import readable

ROOT = Path(__file__).resolve().parent.parent
APP_FILE = ROOT / "app.py"
PAGES_DIR = ROOT / "pages"
TIMEOUT = 60

# page script -> its st.title
PAGES: dict[str, str] = {
    "overview": "Overview",
    "backlog": "Backlog",
    "exceptions": "Exceptions",
    "readiness": "Readiness",
    "install_to_invoice": "Install to invoice",
    "forecast": "Forecast",
    "data_health": "Data health",
}
# Pages with the sidebar's date range (`from` / `to` selectboxes).
RANGE_PAGES = ("backlog", "install_to_invoice", "data_health")
# Sidebar widget keys = query-parameter names.
FILTER_KEYS = ("as_of", "market", "product", "segment")
RANGE_KEYS = ("from", "to")

QueryParams = Mapping[str, str | list[str]]


def page_in_frame(page_file: str) -> None:
    """The AppTest script: the shared frame, then the page (as app.py does after st.navigation)."""
    import runpy

    from opslens.app import frame

    if frame.render():
        runpy.run_path(page_file, run_name="__page__")


def use_store(monkeypatch: pytest.MonkeyPatch, db: str | os.PathLike[str]) -> None:
    """Point the app (and `queries.dataset` without db=) at this store, with the default thresholds."""
    monkeypatch.setenv("OPSLENS_DB", os.fspath(db))
    monkeypatch.setenv("OPSLENS_CONFIG", os.fspath(Path(db).parent / "no-such-opslens.toml"))


def page_app(
    page: str, db: str | os.PathLike[str], monkeypatch: pytest.MonkeyPatch, query_params: QueryParams | None = None
) -> AppTest:
    """A not-yet-run AppTest of `pages/<page>.py` inside the frame, on store `db`, opened with this link."""
    assert page in PAGES, f"unknown page {page!r}"
    use_store(monkeypatch, db)
    at = AppTest.from_function(page_in_frame, args=(str(PAGES_DIR / f"{page}.py"),), default_timeout=TIMEOUT)
    for key, value in (query_params or {}).items():
        at.query_params[key] = value
    return at


def run_page(
    page: str, db: str | os.PathLike[str], monkeypatch: pytest.MonkeyPatch, query_params: QueryParams | None = None
) -> AppTest:
    """`page_app(...)`, run once and checked to have finished without an exception."""
    return rerun(page_app(page, db, monkeypatch, query_params))


def rerun(at: AppTest) -> AppTest:
    """Run again (after setting widget values) and fail on any exception the script raised."""
    at.run()
    assert_no_exception(at)
    return at


def assert_no_exception(at: AppTest) -> None:
    assert not at.exception, "the page raised: " + "\n".join(str(e.value) for e in at.exception)


def set_filters(at: AppTest, **values: Any) -> AppTest:
    """Set sidebar widgets by their key (= query-parameter name; use from_=... for `from`), then run."""
    for name, value in values.items():
        key = name.rstrip("_")
        if key in ("as_of", "from", "to"):
            at.selectbox(key=key).set_value(value)
        else:
            at.multiselect(key=key).set_value(list(value))
    return rerun(at)


# --- reading what the page shows -------------------------------------------------------------------


def title(at: AppTest) -> str:
    return at.main.title[0].value


def main_captions(at: AppTest) -> list[str]:
    return [c.value for c in at.main.caption]


def page_caption(at: AppTest) -> str:
    """The line under the page title: what the page shows and the filters in force."""
    return main_captions(at)[0]


def sidebar_warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.sidebar.warning]


def infos(at: AppTest) -> list[str]:
    return [i.value for i in at.main.info]


def metrics(at: AppTest) -> dict[str, str]:
    """{label: shown value} of the page's st.metric tiles."""
    return {m.label: m.value for m in at.main.metric}


def metric_tiles(at: AppTest) -> list[tuple[str, str, str]]:
    """(label, value, delta) of every tile; delta is '' when the tile has none."""
    return [(m.label, m.value, m.proto.delta) for m in at.main.metric]


def charts(at: AppTest) -> list[Any]:
    """The page's plotly charts (AppTest exposes them as generic 'plotly_chart' nodes)."""
    return list(at.main.get("plotly_chart"))


def chart_spec(at: AppTest, key: str) -> dict[str, Any]:
    """The plotly figure JSON (data, layout) that the page sent for the chart with this key.

    Plotly sends NumPy arrays as base64 typed arrays ({"dtype": "i2", "bdata": ...}); they are
    decoded into plain lists, as the browser's plotly.js reads them.
    """
    found = [c for c in charts(at) if c.key == key]
    assert found, f"no plotly chart with key {key!r}; keys: {[c.key for c in charts(at)]}"
    return _decoded(json.loads(found[0].proto.spec))


def _decoded(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) >= {"dtype", "bdata"}:
            array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
            shape = [int(n) for n in str(value.get("shape", len(array))).split(",")]
            return array.reshape(shape).tolist()
        return {k: _decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value


def table(at: AppTest, index: int = 0, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """The rows of the page's `index`-th st.dataframe, as plain values (see `records`)."""
    frame = at.main.dataframe[index].value
    if columns is not None:
        frame = frame[columns]
    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def records(frame: pl.DataFrame, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """A dataset frame's rows as the same plain values `table` gives for a rendered table.

    Tables show stage and rule names as people read them, so the dataset goes through the same mapping.
    """
    if columns is not None:
        frame = frame.select(columns)
    frame = readable(frame)
    return [{k: plain(v) for k, v in row.items()} for row in frame.to_pandas().to_dict("records")]


def plain(value: Any) -> Any:
    """One cell as a comparable Python value: None for nulls, rounded floats, ISO text for dates."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, (np.ndarray, list, tuple, pl.Series)):
        return [plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else round(float(value), 6)
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date, np.datetime64)):
        return pd.Timestamp(value).isoformat()
    return value


def iso(value: str | dt.date | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value
