"""ingest_log: every ingest, loaded or rejected, newest first.

Each dataset's definition is read from its SQL header (queries/sql/*.sql) and queries/headline.py;
every expected value below is worked out by hand from the fixture tables, arithmetic in comments.
Days are calendar days between dates; percentiles are quantile_cont: sorted values v0..v(n-1),
h = (n-1)*p, value = v[floor h] + frac(h) * (v[floor h + 1] - v[floor h]).
"""

# Fixture tables are kept one order-row per line, aligned, for readability.

from __future__ import annotations

import datetime as dt

import pytest
from handmade import (
    dataset,
    expect,
    no_config_file,
    write_csv,
)


@pytest.fixture(autouse=True)
def _no_config(monkeypatch, tmp_path):
    no_config_file(monkeypatch, tmp_path)


# ====================================================================== ingest_log


def test_ingest_log_newest_first_with_outcomes(tmp_path):
    from opslens.ingest import IngestRejected, ingest_files

    db = tmp_path / "store.duckdb"
    first = write_csv(
        tmp_path,
        """
        snapshot_date | order_id | market | stage  | ordered_at
        2026-10-01    | G1       | NORTH  | intake | 2026-09-30
        2026-10-01    | G2       | NORTH  | intake | 2026-09-30
        """,
    )
    ingest_files(db, [first])
    bad = write_csv(
        tmp_path,
        """
        snapshot_date | order_id | market | stage   | ordered_at
        2026-10-02    | G1       | NORTH  | intake  | 2026-09-30
        2026-10-02    | G2       | NORTH  | shipped | 2026-09-30
        """,
    )
    with pytest.raises(IngestRejected) as rejection:
        ingest_files(db, [bad])
    snapshots = write_csv(
        tmp_path,
        """
        snapshot_date | order_id | market | stage     | ordered_at
        2026-10-02    | G1       | NORTH  | intake    | 2026-09-30
        2026-10-02    | G2       | NORTH  | scheduled | 2026-09-30
        2026-10-02    | H1       | SOUTH  | intake    | 2026-09-30
        """,
    )
    footprint = write_csv(
        tmp_path,
        """
        snapshot_date | market | premises_passed | premises_ready
        2026-10-02    | NORTH  | 100             | 60
        2026-10-02    | SOUTH  | 50              | 10
        """,
    )
    ingest_files(db, [snapshots, footprint])

    df = dataset("ingest_log", db)
    assert df.height == 3
    expect(
        df,
        [
            {
                "outcome": "loaded",
                "files": f"{snapshots}, {footprint}",
                "snapshot_rows": 3,
                "footprint_rows": 2,
                "message": None,
            },
            {
                "outcome": "rejected",
                "files": str(bad),
                "snapshot_rows": 0,
                "footprint_rows": 0,
                "message": str(rejection.value),
            },
            {"outcome": "loaded", "files": str(first), "snapshot_rows": 2, "footprint_rows": 0, "message": None},
        ],
    )
    # the reason names file, data row 2, column and value
    message = df["message"][1]
    assert bad.name in message and "row 2" in message and "stage" in message and "shipped" in message
    started = df["started_at"].to_list()
    assert started == sorted(started, reverse=True)
    # the rejected ingest loaded nothing: 2026-10-02 holds the third ingest's 3 rows
    assert dataset("snapshot_rows", db).to_dicts() == [
        {"snapshot_date": dt.date(2026, 10, 1), "market": "NORTH", "rows": 2},
        {"snapshot_date": dt.date(2026, 10, 1), "market": "SOUTH", "rows": 0},
        {"snapshot_date": dt.date(2026, 10, 2), "market": "NORTH", "rows": 2},
        {"snapshot_date": dt.date(2026, 10, 2), "market": "SOUTH", "rows": 1},
    ]
