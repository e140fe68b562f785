"""Checking raw files against the contract and turning them into typed frames.

Every check is vectorised in Polars and reports the first few offending rows with file, row,
column and value; all checks run before anything is written, so a rejected ingest writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from opslens.contract import (
    FOOTPRINT_COLUMNS,
    PAST_MILESTONES,
    SNAPSHOT_COLUMNS,
    STAGES,
    TYPE_HINTS,
    Column,
)
from opslens.ingest.problems import Problem, ProblemList
from opslens.ingest.read import ROW, RawFile

FILE = "__file"
TIMESTAMP_FORMATS = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M")
POLARS_TYPES: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "timestamp": pl.Datetime("us"),
    "text": pl.String(),
    "count": pl.Int64(),
    "money": pl.Float64(),
}


@dataclass
class CheckedFile:
    """A file that passed the per-file checks: its kind, typed contract columns, and warnings."""

    kind: str  # snapshots | footprint
    frame: pl.DataFrame  # contract columns in order, plus FILE and ROW
    warnings: list[str]


def file_kind(columns: list[str]) -> str:
    """Footprint files are recognised by their columns; everything else must be a snapshot file."""
    if "premises_passed" in columns and "order_id" not in columns:
        return "footprint"
    return "snapshots"


def check_file(raw: RawFile, problems: ProblemList) -> CheckedFile | None:
    """Type every contract column and apply the row rules; None when the file has problems."""
    name = str(raw.path)
    present = [c for c in raw.frame.columns if c != ROW]
    kind = file_kind(present)
    contract = SNAPSHOT_COLUMNS if kind == "snapshots" else FOOTPRINT_COLUMNS
    known = {c.name for c in contract}
    missing = [c.name for c in contract if c.required and c.name not in present]
    if missing:
        needed = ", ".join(c.name for c in contract if c.required)
        for column in missing:
            problems.add(Problem(name, f"required column is missing (a {kind} file needs: {needed})", None, column))
        return None
    warnings = [f"{name}: column '{c}' is not part of the contract and was ignored" for c in present if c not in known]
    before = len(problems.items) + problems.more
    typed = [_typed(raw.frame, column, name, problems) for column in contract]
    frame = pl.DataFrame(typed).with_columns(raw.frame[ROW], pl.lit(name).alias(FILE))
    row_rules = _snapshot_rules(frame) if kind == "snapshots" else _footprint_rules(frame)
    for column, condition, message in row_rules:
        offending = frame.filter(condition).select(ROW)
        values = raw.frame[column] if column in raw.frame.columns else frame[column]
        _add(problems, name, offending.with_columns(values.gather(offending[ROW] - 1).alias("value")), column, message)
    if len(problems.items) + problems.more > before:
        return None
    return CheckedFile(kind, frame, warnings)


def _typed(frame: pl.DataFrame, column: Column, file: str, problems: ProblemList) -> pl.Series:
    """The column converted to its contract type; values that do not convert are reported."""
    if column.name not in frame.columns:
        return pl.Series(column.name, [None] * frame.height, dtype=POLARS_TYPES[column.kind])
    raw = frame[column.name]
    if raw.dtype == pl.String:
        raw = raw.str.strip_chars().replace("", None)
    parsed = _convert(raw, column.kind).alias(column.name)
    bad = frame.select(ROW).with_columns(raw.alias("value")).filter(raw.is_not_null() & parsed.is_null())
    _add(problems, file, bad, column.name, f"is not {TYPE_HINTS[column.kind]}")
    if column.required:
        nulls = frame.select(ROW).with_columns(pl.lit(None).alias("value")).filter(raw.is_null())
        _add(problems, file, nulls, column.name, "is empty, but the column is required")
    return parsed


def _convert(raw: pl.Series, kind: str) -> pl.Series:
    """Strictly typed values, null where a value does not convert (checked by the caller)."""
    if raw.dtype != pl.String:
        if kind == "timestamp" and isinstance(raw.dtype, pl.Datetime) and raw.dtype.time_zone:
            raw = raw.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        converted = raw.cast(POLARS_TYPES[kind], strict=False)
    elif kind == "date":
        converted = raw.str.to_date("%Y-%m-%d", strict=False)
    elif kind == "timestamp":
        candidates = [raw.str.to_datetime(f, time_unit="us", strict=False) for f in TIMESTAMP_FORMATS]
        candidates.append(raw.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")))
        converted = pl.select(pl.coalesce(candidates)).to_series()
    elif kind == "count":
        converted = raw.str.to_integer(strict=False)
    elif kind == "money":
        converted = raw.cast(pl.Float64, strict=False)
    else:
        converted = raw
    if kind == "money":
        converted = pl.select(pl.when(converted.is_finite()).then(converted)).to_series()
    return converted


def _snapshot_rules(frame: pl.DataFrame) -> list[tuple[str, pl.Expr, str]]:
    """SPEC §1 row rules for snapshot files: (column, offending-row condition, message)."""
    day_end = pl.col("snapshot_date").cast(pl.Datetime("us")) + pl.duration(days=1)
    rules = [
        (
            "stage",
            ~pl.col("stage").is_in(STAGES) & pl.col("stage").is_not_null(),
            f"is not a stage; allowed: {', '.join(STAGES)}",
        )
    ]
    rules += [(c, pl.col(c) < 0, "is negative; must be >= 0") for c in ("missed_appointments", "truck_rolls", "mrr")]
    rules += [(c, pl.col(c) >= day_end, "is later than the end of the row's snapshot_date") for c in PAST_MILESTONES]
    rules.append(("installed_at", pl.col("installed_at") < pl.col("ordered_at"), "is before ordered_at"))
    return rules


def _footprint_rules(frame: pl.DataFrame) -> list[tuple[str, pl.Expr, str]]:
    """SPEC §1 rules for footprint files."""
    return [
        ("premises_passed", pl.col("premises_passed") < 0, "is negative; must be >= 0"),
        ("premises_ready", pl.col("premises_ready") < 0, "is negative; must be >= 0"),
        ("premises_ready", pl.col("premises_ready") > pl.col("premises_passed"), "is more than premises_passed"),
    ]


def _add(problems: ProblemList, file: str, offending: pl.DataFrame, column: str, message: str) -> None:
    if offending.height:
        rows = offending.head(5).select(ROW, "value").rows()
        problems.add_rows(file, rows, column, message, offending.height)


def check_duplicates(con, table: str, key: list[str], problems: ProblemList) -> None:
    """Report each repeated key among the staged rows, pointing at the repeat and the first occurrence."""
    columns = ", ".join(key)
    # A hash aggregate finds whether any key repeats far faster than ranking every row; rank only then.
    if not con.sql(f"select 1 from {table} group by {columns} having count(*) > 1 limit 1").fetchall():
        return
    repeats = con.sql(
        f"""
        with ranked as (
            select {columns}, source_file, source_row, source_order,
                row_number() over by_key as occurrence,
                first_value(source_file) over by_key as first_file,
                first_value(source_row) over by_key as first_row
            from {table}
            window by_key as (partition by {columns} order by source_order, source_row)
        )
        select * exclude (source_order) from ranked where occurrence > 1 order by source_order, source_row
        """
    ).fetchall()
    label = ", ".join(key)
    for row in repeats[:10]:
        value = ", ".join(str(v) for v in row[: len(key)])
        file, line, _, first_file, first_row = row[len(key) :]
        problems.add(Problem(file, f"repeats ({label}) first seen in {first_file} row {first_row}", line, label, value))
    if len(repeats) > 10:
        problems.add(Problem("(this ingest)", f"{len(repeats) - 10} more repeated ({label}) rows"))
