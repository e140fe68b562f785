"""Good input loads (SPEC §1): every file format, re-ingest semantics, warnings, summary and the ingest log."""

from __future__ import annotations

import gzip
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest
from ingest_rows import BASELINE as ORDERS
from ingest_rows import FOOTPRINT, csv_text, order, run_cli, write

from opslens.contract import (
    FOOTPRINT_COLUMNS,
    FOOTPRINT_NAMES,
    SNAPSHOT_COLUMNS,
    SNAPSHOT_NAMES,
)
from opslens.ingest import IngestRejected, ingest_files

ROWS_BY_DATE = {date(2026, 3, 1): 4, date(2026, 3, 2): 6}


# Contract columns plus the derived run columns; not ingest_id, which rightly differs between ingests.
SNAPSHOT_SELECT = ", ".join([*SNAPSHOT_NAMES, "stage_run_start", "next_snapshot_date"])
FOOTPRINT_SELECT = ", ".join(FOOTPRINT_NAMES)


POLARS_TYPES = {
    "date": pl.Date,
    "timestamp": pl.Datetime("us"),
    "text": pl.String,
    "count": pl.Int64,
    "money": pl.Float64,
}
CONVERT = {"date": date.fromisoformat, "timestamp": datetime.fromisoformat, "text": str, "count": int, "money": float}


def typed_frame(rows: list[dict], columns) -> pl.DataFrame:
    """The rows typed as a real Parquet extract would carry them."""
    data = {c.name: [CONVERT[c.kind](r[c.name]) if r[c.name] != "" else None for r in rows] for c in columns}
    return pl.DataFrame(data, schema={c.name: POLARS_TYPES[c.kind] for c in columns})


def contents(db: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        snapshots = con.sql(f"select {SNAPSHOT_SELECT} from snapshots order by snapshot_date, order_id")
        footprint = con.sql(f"select {FOOTPRINT_SELECT} from footprint order by snapshot_date, market")
        return {"snapshots": snapshots.fetchall(), "footprint": footprint.fetchall()}
    finally:
        con.close()


def query(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def orders_csv(tmp_path: Path) -> Path:
    return write(tmp_path / "orders.csv", csv_text(ORDERS))


@pytest.fixture
def footprint_csv(tmp_path: Path) -> Path:
    return write(tmp_path / "footprint.csv", csv_text(FOOTPRINT))


# --------------------------------------------------------------------------------------------
# Formats


def test_csv_loads_every_row_with_its_types(tmp_path, orders_csv, footprint_csv):
    db = tmp_path / "new" / "opslens.duckdb"  # created and migrated by the ingest
    ingest_files(db, [orders_csv, footprint_csv])
    data = contents(db)
    assert len(data["snapshots"]) == len(ORDERS)
    assert len(data["footprint"]) == len(FOOTPRINT)
    o2 = query(
        db,
        "select ordered_at, appointment_at, mrr, truck_rolls, product from snapshots "
        "where snapshot_date = date '2026-03-01' and order_id = 'O2'",
    )
    assert o2 == [(datetime(2026, 2, 10, 9, 15), datetime(2026, 3, 4, 10, 0), 60.0, 0, "fiber_1g")]
    o5 = query(
        db, "select ordered_at, mrr, truck_rolls, fallout_code, installed_at from snapshots where order_id = 'O5'"
    )
    assert o5 == [(datetime(2026, 3, 2, 7, 45), None, None, None, None)]  # empty field = null
    o1 = query(db, "select ordered_at from snapshots where order_id = 'O1' and snapshot_date = date '2026-03-01'")
    assert o1 == [(datetime(2026, 2, 27),)]  # a date where a timestamp may be is midnight


def test_csv_gzip_and_parquet_load_identically(tmp_path, orders_csv, footprint_csv):
    gz_orders = write(tmp_path / "orders.csv.gz", gzip.compress(orders_csv.read_bytes()))
    gz_footprint = write(tmp_path / "footprint.csv.gz", gzip.compress(footprint_csv.read_bytes()))
    pq_orders = tmp_path / "orders.parquet"
    typed_frame(ORDERS, SNAPSHOT_COLUMNS).write_parquet(pq_orders)
    pq_footprint = tmp_path / "footprint.parquet"
    typed_frame(FOOTPRINT, FOOTPRINT_COLUMNS).write_parquet(pq_footprint)

    stores = {}
    for name, files in {
        "csv": [orders_csv, footprint_csv],
        "gzip": [gz_orders, gz_footprint],
        "parquet": [pq_orders, pq_footprint],
    }.items():
        stores[name] = tmp_path / f"{name}.duckdb"
        ingest_files(stores[name], files)

    reference = contents(stores["csv"])
    assert len(reference["snapshots"]) == len(ORDERS)
    assert contents(stores["gzip"]) == reference
    assert contents(stores["parquet"]) == reference


def test_parquet_with_text_columns_loads_like_csv(tmp_path, orders_csv):
    """A Parquet extract whose columns are all strings (as some exporters write) is parsed like CSV."""
    as_text = tmp_path / "orders_text.parquet"
    pl.DataFrame(
        {n: [r[n] or None for r in ORDERS] for n in SNAPSHOT_NAMES}, schema=dict.fromkeys(SNAPSHOT_NAMES, pl.String)
    ).write_parquet(as_text)
    ingest_files(tmp_path / "a.duckdb", [orders_csv])
    ingest_files(tmp_path / "b.duckdb", [as_text])
    assert contents(tmp_path / "b.duckdb") == contents(tmp_path / "a.duckdb")


@pytest.mark.parametrize(
    "variant",
    ["utf8-bom", "crlf", "no-final-newline", "trailing-blank-lines"],
)
def test_common_csv_variants_load_like_plain_csv(tmp_path, orders_csv, variant):
    text = orders_csv.read_text(encoding="utf-8")
    content = {
        "utf8-bom": "\ufeff" + text,  # Excel's "CSV UTF-8"
        "crlf": text.replace("\n", "\r\n"),
        "no-final-newline": text.rstrip("\n"),
        "trailing-blank-lines": text + "\n\n",
    }[variant]
    variant_csv = write(tmp_path / f"{variant}.csv", content)
    ingest_files(tmp_path / "a.duckdb", [orders_csv])
    ingest_files(tmp_path / "b.duckdb", [variant_csv])
    assert contents(tmp_path / "b.duckdb") == contents(tmp_path / "a.duckdb")


def test_quoted_fields_keep_commas_quotes_and_unicode(tmp_path):
    # A newline inside a text key is a control character and rejected (tests/test_hostile_input.py).
    tricky = {"O1": "fiber, 1g", "O2": 'the "gold" plan', "O3": "semi; colon", "O4": "Zürich – Nord"}
    rows = [dict(r, product=tricky.get(r["order_id"], r["product"])) for r in ORDERS]
    db = tmp_path / "opslens.duckdb"
    ingest_files(db, [write(tmp_path / "tricky.csv", csv_text(rows))])
    stored = dict(query(db, "select order_id, product from snapshots where snapshot_date = date '2026-03-01'"))
    assert stored == tricky


def test_one_file_with_several_snapshot_dates(tmp_path, orders_csv):
    db = tmp_path / "opslens.duckdb"
    result = ingest_files(db, [orders_csv])
    per_date = dict(query(db, "select snapshot_date, count(*) from snapshots group by all"))
    assert per_date == ROWS_BY_DATE
    assert result.rows_by_date == ROWS_BY_DATE


def test_columns_in_any_order(tmp_path, orders_csv):
    shuffled = write(tmp_path / "shuffled.csv", csv_text(ORDERS, list(reversed(SNAPSHOT_NAMES))))
    ingest_files(tmp_path / "a.duckdb", [orders_csv])
    ingest_files(tmp_path / "b.duckdb", [shuffled])
    assert contents(tmp_path / "b.duckdb") == contents(tmp_path / "a.duckdb")


def test_only_required_columns(tmp_path):
    required = [c.name for c in SNAPSHOT_COLUMNS if c.required]
    path = write(tmp_path / "minimal.csv", csv_text(ORDERS, required))
    db = tmp_path / "opslens.duckdb"
    ingest_files(db, [path])
    assert query(db, "select count(*), count(mrr), count(product) from snapshots") == [(len(ORDERS), 0, 0)]


# --------------------------------------------------------------------------------------------
# Re-ingest


def test_loading_the_same_file_twice_changes_nothing(tmp_path, orders_csv, footprint_csv):
    db = tmp_path / "opslens.duckdb"
    ingest_files(db, [orders_csv, footprint_csv])
    once = contents(db)
    ingest_files(db, [orders_csv, footprint_csv])
    assert contents(db) == once


def test_reingest_replaces_exactly_the_date_market_pairs_in_the_file(tmp_path, orders_csv, footprint_csv):
    db = tmp_path / "opslens.duckdb"
    ingest_files(db, [orders_csv, footprint_csv])
    before = contents(db)

    # A corrected NORTH extract for 2026-03-02: O2 moved on, O5 is not in it, O7 is new.
    correction = [
        dict(ORDERS[4]),
        dict(ORDERS[5], stage="installed", installed_at="2026-03-02 11:00:00", stage_entered_at="2026-03-02 11:00:00"),
        order("2026-03-02", "O7", "NORTH", "intake", "2026-03-02 09:00:00"),
    ]
    ingest_files(db, [write(tmp_path / "north_fix.csv", csv_text(correction))])

    pair = query(
        db,
        "select order_id, stage from snapshots "
        "where snapshot_date = date '2026-03-02' and market = 'NORTH' order by order_id",
    )
    assert pair == [("O1", "awaiting_appointment"), ("O2", "installed"), ("O7", "intake")]

    others = "not (snapshot_date = date '2026-03-02' and market = 'NORTH')"
    contract = ", ".join(SNAPSHOT_NAMES)
    assert query(db, f"select {contract} from snapshots where {others} order by snapshot_date, order_id") == [
        row[: len(SNAPSHOT_NAMES)]
        for row in before["snapshots"]
        if not (row[0] == date(2026, 3, 2) and row[2] == "NORTH")
    ]
    assert contents(db)["footprint"] == before["footprint"]


def test_reingest_of_footprint_replaces_its_pairs_only(tmp_path, orders_csv, footprint_csv):
    db = tmp_path / "opslens.duckdb"
    ingest_files(db, [orders_csv, footprint_csv])
    before = contents(db)
    fix = [dict(FOOTPRINT[3], premises_ready="250")]  # SOUTH on 2026-03-02
    ingest_files(db, [write(tmp_path / "footprint_fix.csv", csv_text(fix))])
    after = contents(db)
    assert after["snapshots"] == before["snapshots"]
    assert after["footprint"] == [
        (date(2026, 3, 2), "SOUTH", 800, 250) if (r[0], r[1]) == (date(2026, 3, 2), "SOUTH") else r
        for r in before["footprint"]
    ]


# --------------------------------------------------------------------------------------------
# Unknown columns, CLI summary


def test_unknown_extra_column_is_warned_and_ignored(tmp_path, capsys):
    rows = [dict(r, crm_note="call first") for r in ORDERS]
    path = write(tmp_path / "extra.csv", csv_text(rows))
    db = tmp_path / "opslens.duckdb"

    result = ingest_files(db, [path])
    assert any("crm_note" in w for w in result.warnings), result.warnings
    assert len(contents(db)["snapshots"]) == len(ORDERS)
    columns = [r[0] for r in query(db, "select column_name from duckdb_columns() where table_name = 'snapshots'")]
    assert "crm_note" not in columns

    code, out, err = run_cli(["ingest", "--db", str(tmp_path / "cli.duckdb"), str(path)], capsys)
    assert code == 0, err
    assert "crm_note" in err
    assert "Traceback" not in out + err


def test_cli_prints_a_summary_and_returns_0(tmp_path, capsys, orders_csv, footprint_csv):
    db = tmp_path / "opslens.duckdb"
    code, out, err = run_cli(["ingest", "--db", str(db), str(orders_csv), str(footprint_csv)], capsys)
    assert code == 0, err
    assert "Traceback" not in out + err
    for piece in ("2026-03-01", "2026-03-02", "4", "6", "NORTH", "SOUTH"):
        assert piece in out, f"{piece!r} not in summary: {out}"
    assert len(contents(db)["snapshots"]) == len(ORDERS)


def test_cli_uses_opslens_db_environment_variable(tmp_path, capsys, monkeypatch, orders_csv):
    db = tmp_path / "from_env.duckdb"
    monkeypatch.setenv("OPSLENS_DB", str(db))
    code, _out, err = run_cli(["ingest", str(orders_csv)], capsys)
    assert code == 0, err
    assert len(contents(db)["snapshots"]) == len(ORDERS)


# --------------------------------------------------------------------------------------------
# The ingest log


def test_ingests_table_records_a_loaded_ingest(tmp_path, orders_csv, footprint_csv):
    db = tmp_path / "opslens.duckdb"
    ingest_files(db, [orders_csv, footprint_csv])
    rows = query(db, "select outcome, files, snapshot_rows, footprint_rows, started_at <= finished_at from ingests")
    assert len(rows) == 1
    outcome, files, snapshot_rows, footprint_rows, ordered = rows[0]
    assert outcome == "loaded"
    assert sorted(Path(f).name for f in files) == ["footprint.csv", "orders.csv"]
    assert (snapshot_rows, footprint_rows) == (len(ORDERS), len(FOOTPRINT))
    assert ordered
    per_date = dict(
        query(db, "select snapshot_date, sum(rows) from ingest_contents where kind = 'snapshots' group by all")
    )
    assert per_date == ROWS_BY_DATE


def test_ingests_table_records_a_rejected_ingest(tmp_path, orders_csv):
    db = tmp_path / "opslens.duckdb"
    ingest_files(db, [orders_csv])
    bad = write(tmp_path / "bad.csv", csv_text([dict(ORDERS[0], snapshot_date="2026-03-03", stage="shipped")]))
    with pytest.raises(IngestRejected):
        ingest_files(db, [bad])
    rows = query(db, "select outcome, files, message from ingests order by ingest_id")
    assert [r[0] for r in rows] == ["loaded", "rejected"]
    _, files, message = rows[1]
    assert [Path(f).name for f in files] == ["bad.csv"]
    assert "shipped" in message
    assert "stage" in message
    assert len(contents(db)["snapshots"]) == len(ORDERS)


def test_cli_rejection_is_recorded_too(tmp_path, capsys, orders_csv):
    db = tmp_path / "opslens.duckdb"
    ingest_files(db, [orders_csv])
    bad = write(tmp_path / "bad.csv", csv_text([dict(ORDERS[0], snapshot_date="2026-03-03", mrr="-1")]))
    code, _out, _err = run_cli(["ingest", "--db", str(db), str(bad)], capsys)
    assert code == 2
    assert query(db, "select outcome from ingests order by ingest_id") == [("loaded",), ("rejected",)]
