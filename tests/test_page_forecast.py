"""The Forecast page on the demo store (60 days to 2026-11-20): its own pickers, empty states and drill-down.

The filters shared with every page are covered in tests/test_pages.py; here the horizon and history
pickers (bound to the URL), the "too little history" note, the clearance note and the drill-down to
the orders beyond the 85% service level, each against `queries.dataset`.
"""

from __future__ import annotations

import polars as pl
import pytest
from apptest_harness import chart_spec, infos, main_captions, metrics, records, rerun, run_page, sidebar_warnings, table

from opslens import charts
from opslens.charts import TOP_MARKETS as PAGE_MARKETS
from opslens.charts import stage_label
from opslens.cli import main
from opslens.queries import dataset

FORECAST_COLUMNS = ["market", "horizon_days", "installs_p50", "installs_at_least_85", "history_days"]


@pytest.fixture(autouse=True)
def _default_thresholds(monkeypatch, tmp_path):
    monkeypatch.setenv("OPSLENS_CONFIG", str(tmp_path / "no-such-opslens.toml"))


def test_horizon_and_history_come_from_the_link_and_change_the_numbers(demo_db, monkeypatch):
    at = run_page("forecast", demo_db, monkeypatch)
    assert (at.selectbox(key="horizon").value, at.selectbox(key="history").value) == ("28", "56")
    assert table(at, 0, FORECAST_COLUMNS) == records(dataset("install_forecast", db=demo_db), FORECAST_COLUMNS)

    at = run_page("forecast", demo_db, monkeypatch, {"horizon": "14", "history": "28", "market": ["NORTH"]})
    for key in ("horizon", "history"):
        assert at.selectbox(key=key).proto.query_param_key == key
    expected = dataset("install_forecast", db=demo_db, horizon=14, history=28, markets=["NORTH"])
    assert table(at, 0, FORECAST_COLUMNS) == records(expected, FORECAST_COLUMNS)
    assert {r["horizon_days"] for r in table(at, 0, FORECAST_COLUMNS)} == {14}
    assert "Installs in the next 14 days" in at.main.subheader[0].value
    sle = dataset("service_levels", db=demo_db, history=28, markets=["NORTH"]).filter(pl.col("market") == "ALL")
    assert table(at, 3, ["left_orders"]) == records(sle, ["left_orders"])

    at.selectbox(key="horizon").set_value("42")
    rerun(at)
    total = dataset("install_forecast", db=demo_db, horizon=42, history=28, markets=["NORTH"]).row(-1, named=True)
    assert metrics(at)["At least, 85% sure"] == f"{total['installs_at_least_85']:,}"


def test_a_horizon_not_offered_is_named_and_the_default_used(demo_db, monkeypatch):
    at = run_page("forecast", demo_db, monkeypatch, {"horizon": "9999"})
    assert any("horizon '9999'" in w and "28 days instead" in w for w in sidebar_warnings(at))
    assert at.selectbox(key="horizon").value == "28"


def test_too_little_history_says_how_much_is_needed(demo_db, monkeypatch):
    early = sorted(dataset("snapshot_rows", db=demo_db)["snapshot_date"].unique())[9]  # the 10th day
    at = run_page("forecast", demo_db, monkeypatch, {"as_of": early.isoformat()})
    notes = infos(at)
    assert len(notes) == 1
    assert "at least 28 days of snapshots up to the as-of date, and this view has 10" in notes[0]
    assert "18 more day(s)" in notes[0]
    assert not at.main.dataframe and not at.main.metric


def test_clearance_says_new_orders_are_not_counted(demo_db, monkeypatch):
    at = run_page("forecast", demo_db, monkeypatch)
    assert any("New orders arriving are not counted" in c for c in main_captions(at))
    clearance = dataset("backlog_clearance", db=demo_db).filter(pl.col("market") == "ALL")
    shown = table(at, 1, ["stage", "open_orders", "clear_by_85"])
    assert shown == records(clearance, ["stage", "open_orders", "clear_by_85"])


def test_ageing_dots_and_drill_down_to_the_orders_beyond_sle85(demo_db, monkeypatch):
    at = run_page("forecast", demo_db, monkeypatch, {"market": ["WEST", "COAST"]})
    ageing = dataset("ageing_orders", db=demo_db, markets=["WEST", "COAST"])
    spec = chart_spec(at, "forecast-ageing")
    assert sorted(a for trace in spec["data"] for a in trace["y"]) == sorted(ageing["age_in_stage_days"])
    lines = {round(shape["y0"], 6) for shape in spec["layout"]["shapes"]}
    sle = ageing.filter(pl.col("stage") == "scheduled").row(0, named=True)
    assert {round(sle[c], 6) for c in ("sle_p50_days", "sle_p85_days", "sle_p95_days")} <= lines
    tables_before = len(at.main.dataframe)

    at.selectbox(key="forecast-drill").set_value("scheduled")
    rerun(at)
    breaching = ageing.filter((pl.col("stage") == "scheduled") & pl.col("beyond_sle_85"))
    assert breaching.height > 0
    assert (
        f"{breaching.height:,} orders in {stage_label('scheduled')} beyond the 85% level, oldest first"
        in main_captions(at)
    )
    assert len(at.main.dataframe) == tables_before + 1
    listed = table(at, tables_before, ["order_id", "age_in_stage_days"])
    assert [r["order_id"] for r in listed] == breaching["order_id"].to_list()
    assert all(r["age_in_stage_days"] > sle["sle_p85_days"] for r in listed)


def test_many_open_orders_draw_an_even_sample_of_dots_and_say_so(demo_db, monkeypatch):
    monkeypatch.setattr(charts, "MAX_DOTS", 50)
    ageing = dataset("ageing_orders", db=demo_db)
    assert ageing.height > 50  # the premise

    at = run_page("forecast", demo_db, monkeypatch)

    drawn = [a for trace in chart_spec(at, "forecast-ageing")["data"] for a in trace["y"]]
    step = -(-ageing.height // 50)  # every k-th order, k = ceil(rows / 50)
    assert sorted(drawn) == sorted(ageing["age_in_stage_days"].to_list()[::step])
    assert len(drawn) <= 50
    assert any(f"Drawn: an even sample of {len(drawn):,} dots" in c for c in main_captions(at))


def test_dots_drawn_keeps_every_kth_row_beyond_the_limit():
    frame = pl.DataFrame({"n": range(10)})
    assert charts.dots_drawn(frame, 10)["n"].to_list() == list(range(10))
    assert charts.dots_drawn(frame, 3)["n"].to_list() == [0, 4, 8]  # every ceil(10 / 3) = 4th


@pytest.fixture(scope="module")
def many_markets_db(tmp_path_factory):
    """A generated store with more markets than the page simulates (PAGE_MARKETS)."""
    path = tmp_path_factory.mktemp("many") / "many.duckdb"
    markets = 3 * PAGE_MARKETS
    assert main(["demo", "--db", str(path), "--orders", "3000", "--days", "35", "--markets", str(markets)]) == 0
    return path


def test_with_many_markets_the_busiest_are_shown_with_unchanged_numbers(many_markets_db, monkeypatch):
    db = many_markets_db
    in_view = len(dataset("snapshot_rows", db=db)["market"].unique())
    assert in_view > PAGE_MARKETS
    at = run_page("forecast", db, monkeypatch)
    forecast = dataset("install_forecast", db=db)  # every market, as the CLI exports it
    per_market = forecast.filter(pl.col("market") != "ALL").sort(
        "installs_in_history", "market", descending=[True, False]
    )
    busiest = per_market["market"][:PAGE_MARKETS].to_list()
    assert per_market["installs_in_history"][PAGE_MARKETS - 1] > per_market["installs_in_history"][-1]  # a real cut
    expected = forecast.filter(pl.col("market").is_in(busiest) | (pl.col("market") == "ALL"))
    assert table(at, 0, FORECAST_COLUMNS) == records(expected, FORECAST_COLUMNS)
    assert metrics(at)["At least, 85% sure"] == f"{forecast.row(-1, named=True)['installs_at_least_85']:,}"
    captions = main_captions(at)
    assert any(f"the {PAGE_MARKETS} markets with the most installs" in c and f"of {in_view:,}" in c for c in captions)
    assert len(chart_spec(at, "forecast-installs")["data"][0]["x"]) == PAGE_MARKETS

    clearance = dataset("backlog_clearance", db=db)
    open_per_market = (
        clearance.filter(pl.col("market") != "ALL")
        .group_by("market")
        .agg(pl.col("open_orders").sum())
        .sort("open_orders", "market", descending=[True, False])
    )
    fullest = open_per_market["market"][:PAGE_MARKETS].to_list()
    columns = ["market", "stage", "open_orders", "left_in_history", "clear_by_85", "clear_by_95"]
    assert table(at, 1, columns) == records(clearance.filter(pl.col("market") == "ALL"), columns)
    assert table(at, 2, columns) == records(clearance.filter(pl.col("market").is_in(fullest)), columns)
    assert any(f"The {PAGE_MARKETS} markets with the most open orders, of {in_view:,}" in c for c in captions)


def test_a_market_filter_shows_every_picked_market_without_the_note(many_markets_db, monkeypatch):
    picked = sorted(dataset("snapshot_rows", db=many_markets_db)["market"].unique())[:3]
    at = run_page("forecast", many_markets_db, monkeypatch, {"market": picked})
    assert [r["market"] for r in table(at, 0, ["market"])] == [*picked, "ALL"]
    assert not any("markets with the most" in c for c in main_captions(at))
