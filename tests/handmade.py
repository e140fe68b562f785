"""Hand-made fixtures for the dataset tests.

Test modules write their fixture rows as small, readable pipe tables (only the columns that matter
for that module); this helper turns each table into a contract CSV file (header row with every
contract column, empty field = null), ingests the files with `ingest_files` and returns the store.

    ROWS = '''
    snapshot_date | order_id | market | stage  | ordered_at | mrr
    2026-03-01    | N1       | NORTH  | intake | 2026-02-28 | 40
    2026-03-01    | N2       | NORTH  | intake | 2026-02-27 |          # empty cell = null
    '''
    db = make_store(tmp_path, ROWS)

Lines starting with '#' are comments; text after '#' in a data line is a comment too.
Expected values in the tests are computed by hand from these tables (SPEC §2 and §3), never
from the implementation.
"""

from __future__ import annotations

import csv
import itertools
import os
from pathlib import Path

import polars as pl
import pytest

# SPEC §1, in contract order.
SNAPSHOT_COLUMNS: tuple[str, ...] = (
    "snapshot_date",
    "order_id",
    "market",
    "stage",
    "ordered_at",
    "product",
    "segment",
    "network_ready_at",
    "appointment_at",
    "installed_at",
    "activated_at",
    "invoiced_at",
    "cancelled_at",
    "stage_entered_at",
    "missed_appointments",
    "truck_rolls",
    "mrr",
    "fallout_code",
)
FOOTPRINT_COLUMNS: tuple[str, ...] = ("snapshot_date", "market", "premises_passed", "premises_ready")

OPEN_STAGES: tuple[str, ...] = (
    "intake",
    "awaiting_network",
    "awaiting_appointment",
    "scheduled",
    "installed",
    "activated",
)

# SPEC §2 "Exceptions", in the order the lead fixed for sorting (decision 6).
RULES: tuple[str, ...] = (
    "stalled",
    "overdue_appointment",
    "missed_appointment",
    "repeat_visit",
    "scheduled_before_ready",
    "invoiced_before_activation",
    "stage_mismatch",
    "fallout",
    "missing_from_snapshot",
)

_file_numbers = itertools.count(1)


def parse_table(text: str) -> tuple[list[str], list[list[str]]]:
    """A pipe table -> (header, rows of stripped cells); blank lines and '#' comments dropped."""
    lines = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    header = [cell.strip() for cell in lines[0].split("|")]
    rows = []
    for number, line in enumerate(lines[1:], start=1):
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) != len(header):
            raise ValueError(f"fixture row {number} has {len(cells)} cells, header has {len(header)}: {line!r}")
        rows.append(cells)
    return header, rows


def write_csv(directory: Path, table: str) -> Path:
    """Write one pipe table as a contract CSV (all contract columns, in contract order)."""
    header, rows = parse_table(table)
    columns = FOOTPRINT_COLUMNS if "premises_passed" in header else SNAPSHOT_COLUMNS
    unknown = [name for name in header if name not in columns]
    if unknown:  # a typo in a fixture must not silently become an ignored extra column
        raise ValueError(f"fixture columns not in the contract: {unknown}")
    path = Path(directory) / f"handmade_{next(_file_numbers):03d}.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for cells in rows:
            values = dict(zip(header, cells, strict=True))
            writer.writerow([values.get(name, "") for name in columns])
    return path


def make_store(directory: Path, *tables: str, db: Path | None = None):
    """Write each table to its own CSV file and ingest them all in ONE ingest; return the db path.

    Pass `db` to ingest into an existing store (a second ingest, e.g. a re-ingest of a pair).
    """
    from opslens.ingest import ingest_files  # imported late: the module may not exist yet

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    db = Path(db) if db is not None else directory / "store.duckdb"
    files = [write_csv(directory, table) for table in tables]
    ingest_files(db, files)
    return db


def no_config_file(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    """Make sure no opslens.toml changes the default stall limits under test."""
    monkeypatch.setenv("OPSLENS_CONFIG", os.fspath(Path(directory) / "no-such-opslens.toml"))


def dataset(name: str, db, **kwargs) -> pl.DataFrame:
    """`queries.dataset`, imported late so that collection works before the module exists."""
    from opslens.queries import dataset as _dataset

    return _dataset(name, db=db, **kwargs)


def _approx(value):
    return pytest.approx(value, abs=1e-9) if isinstance(value, float) else value


def rows(df: pl.DataFrame, columns: list[str] | None = None) -> list[dict]:
    """The frame as a list of dicts, restricted to `columns` (default: all)."""
    if columns is not None:
        df = df.select(columns)
    return df.to_dicts()


def expect(df: pl.DataFrame, expected: list[dict]) -> None:
    """Assert the frame's rows, in order, equal `expected` on the expected dicts' columns.

    Floats are compared with pytest.approx; ints, None, dates and strings exactly. A count that
    comes back as a float 2.0 still equals 2, so dtype checks are done separately (see
    `assert_integer`).
    """
    columns = list(expected[0]) if expected else list(df.columns)
    actual = rows(df, columns)
    assert actual == [{k: _approx(v) for k, v in row.items()} for row in expected]


def by_key(df: pl.DataFrame, key: str) -> dict:
    """{row[key]: row} for a frame with one row per key."""
    out = {}
    for row in df.to_dicts():
        assert row[key] not in out, f"duplicate {key} {row[key]!r}"
        out[row[key]] = row
    return out


def assert_integer(df: pl.DataFrame, *columns: str) -> None:
    """Counts and day counts are whole numbers (decision: compare with ==, integer dtype)."""
    for column in columns:
        assert df.schema[column].is_integer(), f"{column} has dtype {df.schema[column]}, expected an integer type"


def assert_float(df: pl.DataFrame, *columns: str) -> None:
    """Percentiles, means, shares and money are floating point, also when every value is whole."""
    for column in columns:
        assert df.schema[column].is_float(), f"{column} has dtype {df.schema[column]}, expected a float type"


# Filters that are valid yet match no order: a user granted only a market the store has not loaded, and a
# market filter outside the user's markets (SPEC §4). A market, product or segment the store does not
# have is a FilterError, not an empty answer (tests/test_cli_errors.py).
NOTHING: list[dict[str, list[str]]] = [{"scope": ["NOWHERE"]}, {"scope": ["NORTH"], "markets": ["SOUTH"]}]
