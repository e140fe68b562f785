"""Checking sources against the contract in DuckDB, and typing their columns.

Each source (see read.py) gets a view with every contract column converted to its contract type
next to its raw value. One aggregate query counts, per file, the rows breaking each rule;
only a rule that is broken costs a second query, for the first few offending rows (file, row,
column and value). All checks run before anything is written, so a rejected ingest writes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from opslens.contract import (
    FOOTPRINT_COLUMNS,
    MAX_MRR,
    NOT_AFTER_SNAPSHOT,
    SNAPSHOT_COLUMNS,
    SQL_TYPES,
    STAGES,
    TYPE_HINTS,
    YEARS,
    Column,
)
from opslens.ingest.problems import Problem, ProblemList
from opslens.ingest.read import FILE, ROW, Source
from opslens.text import printable

RAW = "raw__"  # prefix of the raw values (text trimmed, empty as NULL) kept beside the typed ones
# Accepted text for dates and timestamps: YYYY-MM-DD, optionally with [ T]HH:MM[:SS[.ffffff]]. The shape
# is checked by a pattern and the value then cast (strptime with several formats is 30 times slower).
DATE_TEXT = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
TIMESTAMP_TEXT = DATE_TEXT + r"([ T]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?)?"
WHOLE_NUMBER = "[+-]?[0-9]+"
DECIMAL_NUMBER = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
_WHITESPACE = r"E' \t\r\n'"
# Trimming every value is slow; a value needs it only when it starts or ends with white space.
_EDGE_SPACE = "ascii({0}) in (9, 10, 13, 32) or suffix({0}, ' ') or suffix({0}, chr(9)) or suffix({0}, chr(13))"
_EDGE_SPACE += " or suffix({0}, chr(10))"
# Text keys may not hold control characters (C0, DEL, C1: NUL, newline, tab, ESC of ANSI sequences...).
CONTROL_CHARACTERS = r"[\x00-\x1f\x7f-\x9f]"
# Invisible characters that make two keys look equal ("EAST" and "EAST\u200b"): warned about, loaded.
INVISIBLE_CHARACTERS = r"[\x{00AD}\x{180E}\x{200B}-\x{200F}\x{2028}-\x{202E}\x{2060}-\x{2064}\x{2066}-\x{2069}\x{FEFF}]"

# Raw (DuckDB) types a Parquet column may have, per contract kind; anything else (a struct, a list,
# a map, binary, ...) is refused rather than turned into text.
_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
_NUMBERS = (*_INTEGERS, "FLOAT", "DOUBLE", "DECIMAL")
_TIMES = ("DATE", "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "TIMESTAMP WITH TIME ZONE")
ACCEPTED_TYPES: dict[str, tuple[str, ...]] = {
    "text": ("VARCHAR", *_INTEGERS),
    "date": ("VARCHAR", *_TIMES),
    "timestamp": ("VARCHAR", *_TIMES),
    "count": ("VARCHAR", *_NUMBERS),
    "money": ("VARCHAR", *_NUMBERS),
}


@dataclass
class CheckedSource:
    """A source that passed every per-row check: its kind and a relation of typed contract columns."""

    kind: str  # snapshots | footprint
    relation: str  # contract columns in contract order, plus FILE and ROW
    source: Source


@dataclass(frozen=True)
class _Check:
    column: str
    condition: str  # SQL over the typed columns and their RAW texts: true for an offending row
    message: str
    value: str  # SQL for the value to show (text)


def file_kind(columns: list[str]) -> str:
    """Footprint files are recognised by their columns; everything else must be a snapshot file."""
    if "premises_passed" in columns and "order_id" not in columns:
        return "footprint"
    return "snapshots"


def check_source(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    names: list[str],
    problems: ProblemList,
    warnings: list[str],
    latest_snapshot: dt.date,
) -> CheckedSource | None:
    """Type every contract column and apply the row rules; None when a file of the source has problems.

    `latest_snapshot` is the last snapshot date accepted (today plus `[ingest] future_days`).
    """
    present = [c for c in source.columns if c not in (FILE, ROW)]
    kind = file_kind(present)
    contract = SNAPSHOT_COLUMNS if kind == "snapshots" else FOOTPRINT_COLUMNS
    missing = [c.name for c in contract if c.required and c.name not in present]
    if missing:
        needed = ", ".join(c.name for c in contract if c.required)
        for index in source.files:
            for column in missing:
                problems.add(
                    Problem(names[index], f"required column is missing (a {kind} file needs: {needed})", None, column)
                )
        return None
    wrong_types = [
        (c, source.columns[c.name])
        for c in contract
        if c.name in source.columns and not _accepted(source.columns[c.name], c.kind)
    ]
    for index in source.files:
        for column, found in wrong_types:
            expected = " or ".join(dict.fromkeys(t.split(" ")[0] for t in ACCEPTED_TYPES[column.kind][:3]))
            problems.add(
                Problem(
                    names[index],
                    f"has the Parquet type {found}; {column.name} must be {TYPE_HINTS[column.kind]}"
                    f" ({SQL_TYPES[column.kind]}; a {expected} column is read too)",
                    None,
                    column.name,
                )
            )
    if wrong_types:
        return None
    known = {c.name for c in contract}
    for index in source.files:
        warnings += [
            f"{names[index]}: column '{c}' is not part of the contract and was ignored"
            for c in present
            if c not in known
        ]

    checked = f"checked_{source.relation}"
    # Text is converted once, into a table that checking and loading then read; Parquet is read in place.
    kind_of_relation = "table" if source.text_table else "view"
    con.sql(f"create or replace temp {kind_of_relation} {checked} as {_typed_select(contract, source)}")
    checks = _checks(contract, source.columns, kind, latest_snapshot)
    odd = _odd_text_columns(con, checked, [c.name for c in contract if c.kind == "text" and c.name in source.columns])
    checks += [_Check(c, f"regexp_matches({c}, '{CONTROL_CHARACTERS}')", CONTROL_MESSAGE, c) for c in odd["control"]]
    warn_checks = [_Check(c, f"regexp_matches({c}, '{INVISIBLE_CHARACTERS}')", "", c) for c in odd["invisible"]]
    before = len(problems.items) + problems.more
    counts = con.sql(
        f"select {FILE}, {', '.join(f'count_if({c.condition})' for c in checks)} from {checked} group by all order by 1"
    ).fetchall()
    for index, *per_check in counts:
        for check, total in zip(checks, per_check, strict=True):
            if total:
                rows = con.sql(
                    f"select {ROW}, cast({check.value} as VARCHAR) from {checked}"
                    f" where {FILE} = $file and ({check.condition})"
                    f" order by {ROW} limit 5",
                    params={"file": index},
                ).fetchall()
                problems.add_rows(names[index], rows, check.column, check.message, total)
    if len(problems.items) + problems.more > before:
        return None
    for check in warn_checks:
        warnings += _invisible_warnings(con, checked, check, source.files, names)
    return CheckedSource(kind, checked, source)


CONTROL_MESSAGE = "holds a control character (shown escaped, like \\x1b); text keys may not contain any"


def _accepted(raw_type: str, kind: str) -> bool:
    base = raw_type.split("(")[0]
    return base in ACCEPTED_TYPES[kind]


def _odd_text_columns(con: duckdb.DuckDBPyConnection, checked: str, columns: list[str]) -> dict[str, list[str]]:
    """Text columns holding control characters, and those holding invisible ones.

    The patterns are matched against each column's distinct values (grouping sets: one scan for all
    columns), not every row: keys like market repeat on millions of rows, and a regular expression
    per row costs about a second per column and 10 million rows.
    """
    columns = [c for c in columns if c != "stage"]  # a stage must be one of the list anyway
    if not columns:
        return {"control": [], "invisible": []}
    flags = ", ".join(
        f"bool_or(regexp_matches({c}, '{CONTROL_CHARACTERS}')), bool_or(regexp_matches({c}, '{INVISIBLE_CHARACTERS}'))"
        for c in columns
    )
    sets = ", ".join(f"({c})" for c in columns)
    values = con.sql(
        f"select {flags} from (select {', '.join(columns)} from {checked} group by grouping sets ({sets}))"
    ).fetchall()[0]
    return {
        "control": [c for c, flag in zip(columns, values[0::2], strict=True) if flag],
        "invisible": [c for c, flag in zip(columns, values[1::2], strict=True) if flag],
    }


def _invisible_warnings(
    con: duckdb.DuckDBPyConnection, checked: str, check: _Check, files: list[int], names: list[str]
) -> list[str]:
    """One warning per file and column with invisible characters: the first row, its value escaped, and the count."""
    lines = []
    for index, rows, first_row, value in con.sql(
        f"select {FILE}, count(*), min({ROW}), arg_min({check.column}, {ROW}) from {checked}"
        f" where {check.condition} group by 1 order by 1"
    ).fetchall():
        lines.append(
            printable(
                f"{names[index]}, row {first_row}, column '{check.column}': value '{value}' contains an invisible"
                f" character (zero-width space or joiner, byte order mark, direction mark...), so it differs from"
                f" the same text without it; {rows} row(s) like this. It was loaded as it is: check the extract"
            )
        )
    return lines


def _typed_select(contract: tuple[Column, ...], source: Source) -> str:
    """Each contract column typed (NULL where absent), each present one's raw value, FILE and ROW.

    The raw values are cleaned once in an inner query (text trimmed, empty as NULL), then converted.
    """
    typed, raw = [], []
    for column in contract:
        if column.name not in source.columns:
            typed.append(f"null::{SQL_TYPES[column.kind]} as {column.name}")
            continue
        raw_type, value = source.columns[column.name], f"{RAW}{column.name}"
        cleaned = _cleaned_text(column.name) if raw_type == "VARCHAR" else column.name
        typed.append(f"{_convert(value, raw_type, column.kind, value)} as {column.name}")
        raw.append(f"{cleaned} as {value}")
    cleaned_rows = f"select {', '.join(raw)}, {FILE}, {ROW} from {source.relation}"
    return f"select {', '.join(typed)}, * exclude ({FILE}, {ROW}), {FILE}, {ROW} from ({cleaned_rows})"


def _cleaned_text(name: str) -> str:
    """The text trimmed of white space, empty as NULL."""
    trimmed = f"case when {_EDGE_SPACE.format(name)} then trim({name}, {_WHITESPACE}) else {name} end"
    return f"nullif({trimmed}, '')"


def _always_converts(raw_type: str, kind: str) -> bool:
    """Values already of the contract's type need no parse check (a Parquet DATE column, say)."""
    return raw_type == SQL_TYPES[kind] and kind != "money"  # money must still be finite


def _convert(name: str, raw_type: str, kind: str, text: str) -> str:
    """SQL that converts the raw column to its contract type, NULL where a value does not convert."""
    if raw_type == "VARCHAR":
        pattern, target = {
            "date": (DATE_TEXT, "DATE"),
            "timestamp": (TIMESTAMP_TEXT, "TIMESTAMP"),
            "count": (WHOLE_NUMBER, "BIGINT"),
            "money": (DECIMAL_NUMBER, "DOUBLE"),
        }.get(kind, (None, None))
        if pattern is None:
            return text
        value = f"case when regexp_full_match({text}, '{pattern}') then try_cast({text} as {target}) end"
        return f"case when isfinite({value}) then {value} end" if kind == "money" else value
    if kind == "timestamp" and raw_type == "TIMESTAMP WITH TIME ZONE":
        return f"timezone('UTC', {name})"
    if kind == "count" and (raw_type in ("FLOAT", "DOUBLE") or raw_type.startswith("DECIMAL")):
        return f"case when {name} = trunc({name}) then try_cast({name} as BIGINT) end"
    if kind == "money":
        return f"case when isfinite(try_cast({name} as DOUBLE)) then try_cast({name} as DOUBLE) end"
    return f"try_cast({name} as {SQL_TYPES[kind]})"


def _checks(contract: tuple[Column, ...], columns: dict[str, str], kind: str, latest_snapshot: dt.date) -> list[_Check]:
    """Every rule in report order: each column's type and required value, then SPEC §1's row rules."""
    checks = []
    for column in contract:
        if column.name not in columns:
            continue
        raw = f"{RAW}{column.name}"
        if not _always_converts(columns[column.name], column.kind):
            message = f"is not {TYPE_HINTS[column.kind]}"
            checks.append(_Check(column.name, f"{raw} is not null and {column.name} is null", message, raw))
        if column.required:
            checks.append(_Check(column.name, f"{raw} is null", "is empty, but the column is required", "null"))
    rules = _snapshot_rules() if kind == "snapshots" else _footprint_rules()
    rules += _date_rules(contract, latest_snapshot)
    checks += [_Check(column, condition, message, f"{RAW}{column}") for column, condition, message in rules]
    return [c for c in checks if c.column in columns]


def _date_rules(contract: tuple[Column, ...], latest_snapshot: dt.date) -> list[tuple[str, str, str]]:
    """Years outside YEARS in any date or timestamp; a snapshot dated after `latest_snapshot`."""
    low, high = YEARS
    rules = [
        (c.name, f"year({c.name}) not between {low} and {high}", f"is outside the years {low} to {high}")
        for c in contract
        if c.kind in ("date", "timestamp")
    ]
    rules.append(
        (
            "snapshot_date",
            f"snapshot_date > date '{latest_snapshot.isoformat()}' and year(snapshot_date) <= {high}",
            f"is in the future: after {latest_snapshot.isoformat()} (today plus [ingest] future_days)",
        )
    )
    return rules


def _snapshot_rules() -> list[tuple[str, str, str]]:
    """SPEC §1 row rules for snapshot files: (column, offending-row condition, message)."""
    stages = ", ".join(f"'{s}'" for s in STAGES)
    rules = [("stage", f"stage not in ({stages})", f"is not a stage; allowed: {', '.join(STAGES)}")]
    rules += [(c, f"{c} < 0", "is negative; must be >= 0") for c in ("missed_appointments", "truck_rolls", "mrr")]
    rules.append(("mrr", f"mrr > {MAX_MRR}", f"is above {MAX_MRR:,}, more than any order's monthly revenue"))
    rules += [
        (c, f"{c} >= snapshot_date + interval 1 day", "is later than the end of the row's snapshot_date")
        for c in NOT_AFTER_SNAPSHOT
    ]
    rules.append(("installed_at", "installed_at < ordered_at", "is before ordered_at"))
    return rules


def _footprint_rules() -> list[tuple[str, str, str]]:
    """SPEC §1 rules for footprint files."""
    return [
        ("premises_passed", "premises_passed < 0", "is negative; must be >= 0"),
        ("premises_ready", "premises_ready < 0", "is negative; must be >= 0"),
        ("premises_ready", "premises_ready > premises_passed", "is more than premises_passed"),
    ]


def check_duplicates(con, relation: str, key: list[str], names: list[str], problems: ProblemList) -> None:
    """Report each repeated key, pointing at the repeat and the first occurrence."""
    columns = ", ".join(key)
    # A hash aggregate finds whether any key repeats far faster than ranking every row; rank only then.
    if not con.sql(f"select 1 from {relation} group by {columns} having count(*) > 1 limit 1").fetchall():
        return
    repeats = con.sql(
        f"""
        with ranked as (
            select {columns}, {FILE}, {ROW},
                row_number() over by_key as occurrence,
                first_value({FILE}) over by_key as first_file,
                first_value({ROW}) over by_key as first_row
            from {relation}
            window by_key as (partition by {columns} order by {FILE}, {ROW})
        )
        select * from ranked where occurrence > 1 order by {FILE}, {ROW}
        """
    ).fetchall()
    label = ", ".join(key)
    for row in repeats[:10]:
        value = ", ".join(str(v) for v in row[: len(key)])
        file, line, _, first_file, first_row = row[len(key) :]
        message = f"repeats ({label}) first seen in {names[first_file]} row {first_row}"
        problems.add(Problem(names[file], message, line, label, value))
    if len(repeats) > 10:
        problems.add(Problem("(this ingest)", f"{len(repeats) - 10} more repeated ({label}) rows"))
