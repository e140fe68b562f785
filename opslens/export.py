"""Writing a dataset frame as CSV, JSON, Parquet or XLSX, with the filters that made it recorded.

The app's download buttons and `opslens export` both call `table_bytes`, so a file downloaded from
a page is byte-for-byte what the command line writes for the same filters.

Numbers are rounded to what they mean, in every format (`rounded`): money (a column named with
`mrr`) to cents, shares (`*_share`, `share_*`: fractions of 1) to 4 decimals (0.01 percentage
points), days (`*days*`, and the install-to-invoice segment medians `*_p50`) to 1 decimal and any
other fraction to 4. In XLSX money is formatted as money ($ and cents), shares as percentages and
days with one decimal; the numbers stay numbers. A column mixing units (headline's `value`) gets 4.
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
# How a column's numbers are rounded and shown in XLSX, by what they measure (see the module docstring).
MONEY, SHARE, DAYS, NUMBER = "money", "share", "days", "number"
DECIMALS = {MONEY: 2, SHARE: 4, DAYS: 1, NUMBER: 4}
XLSX_FORMATS = {MONEY: '"$"#,##0.00', SHARE: "0.0%", DAYS: "0.0", NUMBER: "0.0###"}
# Text a spreadsheet would run as a formula (CSV injection): =, +, -, @ and the control characters.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def file_name(dataset: str, meta: dict[str, str], extension: str) -> str:
    """e.g. `backlog_2026-03-01_market-NORTH-SOUTH.csv`: the dataset, as-of date and filters.

    Callers resolve the as-of date first (the latest snapshot when none was chosen), so the name says
    which day it is; a file that is about no snapshot (the audit log) has no date in its name.
    """
    parts = [dataset, *([meta["as_of"]] if meta.get("as_of") else [])]
    parts += [f"{key}-{value}" for key, value in meta.items() if key not in ("as_of", "dataset")]
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", "_".join(parts)).strip("-")
    return f"{safe[:150]}.{extension}"


def column_kind(name: str, dtype: pl.DataType) -> str | None:
    """MONEY, SHARE, DAYS or NUMBER for a column of fractions (floats, decimals), else None."""
    if not (dtype.is_float() or (dtype.is_decimal() and getattr(dtype, "scale", 0))):
        return None
    if "mrr" in name:
        return MONEY
    if name.endswith("_share") or name.startswith("share_") or name == "share":
        return SHARE
    if "days" in name or name.endswith("_p50"):  # install_to_activation_p50, activation_to_invoice_p50: days
        return DAYS
    return NUMBER


def rounded(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with every fraction rounded by what it measures (DECIMALS), as written to every file."""
    columns = {}
    for name, dtype in frame.schema.items():
        kind = column_kind(name, dtype)
        if kind is not None:
            columns[name] = pl.col(name).cast(pl.Float64).round(DECIMALS[kind])
    return frame.with_columns(**columns) if columns else frame


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
    frame = rounded(frame)
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
            formats = {
                name: XLSX_FORMATS[kind]
                for name, dtype in frame.schema.items()
                if (kind := column_kind(name, dtype)) is not None
            }
            spreadsheet_safe(frame, escape_formulas=False).write_excel(
                workbook, worksheet="data", autofit=True, column_formats=formats
            )
            about.write_excel(workbook, worksheet="about", autofit=True)
    else:
        raise ValueError(f"unknown table format '{fmt}'; choose one of {', '.join(TABLE_FORMATS)}")
    return buffer.getvalue()
