"""Unit tests for the app's building blocks: number formatting, tiles and drill choice (opslens/app),
table exports (opslens/export.py) and chart exports (opslens/charts.py, Kaleido through Chromium)."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import struct
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import polars as pl
import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

from opslens import charts
from opslens.app import fmt
from opslens.export import MIME_TYPES, TABLE_FORMATS, file_name, spreadsheet_safe, table_bytes
from opslens.queries import dataset

MINUS_SIGNS = ("-", "\u2212")  # hyphen-minus or the typographic minus sign

# --- opslens/app/fmt.py ---------------------------------------------------------------------------


@pytest.mark.parametrize("formatter", [fmt.count, fmt.money, fmt.days, fmt.share])
def test_formatters_show_a_dash_for_no_value(formatter):
    assert formatter(None) == fmt.NONE == "–"


def test_count():
    assert fmt.count(0) == "0"
    assert fmt.count(660.0) == "660"
    assert fmt.count(1234) == "1,234"
    assert fmt.count(1234.6) == "1,235"
    assert fmt.count(1_234_567) == "1,234,567"


def test_counted_is_singular_for_one_only():
    assert fmt.counted(1, "open order") == "1 open order"
    assert fmt.counted(0, "order") == "0 orders"
    assert fmt.counted(2, "order") == "2 orders"
    assert fmt.counted(1234, "order") == "1,234 orders"


def test_money_per_month_in_thousands_from_ten_thousand():
    assert fmt.money(0) == "$0"
    assert fmt.money(950) == "$950"
    assert fmt.money(9_999.4) == "$9,999"
    assert fmt.money(10_000) == "$10.0k"
    assert fmt.money(45_576.75) == "$45.6k"
    assert fmt.money(1_234_567) == "$1.2M"


def test_days_and_share():
    assert fmt.days(0) == "0.0 d"
    assert fmt.days(3) == "3.0 d"
    assert fmt.days(7.26) == "7.3 d"
    assert fmt.days(1234.5) == "1,234.5 d"
    assert fmt.share(0) == "0.0%"
    assert fmt.share(0.171212) == "17.1%"
    assert fmt.share(1) == "100.0%"


def test_formatters_by_unit():
    by_unit = dict(fmt.FORMATTERS)
    assert by_unit == {"orders": fmt.count, "$/month": fmt.money, "days": fmt.days, "share of open": fmt.share}


@pytest.mark.parametrize("unit", ["orders", "$/month", "days", "share of open", "unknown"])
def test_no_change_without_a_previous_snapshot(unit):
    assert fmt.change(None, unit) is None


def test_positive_change_in_the_measures_unit():
    assert fmt.change(114, "orders") == "+114"
    assert fmt.change(8924.1, "$/month") == "+$8,924"
    assert fmt.change(12_419.74, "$/month") == "+$12.4k"
    assert fmt.change(2.5, "days") == "+2.5 d"
    assert fmt.change(3, "unknown unit") == "+3"  # falls back to a count


@pytest.mark.parametrize(
    ("value", "unit", "magnitude"),
    [
        (-109, "orders", "109"),
        (-1234.4, "orders", "1,234"),
        (-8124.55, "$/month", "$8,125"),
        (-12_345, "$/month", "$12.3k"),  # thousands as for a positive amount
        (-1.5, "days", "1.5 d"),
    ],
)
def test_negative_change_is_a_minus_and_the_magnitude(value, unit, magnitude):
    text = fmt.change(value, unit)
    assert text[0] in MINUS_SIGNS
    assert text[1:] == magnitude


def test_share_change_in_percentage_points():
    assert fmt.change(0.064985, "share of open") == "+6.5 pts"
    assert fmt.change(0.0, "share of open") == "+0.0 pts"
    negative = fmt.change(-0.0632385, "share of open")
    assert negative[0] in MINUS_SIGNS and negative[1:] == "6.3 pts"


def _tiles_script(changes: list[float], unit: str) -> None:
    import streamlit as st

    from opslens.app import fmt, widgets

    for number, value in enumerate(changes):
        widgets.tile(st, f"tile {number}", "1", value, fmt.change(value, unit), "help")


@pytest.mark.parametrize("unit", ["orders", "$/month", "days", "share of open"])
def test_tile_shows_a_fall_as_down_and_better_when_up_is_worse(unit):
    """st.metric reads the delta text: a fall must arrive as a fall (down arrow, green for 'worse when up')."""
    at = AppTest.from_function(_tiles_script, args=([-5.0, 5.0, 0.0], unit)).run()
    assert not at.exception
    fall, rise, same = (m.proto for m in at.metric)
    proto = type(fall)
    assert (fall.direction, fall.color) == (proto.MetricDirection.DOWN, proto.MetricColor.GREEN), fall.delta
    assert (rise.direction, rise.color) == (proto.MetricDirection.UP, proto.MetricColor.RED), rise.delta
    assert same.color == proto.MetricColor.GRAY, f"an unchanged measure shows {same.delta!r} as a change"


# --- opslens/app/widgets.py: drill_choice ------------------------------------------------------------


def _drill_script() -> None:
    import plotly.graph_objects as go
    import streamlit as st

    from opslens.app import widgets

    options = ["intake", "scheduled", "installed"]
    chart = widgets.DrillChart(st.container(), go.Figure(go.Bar(x=[1, 2, 3], y=options)), "chart", options)
    choice = widgets.drill_choice("Stage", options, "drill", charts=(chart,))
    st.text(f"chosen: {choice}")


def _chart_click(index: int) -> SimpleNamespace:
    """What st.plotly_chart(on_select='rerun') keeps in session state after a click on a bar."""
    return SimpleNamespace(selection=SimpleNamespace(points=[{"point_index": index, "curve_number": 0}]))


def _drawn_key(at: AppTest) -> str:
    return at.session_state["chart-drawn"]


def test_drill_choice_follows_a_chart_click_and_then_the_select_box():
    at = AppTest.from_function(_drill_script).run()
    assert at.selectbox(key="drill").value is None
    assert at.text[0].value == "chosen: None"
    assert _drawn_key(at) == "chart-none"

    at.session_state["chart-none"] = _chart_click(1)  # the user clicks the second bar
    at.run()
    assert at.selectbox(key="drill").value == "scheduled"
    assert at.text[0].value == "chosen: scheduled"
    assert _drawn_key(at) == "chart-scheduled"  # a new chart: no old selection of its own

    # The user now picks another stage in the select box: the click made before does not win again.
    at.selectbox(key="drill").set_value("installed").run()
    assert at.text[0].value == "chosen: installed", "the chart's old selection overrode the user's choice"
    assert _drawn_key(at) == "chart-installed"
    lit = [c for c in at.get("plotly_chart") if c.proto.id and "installed" in (c.key or "")]
    assert lit and '"selectedpoints":[2]' in lit[0].proto.spec.replace(" ", "")  # the box's stage is the bar lit


# --- opslens/export.py ----------------------------------------------------------------------------

FORMULA_STARTS = ["=1+2", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"]
HARMLESS = ["plain", "a=b", "x-1", " =leading space", "", None]


def test_spreadsheet_safe_escapes_text_that_would_run_as_a_formula():
    frame = pl.DataFrame({"text": FORMULA_STARTS + HARMLESS})
    safe = spreadsheet_safe(frame)["text"].to_list()
    assert safe[: len(FORMULA_STARTS)] == ["'" + value for value in FORMULA_STARTS]
    assert safe[len(FORMULA_STARTS) :] == HARMLESS


def test_spreadsheet_safe_joins_lists_and_leaves_numbers_dates_alone():
    frame = pl.DataFrame(
        {
            "exceptions": [["stalled", "fallout"], ["=HYPERLINK(x)", "y"], [], None],
            "mrr": [-12.5, 0.0, None, 40.0],
            "count": [-1, 2, 3, None],
            "day": [dt.date(2026, 1, 1), None, dt.date(2026, 1, 3), dt.date(2026, 1, 4)],
        }
    )
    safe = spreadsheet_safe(frame)
    assert safe.schema["exceptions"] == pl.String
    assert safe["exceptions"].to_list() == ["stalled; fallout", "'=HYPERLINK(x); y", "", None]
    assert safe.drop("exceptions").equals(frame.drop("exceptions"))
    assert safe.columns == frame.columns


@pytest.fixture(scope="module")
def orders(demo_db: Path) -> pl.DataFrame:
    """A real dataset with text, numbers, nulls, timestamps and a list column."""
    frame = dataset("orders", db=demo_db, markets=["WEST"], stages=["scheduled", "awaiting_network"])
    assert frame.height > 20
    assert frame.schema["exceptions"] == pl.List(pl.String)
    return frame


META = {"dataset": "orders", "as_of": "2026-11-20", "markets": "WEST", "stages": "scheduled, awaiting_network"}


def test_csv_reads_back_with_the_same_rows(orders):
    data = table_bytes(orders, "csv", META)
    back = pl.read_csv(io.BytesIO(data), infer_schema=False)
    assert back.columns == orders.columns
    assert back.height == orders.height
    assert back["order_id"].to_list() == orders["order_id"].to_list()
    assert back["mrr"].cast(pl.Float64).to_list() == orders["mrr"].to_list()
    joined = [None if v is None else "; ".join(v) for v in orders["exceptions"].to_list()]
    assert [v or "" for v in back["exceptions"].to_list()] == [v or "" for v in joined]


def test_json_has_meta_and_rows(orders):
    document = json.loads(table_bytes(orders, "json", META))
    assert set(document) == {"meta", "rows"}
    assert document["meta"] == META
    rows = document["rows"]
    assert len(rows) == orders.height
    assert [r["order_id"] for r in rows] == orders["order_id"].to_list()
    assert [r["exceptions"] for r in rows] == orders["exceptions"].to_list()
    assert [r["age_days"] for r in rows] == orders["age_days"].to_list()
    assert set(rows[0]) == set(orders.columns)


def test_parquet_reads_back_identical_with_metadata(orders):
    data = table_bytes(orders, "parquet", META)
    assert pl.read_parquet(io.BytesIO(data)).equals(orders)
    metadata = pq.ParquetFile(io.BytesIO(data)).metadata.metadata  # the file's key-value metadata
    assert json.loads(metadata[b"opslens"]) == META


def test_xlsx_has_the_rows_and_an_about_sheet(orders):
    workbook = openpyxl.load_workbook(io.BytesIO(table_bytes(orders, "xlsx", META)))
    assert workbook.sheetnames == ["data", "about"]
    rows = list(workbook["data"].values)
    assert list(rows[0]) == orders.columns
    assert len(rows) - 1 == orders.height
    column = orders.columns.index("order_id")
    assert [r[column] for r in rows[1:]] == orders["order_id"].to_list()
    about = {setting: value for setting, value in list(workbook["about"].values)[1:]}
    assert about == META


def test_xlsx_and_csv_escape_formulas_in_cells():
    frame = pl.DataFrame({"order_id": ["=cmd()", "O-1"], "mrr": [-3.5, 4.0]})
    sheet = openpyxl.load_workbook(io.BytesIO(table_bytes(frame, "xlsx", {"dataset": "x"})))["data"]
    cells = list(sheet.values)[1:]
    assert cells == [("=cmd()", -3.5), ("O-1", 4.0)]  # kept as typed: XLSX stores it as text
    assert sheet.cell(row=2, column=1).data_type == "s"  # text, never a formula
    text = table_bytes(frame, "csv", {"dataset": "x"}).decode()
    assert text.splitlines() == ["order_id,mrr", "'=cmd(),-3.5", "O-1,4.0"]


def test_unknown_table_format_is_refused(orders):
    assert set(TABLE_FORMATS) <= set(MIME_TYPES)
    with pytest.raises(ValueError, match="unknown table format 'xml'"):
        table_bytes(orders, "xml", META)


def test_file_name_has_dataset_as_of_and_filters():
    meta = {"dataset": "backlog", "as_of": "2026-03-01", "markets": "NORTH, SOUTH"}
    assert file_name("backlog", meta, "csv") == "backlog_2026-03-01_markets-NORTH-SOUTH.csv"
    # callers name the resolved as-of date (never "latest"); a file about no snapshot has no date
    assert file_name("audit", {"dataset": "audit"}, "xlsx") == "audit.xlsx"
    name = file_name("exceptions", {"as_of": "2026-11-20", "products": "fiber_1g", "rules": "stalled"}, "parquet")
    assert name == "exceptions_2026-11-20_products-fiber_1g_rules-stalled.parquet"


@pytest.mark.parametrize(
    "markets", ["../../etc/passwd", 'a/b\\c:d*?"<>|', "NORTH, SOUTH\n\tWEST", "ÄÖÜ 東京", "x" * 400]
)
def test_file_name_is_filesystem_safe(markets, tmp_path):
    name = file_name("orders", {"dataset": "orders", "as_of": "2026-11-20", "markets": markets}, "csv")
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*\.csv", name), name
    assert name.startswith("orders_2026-11-20_markets")
    assert len(name) <= 160
    (tmp_path / name).write_text("ok")  # a plain file in the directory, not anywhere else
    assert [p.name for p in tmp_path.iterdir()] == [name]


# --- opslens/charts.py: chart_bytes ---------------------------------------------------------------

CAPTION = "backlog · as of 2026-11-20 · markets: NORTH · all products · all segments"


@pytest.fixture(scope="module")
def figure(demo_db: Path):
    return charts.backlog_bars(dataset("backlog", db=demo_db, markets=["NORTH"]))


def test_chart_html_is_standalone_with_plotly_and_the_caption(figure):
    html = charts.chart_bytes(figure, "html", CAPTION).decode("utf-8")
    assert html.lstrip().lower().startswith("<html") or html.lstrip().lower().startswith("<!doctype html")
    assert "plotly" in html.lower()
    assert len(html) > 1_000_000  # plotly.js is embedded: the file works offline
    assert json.dumps(CAPTION)[1:-1] in html  # in the figure's JSON, as JavaScript escapes it
    assert "Open orders by stage" in html
    assert figure.layout.title.text == "Open orders by stage"  # the page's figure is not changed


def _png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize(
    ("fmt_", "check"),
    [
        ("png", lambda data: data.startswith(b"\x89PNG\r\n\x1a\n") and _png_size(data)[0] == 1200),
        ("svg", lambda data: b"<svg" in data[:200] and CAPTION.encode() in data),
        ("pdf", lambda data: data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]),
    ],
)
def test_chart_images_through_kaleido(figure, fmt_, check):
    data = charts.chart_bytes(figure, fmt_, CAPTION)
    assert len(data) > 1000
    assert check(data)
    assert charts.CHART_MIME[fmt_].startswith(("image/", "application/pdf"))


def test_unknown_chart_format_is_refused(figure):
    with pytest.raises(ValueError, match="unknown chart format 'gif'"):
        charts.chart_bytes(figure, "gif")


def test_shared_results_serve_one_frame_per_key_and_drop_the_least_recently_used():
    from opslens.app.data import SharedResults

    made: list[str] = []

    def frame(key: str, rows: int = 1):
        def compute() -> pl.DataFrame:
            made.append(key)
            return pl.DataFrame({"x": list(range(rows))})

        return compute

    results = SharedResults(max_bytes=10_000, max_entries=2)
    first = results.get("a", frame("a"))
    assert results.get("a", frame("a")) is first  # the same object, computed once
    results.get("b", frame("b"))
    results.get("a", frame("a"))  # a is now the most recently used
    results.get("c", frame("c"))  # past 2 entries: b goes, not a
    results.get("a", frame("a"))
    results.get("b", frame("b"))
    assert made == ["a", "b", "c", "b"]

    results.clear()
    made.clear()
    big = results.get("big", frame("big", rows=2_000))  # 16,000 bytes: more than the bound, so not kept
    assert big.height == 2_000
    results.get("big", frame("big", rows=2_000))
    results.get("d", frame("d", rows=1_000))  # 8,000 bytes: kept
    results.get("e", frame("e", rows=500))  # 4,000 more: past 10,000 bytes, so d goes
    results.get("e", frame("e", rows=500))
    results.get("d", frame("d", rows=1_000))
    assert made == ["big", "big", "d", "e", "d"]
