"""Exported files: numbers rounded to what they mean in every table format, the as-of date always
recorded, and charts that read well as files (title, axis titles, document title).

Hand-made frame and store; expected values by hand.
"""

from __future__ import annotations

import io
import json
import re

import openpyxl
import plotly.graph_objects as go
import polars as pl
import pypdf
import pytest
from handmade import make_store, no_config_file

from opslens import charts
from opslens.cli import main
from opslens.export import table_bytes

# What a sum of cents looks like in floating point, and fractions with more digits than they mean.
FRAME = pl.DataFrame(
    {
        "market": ["WEST", "SOUTH"],
        "orders": [3, 4],
        "mrr": [23108.129999999997, 0.1 + 0.2],
        "mrr_at_risk": [10.005000000001, None],
        "median_age_days": [3.14159, 2.0],
        "ready_share": [0.123456, 1 / 3],
        "install_to_activation_p50": [1.26, 0.04],
        "value": [0.171212121, 45576.7500001],  # headline-style: mixed units, 4 decimals
    }
)
MONEY, DAYS, SHARES, OTHER = [23108.13, 0.3], [3.1, 2.0], [0.1235, 0.3333], [0.1712, 45576.75]
META = {"dataset": "readiness", "as_of": "2026-03-03"}


def test_csv_rounds_money_to_cents_days_to_one_decimal_and_shares_to_four():
    text = table_bytes(FRAME, "csv", META).decode()
    assert "23108.129999999997" not in text and "0.30000000000000004" not in text
    lines = text.splitlines()
    assert lines[1] == "WEST,3,23108.13,10.01,3.1,0.1235,1.3,0.1712"
    assert lines[2] == "SOUTH,4,0.3,,2.0,0.3333,0.0,45576.75"


@pytest.mark.parametrize("fmt", ["json", "parquet", "xlsx"])
def test_every_table_format_holds_the_same_rounded_numbers(fmt, tmp_path):
    data = table_bytes(FRAME, fmt, META)
    if fmt == "json":
        read = pl.DataFrame(json.loads(data)["rows"])
    elif fmt == "parquet":
        read = pl.read_parquet(io.BytesIO(data))
    else:
        sheet = openpyxl.load_workbook(io.BytesIO(data))["data"]
        header = [cell.value for cell in sheet[1]]
        read = pl.DataFrame(
            [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)], schema=header, orient="row"
        )
    assert read["mrr"].to_list() == MONEY
    assert read["median_age_days"].to_list() == DAYS
    assert read["ready_share"].to_list() == SHARES
    assert read["value"].to_list() == OTHER
    assert read["orders"].to_list() == [3, 4]


def test_xlsx_shows_money_as_money_and_shares_as_percentages():
    sheet = openpyxl.load_workbook(io.BytesIO(table_bytes(FRAME, "xlsx", META)))["data"]
    formats = {sheet.cell(1, column).value: sheet.cell(2, column).number_format for column in range(1, 9)}
    assert formats["mrr"] == formats["mrr_at_risk"] == '"$"#,##0.00'
    assert formats["ready_share"] == "0.0%"
    assert formats["median_age_days"] == formats["install_to_activation_p50"] == "0.0"
    assert sheet.cell(2, 3).value == 23108.13  # still a number, not text


# --- the as-of date is recorded even when none was given ------------------------------------------------

DAYS_ROWS = """
snapshot_date | order_id | market | stage  | ordered_at | mrr
2026-03-01    | W1       | WEST   | intake | 2026-02-27 | 40
2026-03-03    | W1       | WEST   | intake | 2026-02-27 | 40
"""


@pytest.fixture
def store(tmp_path, monkeypatch):
    no_config_file(monkeypatch, tmp_path)
    return make_store(tmp_path / "store", DAYS_ROWS)


def test_export_without_as_of_names_the_latest_snapshot_in_file_name_about_sheet_and_metadata(
    store, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    for fmt in ("xlsx", "parquet"):
        assert main(["export", "backlog", "--db", str(store), "--format", fmt]) == 0
    assert sorted(p.name for p in tmp_path.glob("backlog*")) == [
        "backlog_2026-03-03.parquet",
        "backlog_2026-03-03.xlsx",
    ]
    about = openpyxl.load_workbook(tmp_path / "backlog_2026-03-03.xlsx")["about"]
    assert ("as_of", "2026-03-03") in {(row[0].value, row[1].value) for row in about.iter_rows(min_row=2)}
    meta = json.loads(pl.read_parquet_metadata(tmp_path / "backlog_2026-03-03.parquet")["opslens"])
    assert meta == {"dataset": "backlog", "as_of": "2026-03-03"}
    capsys.readouterr()
    assert main(["export", "backlog", "--db", str(store), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["meta"]["as_of"] == "2026-03-03"


# --- charts as files ------------------------------------------------------------------------------------


def _backlog_figure() -> go.Figure:
    backlog = pl.DataFrame(
        {"stage": ["intake", "awaiting_network", "awaiting_appointment"], "orders": [5, 12, 3], "mrr": [1.0, 2.0, 3.0]}
    )
    return charts.backlog_bars(backlog, "orders", "Open orders by stage (click a bar to list its orders)")


def test_exported_charts_drop_the_interaction_hint_and_keep_axis_titles_clear_of_tick_labels():
    figure, title = charts._export_figure(_backlog_figure(), "backlog · as of 2026-03-03")
    assert title == "Open orders by stage"
    assert figure.layout.title.text == "Open orders by stage<br><sup>backlog · as of 2026-03-03</sup>"
    assert figure.layout.yaxis.title.text == "Stage" and figure.layout.yaxis.title.standoff >= 12
    assert figure.layout.xaxis.title.standoff >= 12


def test_html_has_a_page_title_and_works_offline():
    page = charts.chart_bytes(_backlog_figure(), "html", "backlog · as of 2026-03-03").decode()
    assert page.count("<title>Open orders by stage</title>") == 1
    assert "click a bar" not in page
    assert not re.search(r"<script[^>]*\ssrc=", page)  # plotly.js inline: the file opens offline


def test_pdf_is_titled_by_the_chart_and_shows_the_x_axis_title():
    pdf = charts.chart_bytes(_backlog_figure(), "pdf", "backlog · as of 2026-03-03")
    reader = pypdf.PdfReader(io.BytesIO(pdf), strict=True)
    assert reader.metadata.title == "Open orders by stage"
    page = reader.pages[0]
    shown: list[tuple[str, float]] = []
    page.extract_text(visitor_text=lambda text, cm, tm, *_: shown.append((text.strip(), cm[5] + tm[5] * cm[3])))
    texts = {text for text, _ in shown}
    assert "Open orders" in texts, "the x-axis title is on the page"  # was cut off at the bottom edge
    bottom = min(y for text, y in shown if text == "Open orders")
    assert bottom > 5, "and not on the very edge"
    assert not any("click a bar" in text for text in texts)
