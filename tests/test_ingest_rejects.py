"""Every kind of bad input of SPEC §1 is rejected precisely and leaves the store's data as it was.

Each test starts from a store holding a small valid baseline (two snapshot dates, two markets),
then offers a bad file whose *good* rows are new data (snapshot date 2026-03-03), so a partial
load would be visible. It checks three things:

- the library raises `IngestRejected` with a `Problem` naming file, row, column and value;
- the CLI exits 2 with a message carrying those pieces and no traceback;
- the `snapshots` and `footprint` tables are exactly as before.
"""

from __future__ import annotations

import gzip
import random
import zlib
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest
from ingest_rows import BASELINE, FOOTPRINT, csv_text, order, run_cli, write

from opslens.contract import (
    FOOTPRINT_NAMES,
    PAST_MILESTONES,
    SNAPSHOT_COLUMNS,
    SNAPSHOT_NAMES,
    STAGES,
)
from opslens.ingest import IngestRejected, ingest_files

REQUIRED = [c.name for c in SNAPSHOT_COLUMNS if c.required]


# --------------------------------------------------------------------------------------------
# Test data


# The bad files are this valid next-day extract with one defect, on data row 3 (order O3) unless noted.
NEXT_DAY = [
    order(
        "2026-03-03",
        "O1",
        "NORTH",
        "awaiting_appointment",
        "2026-02-27",
        network_ready_at="2026-03-02",
        stage_entered_at="2026-03-02",
        mrr="60.00",
    ),
    order(
        "2026-03-03",
        "O2",
        "NORTH",
        "installed",
        "2026-02-10 09:15:00",
        network_ready_at="2026-02-12",
        appointment_at="2026-03-03 10:00:00",
        installed_at="2026-03-03 11:00:00",
        mrr="60.00",
    ),
    order("2026-03-03", "O3", "SOUTH", "awaiting_network", "2026-01-05", mrr="120.50", fallout_code="NR01"),
    order(
        "2026-03-03",
        "O4",
        "SOUTH",
        "invoiced",
        "2026-02-01",
        installed_at="2026-02-25 14:30:00",
        activated_at="2026-03-02 08:00:00",
        invoiced_at="2026-03-03 06:00:00",
        mrr="60.00",
    ),
]
DEFECT_ROW = 3  # 1-based data row of O3 in NEXT_DAY

NEXT_DAY_FOOTPRINT = [
    {"snapshot_date": "2026-03-03", "market": "NORTH", "premises_passed": "1000", "premises_ready": "430"},
    {"snapshot_date": "2026-03-03", "market": "SOUTH", "premises_passed": "800", "premises_ready": "210"},
    {"snapshot_date": "2026-03-03", "market": "EAST", "premises_passed": "500", "premises_ready": "0"},
]


def with_defect(row: int = DEFECT_ROW, rows: list[dict] = NEXT_DAY, **changes: str) -> list[dict]:
    """A copy of `rows` with data row `row` (1-based) changed."""
    copy = [dict(r) for r in rows]
    copy[row - 1].update(changes)
    return copy


SQL_KIND = {"date": pl.Date, "timestamp": pl.Datetime("us"), "text": pl.String, "count": pl.Int64, "money": pl.Float64}


def typed_frame(rows: list[dict]) -> pl.DataFrame:
    """The rows as a typed frame, the way a real Parquet extract would carry them."""
    kinds = {c.name: c.kind for c in SNAPSHOT_COLUMNS}
    convert = {
        "date": date.fromisoformat,
        "timestamp": datetime.fromisoformat,
        "text": str,
        "count": int,
        "money": float,
    }
    data = {name: [convert[kinds[name]](r[name]) if r[name] != "" else None for r in rows] for name in SNAPSHOT_NAMES}
    return pl.DataFrame(data, schema={name: SQL_KIND[kinds[name]] for name in SNAPSHOT_NAMES})


# --------------------------------------------------------------------------------------------
# Store and run helpers


def store_data(db: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            "snapshots": con.sql("select * from snapshots order by snapshot_date, order_id").fetchall(),
            "footprint": con.sql("select * from footprint order by snapshot_date, market").fetchall(),
        }
    finally:
        con.close()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store holding the valid baseline: 2 snapshot dates, 2 markets, 6 orders, and footprint."""
    db = tmp_path / "store" / "opslens.duckdb"
    good = write(tmp_path / "baseline.csv", csv_text(BASELINE))
    footprint = write(tmp_path / "baseline_footprint.csv", csv_text(FOOTPRINT))
    ingest_files(db, [good, footprint])
    data = store_data(db)
    assert len(data["snapshots"]) == len(BASELINE)
    assert len(data["footprint"]) == len(FOOTPRINT)
    return db


def rejected(db: Path, paths: list[Path], capsys) -> tuple[list, str]:
    """Run the ingest through the library and the CLI; both must reject and leave the data alone.

    Returns the library's problems and the CLI's stderr.
    """
    before = store_data(db)

    with pytest.raises(IngestRejected) as info:
        ingest_files(db, paths)
    assert store_data(db) == before, "the library ingest changed the store although it was rejected"
    problems = list(info.value.problems)
    assert problems, "IngestRejected without problems"
    assert str(info.value).strip(), "IngestRejected with an empty message"

    code, out, err = run_cli(["ingest", "--db", str(db), *map(str, paths)], capsys)
    assert code == 2, f"exit code {code}, expected 2; stderr: {err}"
    assert "Traceback" not in out + err
    assert err.strip(), "no message on stderr"
    assert store_data(db) == before, "the CLI ingest changed the store although it was rejected"
    return problems, err


def quoted(value: str) -> tuple[str, str]:
    return f"'{value}'", f'"{value}"'


def assert_names_value(message: str, value: str) -> None:
    assert any(q in message for q in quoted(value)), f"value {value!r} not quoted in: {message}"


def find_problem(
    problems: list, *, file: str, row: int | None = None, column: str | None = None, value: str | None = None
):
    """The problem matching every given field; fails listing all problems otherwise."""
    for p in problems:
        if Path(p.file).name != file:
            continue
        if row is not None and p.row != row:
            continue
        if column is not None and p.column != column:
            continue
        if value is not None and p.value != value:
            continue
        return p
    pytest.fail(f"no problem with file={file} row={row} column={column} value={value!r} in {problems}")


def assert_precise(
    problems: list, message: str, *, file: str, row: int | None, column: str | None, value: str | None
) -> None:
    """Structured problem and printed message both name file, row, column and value."""
    find_problem(problems, file=file, row=row, column=column, value=value)
    assert file in message
    if row is not None:
        assert f"row {row}" in message, f"'row {row}' not in: {message}"
    if column is not None:
        assert column in message
    if value is not None:
        assert_names_value(message, value)


# --------------------------------------------------------------------------------------------
# Control: the next-day file without a defect loads, so every rejection below is due to its defect


def test_next_day_without_defect_loads(store, tmp_path):
    path = write(tmp_path / "next_day.csv", csv_text(NEXT_DAY))
    footprint = write(tmp_path / "next_day_footprint.csv", csv_text(NEXT_DAY_FOOTPRINT))
    ingest_files(store, [path, footprint])
    data = store_data(store)
    assert len(data["snapshots"]) == len(BASELINE) + len(NEXT_DAY)
    assert len(data["footprint"]) == len(FOOTPRINT) + len(NEXT_DAY_FOOTPRINT)


# --------------------------------------------------------------------------------------------
# Columns and emptiness


@pytest.mark.parametrize("column", REQUIRED)
def test_missing_required_column(store, tmp_path, capsys, column):
    columns = [c for c in SNAPSHOT_NAMES if c != column]
    path = write(tmp_path / "no_column.csv", csv_text(NEXT_DAY, columns))
    problems, err = rejected(store, [path], capsys)
    find_problem(problems, file=path.name, column=column)
    assert path.name in err
    assert column in err


def test_empty_file(store, tmp_path, capsys):
    path = write(tmp_path / "empty.csv", b"")
    problems, err = rejected(store, [path], capsys)
    find_problem(problems, file=path.name)
    assert path.name in err
    assert "empty" in err.lower()


def test_header_only_file(store, tmp_path, capsys):
    path = write(tmp_path / "header_only.csv", ",".join(SNAPSHOT_NAMES) + "\n")
    problems, err = rejected(store, [path], capsys)
    find_problem(problems, file=path.name)
    assert path.name in err


# --------------------------------------------------------------------------------------------
# Values


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("snapshot_date", "2026-02-30"),
        ("snapshot_date", "March 3"),
        ("ordered_at", "last week"),
        ("installed_at", "2026-03-03 25:00:00"),
        ("appointment_at", "03/05/2026 10:00"),
        ("truck_rolls", "abc"),
        ("missed_appointments", "1.5"),
        ("mrr", "ten"),
        ("truck_rolls", "99999999999999999999"),  # a whole number, but beyond a 64-bit integer
        ("missed_appointments", "9223372036854775808"),
    ],
)
def test_value_not_of_its_type(store, tmp_path, capsys, column, value):
    path = write(tmp_path / "bad_value.csv", csv_text(with_defect(**{column: value})))
    problems, err = rejected(store, [path], capsys)
    assert_precise(problems, err, file=path.name, row=DEFECT_ROW, column=column, value=value)


@pytest.mark.parametrize("column", REQUIRED)
def test_null_in_required_column(store, tmp_path, capsys, column):
    path = write(tmp_path / "null.csv", csv_text(with_defect(**{column: ""})))
    problems, err = rejected(store, [path], capsys)
    assert_precise(problems, err, file=path.name, row=DEFECT_ROW, column=column, value=None)


@pytest.mark.parametrize("stage", ["shipped", "in_progress"])
def test_stage_outside_the_list(store, tmp_path, capsys, stage):
    path = write(tmp_path / "bad_stage.csv", csv_text(with_defect(stage=stage)))
    problems, err = rejected(store, [path], capsys)
    assert_precise(problems, err, file=path.name, row=DEFECT_ROW, column="stage", value=stage)
    missing = [s for s in STAGES if s not in err]
    assert not missing, f"allowed stages not listed: {missing}"


@pytest.mark.parametrize(
    ("column", "value"),
    [("missed_appointments", "-1"), ("truck_rolls", "-2"), ("mrr", "-10.00")],
)
def test_negative_count_or_mrr(store, tmp_path, capsys, column, value):
    path = write(tmp_path / "negative.csv", csv_text(with_defect(**{column: value})))
    problems, err = rejected(store, [path], capsys)
    assert_precise(problems, err, file=path.name, row=DEFECT_ROW, column=column, value=value)


# --------------------------------------------------------------------------------------------
# Duplicates


def test_duplicate_order_within_one_file(store, tmp_path, capsys):
    rows = [*NEXT_DAY, dict(NEXT_DAY[0], stage="scheduled")]  # row 5 repeats O1 on 2026-03-03
    path = write(tmp_path / "dupes.csv", csv_text(rows))
    problems, err = rejected(store, [path], capsys)
    find_problem(problems, file=path.name, row=5)
    assert path.name in err
    assert "row 5" in err
    assert "O1" in err
    assert "2026-03-03" in err


def test_duplicate_order_across_two_files_of_one_ingest(store, tmp_path, capsys):
    first = write(tmp_path / "first.csv", csv_text(NEXT_DAY))
    second = write(
        tmp_path / "second.csv", csv_text([dict(NEXT_DAY[1], stage="activated", activated_at="2026-03-03 12:00:00")])
    )
    problems, err = rejected(store, [first, second], capsys)
    assert any(Path(p.file).name in {first.name, second.name} for p in problems), problems
    assert "O2" in err
    assert "2026-03-03" in err
    assert second.name in err, "the message should name the file holding the repeat"
    assert first.name in err, "the message should name the file holding the first occurrence"


# --------------------------------------------------------------------------------------------
# Milestone times


@pytest.mark.parametrize("column", PAST_MILESTONES)
@pytest.mark.parametrize("value", ["2026-03-04 00:00:00", "2026-03-04", "2026-03-10 09:00:00"])
def test_milestone_after_end_of_snapshot_date(store, tmp_path, capsys, column, value):
    path = write(tmp_path / "future.csv", csv_text(with_defect(**{column: value})))
    problems, err = rejected(store, [path], capsys)
    assert_precise(problems, err, file=path.name, row=DEFECT_ROW, column=column, value=value)


@pytest.mark.parametrize("column", PAST_MILESTONES)
@pytest.mark.parametrize("value", ["2026-03-03 23:59:00", "2026-03-03 23:59:59", "2026-03-03"])
def test_milestone_on_the_snapshot_day_is_allowed(store, tmp_path, column, value):
    path = write(tmp_path / "same_day.csv", csv_text(with_defect(**{column: value})))
    ingest_files(store, [path])
    con = duckdb.connect(str(store), read_only=True)
    try:
        stored = con.sql(
            f"select {column} from snapshots where snapshot_date = date '2026-03-03' and order_id = 'O3'"
        ).fetchall()
    finally:
        con.close()
    assert stored == [(datetime.fromisoformat(value),)]


def test_future_appointment_and_readiness_are_allowed(store, tmp_path):
    rows = with_defect(
        network_ready_at="2026-04-01", appointment_at="2026-04-02 09:00:00", stage_entered_at="2026-03-03 09:00:00"
    )
    ingest_files(store, [write(tmp_path / "future_appointment.csv", csv_text(rows))])
    assert len(store_data(store)["snapshots"]) == len(BASELINE) + len(NEXT_DAY)


def test_installed_before_ordered(store, tmp_path, capsys):
    path = write(tmp_path / "installed_early.csv", csv_text(with_defect(installed_at="2026-01-04 10:00:00")))
    problems, err = rejected(store, [path], capsys)
    assert_precise(problems, err, file=path.name, row=DEFECT_ROW, column="installed_at", value="2026-01-04 10:00:00")
    assert "ordered_at" in err


# --------------------------------------------------------------------------------------------
# Bytes and structure


def test_invalid_utf8(store, tmp_path, capsys):
    text = csv_text(with_defect(market="SOUTH\x00MARK"))
    content = text.encode("utf-8").replace(b"SOUTH\x00MARK", b"SOUTH\xff")
    path = write(tmp_path / "latin.csv", content)
    problems, err = rejected(store, [path], capsys)
    find_problem(problems, file=path.name, row=DEFECT_ROW)
    assert path.name in err
    assert f"row {DEFECT_ROW}" in err
    assert "utf" in err.lower()


def test_latin1_encoded_file(store, tmp_path, capsys):
    content = csv_text(with_defect(market="Zürich")).encode("latin-1")
    path = write(tmp_path / "latin1.csv", content)
    problems, err = rejected(store, [path], capsys)
    find_problem(problems, file=path.name, row=DEFECT_ROW)
    assert path.name in err
    assert f"row {DEFECT_ROW}" in err


def test_ragged_row_with_too_many_fields(store, tmp_path, capsys):
    lines = csv_text(NEXT_DAY).splitlines()
    lines[DEFECT_ROW] += ",surplus"  # lines[0] is the header
    path = write(tmp_path / "too_many.csv", "\n".join(lines) + "\n")
    problems, err = rejected(store, [path], capsys)
    find_problem(problems, file=path.name, row=DEFECT_ROW)
    assert path.name in err
    assert f"row {DEFECT_ROW}" in err


def test_ragged_row_with_too_few_fields(store, tmp_path, capsys):
    lines = csv_text(NEXT_DAY).splitlines()
    lines[DEFECT_ROW] = ",".join(lines[DEFECT_ROW].split(",")[:-3])
    path = write(tmp_path / "too_few.csv", "\n".join(lines) + "\n")
    problems, err = rejected(store, [path], capsys)
    find_problem(problems, file=path.name, row=DEFECT_ROW)
    assert path.name in err
    assert f"row {DEFECT_ROW}" in err


def test_ragged_row_after_a_multiline_field_is_numbered_by_data_row(store, tmp_path, capsys):
    rows = with_defect(row=1, product="fiber\n1g")  # a quoted field spanning two physical lines
    lines = csv_text(rows).split("\n")
    lines[DEFECT_ROW + 1] += ",surplus"  # data row 3 is physical line 5 (index 4)
    path = write(tmp_path / "multiline.csv", "\n".join(lines))
    problems, err = rejected(store, [path], capsys)
    find_problem(problems, file=path.name, row=DEFECT_ROW)
    assert f"row {DEFECT_ROW}" in err


def test_unclosed_quote(store, tmp_path, capsys):
    path = write(tmp_path / "quote.csv", csv_text(NEXT_DAY).replace(",NR01", ',"NR01'))
    problems, err = rejected(store, [path], capsys)
    find_problem(problems, file=path.name, row=DEFECT_ROW)
    assert path.name in err


def test_corrupt_parquet(store, tmp_path, capsys):
    noise = bytes(random.Random(7).randrange(256) for _ in range(2048))
    path = write(tmp_path / "orders.parquet", noise)
    problems, err = rejected(store, [path], capsys)
    find_problem(problems, file=path.name)
    assert path.name in err


def test_truncated_parquet(store, tmp_path, capsys):
    whole = tmp_path / "whole.parquet"
    typed_frame(NEXT_DAY).write_parquet(whole)
    content = whole.read_bytes()
    path = write(tmp_path / "truncated.parquet", content[: len(content) // 2])
    problems, err = rejected(store, [path], capsys)
    find_problem(problems, file=path.name)
    assert path.name in err


def test_gzip_file_that_is_not_gzip(store, tmp_path, capsys):
    noise = bytes(random.Random(11).randrange(256) for _ in range(2048))
    path = write(tmp_path / "orders.csv.gz", noise)
    problems, err = rejected(store, [path], capsys)
    find_problem(problems, file=path.name)
    assert path.name in err


def _gzip_cut_at_a_line_boundary(text: str) -> bytes:
    """A gzip stream flushed and cut right after a complete line: decompresses to whole rows, then ends."""
    data = text.encode("utf-8")
    half = data[: data.index(b"\n", len(data) // 2) + 1]
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    return compressor.compress(half) + compressor.flush(zlib.Z_SYNC_FLUSH)


@pytest.mark.parametrize("cut", ["two-thirds", "trailer-missing", "at-a-line-boundary"])
def test_truncated_gzip(store, tmp_path, capsys, cut):
    many = [dict(NEXT_DAY[i % 4], order_id=f"N{i:05d}") for i in range(2000)]
    text = csv_text(many)
    whole = gzip.compress(text.encode("utf-8"))
    content = {
        "two-thirds": whole[: len(whole) * 2 // 3],
        "trailer-missing": whole[:-8],
        "at-a-line-boundary": _gzip_cut_at_a_line_boundary(text),
    }[cut]
    path = write(tmp_path / "cut.csv.gz", content)
    problems, err = rejected(store, [path], capsys)
    find_problem(problems, file=path.name)
    assert path.name in err


def test_defect_inside_gzip_csv_is_located(store, tmp_path, capsys):
    content = gzip.compress(csv_text(with_defect(stage="shipped")).encode("utf-8"))
    path = write(tmp_path / "orders.csv.gz", content)
    problems, err = rejected(store, [path], capsys)
    assert_precise(problems, err, file=path.name, row=DEFECT_ROW, column="stage", value="shipped")


def test_defect_inside_parquet_is_located(store, tmp_path, capsys):
    path = tmp_path / "orders.parquet"
    typed_frame(with_defect(mrr="-10.00")).write_parquet(path)
    problems, err = rejected(store, [path], capsys)
    find_problem(problems, file=path.name, row=DEFECT_ROW, column="mrr")
    assert path.name in err
    assert f"row {DEFECT_ROW}" in err
    assert "-10" in err


def test_unsupported_file_type(store, tmp_path, capsys):
    path = write(tmp_path / "orders.json", '[{"snapshot_date": "2026-03-03"}]')
    problems, err = rejected(store, [path], capsys)
    find_problem(problems, file=path.name)
    assert path.name in err


# --------------------------------------------------------------------------------------------
# Footprint files


def test_footprint_ready_above_passed(store, tmp_path, capsys):
    rows = with_defect(row=2, rows=NEXT_DAY_FOOTPRINT, premises_ready="900")
    path = write(tmp_path / "footprint.csv", csv_text(rows, FOOTPRINT_NAMES))
    problems, err = rejected(store, [path], capsys)
    assert_precise(problems, err, file=path.name, row=2, column="premises_ready", value="900")
    assert "premises_passed" in err


@pytest.mark.parametrize("column", ["premises_passed", "premises_ready"])
def test_footprint_negative_premises(store, tmp_path, capsys, column):
    rows = with_defect(row=3, rows=NEXT_DAY_FOOTPRINT, **{column: "-5"})
    path = write(tmp_path / "footprint.csv", csv_text(rows, FOOTPRINT_NAMES))
    problems, err = rejected(store, [path], capsys)
    assert_precise(problems, err, file=path.name, row=3, column=column, value="-5")


def test_footprint_count_beyond_integer_range(store, tmp_path, capsys):
    rows = with_defect(row=1, rows=NEXT_DAY_FOOTPRINT, premises_passed="9223372036854775808")
    path = write(tmp_path / "footprint.csv", csv_text(rows, FOOTPRINT_NAMES))
    problems, err = rejected(store, [path], capsys)
    assert_precise(problems, err, file=path.name, row=1, column="premises_passed", value="9223372036854775808")


def test_footprint_duplicate_date_and_market(store, tmp_path, capsys):
    rows = [*NEXT_DAY_FOOTPRINT, dict(NEXT_DAY_FOOTPRINT[0], premises_ready="431")]  # row 4 repeats NORTH
    path = write(tmp_path / "footprint.csv", csv_text(rows, FOOTPRINT_NAMES))
    problems, err = rejected(store, [path], capsys)
    find_problem(problems, file=path.name, row=4)
    assert path.name in err
    assert "row 4" in err
    assert "NORTH" in err


# --------------------------------------------------------------------------------------------
# All or nothing across files; paths that are not there


@pytest.mark.parametrize("bad_first", [False, True], ids=["good-then-bad", "bad-then-good"])
def test_good_file_with_bad_file_loads_nothing(store, tmp_path, capsys, bad_first):
    good = write(tmp_path / "good.csv", csv_text(NEXT_DAY))
    good_footprint = write(tmp_path / "good_footprint.csv", csv_text(NEXT_DAY_FOOTPRINT))
    bad = write(tmp_path / "bad.csv", csv_text([dict(NEXT_DAY[0], snapshot_date="2026-03-04", truck_rolls="-1")]))
    paths = [bad, good, good_footprint] if bad_first else [good, good_footprint, bad]
    problems, err = rejected(store, paths, capsys)
    find_problem(problems, file=bad.name, row=1, column="truck_rolls", value="-1")
    assert bad.name in err


def test_nonexistent_path(store, tmp_path, capsys):
    good = write(tmp_path / "good.csv", csv_text(NEXT_DAY))
    missing = tmp_path / "no_such_file.csv"
    problems, err = rejected(store, [good, missing], capsys)
    find_problem(problems, file=missing.name)
    assert missing.name in err


def test_file_of_neither_kind(store, tmp_path, capsys):
    path = write(tmp_path / "people.csv", "name,age\nAda,36\n")
    problems, err = rejected(store, [path], capsys)
    find_problem(problems, file=path.name)
    assert path.name in err
    assert "snapshot_date" in err  # says which required columns it lacks


def test_directory_instead_of_file(store, tmp_path, capsys):
    folder = tmp_path / "extracts.csv"
    folder.mkdir()
    problems, err = rejected(store, [folder], capsys)
    assert folder.name in err
    assert problems


def test_every_problem_is_reported_not_just_the_first(store, tmp_path, capsys):
    rows = with_defect(row=1, stage="shipped")
    rows = with_defect(row=4, rows=rows, mrr="-3")
    path = write(tmp_path / "two_defects.csv", csv_text(rows))
    problems, err = rejected(store, [path], capsys)
    find_problem(problems, file=path.name, row=1, column="stage", value="shipped")
    find_problem(problems, file=path.name, row=4, column="mrr", value="-3")
    assert "row 1" in err and "row 4" in err
