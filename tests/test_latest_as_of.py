"""The latest-as-of tables give each order's latest row as of every date, as a scan of the history would.

"The latest row as of S" (install to invoice, order to ready) is read from `invoiced_rows` and
`ready_rows` (LATEST_AS_OF in opslens/store.py), kept by ingest. Here it is compared, for every
snapshot date (but the first few, before any order is invoiced), with the straightforward definition
of SPEC §1 (the row with the greatest snapshot_date <= S) computed from all snapshot rows: after one
full load, and after day-by-day ingests in a shuffled order with a corrected re-ingest.
"""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import polars as pl
import pytest

from opslens.demo import generate
from opslens.ingest import ingest_files
from opslens.queries.db import connection
from opslens.store import LATEST_AS_OF


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("latest-days")
    data = generate(seed=4, orders=600, days=20, markets=3)
    paths = []
    for index, frame in enumerate(data.snapshots.partition_by("snapshot_date")):
        paths.append(folder / f"day{index:02d}.parquet")
        frame.write_parquet(paths[-1])
    return paths


def assert_latest_matches_the_history(db: Path) -> None:
    with connection(db) as con:
        dates = [row[0] for row in con.sql("select distinct snapshot_date from snapshots order by 1").fetchall()]
        for latest in LATEST_AS_OF:
            columns = ", ".join(c for c in latest.columns if c != "next_snapshot_date")
            by_scan = f"""
                select {columns} from (
                    select * from snapshots where snapshot_date <= $as_of
                    qualify row_number() over (partition by order_id order by snapshot_date desc) = 1
                )
                where {latest.condition}
                order by order_id
            """
            by_macro = f"""
                select {columns} from opslens_latest_as_of('{latest.table}', $as_of, null, null, null)
                order by order_id
            """
            for as_of in dates[3:]:
                expected = con.sql(by_scan, params={"as_of": as_of}).fetchall()
                assert expected, f"no {latest.table} population at {as_of}: the fixture tests nothing"
                assert con.sql(by_macro, params={"as_of": as_of}).fetchall() == expected, (latest.table, as_of)


def test_after_one_full_load(days, tmp_path):
    db = tmp_path / "full.duckdb"
    ingest_files(db, days)
    assert_latest_matches_the_history(db)


def test_after_shuffled_daily_ingests_and_a_correction(days, tmp_path):
    db = tmp_path / "daily.duckdb"
    shuffled = days[:]
    random.Random(3).shuffle(shuffled)
    for path in shuffled:
        ingest_files(db, [path])
    # A corrected extract of a middle day: one market's orders lose their invoice date.
    middle = pl.read_parquet(days[10])
    market = middle["market"][0]
    fixed = middle.with_columns(
        pl.when(pl.col("market") == market).then(None).otherwise(pl.col("invoiced_at")).alias("invoiced_at"),
        pl.when((pl.col("market") == market) & (pl.col("stage") == "invoiced"))
        .then(pl.lit("activated"))
        .otherwise(pl.col("stage"))
        .alias("stage"),
    )
    correction = tmp_path / "correction.parquet"
    fixed.write_parquet(correction)
    ingest_files(db, [correction])
    assert_latest_matches_the_history(db)
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert all(con.sql(f"select count(*) from {latest.table}").fetchall()[0][0] for latest in LATEST_AS_OF)
    finally:
        con.close()
