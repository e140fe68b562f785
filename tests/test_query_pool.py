"""The read-only store pool: one open instance per store file version, cursors per query.

Opening DuckDB costs more than most queries, so readers share one instance per store file; these
tests check that sharing never shows stale data after a writer swaps the file, that concurrent
queries work, and that a replaced instance is closed once idle.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import duckdb
import pytest
from handmade import make_store

from opslens.config import ConfigError
from opslens.ingest import ingest_files
from opslens.queries import FilterError, dataset, snapshot_dates
from opslens.queries.db import _POOL


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return make_store(
        tmp_path,
        """
        snapshot_date | order_id | market | stage            | ordered_at | mrr
        2026-03-01    | N1       | NORTH  | intake           | 2026-02-28 | 40
        2026-03-02    | N1       | NORTH  | awaiting_network | 2026-02-28 | 40
        2026-03-02    | S1       | SOUTH  | scheduled        | 2026-02-20 | 55
        """,
    )


def test_a_swapped_store_is_seen_on_the_next_query_and_the_old_instance_closes(store: Path, tmp_path: Path):
    before = snapshot_dates(store)
    old = _POOL._open[store]
    extract = tmp_path / "next.csv"
    extract.write_text(
        "snapshot_date,order_id,market,stage,ordered_at\n2026-04-01,NEW1,NORTH,intake,2026-03-31\n", encoding="utf-8"
    )
    ingest_files(store, [extract])
    after = snapshot_dates(store)
    assert after[0] == dt.date(2026, 4, 1) and after[1:] == before
    assert _POOL._open[store] is not old
    with pytest.raises(duckdb.ConnectionException):
        old.con.sql("select 1").fetchall()


def test_concurrent_queries_share_one_instance(store: Path):
    expected = dataset("backlog", db=store)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(5):
                assert dataset("backlog", db=store).equals(expected)
        except BaseException as error:  # collected and re-raised in the test thread
            errors.append(error)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert _POOL._open[store].users == 0


def test_checked_facts_follow_a_swapped_store(store: Path, tmp_path: Path):
    """The snapshot dates and filter choices a query checks are remembered per file version: after a
    swap, the new date is a valid as-of, the default, and the new market a valid choice."""
    assert dataset("backlog", db=store, markets=["NORTH"])["orders"].sum() == 1
    with pytest.raises(FilterError, match="after the store's latest snapshot, 2026-03-02"):
        dataset("backlog", db=store, as_of=dt.date(2026, 4, 1))
    with pytest.raises(FilterError, match="unknown market 'EAST'"):
        dataset("backlog", db=store, markets=["EAST"])
    extract = tmp_path / "next.csv"
    extract.write_text(
        "snapshot_date,order_id,market,stage,ordered_at\n2026-04-01,E1,EAST,intake,2026-03-31\n", encoding="utf-8"
    )
    ingest_files(store, [extract])

    assert dataset("backlog", db=store, as_of=dt.date(2026, 4, 1), markets=["EAST"])["orders"].sum() == 1
    assert dataset("headline", db=store)["as_of"].to_list()[0] == dt.date(2026, 4, 1)  # the default as-of
    with pytest.raises(FilterError, match="not a snapshot date; the nearest are 2026-03-02 and 2026-04-01"):
        dataset("backlog", db=store, as_of=dt.date(2026, 3, 15))


@pytest.mark.parametrize(("setting", "expected"), [("", 1), ("[query]\nthreads = 2\n", 2)])
def test_queries_use_the_configured_threads(store: Path, tmp_path: Path, monkeypatch, setting: str, expected: int):
    config_file = tmp_path / "opslens.toml"
    config_file.write_text(setting, encoding="utf-8")
    monkeypatch.setenv("OPSLENS_CONFIG", str(config_file))
    dataset("backlog", db=store)
    assert _POOL._open[store].con.sql("select current_setting('threads')").fetchall() == [(expected,)]


def test_bad_threads_setting_is_explained(store: Path, tmp_path: Path, monkeypatch):
    config_file = tmp_path / "opslens.toml"
    config_file.write_text("[query]\nthreads = 0\n", encoding="utf-8")
    monkeypatch.setenv("OPSLENS_CONFIG", str(config_file))
    with pytest.raises(ConfigError, match=r"\[query\] threads must be a whole number from 1 to 256, got 0"):
        dataset("backlog", db=store)
