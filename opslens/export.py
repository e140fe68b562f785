"""Writing a dataset frame as CSV, JSON, Parquet or XLSX, with the filters that made it recorded.

The app's download buttons and `opslens export` both call `table_bytes`, so a file downloaded from
a page is byte-for-byte what the command line writes for the same filters.
"""

from __future__ import annotations

import io
import json
import re

import polars as pl
import xlsxwriter

TABLE_FORMATS = ("csv", "json", "parquet", "xlsx")
MIME_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# Text a spreadsheet would run as a formula (CSV injection): =, +, -, @ and the control characters.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def file_name(dataset: str, meta: dict[str, str], extension: str) -> str:
    """e.g. `backlog_2026-03-01_market-NORTH-SOUTH.csv`: the dataset, as-of date and filters."""
    parts = [dataset, meta.get("as_of", "latest")]
    parts += [f"{key}-{value}" for key, value in meta.items() if key not in ("as_of", "dataset")]
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", "_".join(parts)).strip("-")
    return f"{safe[:150]}.{extension}"


def spreadsheet_safe(frame: pl.DataFrame, escape_formulas: bool = True) -> pl.DataFrame:
    """Lists become '; '-joined text; text that would start a formula gets a leading apostrophe.

    XLSX does not need the apostrophe: its text cells are written as strings, never as formulas.
    """
    columns = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if isinstance(dtype, pl.List):
            column = column.list.join("; ")
            dtype = pl.String()
        if dtype == pl.String and escape_formulas:
            column = pl.when(_starts_with_any(column)).then(pl.lit("'") + column).otherwise(column)
        columns.append(column.alias(name))
    return frame.select(columns)


def _starts_with_any(column: pl.Expr) -> pl.Expr:
    condition = pl.lit(False)
    for prefix in _FORMULA_START:
        condition = condition | column.str.starts_with(prefix)
    return condition


def table_bytes(frame: pl.DataFrame, fmt: str, meta: dict[str, str]) -> bytes:
    """The frame in one of TABLE_FORMATS; meta (dataset, as_of, filters) goes where the format allows."""
    buffer = io.BytesIO()
    if fmt == "csv":
        spreadsheet_safe(frame).write_csv(buffer)
    elif fmt == "json":
        rows = json.loads(frame.write_json())
        buffer.write(json.dumps({"meta": meta, "rows": rows}, indent=1, default=str).encode())
    elif fmt == "parquet":
        frame.write_parquet(buffer, metadata={"opslens": json.dumps(meta)})
    elif fmt == "xlsx":
        about = pl.DataFrame({"setting": list(meta), "value": [str(v) for v in meta.values()]})
        options = {"remove_timezone": True, "strings_to_formulas": False, "strings_to_urls": False}
        with xlsxwriter.Workbook(buffer, options) as workbook:
            spreadsheet_safe(frame, escape_formulas=False).write_excel(workbook, worksheet="data", autofit=True)
            about.write_excel(workbook, worksheet="about", autofit=True)
    else:
        raise ValueError(f"unknown table format '{fmt}'; choose one of {', '.join(TABLE_FORMATS)}")
    return buffer.getvalue()
