"""The CLI's export/demo/migrate commands, the thresholds file, migrations, and derived-column upkeep."""

from __future__ import annotations

import importlib
import io
import json
import random

import duckdb
import openpyxl
import polars as pl
import pytest

from opslens import config
from opslens.cli import main
from opslens.demo import generate
from opslens.ingest import ingest_files
from opslens.queries import dataset
from opslens.store import SCHEMA_VERSION, StoreError, open_store


def test_export_csv_to_stdout_matches_the_dataset(demo_db, capsys):
    assert main(["export", "backlog", "--db", str(demo_db), "--market", "NORTH", "--market", "WEST"]) == 0
    printed = pl.read_csv(io.StringIO(capsys.readouterr().out))
    expected = dataset("backlog", db=demo_db, markets=["NORTH", "WEST"])
    assert printed["stage"].to_list() == expected["stage"].to_list()
    assert printed["orders"].to_list() == expected["orders"].to_list()


def test_export_json_records_dataset_and_filters(demo_db, capsys):
    args = ["export", "readiness", "--db", str(demo_db), "--as-of", "2026-11-10", "--segment", "business"]
    assert main([*args, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["meta"] == {"dataset": "readiness", "as_of": "2026-11-10", "segments": "business"}
    expected = dataset("readiness", db=demo_db, as_of=pl.Series(["2026-11-10"]).str.to_date()[0], segments=["business"])
    assert [row["market"] for row in document["rows"]] == expected["market"].to_list()


def test_export_parquet_gets_a_default_name_and_metadata(demo_db, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["export", "exceptions", "--db", str(demo_db), "--rule", "stalled", "--format", "parquet"]) == 0
    written = list(tmp_path.glob("exceptions_*.parquet"))
    assert len(written) == 1 and "rules-stalled" in written[0].name
    frame = pl.read_parquet(written[0])
    assert set(frame["rule"]) == {"stalled"}
    assert json.loads(pl.read_parquet_metadata(written[0])["opslens"])["rules"] == "stalled"
    assert "wrote" in capsys.readouterr().err


def test_export_xlsx_has_data_and_about_sheets(demo_db, tmp_path):
    target = tmp_path / "backlog.xlsx"
    assert main(["export", "backlog", "--db", str(demo_db), "--format", "xlsx", "--output", str(target)]) == 0
    book = openpyxl.load_workbook(target)
    assert book.sheetnames == ["data", "about"]
    assert [c.value for c in book["data"][1]][:5] == ["stage", "orders", "mrr", "median_age_days", "stalled"]
    assert book["data"].max_row == 7
    assert ("dataset", "backlog") in {(r[0].value, r[1].value) for r in book["about"].iter_rows(min_row=2)}


def test_export_without_a_store_says_how_to_make_one(tmp_path, capsys):
    assert main(["export", "backlog", "--db", str(tmp_path / "none.duckdb")]) == 1
    err = capsys.readouterr().err
    assert "opslens demo" in err and "Traceback" not in err


def test_demo_refuses_to_overwrite_without_replace(demo_db, capsys):
    assert main(["demo", "--db", str(demo_db)]) == 1
    assert "--replace" in capsys.readouterr().err


def test_demo_is_deterministic_by_seed(tmp_path):
    stores = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        path = tmp_path / f"{name}.duckdb"
        assert (
            main(
                [
                    "demo",
                    "--db",
                    str(path),
                    "--orders",
                    "300",
                    "--days",
                    "15",
                    "--seed",
                    str(seed),
                    "--end",
                    "2026-06-30",
                ]
            )
            == 0
        )
        stores.append(dataset("orders", db=path).drop("exceptions"))
    assert stores[0].equals(stores[1])
    assert not stores[0].equals(stores[2])


def test_migrate_creates_a_store_at_the_current_schema(tmp_path):
    path = tmp_path / "new.duckdb"
    assert main(["migrate", "--db", str(path)]) == 0
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert con.sql("select max(version) from schema_migrations").fetchall()[0][0] == SCHEMA_VERSION
        tables = {r[0] for r in con.sql("select table_name from duckdb_tables()").fetchall()}
    finally:
        con.close()
    assert {"snapshots", "footprint", "ingests", "ingest_contents", "stages"} <= tables


def test_a_store_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "future.duckdb"
    open_store(path).close()
    con = duckdb.connect(str(path))
    con.sql("insert into schema_migrations values (999, 'from the future', now()::timestamp)")
    con.close()
    with pytest.raises(StoreError, match="newer"):
        open_store(path)


def test_thresholds_file_changes_stall_limits(tmp_path, monkeypatch, demo_db):
    default_stalled = dataset("backlog", db=demo_db)["stalled"].sum()
    settings = tmp_path / "opslens.toml"
    settings.write_text("[stalled_after_days]\nintake = 0\nawaiting_network = 0\n", encoding="utf-8")
    monkeypatch.setenv("OPSLENS_CONFIG", str(settings))
    assert config.stall_limits()["intake"] == 0 and config.stall_limits()["scheduled"] == 21
    assert dataset("backlog", db=demo_db)["stalled"].sum() > default_stalled


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[stalled_after_days]\nshipping = 3\n", "not an open stage"),
        ("[stalled_after_days]\nintake = -1\n", "whole number"),
        ("[stalled_after_days]\nintake = 'three'\n", "whole number"),
        ("not = [valid", "not valid TOML"),
    ],
)
def test_bad_thresholds_file_is_explained(tmp_path, monkeypatch, demo_db, capsys, text, message):
    settings = tmp_path / "opslens.toml"
    settings.write_text(text, encoding="utf-8")
    monkeypatch.setenv("OPSLENS_CONFIG", str(settings))
    with pytest.raises(config.ConfigError, match=message):
        config.stall_limits()
    assert main(["export", "backlog", "--db", str(demo_db)]) == 1
    assert message in capsys.readouterr().err


def _store_rows(path) -> dict[str, list[tuple]]:
    """The snapshots and every table derived from them, in a fixed order."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            table: con.sql(f"select * from {table} order by all").fetchall()
            for table in (
                "snapshots",
                "latest_rows",
                "invoiced_rows",
                "ready_rows",
                "stage_days",
                "market_days",
                "stage_exits",
            )
        }
    finally:
        con.close()


def test_day_by_day_ingests_in_any_order_equal_one_full_load(tmp_path):
    """Derived columns (run start, next row) kept up ingest by ingest equal those of one full load."""
    data = generate(seed=11, orders=400, days=18, markets=3)
    days = data.snapshots.partition_by("snapshot_date")
    files = []
    for index, frame in enumerate(days):
        path = tmp_path / f"day{index:02d}.parquet"
        frame.write_parquet(path)
        files.append(path)
    full = tmp_path / "full.duckdb"
    ingest_files(full, files)
    incremental = tmp_path / "incremental.duckdb"
    shuffled = files[:]
    random.Random(5).shuffle(shuffled)
    for path in shuffled:
        ingest_files(incremental, [path])
    ingest_files(incremental, [shuffled[3]])  # a re-ingest of an old day changes nothing
    kept_up, rebuilt = _store_rows(incremental), _store_rows(full)
    for table in rebuilt:
        assert kept_up[table] == rebuilt[table], table
    assert len(rebuilt["latest_rows"]) == data.snapshots["order_id"].n_unique()


def test_a_load_in_small_chunks_equals_one_in_a_single_chunk(tmp_path, monkeypatch):
    """Large ingests load in chunks of consecutive dates; the chunk size must not change the result."""
    data = generate(seed=12, orders=400, days=15, markets=3)
    source = tmp_path / "history.parquet"
    data.snapshots.write_parquet(source)
    whole = tmp_path / "whole.duckdb"
    ingest_files(whole, [source])
    load_module = importlib.import_module("opslens.ingest.load")  # the package's `load` is the function
    monkeypatch.setattr(load_module, "CHUNK_ROWS", 700)  # about three days per chunk
    chunked = tmp_path / "chunked.duckdb"
    ingest_files(chunked, [source])
    assert _store_rows(chunked) == _store_rows(whole)
    con = duckdb.connect(str(chunked), read_only=True)
    try:
        assert con.sql("select count(distinct ingest_id) from ingest_contents").fetchall() == [(1,)]
    finally:
        con.close()


def test_a_version_1_store_is_upgraded_with_its_derived_data_backfilled(tmp_path):
    """Migrations 2 to 5 fill previous_stage and every derived table for stores that predate them."""
    data = generate(seed=2, orders=300, days=12, markets=3)
    source = tmp_path / "snapshots.parquet"
    data.snapshots.write_parquet(source)
    current = tmp_path / "current.duckdb"
    ingest_files(current, [source])
    downgraded = tmp_path / "v1.duckdb"
    ingest_files(downgraded, [source])
    con = duckdb.connect(str(downgraded))
    for table in ("latest_rows", "stage_days", "invoiced_rows", "ready_rows", "market_days", "stage_exits"):
        con.sql(f"drop table {table}")
    con.sql("alter table snapshots drop column previous_stage")
    con.sql("delete from schema_migrations where version >= 2")
    con.close()

    assert main(["migrate", "--db", str(downgraded)]) == 0
    upgraded, loaded = _store_rows(downgraded), _store_rows(current)
    for table in loaded:
        assert upgraded[table] == loaded[table], table
