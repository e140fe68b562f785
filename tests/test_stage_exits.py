"""`stage_exits` (opslens/store.py, kept by opslens/ingest/load.py): one row per change of stage with
the days spent in the stage left, read by service_levels and ageing_orders instead of a self-join.

The kept table must always equal a from-scratch computation over the snapshot rows, whatever order
the days arrive in (later dates first, re-ingests that replace rows, an order changing market), and
a store from before the table (schema 4) must migrate to the same numbers.

Hand-made days (one file each, markets NORTH and SOUTH):
  A  NORTH  03-01 intake (entered 02-27), 03-02 intake, 03-03 awaiting_network, 03-04 scheduled
            -> left intake on 03-03 after 4 days (03-03 - 02-27); left awaiting_network on 03-04
               after 1 day (no stage_entered_at: run start 03-03)
  B  NORTH  03-01 intake, 03-02 intake, then SOUTH 03-03 awaiting_network, 03-04 awaiting_network
            -> left intake on 03-03, in SOUTH (the leaving row's market), after 2 days (run from 03-01)
  C  SOUTH  03-01 scheduled (entered 02-25), no row on 03-02, 03-03 installed, 03-04 installed
            -> left scheduled on 03-03 after 6 days (its previous row is 03-01's)
  E  SOUTH  intake every day (never leaves)
A first, wrong extract of 03-02 has A already in awaiting_network and B in SOUTH; it is replaced.
"""

from __future__ import annotations

import datetime as dt
import random

import duckdb
import pytest
from ingest_rows import csv_text, order, write

from opslens.cli import main
from opslens.demo import generate
from opslens.ingest import ingest_files
from opslens.queries import dataset
from opslens.store import SCHEMA_VERSION, STAGE_EXITS_SELECT

D1, D2, D3, D4 = "2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"


def _day(day: str, *rows: tuple) -> list[dict]:
    return [order(day, oid, market, stage, "2026-02-20", **extra) for oid, market, stage, extra in rows]


DAYS = {
    D1: _day(
        D1,
        ("A", "NORTH", "intake", {"stage_entered_at": "2026-02-27"}),
        ("B", "NORTH", "intake", {}),
        ("C", "SOUTH", "scheduled", {"stage_entered_at": "2026-02-25"}),
        ("E", "SOUTH", "intake", {}),
    ),
    D2: _day(
        D2,
        ("A", "NORTH", "intake", {"stage_entered_at": "2026-02-27"}),
        ("B", "NORTH", "intake", {}),
        ("E", "SOUTH", "intake", {}),
    ),
    D3: _day(
        D3,
        ("A", "NORTH", "awaiting_network", {}),
        ("B", "SOUTH", "awaiting_network", {}),
        ("C", "SOUTH", "installed", {"installed_at": "2026-03-03"}),
        ("E", "SOUTH", "intake", {}),
    ),
    D4: _day(
        D4,
        ("A", "NORTH", "scheduled", {}),
        ("B", "SOUTH", "awaiting_network", {}),
        ("C", "SOUTH", "installed", {"installed_at": "2026-03-03"}),
        ("E", "SOUTH", "intake", {}),
    ),
}
WRONG_D2 = _day(
    D2,
    ("A", "NORTH", "awaiting_network", {}),
    ("B", "SOUTH", "intake", {}),
    ("E", "SOUTH", "intake", {}),
)
# (left_on, order_id, market, stage, next_stage, days_in_stage), worked out by hand above
EXPECTED = [
    (dt.date(2026, 3, 3), "A", "NORTH", "intake", "awaiting_network", 4),
    (dt.date(2026, 3, 3), "B", "SOUTH", "intake", "awaiting_network", 2),
    (dt.date(2026, 3, 3), "C", "SOUTH", "scheduled", "installed", 6),
    (dt.date(2026, 3, 4), "A", "NORTH", "awaiting_network", "scheduled", 1),
]
EXITS = "select left_on, order_id, market, stage, next_stage, days_in_stage from stage_exits order by all"

# The definition the datasets used before stage_exits (the leaving row joined with its previous row).
SELF_JOIN = """
    select s.snapshot_date, s.order_id, s.market, s.previous_stage, s.stage,
           s.snapshot_date - coalesce(p.stage_entered_at::date, p.stage_run_start)
    from snapshots s join snapshots p on p.order_id = s.order_id and p.next_snapshot_date = s.snapshot_date
    where s.previous_stage <> s.stage
    order by all
"""


def _file(tmp_path, name: str, rows: list[dict]):
    return write(tmp_path / f"{name}.csv", csv_text(rows))


def _kept_and_rebuilt(db) -> tuple[list[tuple], list[tuple]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        kept = con.sql("select * from stage_exits order by all").fetchall()
        rebuilt = con.sql(f"select * from ({STAGE_EXITS_SELECT}) order by all", params={"dates": None}).fetchall()
        return kept, rebuilt
    finally:
        con.close()


def _exits(db) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.sql(EXITS).fetchall()
    finally:
        con.close()


def test_kept_exits_equal_a_from_scratch_computation_after_ingests_in_odd_orders(tmp_path):
    files = {day: _file(tmp_path, day, rows) for day, rows in DAYS.items()}
    db = tmp_path / "kept.duckdb"
    steps = [
        files[D3],  # a later date first
        files[D4],
        _file(tmp_path, "wrong-0302", WRONG_D2),  # backfill, with B in the wrong market
        files[D1],  # an earlier date still: every later row's previous row changes
        files[D2],  # the wrong 03-02 replaced: B back in NORTH, A back in intake
        files[D3],  # re-ingest of an unchanged day
    ]
    for step in steps:
        ingest_files(db, [step])
        kept, rebuilt = _kept_and_rebuilt(db)
        assert kept == rebuilt, step.name
    assert _exits(db) == EXPECTED
    whole = tmp_path / "whole.duckdb"
    ingest_files(whole, list(files.values()))
    assert _exits(whole) == EXPECTED


def test_the_wrong_extract_gives_its_own_exits_until_replaced(tmp_path):
    """With the wrong 03-02 in place A left intake on 03-02 (3 days) and B moved market on 03-02."""
    db = tmp_path / "store.duckdb"
    ingest_files(db, [_file(tmp_path, D1, DAYS[D1]), _file(tmp_path, "wrong", WRONG_D2), _file(tmp_path, D3, DAYS[D3])])
    assert _exits(db) == [
        (dt.date(2026, 3, 2), "A", "NORTH", "intake", "awaiting_network", 3),
        (dt.date(2026, 3, 3), "B", "SOUTH", "intake", "awaiting_network", 2),
        (dt.date(2026, 3, 3), "C", "SOUTH", "scheduled", "installed", 6),
    ]
    ingest_files(db, [_file(tmp_path, "right", DAYS[D2])])
    kept, rebuilt = _kept_and_rebuilt(db)
    assert kept == rebuilt
    assert _exits(db) == EXPECTED[:3]


def test_shuffled_day_by_day_ingests_of_generated_data_keep_the_exits(tmp_path):
    data = generate(seed=21, orders=300, days=16, markets=3)
    files = []
    for index, frame in enumerate(data.snapshots.partition_by("snapshot_date")):
        files.append(tmp_path / f"day{index:02d}.parquet")
        frame.write_parquet(files[-1])
    db = tmp_path / "shuffled.duckdb"
    shuffled = files[:]
    random.Random(3).shuffle(shuffled)
    for path in [*shuffled, shuffled[2], shuffled[7]]:  # and two re-ingests
        ingest_files(db, [path])
    kept, rebuilt = _kept_and_rebuilt(db)
    assert kept == rebuilt and len(kept) > 100
    con = duckdb.connect(str(db), read_only=True)
    try:  # the same rows as the self-join the datasets ran before
        assert sorted(r[:3] + r[5:] for r in kept) == con.sql(SELF_JOIN).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def generated_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("exits")
    source = directory / "snapshots.parquet"
    generate(seed=4, orders=400, days=40, markets=3).snapshots.write_parquet(source)
    return source


def _sle_numbers(db):
    levels = dataset("service_levels", db=db, history=28).sort("market", "stage")
    ageing = dataset("ageing_orders", db=db, history=28).sort("order_id")
    return levels.to_dicts(), ageing.to_dicts()


def test_a_version_4_store_migrates_to_the_same_exits_and_numbers(tmp_path, generated_files):
    current = tmp_path / "current.duckdb"
    ingest_files(current, [generated_files])
    old = tmp_path / "v4.duckdb"
    ingest_files(old, [generated_files])
    con = duckdb.connect(str(old))
    con.sql("drop table stage_exits")
    con.sql("delete from schema_migrations where version >= 5")
    reference = con.sql(SELF_JOIN).fetchall()
    con.close()
    with pytest.raises(Exception, match="schema version 4"):  # readers ask for the migration
        dataset("service_levels", db=old)

    assert main(["migrate", "--db", str(old)]) == 0
    con = duckdb.connect(str(old), read_only=True)
    try:
        assert con.sql("select max(version) from schema_migrations").fetchall() == [(SCHEMA_VERSION,)]
        migrated = con.sql("select * from stage_exits order by all").fetchall()
    finally:
        con.close()
    assert migrated == _kept_and_rebuilt(current)[0]
    assert sorted(r[:3] + r[5:] for r in migrated) == reference
    levels, ageing = _sle_numbers(old)
    assert (levels, ageing) == _sle_numbers(current)
    assert sum(r["left_orders"] for r in levels) > 0 and any(
        r["beyond_sle_85"] for r in ageing
    )  # leavers counted, some orders flagged
