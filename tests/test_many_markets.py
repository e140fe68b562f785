"""Many markets: per-market charts draw the top markets and sum the rest, tables keep every market.

`charts.top_n` is checked on a hand-made frame; the pages on a demo store with 30 markets (more than
`charts.TOP_MARKETS` = 20), where every chart used to draw all 30.
"""

from __future__ import annotations

import polars as pl
import pytest
from apptest_harness import assert_no_exception, chart_spec, main_captions, run_page, table
from conftest import MANY_MARKETS as MARKETS

from opslens import charts
from opslens.app.text import listed, plain_list
from opslens.queries import FilterError, dataset


def test_top_n_keeps_the_largest_in_frame_order_and_sums_the_rest():
    frame = pl.DataFrame(
        {
            "market": ["A", "B", "C", "D", "E"],
            "orders": [5, 9, 9, 1, 2],  # B and C tie at 9: both kept; A (5) third
            "booked": [1, 0, 2, 3, 4],
            "p50": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    drawn, hidden = charts.top_n(frame, "market", "orders", n=3, summed=("orders", "booked"))
    assert hidden == 2
    assert drawn.to_dicts() == [
        {"market": "A", "orders": 5, "booked": 1, "p50": 1.0},
        {"market": "B", "orders": 9, "booked": 0, "p50": 2.0},
        {"market": "C", "orders": 9, "booked": 2, "p50": 3.0},
        {"market": "Other (2 markets)", "orders": 3, "booked": 7, "p50": None},  # D + E; a P50 does not add
    ]
    top, hidden = charts.top_n(frame, "market", "orders", n=2)
    assert (top["market"].to_list(), hidden) == (["B", "C"], 3)  # no "Other" row for measures that do not add
    ties, _ = charts.top_n(frame.with_columns(pl.lit(1).alias("orders")), "market", "orders", n=2)
    assert ties["market"].to_list() == ["A", "B"]  # equal totals: by name


def test_top_n_of_a_long_frame_sums_the_rest_per_key_and_ranks_by_an_expression():
    long = pl.DataFrame(
        {
            "rule": ["stalled", "stalled", "stalled", "late", "late"],
            "market": ["A", "B", "C", "A", "C"],
            "orders": [1, 4, 2, 3, 5],
        }
    )  # totals: A 4, B 4, C 7
    drawn, hidden = charts.top_n(long, "market", "orders", n=1, summed=("orders",), keys=("rule",))
    assert hidden == 2
    assert drawn.to_dicts() == [
        {"rule": "stalled", "market": "C", "orders": 2},
        {"rule": "late", "market": "C", "orders": 5},
        {"rule": "stalled", "market": "Other (2 markets)", "orders": 5},
        {"rule": "late", "market": "Other (2 markets)", "orders": 3},
    ]
    gaps, _ = charts.top_n(long, "market", pl.col("orders") < 3, n=1)  # A has two rows under 3, B none, C one
    assert gaps["market"].unique().to_list() == ["A"]
    same, hidden = charts.top_n(long, "market", "orders", n=3, summed=("orders",))
    assert (same.equals(long), hidden) == (True, 0)


def test_heatmap_puts_other_last_and_rows_in_the_given_order():
    frame = pl.DataFrame(
        {"market": ["Z", "Other (3 markets)", "A", "Z"], "rule": ["r2", "r1", "r1", "r1"], "orders": [1, 2, 3, 4]}
    )
    figure = charts.heatmap(frame, "market", "rule", "orders", "t", "Market", "Rule", y_order=["r1", "r2", "r3"])
    assert list(figure.data[0].x) == ["A", "Z", "Other (3 markets)"]
    assert list(figure.data[0].y) == ["r1", "r2"]


def test_lists_in_notices_name_ten_then_count_the_rest():
    assert listed(range(3)) == "0, 1, 2"
    assert listed(range(12)) == "0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 2 more"
    assert listed(range(1200), limit=2) == "0, 1 and 1,198 more"
    assert plain_list(["[a](x)", "b", "c"], limit=1) == r"\[a\]\(x\) and 2 more"


def _categories(spec: dict, axis: str = "x") -> list:
    return list(dict.fromkeys(v for trace in spec["data"] for v in trace[axis]))


def test_readiness_draws_the_20_markets_with_most_waiting_and_sums_the_rest(many_markets_db, monkeypatch):
    at = run_page("readiness", many_markets_db, monkeypatch)
    assert_no_exception(at)
    readiness = dataset("readiness", db=many_markets_db)
    assert readiness.height == MARKETS and len(table(at)) == MARKETS  # the table keeps every market
    ranked = readiness.sort(["awaiting_network", "market"], descending=[True, False])
    top = set(ranked["market"].head(20))
    waiting = chart_spec(at, "readiness-orders")
    assert _categories(waiting)[:-1] == [m for m in readiness["market"] if m in top]
    assert _categories(waiting)[-1] == "Other (10 markets)"
    rest = ranked.tail(10)
    bars = {trace["name"]: dict(zip(trace["x"], trace["y"], strict=True)) for trace in waiting["data"]}
    assert bars["Awaiting network"]["Other (10 markets)"] == rest["awaiting_network"].sum()
    assert bars["Booked before ready"]["Other (10 markets)"] == rest["scheduled_before_ready"].sum()
    for key in ("readiness-days", "readiness-share"):  # percentiles and shares: the same markets, no sum
        assert set(_categories(chart_spec(at, key))) == top
    assert any("Drawn: the 20 markets with the most orders awaiting network" in c for c in main_captions(at))


def test_exceptions_heatmap_sums_all_but_20_markets_into_other(many_markets_db, monkeypatch):
    at = run_page("exceptions", many_markets_db, monkeypatch)
    assert_no_exception(at)
    counts = dataset("exception_counts", db=many_markets_db)
    assert counts["market"].n_unique() > 20
    cells = chart_spec(at, "exceptions-heatmap")["data"][0]
    assert len(cells["x"]) == 21 and cells["x"][-1].startswith("Other (")
    total = sum(v for row in cells["z"] for v in row)
    assert total == counts["orders"].sum()  # every exception is in a cell, the hidden ones in Other
    assert any("the other" in c and "summed in “Other”" in c for c in main_captions(at))


def test_install_to_invoice_and_data_health_draw_20_markets(many_markets_db, monkeypatch):
    at = run_page("install_to_invoice", many_markets_db, monkeypatch)
    assert_no_exception(at)
    assert len(_categories(chart_spec(at, "i2i-markets"))) == 20
    at = run_page("data_health", many_markets_db, monkeypatch)
    assert_no_exception(at)
    assert len(chart_spec(at, "health-rows")["data"][0]["y"]) == 20
    assert any("Drawn: the 20 markets with the most missing extracts" in c for c in main_captions(at))


def test_an_unknown_market_names_twenty_markets_then_counts_the_rest(many_markets_db):
    with pytest.raises(FilterError) as raised:
        dataset("backlog", db=many_markets_db, markets=["NOPE"])
    named = dataset("freshness", db=many_markets_db)["market"].sort().head(20).to_list()
    assert str(raised.value) == f"unknown market 'NOPE'; this store's markets: {', '.join(named)} and 10 more"
