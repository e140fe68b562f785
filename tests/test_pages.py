"""Every page, rendered inside the app's frame on the demo store, against `queries.dataset`.

For each page: it renders (title, charts, tables); each sidebar filter changes the numbers to exactly
what `dataset(...)` returns for the same filters, and the caption names the filter; a link (query
parameters) sets the filters; unknown link values are named in a sidebar warning and replaced by
the defaults; a view that matches nothing shows the empty-state note. Then the drill-downs, and
app.py itself (default page, missing store).

The numbers on a page are compared with the dataset computed independently here, so a page that
ignored a filter, cached the wrong view or formatted the wrong column fails.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from apptest_harness import (
    APP_FILE,
    FILTER_KEYS,
    PAGES,
    RANGE_KEYS,
    RANGE_PAGES,
    TIMEOUT,
    assert_no_exception,
    chart_spec,
    charts,
    infos,
    iso,
    main_captions,
    metric_tiles,
    metrics,
    page_caption,
    records,
    rerun,
    run_page,
    set_filters,
    shown,
    sidebar_warnings,
    table,
    title,
    use_store,
)
from streamlit.testing.v1 import AppTest

from opslens.app import fmt
from opslens.charts import stage_label
from opslens.contract import OPEN_STAGES
from opslens.queries import RULES, dataset, snapshot_dates

LATEST = dt.date(2026, 11, 20)
OLDER = dt.date(2026, 10, 20)
RULE_LABELS = {name: rule.label for name, rule in RULES.items()}

# The demo store's COAST extract is missing on 2026-11-19: COAST has no rows in that snapshot.
NO_COAST_ROWS = {"as_of": "2026-11-19", "market": ["COAST"]}


@pytest.fixture(autouse=True)
def _default_thresholds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The page and the datasets computed here both use the default stall limits (no opslens.toml)."""
    monkeypatch.setenv("OPSLENS_CONFIG", str(tmp_path / "no-such-opslens.toml"))


@pytest.fixture(scope="module")
def first_date(demo_db: Path) -> dt.date:
    dates = snapshot_dates(demo_db)
    assert dates[0] == LATEST
    return dates[-1]


# --- what each page shows, and what the datasets say it should show ----------------------------------

View = dict[str, Any]  # dataset() filters: as_of, markets, products, segments, start, end


def _without_range(view: View) -> View:
    return {k: v for k, v in view.items() if k not in ("start", "end")}


def _tiles(db: Path, view: View) -> list[tuple[str, str, str]]:
    headline = dataset("headline", db=db, **_without_range(view))
    return [
        (
            row["label"],
            fmt.FORMATTERS.get(row["unit"], fmt.count)(row["value"]),
            fmt.change(row["change"], row["unit"]) or "",
        )
        for row in headline.iter_rows(named=True)
    ]


def _trend_traces(spec: dict[str, Any]) -> dict[str, list[tuple[str, int]]]:
    """Each stage's drawn points; a date left out (NaN: a market's extract is missing) is not drawn."""
    return {
        trace["name"]: [(x, y) for x, y in zip(trace["x"], trace["y"], strict=True) if y == y]
        for trace in spec["data"]
        if trace["name"] != "Extract missing"
    }


def _heatmap_cells(spec: dict[str, Any]) -> dict[tuple[str, str], int]:
    trace = spec["data"][0]
    return {
        (x, y): trace["z"][row][column]
        for row, y in enumerate(trace["y"])
        for column, x in enumerate(trace["x"])
        if trace["z"][row][column]
    }


def observe_overview(at: AppTest) -> dict[str, Any]:
    return {
        "tiles": metric_tiles(at),
        "backlog_chart": chart_spec(at, "overview-backlog-0")["data"][0]["x"],
        "attention": table(at, 0, ["attention_rank", "market", "exception_share", "mrr_at_risk"]),
    }


def expect_overview(db: Path, view: View) -> dict[str, Any]:
    view = _without_range(view)
    attention = dataset("market_attention", db=db, **view)
    return {
        "tiles": _tiles(db, view),
        "backlog_chart": dataset("backlog", db=db, **view)["orders"].to_list(),
        "attention": records(attention, ["attention_rank", "market", "exception_share", "mrr_at_risk"]),
    }


def observe_backlog(at: AppTest) -> dict[str, Any]:
    return {
        "table": table(at, 0),
        "orders_chart": chart_spec(at, "backlog-chart-none")["data"][0]["x"],
        "trend": _trend_traces(chart_spec(at, "trend-chart")),
    }


def expect_backlog(db: Path, view: View) -> dict[str, Any]:
    backlog = dataset("backlog", db=db, **_without_range(view))
    trend = dataset("backlog_trend", db=db, **view)
    gaps = dataset("snapshot_rows", db=db, **view).filter(pl.col("rows") == 0)["snapshot_date"]
    trend = trend.filter(~pl.col("snapshot_date").is_in(gaps.to_list()))  # drawn as gaps, not drops
    return {
        "table": records(backlog),
        "orders_chart": backlog["orders"].to_list(),
        "trend": {
            stage_label(stage): [
                (d.isoformat(), n)
                for d, n in trend.filter(pl.col("stage") == stage).select("snapshot_date", "orders").iter_rows()
            ]
            for stage in OPEN_STAGES
        },
    }


def observe_exceptions(at: AppTest) -> dict[str, Any]:
    shown = metrics(at)
    listed = table(at, 0, ["order_id", "rule"])
    return {
        "rows": shown["Exception rows"],
        "orders": shown["Orders affected"],
        "listed": sorted((r["order_id"], r["rule"]) for r in listed),
        "heatmap_total": sum(_heatmap_cells(chart_spec(at, "exceptions-heatmap")).values()),
    }


def expect_exceptions(db: Path, view: View) -> dict[str, Any]:
    exceptions = dataset("exceptions", db=db, **_without_range(view))
    return {
        "rows": f"{exceptions.height:,}",
        "orders": f"{exceptions['order_id'].n_unique():,}",
        "listed": sorted((o, RULE_LABELS[r]) for o, r in exceptions.select("order_id", "rule").iter_rows()),
        "heatmap_total": exceptions.height,
    }


def observe_readiness(at: AppTest) -> dict[str, Any]:
    return {"table": table(at, 0), "chart_markets": chart_spec(at, "readiness-orders")["data"][0]["x"]}


def expect_readiness(db: Path, view: View) -> dict[str, Any]:
    readiness = dataset("readiness", db=db, **_without_range(view))
    return {"table": records(readiness), "chart_markets": readiness["market"].to_list()}


def observe_install_to_invoice(at: AppTest) -> dict[str, Any]:
    shown = metrics(at)
    return {
        "invoiced": shown["Invoiced orders"],
        "p50": shown["P50"],
        "p85": shown["P85"],
        "p95": shown["P95"],
        "table": table(at, 0),
    }


def expect_install_to_invoice(db: Path, view: View) -> dict[str, Any]:
    summary = dataset("install_to_invoice", db=db, **view)
    total = summary.filter(pl.col("market") == "ALL").row(0, named=True)
    return {
        "invoiced": fmt.count(total["invoiced_orders"]),
        "p50": fmt.days(total["days_p50"]),
        "p85": fmt.days(total["days_p85"]),
        "p95": fmt.days(total["days_p95"]),
        "table": records(summary),
    }


def observe_data_health(at: AppTest) -> dict[str, Any]:
    return {"table": table(at, 0), "rows": _heatmap_cells(chart_spec(at, "health-rows"))}


def expect_data_health(db: Path, view: View) -> dict[str, Any]:
    rows = dataset("snapshot_rows", db=db, **view)
    return {
        "table": records(dataset("freshness", db=db, **_without_range(view))),
        "rows": {(d.isoformat(), m): n for d, m, n in rows.select("snapshot_date", "market", "rows").iter_rows() if n},
    }


def observe_changes(at: AppTest) -> dict[str, Any]:
    return {
        "tiles": metrics(at),
        "bars": [trace["x"] for trace in chart_spec(at, "changes-bars")["data"]],
        "backlog": [trace["y"] for trace in chart_spec(at, "changes-backlog")["data"]],
        "markets": table(at, 0),
    }


def expect_changes(db: Path, view: View) -> dict[str, Any]:
    view = _without_range(view)
    total = dataset("changes", db=db, **view).filter(pl.col("market") == "ALL")
    backlog = dataset("backlog_changes", db=db, **view).filter(pl.col("market") == "ALL")
    reporting = dataset("compared_markets", db=db, **view)
    return {
        "tiles": {
            "New": fmt.count(total["new"].sum()),
            "Resolved": fmt.count(total["resolved"].sum()),
            "Persisting": fmt.count(total["persisting"].sum()),
            "Net change": fmt.change(total["net_change"].sum(), "orders"),
        },
        "bars": [(-total["resolved"]).to_list(), total["persisting"].to_list(), total["new"].to_list()],
        "backlog": [backlog["orders_then"].to_list(), backlog["orders_now"].to_list()],
        "markets": records(reporting, ["market", "rows_then", "rows_now", "reported_both"]),
    }


FORECAST_COLUMNS = ["market", "installs_p50", "installs_at_least_85", "installs_at_least_95", "installs_in_history"]
CLEARANCE_COLUMNS = ["market", "stage", "open_orders", "clear_by_p50", "clear_by_85", "clear_by_95"]
SLE_COLUMNS = ["market", "stage", "left_orders", "sle_p50_days", "sle_p85_days", "sle_p95_days"]


def observe_forecast(at: AppTest) -> dict[str, Any]:
    dots = chart_spec(at, "forecast-ageing")["data"]
    return {
        "tiles": [m[1] for m in metric_tiles(at)],
        "forecast": table(at, 0, FORECAST_COLUMNS),
        "clearance": table(at, 1, CLEARANCE_COLUMNS),
        "sle": table(at, 3, SLE_COLUMNS),
        "dots": sum(len(trace["y"]) for trace in dots),
    }


def expect_forecast(db: Path, view: View) -> dict[str, Any]:
    view = _without_range(view)
    forecast = dataset("install_forecast", db=db, **view)
    total = forecast.filter(pl.col("market") == "ALL").row(0, named=True)
    clearance = dataset("backlog_clearance", db=db, **view).filter(pl.col("market") == "ALL")
    return {
        "tiles": [
            fmt.count(total[c])
            for c in ("installs_p50", "installs_at_least_85", "installs_at_least_95", "installs_in_history")
        ],
        "forecast": records(forecast, FORECAST_COLUMNS),
        "clearance": records(clearance, CLEARANCE_COLUMNS),
        "sle": records(dataset("service_levels", db=db, **view).filter(pl.col("market") == "ALL"), SLE_COLUMNS),
        "dots": dataset("ageing_orders", db=db, **view).height,
    }


OBSERVE: dict[str, Callable[[AppTest], dict[str, Any]]] = {
    "overview": observe_overview,
    "backlog": observe_backlog,
    "exceptions": observe_exceptions,
    "changes": observe_changes,
    "readiness": observe_readiness,
    "install_to_invoice": observe_install_to_invoice,
    "data_health": observe_data_health,
    "forecast": observe_forecast,
}
EXPECT: dict[str, Callable[[Path, View], dict[str, Any]]] = {
    "overview": expect_overview,
    "backlog": expect_backlog,
    "exceptions": expect_exceptions,
    "changes": expect_changes,
    "readiness": expect_readiness,
    "install_to_invoice": expect_install_to_invoice,
    "data_health": expect_data_health,
    "forecast": expect_forecast,
}
# (plotly charts, st.dataframe tables) each page shows on the demo store with default filters
SHOWN: dict[str, tuple[int, int]] = {
    "overview": (1, 1),
    "backlog": (5, 1),
    "exceptions": (1, 1),
    "changes": (4, 1),
    "readiness": (3, 1),
    "install_to_invoice": (4, 2),
    "data_health": (1, 2),
    "forecast": (2, 5),
}


def widget_view(at: AppTest, page: str) -> View:
    """The dataset filters the sidebar widgets currently hold."""
    view: View = {
        "as_of": iso(at.selectbox(key="as_of").value),
        "markets": at.multiselect(key="market").value or None,
        "products": at.multiselect(key="product").value or None,
        "segments": at.multiselect(key="segment").value or None,
    }
    if page in RANGE_PAGES:
        view["start"] = iso(at.selectbox(key="from").value)
        view["end"] = iso(at.selectbox(key="to").value)
    return view


# --- 1. renders ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_title_charts_tables_and_filters(page, demo_db, monkeypatch, first_date):
    at = run_page(page, demo_db, monkeypatch)

    assert title(at) == PAGES[page]
    assert at.sidebar.title[0].value == "Ops Lens"
    n_charts, n_tables = SHOWN[page]
    assert len(charts(at)) == n_charts
    assert len(at.main.dataframe) == n_tables
    # a missing value reads "–" in every table, as in the tiles (Streamlit's own default is "None")
    assert [table.proto.placeholder for table in at.main.dataframe] == ["–"] * n_tables
    assert not infos(at) and not sidebar_warnings(at)
    assert at.selectbox(key="as_of").value == LATEST.isoformat()
    assert at.selectbox(key="as_of").options[0] == LATEST.isoformat()  # newest first
    for key in ("market", "product", "segment"):
        assert at.multiselect(key=key).value == []
    assert at.multiselect(key="market").options == ["COAST", "EAST", "METRO", "NORTH", "SOUTH", "WEST"]
    if page in RANGE_PAGES:  # no range by default: everything, as the CLI and the Overview count it
        assert at.selectbox(key="from").value is None
        assert at.selectbox(key="to").value is None
        assert first_date.isoformat() in at.selectbox(key="from").options
    else:
        assert "from" not in [s.key for s in at.selectbox]
    assert f"as of {LATEST} · all markets · all products · all segments" in page_caption(at)

    observed = OBSERVE[page](at)
    assert observed == EXPECT[page](demo_db, widget_view(at, page))


# --- 2. each filter changes the numbers to the dataset's --------------------------------------------

# name -> (widget values to set, dataset filters they mean, text a caption must then contain)
FILTER_CASES: dict[str, tuple[dict[str, Any], View, str]] = {
    "as_of": ({"as_of": OLDER.isoformat()}, {"as_of": OLDER}, f"as of {OLDER}"),
    "market": ({"market": ["NORTH"]}, {"markets": ["NORTH"]}, "markets: NORTH · "),
    "product": ({"product": ["fiber_2g"]}, {"products": ["fiber_2g"]}, "products: fiber_2g · "),
    "segment": ({"segment": ["business"]}, {"segments": ["business"]}, "segments: business"),
    "range": (
        {"from_": "2026-10-01", "to": "2026-10-31"},
        {"start": dt.date(2026, 10, 1), "end": dt.date(2026, 10, 31)},
        "dates 2026-10-01 to 2026-10-31",
    ),
}
# Data health is about each market's extract: freshness and rows per snapshot are per market, so
# product and segment filters leave its numbers as they are (the dataset ignores them too).
UNCHANGED = {("data_health", "product"), ("data_health", "segment")}


@pytest.mark.parametrize(
    ("page", "case"),
    [(p, c) for p in PAGES for c in FILTER_CASES if c != "range" or p in RANGE_PAGES],
)
def test_filter_changes_numbers_to_the_dataset(page, case, demo_db, monkeypatch):
    at = run_page(page, demo_db, monkeypatch)
    baseline_view = widget_view(at, page)
    before = OBSERVE[page](at)
    assert before == EXPECT[page](demo_db, baseline_view)

    widgets, filters, caption_text = FILTER_CASES[case]
    set_filters(at, **widgets)

    view = {**baseline_view, **filters}
    assert widget_view(at, page) == view
    after = OBSERVE[page](at)
    assert after == EXPECT[page](demo_db, view)
    if (page, case) not in UNCHANGED:
        assert after != before, f"{page}: the numbers did not change with the {case} filter"
    if case == "range":
        assert any(caption_text in c for c in main_captions(at)), main_captions(at)
    else:
        assert caption_text in page_caption(at)


# --- 3. a link sets the filters ---------------------------------------------------------------------

LINK = {"as_of": OLDER.isoformat(), "market": ["NORTH", "WEST"], "product": ["fiber_300m"], "segment": ["residential"]}
LINK_RANGE = {"from": "2026-10-05", "to": "2026-10-25"}


@pytest.mark.parametrize("page", PAGES)
def test_link_query_params_set_the_filters(page, demo_db, monkeypatch):
    link = {**LINK, **(LINK_RANGE if page in RANGE_PAGES else {})}
    at = run_page(page, demo_db, monkeypatch, link)

    assert at.selectbox(key="as_of").value == LINK["as_of"]
    assert at.multiselect(key="market").value == ["NORTH", "WEST"]
    assert at.multiselect(key="product").value == ["fiber_300m"]
    assert at.multiselect(key="segment").value == ["residential"]
    keys = FILTER_KEYS + (RANGE_KEYS if page in RANGE_PAGES else ())
    for key in keys:  # each filter is bound to the query parameter of its own name
        widget = at.selectbox(key=key) if key in ("as_of", "from", "to") else at.multiselect(key=key)
        assert widget.proto.query_param_key == key
    if page in RANGE_PAGES:
        assert (at.selectbox(key="from").value, at.selectbox(key="to").value) == ("2026-10-05", "2026-10-25")
    assert not sidebar_warnings(at)
    assert f"as of {OLDER} · markets: NORTH, WEST · products: fiber_300m · segments: residential" in page_caption(at)

    view: View = {"as_of": OLDER, "markets": ["NORTH", "WEST"], "products": ["fiber_300m"], "segments": ["residential"]}
    if page in RANGE_PAGES:
        view.update(start=dt.date(2026, 10, 5), end=dt.date(2026, 10, 25))
    assert OBSERVE[page](at) == EXPECT[page](demo_db, view)
    assert OBSERVE[page](at) != EXPECT[page](demo_db, {})  # the link really narrowed the view


# --- 4. unknown link values: named in a warning, defaults used --------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_unknown_link_values_warn_and_fall_back(page, demo_db, monkeypatch, first_date):
    link: dict[str, Any] = {"as_of": "1999-01-01", "market": ["NOWHERE"], "product": ["fiber_300m", "copper"]}
    if page in RANGE_PAGES:
        link["from"] = "2031-01-01"
    at = run_page(page, demo_db, monkeypatch, link)

    warnings = sidebar_warnings(at)
    for value in ("'1999-01-01'", "'NOWHERE'", "'copper'") + (("'2031-01-01'",) if page in RANGE_PAGES else ()):
        assert sum(value in w for w in warnings) == 1, (value, warnings)
    assert not any("fiber_300m" in w.split(";")[0] for w in warnings)  # the known value is not complained about
    # each says what is shown instead: a list keeps its known values, a single choice its default
    said = {value: next(w.split("; ")[-1] for w in warnings if value in w) for value in ("1999", "NOWHERE", "copper")}
    assert said == {
        "1999": "showing the latest snapshot.",
        "NOWHERE": "showing all markets.",
        "copper": "showing fiber_300m only.",
    }
    assert at.selectbox(key="as_of").value == LATEST.isoformat()
    assert at.multiselect(key="market").value == []
    assert at.multiselect(key="product").value == ["fiber_300m"]
    view: View = {"as_of": LATEST, "products": ["fiber_300m"]}
    if page in RANGE_PAGES:
        assert at.selectbox(key="from").value is None
    assert f"as of {LATEST} · all markets · products: fiber_300m · all segments" in page_caption(at)
    assert OBSERVE[page](at) == EXPECT[page](demo_db, view)
    url_values = [v for value in at.query_params.values() for v in ([value] if isinstance(value, str) else value)]
    assert not {"1999-01-01", "NOWHERE", "copper", "2031-01-01"} & set(url_values)


def test_malformed_as_of_in_link_warns_and_uses_latest(demo_db, monkeypatch):
    at = run_page("backlog", demo_db, monkeypatch, {"as_of": "yesterday", "segment": ["business"]})
    assert any("'yesterday'" in w for w in sidebar_warnings(at))
    assert at.selectbox(key="as_of").value == LATEST.isoformat()
    assert table(at) == records(dataset("backlog", db=demo_db, segments=["business"]))


# --- 5. a view that matches nothing -----------------------------------------------------------------


@pytest.mark.parametrize("page", ["backlog", "exceptions", "readiness"])
def test_market_without_rows_in_snapshot_shows_empty_state(page, demo_db, monkeypatch):
    at = run_page(page, demo_db, monkeypatch, NO_COAST_ROWS)

    assert title(at) == PAGES[page]
    notes = infos(at)
    assert len(notes) == 1 and notes[0].startswith("No ")
    assert "as of 2026-11-19 · markets: COAST" in notes[0]
    assert not charts(at) and not at.main.dataframe and not at.main.metric  # st.stop() after the note


def test_overview_market_without_rows_shows_empty_backlog_and_attention(demo_db, monkeypatch):
    at = run_page("overview", demo_db, monkeypatch, NO_COAST_ROWS)

    notes = infos(at)
    assert len(notes) == 2
    assert notes[0].startswith("No open orders for these filters (as of 2026-11-19 · markets: COAST")
    assert notes[1].startswith("No markets with open orders")
    assert not charts(at) and not at.main.dataframe
    view = {"as_of": dt.date(2026, 11, 19), "markets": ["COAST"]}
    assert metric_tiles(at) == _tiles(demo_db, view)
    assert metrics(at)["Open orders"] == "0"


def test_install_to_invoice_range_without_invoiced_installs_shows_empty_state(demo_db, monkeypatch):
    link = {"market": ["COAST"], "from": LATEST.isoformat(), "to": LATEST.isoformat()}
    summary = dataset("install_to_invoice", db=demo_db, markets=["COAST"], start=LATEST, end=LATEST)
    assert summary["invoiced_orders"].sum() == 0  # the premise: nobody installed that day is invoiced yet

    at = run_page("install_to_invoice", demo_db, monkeypatch, link)

    notes = infos(at)
    assert len(notes) == 1 and notes[0].startswith("No order in this view has been both installed and invoiced")
    assert f"markets: COAST · all products · all segments · dates {LATEST} to {LATEST}" in page_caption(at)
    assert not charts(at)
    # The unbilled orders are not filtered by install date and stay visible.
    unbilled = dataset("unbilled_orders", db=demo_db, markets=["COAST"])
    assert unbilled.height > 0
    assert any(f"{unbilled.height:,} orders" in c.value for c in at.main.caption)


@pytest.mark.parametrize("page", RANGE_PAGES)
def test_date_range_after_the_snapshot_shows_empty_states_not_an_error(page, demo_db, monkeypatch):
    """A link's range can start after its as-of date (found by bench/load.py: Data health raised)."""
    early = (LATEST - dt.timedelta(days=30)).isoformat()
    link = {"as_of": early, "from": (LATEST - dt.timedelta(days=5)).isoformat(), "to": LATEST.isoformat()}

    at = run_page(page, demo_db, monkeypatch, link)

    assert not at.exception
    if page == "data_health":
        assert any(note.startswith("No snapshots in this date range for these filters") for note in infos(at))


@pytest.fixture(scope="module")
def late_market_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small store in which market LATE sends its first extract on 2026-07-02."""
    from handmade import make_store

    rows = """
    snapshot_date | order_id | market | stage  | ordered_at
    2026-07-01    | E1       | EARLY  | intake | 2026-06-30
    2026-07-02    | E1       | EARLY  | intake | 2026-06-30
    2026-07-02    | L1       | LATE   | intake | 2026-07-01
    """
    return make_store(tmp_path_factory.mktemp("late_market"), rows)


def test_data_health_market_without_any_extract_yet_shows_empty_state(late_market_db, monkeypatch):
    assert dataset("freshness", db=late_market_db, as_of=dt.date(2026, 7, 1), markets=["LATE"]).is_empty()

    at = run_page("data_health", late_market_db, monkeypatch, {"as_of": "2026-07-01", "market": ["LATE"]})

    notes = infos(at)
    assert len(notes) == 1 and notes[0].startswith("No markets for these filters (as of 2026-07-01 · markets: LATE")
    assert not charts(at) and not at.main.dataframe

    at = run_page("data_health", late_market_db, monkeypatch, {"as_of": "2026-07-01"})  # all markets: EARLY only
    assert table(at, 0, ["market", "rows", "days_behind"]) == [{"market": "EARLY", "rows": 1, "days_behind": 0}]


# --- drill-downs ----------------------------------------------------------------------------------


def test_backlog_drill_lists_the_orders_behind_a_stage(demo_db, monkeypatch):
    at = run_page("backlog", demo_db, monkeypatch, {"market": ["NORTH"], "as_of": OLDER.isoformat()})
    backlog = dataset("backlog", db=demo_db, as_of=OLDER, markets=["NORTH"])
    assert at.selectbox(key="backlog-drill").value is None
    assert len(at.main.dataframe) == 1  # no order list before a stage is chosen

    for stage in ("scheduled", "awaiting_network"):
        at.selectbox(key="backlog-drill").set_value(stage)
        rerun(at)
        orders = dataset("orders", db=demo_db, as_of=OLDER, markets=["NORTH"], stages=[stage])
        n = orders.height
        assert n == backlog.filter(pl.col("stage") == stage)["orders"].item() > 0
        assert f"{n:,} orders in {stage_label(stage)}, longest in stage first" in main_captions(at)
        listed = table(at, 0, ["order_id", "market", "age_in_stage_days"])  # the list sits right under the chart
        assert sorted(r["order_id"] for r in listed) == sorted(orders["order_id"])
        assert {r["market"] for r in listed} == {"NORTH"}
        ages = [r["age_in_stage_days"] for r in listed]
        assert ages == sorted(ages, reverse=True)


def test_drill_downs_live_in_the_link(demo_db, monkeypatch):
    """A shared link restores the order list behind a chart, not only the filters."""
    # a link names a choice as the box shows it (Streamlit binds the formatted option)
    at = run_page("backlog", demo_db, monkeypatch, {"market": ["NORTH"], "backlog-drill": "Scheduled"})
    orders = dataset("orders", db=demo_db, markets=["NORTH"], stages=["scheduled"])
    assert at.selectbox(key="backlog-drill").value == "scheduled"
    assert sorted(r["order_id"] for r in table(at, 0, ["order_id"])) == sorted(orders["order_id"])
    bars = chart_spec(at, "backlog-chart-scheduled")["data"][0]
    assert bars["selectedpoints"] == [list(bars["customdata"]).index("scheduled")]  # the box's stage is lit

    link = {"exceptions-rules": [RULES["stalled"].label], "exceptions-stages": ["Intake"]}
    at = run_page("exceptions", demo_db, monkeypatch, link)
    assert at.multiselect(key="exceptions-rules").value == ["stalled"]
    assert at.multiselect(key="exceptions-stages").value == ["intake"]
    listed = dataset("exceptions", db=demo_db, rules=["stalled"], stages=["intake"])
    assert f"{listed.height:,} rows · sort by clicking a column header" in main_captions(at)

    at = run_page("readiness", demo_db, monkeypatch, {"readiness-drill": "WEST"})
    assert at.selectbox(key="readiness-drill").value == "WEST"


def test_install_week_chart_joins_complete_weeks_only_and_shows_each_sample(demo_db, monkeypatch):
    at = run_page("install_to_invoice", demo_db, monkeypatch)
    weekly = dataset("install_to_invoice_weekly", db=demo_db)
    assert 0 < weekly["complete"].sum() < weekly.height  # the demo has both kinds
    traces = {trace["name"]: trace for trace in chart_spec(at, "i2i-weekly")["data"]}
    assert traces["Invoiced orders"]["y"] == weekly["invoiced_orders"].to_list()
    line, circles = traces["P95"]["y"], traces["P95, incomplete week"]["y"]

    def gap(value):  # NaN in the typed array: no point
        return value is None or value != value

    for complete, p95, on_line, circled in zip(weekly["complete"], weekly["days_p95"], line, circles, strict=True):
        assert (on_line == p95 and gap(circled)) if complete else (gap(on_line) and circled == p95)
    assert any("an open circle is a week whose percentiles can still change" in c for c in main_captions(at))


def test_missing_extracts_are_gaps_not_drops_and_are_named(demo_db, monkeypatch):
    """COAST misses some days in the demo: the trend does not plunge there and the Overview says who is unranked."""
    gaps = dataset("snapshot_rows", db=demo_db).filter(pl.col("rows") == 0)
    assert set(gaps["market"]) == {"COAST"} and gaps.height >= 2
    at = run_page("backlog", demo_db, monkeypatch)
    spec = chart_spec(at, "trend-chart")
    missing = {d.isoformat() for d in gaps["snapshot_date"]}
    for trace in spec["data"][:-1]:  # the stages; the last trace marks the gaps
        for day, value in zip(trace["x"], trace["y"], strict=True):
            assert (value is None or value != value) == (day[:10] in missing), (trace["name"], day)
    assert spec["data"][-1]["name"] == "Extract missing" and len(spec["data"][-1]["x"]) == len(missing)
    assert len(spec["layout"]["shapes"]) == len(missing)  # one grey band per missing date
    assert any(f"COAST on {gaps.height} date(s)" in c for c in main_captions(at))

    day = gaps["snapshot_date"][0]
    at = run_page("overview", demo_db, monkeypatch, {"as_of": day.isoformat()})
    assert "COAST" not in [row["market"] for row in table(at)]
    assert f"Not ranked: COAST, with no extract on {day} (see Data health)." in main_captions(at)
    at = run_page("overview", demo_db, monkeypatch)
    assert not any(c.startswith("Not ranked") for c in main_captions(at))


def test_readiness_drill_lists_orders_awaiting_network_in_a_market(demo_db, monkeypatch):
    at = run_page("readiness", demo_db, monkeypatch, {"product": ["fiber_300m"]})
    readiness = dataset("readiness", db=demo_db, products=["fiber_300m"])
    assert at.selectbox(key="readiness-drill").options == readiness["market"].to_list()

    for market in ("WEST", "COAST"):
        at.selectbox(key="readiness-drill").set_value(market)
        rerun(at)
        orders = dataset("orders", db=demo_db, products=["fiber_300m"], markets=[market], stages=["awaiting_network"])
        n = orders.height
        assert n == readiness.filter(pl.col("market") == market)["awaiting_network"].item() > 0
        assert f"{n:,} orders in {market} awaiting network, longest waiting first" in main_captions(at)
        listed = table(at, 1, ["order_id", "market", "product", "age_days"])
        assert sorted(r["order_id"] for r in listed) == sorted(orders["order_id"])
        assert {(r["market"], r["product"]) for r in listed} == {(market, "fiber_300m")}
        ages = [r["age_days"] for r in listed]
        assert ages == sorted(ages, reverse=True)


def _listed_exceptions(at: AppTest) -> list[tuple[str, str, str]]:
    return sorted((r["order_id"], r["rule"], r["stage"]) for r in table(at, 0, ["order_id", "rule", "stage"]))


def _expected_exceptions(frame: pl.DataFrame) -> list[tuple[str, str, str]]:
    return sorted(
        (o, RULE_LABELS[r], stage_label(s)) for o, r, s in frame.select("order_id", "rule", "stage").iter_rows()
    )


def test_exceptions_rule_and_stage_pickers_narrow_the_list(demo_db, monkeypatch):
    at = run_page("exceptions", demo_db, monkeypatch, {"market": ["WEST", "COAST"]})
    view = {"markets": ["WEST", "COAST"]}
    everything = dataset("exceptions", db=demo_db, **view)
    assert _listed_exceptions(at) == _expected_exceptions(everything)
    # in lifecycle order, the stages that have exceptions here (terminal ones too: some rules apply to them)
    assert at.multiselect(key="exceptions-stages").options == [
        "Intake",
        "Awaiting network",
        "Awaiting appointment",
        "Scheduled",
        "Installed",
        "Activated",
        "Invoiced",
    ]

    steps = [
        ({"exceptions-rules": ["stalled"]}, {"rules": ["stalled"]}),
        ({"exceptions-rules": ["stalled", "missed_appointment"]}, {"rules": ["stalled", "missed_appointment"]}),
        (
            {"exceptions-rules": ["stalled", "missed_appointment"], "exceptions-stages": ["scheduled"]},
            {"rules": ["stalled", "missed_appointment"], "stages": ["scheduled"]},
        ),
        ({"exceptions-rules": [], "exceptions-stages": ["awaiting_network"]}, {"stages": ["awaiting_network"]}),
    ]
    for chosen, drill in steps:
        for key, value in chosen.items():
            at.multiselect(key=key).set_value(value)
        rerun(at)
        expected = dataset("exceptions", db=demo_db, **view, **drill)
        assert 0 < expected.height < everything.height
        assert _listed_exceptions(at) == _expected_exceptions(expected)
        assert f"{expected.height:,} rows · sort by clicking a column header" in main_captions(at)
        assert {r for _, r, _ in _listed_exceptions(at)} <= {RULE_LABELS[r] for r in drill.get("rules", RULES)}
        # the headline tiles keep describing the whole view, not the picked rows
        assert metrics(at)["Exception rows"] == f"{everything.height:,}"


# --- consistency the users rely on --------------------------------------------------------------------


def test_overview_attention_table_puts_the_market_and_its_short_reason_first(demo_db, monkeypatch):
    """On a phone only the first columns show: the market and a reason short enough to read whole."""
    at = run_page("overview", demo_db, monkeypatch)
    attention = dataset("market_attention", db=demo_db)
    shown = table(at)
    assert list(shown[0]) == ["market", "why", "exception_share", "mrr_at_risk", "attention_rank"]
    first = attention.row(0, named=True)
    rule = RULES[first["top_rule"]].label
    expected = f"{first['exception_orders']} of {first['orders']} orders; most: {rule} ({first['top_rule_orders']})"
    assert shown[0]["market"] == first["market"] and shown[0]["why"] == expected
    assert max(len(row["why"]) for row in shown) <= 40


def test_overview_tiles_show_decreases_as_decreases(demo_db, monkeypatch):
    """A change below zero must show as a fall (down arrow), above zero as a rise, zero as no change.

    On 2026-11-13 the headline has rises, falls and unchanged measures (checked below).
    """
    as_of = dt.date(2026, 11, 13)
    headline = dataset("headline", db=demo_db, as_of=as_of)
    changes = dict(zip(headline["label"], headline["change"], strict=True))
    assert min(changes.values()) < 0 < max(changes.values()) and 0 in changes.values()

    at = run_page("overview", demo_db, monkeypatch, {"as_of": as_of.isoformat()})

    shown = {m.label: m.proto for m in at.main.metric}
    assert set(shown) == set(changes)
    wrong = {}
    for label, change in changes.items():
        direction = shown[label].direction
        expected = "DOWN" if change < 0 else "UP" if change > 0 else "NONE"
        actual = {0: "DOWN", 1: "UP"}.get(direction, "NONE")
        if actual != expected:
            wrong[label] = f"change {change:+.4g} shown as {shown[label].delta!r} with arrow {actual}"
    assert not wrong, wrong


def test_install_to_invoice_default_view_matches_the_overview_and_the_dataset(demo_db, monkeypatch):
    """With no range chosen, the page shows the whole population, as `opslens export` and the Overview do."""
    at = run_page("install_to_invoice", demo_db, monkeypatch)
    summary = dataset("install_to_invoice", db=demo_db)
    total = summary.filter(pl.col("market") == "ALL").row(0, named=True)
    headline = dataset("headline", db=demo_db)
    p85_tile = headline.filter(pl.col("measure") == "install_to_invoice_p85")["value"].item()

    shown = metrics(at)
    assert (shown["Invoiced orders"], shown["P85"]) == (fmt.count(total["invoiced_orders"]), fmt.days(p85_tile))
    assert table(at) == records(summary)


# --- app.py -----------------------------------------------------------------------------------------


def test_app_opens_on_overview_inside_the_frame(demo_db, monkeypatch):
    use_store(monkeypatch, demo_db)
    at = AppTest.from_file(str(APP_FILE), default_timeout=TIMEOUT)
    at.query_params["market"] = ["SOUTH"]
    rerun(at)

    assert title(at) == "Overview"
    assert at.sidebar.title[0].value == "Ops Lens"
    assert "60 snapshots, 2026-09-22 to 2026-11-20" in at.sidebar.caption[0].value
    assert at.multiselect(key="market").value == ["SOUTH"]
    assert "as of 2026-11-20 · markets: SOUTH · all products · all segments" in page_caption(at)
    assert metric_tiles(at) == _tiles(demo_db, {"markets": ["SOUTH"]})
    assert len(charts(at)) == 1


def test_app_without_a_store_explains_how_to_create_one(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / "opslens.duckdb"
    use_store(monkeypatch, missing)
    at = AppTest.from_file(str(APP_FILE), default_timeout=TIMEOUT).run()

    assert_no_exception(at)
    errors = [shown(e.value) for e in at.error]
    assert len(errors) == 1 and str(missing) in errors[0] and "opslens demo" in errors[0]
    assert any("opslens demo" in m.value and "opslens ingest" in m.value for m in at.main.markdown)
    assert not at.multiselect and not at.selectbox and not at.main.metric  # no filters, no page
    assert not missing.exists()  # looking did not create an empty store
