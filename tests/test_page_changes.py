"""The Changes page in the app's frame (AppTest): the comparison date in the URL, the numbers, the
missing-extract warning, the drill-downs and the empty states.

On the hand-made store of tests/handmade_changes.py the numbers are checked against values worked
out by hand; on the demo store against `queries.dataset` with the same filters.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest
from apptest_harness import (
    chart_spec,
    infos,
    main_captions,
    metrics,
    page_caption,
    records,
    rerun,
    run_page,
    sidebar_warnings,
    table,
)
from handmade import make_store
from handmade_changes import ROWS

from opslens.queries import dataset

LATEST = "2026-11-20"


@pytest.fixture(scope="module")
def handmade_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_store(tmp_path_factory.mktemp("changes_page"), ROWS)


@pytest.fixture(autouse=True)
def _default_thresholds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPSLENS_CONFIG", str(tmp_path / "no-such-opslens.toml"))


def test_handmade_numbers_and_the_missing_extract(handmade_db, monkeypatch):
    at = run_page("changes", handmade_db, monkeypatch)
    assert "compared with 2026-03-02" in page_caption(at)  # the default across the gap of 03-03..03-09
    assert page_caption(at).startswith("What changed in 10 days")
    # ALL = NORTH and SOUTH: new S2, N3, N7 (missing); resolved N2, N6, N7, N8; persisting N6, N1, N4, M1, S1
    assert metrics(at) == {"New": "3", "Resolved": "4", "Persisting": "5", "Net change": "-1"}
    warnings = [w.value for w in at.main.warning]
    assert len(warnings) == 1 and warnings[0].startswith("Not compared: WEST (no extract on 2026-03-02)")
    assert table(at, 0) == [
        {"market": "NORTH", "rows_then": 10, "rows_now": 7, "reported_both": True},
        {"market": "SOUTH", "rows_then": 2, "rows_now": 3, "reported_both": True},
        {"market": "WEST", "rows_then": 0, "rows_now": 1, "reported_both": False},
    ]
    # the heatmap still shows WEST's cell, labelled, with the others
    heatmap = chart_spec(at, "changes-heatmap")["data"][0]
    fallout = heatmap["y"].index("Order fallout")
    assert dict(zip(heatmap["x"], heatmap["text"][fallout], strict=True)) == {
        "NORTH": "+1 / −4",
        "SOUTH": "+0 / −0",
        "WEST": "+1 / −0",
    }
    # B1 went from scheduled back to awaiting network
    assert table(at, 1, ["order_id", "stage_then", "stage_now", "stages_back"]) == [
        {"order_id": "B1", "stage_then": "Scheduled", "stage_now": "Awaiting network", "stages_back": 2}
    ]


def test_picker_is_in_the_url_and_changes_the_numbers(handmade_db, monkeypatch):
    at = run_page("changes", handmade_db, monkeypatch, {"compare_to": "2026-03-10"})
    picker = at.selectbox(key="compare_to")
    assert picker.proto.query_param_key == "compare_to"
    assert picker.value == "2026-03-10"
    assert picker.options == ["2026-03-10", "2026-03-02", "2026-03-01"]  # snapshot dates before S
    # against 03-10: new N3 (fallout), N4 (fallout back on), S2 (repeat visit), N7 (missing);
    # resolved N5, N6, N7 (fallout) and N8 (missing on 03-10, NORTH's snapshot after 03-02, gone for good at S);
    # persisting N1, M1, S1, W1 (fallout; WEST reported on 03-10) and N6 (repeat visit)
    assert metrics(at) == {"New": "4", "Resolved": "4", "Persisting": "5", "Net change": "+0"}
    assert not at.main.warning  # every market reported on both dates

    picker.set_value("2026-03-01")
    rerun(at)  # (that the URL follows the picker is checked in Chromium: AppTest does not write the URL back)
    assert "compared with 2026-03-01" in page_caption(at)
    assert "NORTH" in at.main.warning[0].value and "SOUTH" in at.main.warning[0].value


def test_drill_down_lists_the_exceptions_behind_a_number(demo_db, monkeypatch):
    at = run_page("changes", demo_db, monkeypatch, {"market": ["NORTH"]})
    assert len(at.main.dataframe) == 1  # nothing chosen yet
    at.selectbox(key="changes-rule").set_value("stalled")
    at.selectbox(key="changes-kind").set_value("resolved")
    rerun(at)
    expected = dataset("exception_changes", db=demo_db, markets=["NORTH"], rules=["stalled"]).filter(
        pl.col("change") == "resolved"
    )
    assert expected.height > 0
    columns = ["order_id", "market", "rule", "change", "stage_then", "stage_now"]
    assert table(at, 1, columns) == records(expected, columns)
    total = dataset("changes", db=demo_db, markets=["NORTH"]).filter(market="NORTH", rule="stalled")
    assert expected.height == total["resolved"].item()
    assert f"{expected.height:,} resolved Stalled exceptions" in main_captions(at)


def test_backlog_drill_down_shows_the_orders_now_and_then(demo_db, monkeypatch):
    at = run_page("changes", demo_db, monkeypatch)
    at.selectbox(key="changes-stage").set_value("scheduled")
    at.selectbox(key="changes-stage-market").set_value("WEST")
    rerun(at)
    now = dataset("orders", db=demo_db, stages=["scheduled"], markets=["WEST"])
    then = dataset("orders", db=demo_db, stages=["scheduled"], markets=["WEST"], as_of=dt.date(2026, 11, 13))
    row = dataset("backlog_changes", db=demo_db).filter(market="WEST", stage="scheduled").row(0, named=True)
    assert (now.height, then.height) == (row["orders_now"], row["orders_then"])
    assert sorted(r["order_id"] for r in table(at, 1)) == sorted(now["order_id"])
    assert sorted(r["order_id"] for r in table(at, 2)) == sorted(then["order_id"])


def test_link_to_an_invalid_comparison_date_warns_and_uses_the_default(demo_db, monkeypatch):
    at = run_page("changes", demo_db, monkeypatch, {"as_of": "2026-11-10", "compare_to": "2026-11-15"})
    warnings = sidebar_warnings(at)
    assert any("'2026-11-15'" in w and "not a snapshot date before 2026-11-10" in w for w in warnings), warnings
    assert at.selectbox(key="compare_to").value is None
    assert "compared with 2026-11-03" in page_caption(at)
    expected = dataset("changes", db=demo_db, as_of=dt.date(2026, 11, 10)).filter(market="ALL")
    assert metrics(at)["New"] == f"{expected['new'].sum():,}"


def test_first_snapshot_has_nothing_to_compare_with(handmade_db, monkeypatch):
    at = run_page("changes", handmade_db, monkeypatch, {"as_of": "2026-03-01"})
    notes = infos(at)
    assert len(notes) == 1 and notes[0].startswith("No earlier snapshot to compare with: 2026-03-01")
    assert not at.main.metric and not at.main.dataframe
    assert "compare_to" not in [s.key for s in at.selectbox]


UNCHANGED = """
snapshot_date | order_id | market | stage            | ordered_at | mrr | fallout_code
2026-03-01    | A1       | NORTH  | awaiting_network | 2026-02-25 | 10  | F
2026-03-01    | A2       | NORTH  | awaiting_network | 2026-02-25 | 20  |
2026-03-08    | A1       | NORTH  | awaiting_network | 2026-02-25 | 10  | F
2026-03-08    | A2       | NORTH  | awaiting_network | 2026-02-25 | 20  |
"""


def test_nothing_changed(tmp_path, monkeypatch):
    db = make_store(tmp_path, UNCHANGED)
    at = run_page("changes", db, monkeypatch)
    notes = infos(at)
    assert notes == ["Nothing changed: no exception is new or resolved since 2026-03-01 (1 persist) for these filters."]
    assert metrics(at) == {"New": "0", "Resolved": "0", "Persisting": "1", "Net change": "+0"}
    assert [c.key for c in at.main.get("plotly_chart")] == ["changes-backlog", "changes-backlog-map"]


# --- clicking the charts drills down -----------------------------------------------------------------


def _click(at, chart_key: str, customdata: list) -> None:
    """What st.plotly_chart(on_select='rerun') keeps in session state after a click on one point."""
    point = {"customdata": customdata, "curve_number": 0, "point_index": 0}
    at.session_state[chart_key] = SimpleNamespace(selection=SimpleNamespace(points=[point]))


def _cell(trace: dict, x: str, y: str) -> int:
    """The index of the heatmap's clickable marker at (x, y)."""
    return next(i for i, at in enumerate(zip(trace["x"], trace["y"], strict=True)) if at == (x, y))


def _drilled(at) -> list[tuple[str, str, str]]:
    return [(r["order_id"], r["market"], r["change"]) for r in table(at, 1)]


def test_clicking_a_bar_lists_its_orders_and_sets_the_boxes(handmade_db, monkeypatch):
    at = run_page("changes", handmade_db, monkeypatch)
    bars = chart_spec(at, "changes-bars")["data"]
    resolved = next(trace for trace in bars if trace["name"] == "Resolved")
    fallout = resolved["y"].index("Order fallout")
    # ALL fallout resolved: N2 (cleared), N6 (cancelled), N7 and N8 (absent at S)
    assert resolved["customdata"][fallout] == [4, "fallout", "resolved"]

    _click(at, "changes-bars", resolved["customdata"][fallout])
    rerun(at)
    boxes = (at.selectbox(key=k).value for k in ("changes-rule", "changes-kind", "changes-market"))
    assert tuple(boxes) == ("fallout", "resolved", "ALL")
    assert sorted(_drilled(at)) == [
        ("N2", "NORTH", "resolved"),
        ("N6", "NORTH", "resolved"),
        ("N7", "NORTH", "resolved"),
        ("N8", "NORTH", "resolved"),
    ]
    assert "4 resolved Order fallout exceptions in the markets that reported on both dates" in main_captions(at)

    # the boxes stay the one selection: a choice made after the click wins over the chart's old point
    at.selectbox(key="changes-kind").set_value("persisting")
    rerun(at)
    assert at.selectbox(key="changes-kind").value == "persisting"
    assert sorted(_drilled(at)) == [
        ("M1", "SOUTH", "persisting"),
        ("N1", "NORTH", "persisting"),
        ("N4", "NORTH", "persisting"),
        ("S1", "SOUTH", "persisting"),
    ]


def test_clicking_a_heatmap_cell_lists_its_new_and_resolved_orders(handmade_db, monkeypatch):
    at = run_page("changes", handmade_db, monkeypatch)
    cells = chart_spec(at, "changes-heatmap")["data"][1]  # the clickable markers over the cells
    west = _cell(cells, "WEST", "Order fallout")
    assert cells["customdata"][west] == ["WEST", "fallout"] and cells["text"][west] == "+1 / −0"

    _click(at, "changes-heatmap", cells["customdata"][west])
    rerun(at)
    boxes = (at.selectbox(key=k).value for k in ("changes-rule", "changes-kind", "changes-market"))
    assert tuple(boxes) == ("fallout", "changed", "WEST")
    assert _drilled(at) == [("W1", "WEST", "new")]  # new although WEST sent no extract at C: the row says so
    assert "1 new or resolved Order fallout exceptions in WEST" in main_captions(at)

    north = cells["customdata"][_cell(cells, "NORTH", "Order fallout")]
    _click(at, "changes-heatmap", north)  # +1 / −4: N3 new; N2, N6, N7, N8 resolved
    rerun(at)
    assert sorted(_drilled(at)) == [
        ("N2", "NORTH", "resolved"),
        ("N3", "NORTH", "new"),
        ("N6", "NORTH", "resolved"),
        ("N7", "NORTH", "resolved"),
        ("N8", "NORTH", "resolved"),
    ]


def _many_markets() -> str:
    """25 markets; market Mi has i orders, without exceptions on 03-01 and with a fallout on 03-08."""
    rows = ["snapshot_date | order_id | market | stage | ordered_at | mrr | fallout_code"]
    for i in range(1, 26):
        for j in range(i):
            for day, code in (("2026-03-01", ""), ("2026-03-08", "F")):
                rows.append(f"{day} | O{i:02d}-{j:02d} | M{i:02d} | awaiting_network | 2026-02-25 | 10 | {code}")
    return "\n".join(rows) + "\n"


def test_per_market_charts_show_the_top_markets_and_sum_the_rest(tmp_path, monkeypatch):
    db = make_store(tmp_path, _many_markets())
    at = run_page("changes", db, monkeypatch)
    heatmap = chart_spec(at, "changes-heatmap")["data"][0]
    # the 20 markets with the most new + resolved: M06..M25; M01..M05 (1 + 2 + 3 + 4 + 5 = 15 new) summed
    assert heatmap["x"] == sorted([f"M{i:02d}" for i in range(6, 26)] + ["Other (5 markets)"])
    cells = dict(zip(heatmap["x"], heatmap["text"][heatmap["y"].index("Order fallout")], strict=True))
    assert cells["Other (5 markets)"] == "+15 / −0" and cells["M25"] == "+25 / −0"
    note = "Drawn: the 20 markets with the most change; the other 5 are summed in “Other”."
    assert sum(note in caption for caption in main_captions(at)) == 2  # the exceptions and the backlog heatmaps
    # every market is still in the drill-down's box
    assert len(at.selectbox(key="changes-market").options) == 26  # 25 markets and ALL
