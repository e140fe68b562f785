"""Each day's exception bits, kept per pooled store file version (queries/daybits.py).

The comparison datasets read a table of rule bits per snapshot date. On the pooled store it is made
once and reused; these tests check that reuse never changes an answer: the same frames as a caller's
own connection (which makes the tables afresh for each query), separate tables per stall limits,
fresh tables after a writer swaps the file, and no table dropped while a query reads it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pytest
from handmade import make_store, no_config_file
from handmade_changes import D3, ROWS, C, S

from opslens.ingest import ingest_files
from opslens.queries import dataset, daybits
from opslens.queries.db import _POOL

CHANGES = ("exception_changes", "changes")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    no_config_file(monkeypatch, tmp_path)
    return make_store(tmp_path, ROWS)


@pytest.fixture
def fills(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, object]]:
    """Every day table made, as (kind, date): kind '' on the pool, 'or replace temp' on a caller's connection."""
    made: list[tuple[str, object]] = []
    original = daybits._fill

    def counting(con, kind, name, key):
        made.append((kind, key[0]))
        return original(con, kind, name, key)

    monkeypatch.setattr(daybits, "_fill", counting)
    return made


def day_tables_in(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.sql("select table_name from duckdb_tables() where table_name like 'opslens_day_bits%'").fetchall()
    return sorted(name for (name,) in rows)


def own_connection_frames(store: Path, **filters) -> dict[str, object]:
    con = duckdb.connect(str(store), read_only=True)
    try:
        frames = {name: dataset(name, db=con, **filters) for name in CHANGES}
        assert day_tables_in(con) == []  # its temporary tables are dropped after each query
        return frames
    finally:
        con.close()


def test_the_pool_makes_each_day_once_and_answers_as_a_fresh_computation(store: Path, fills):
    first = {name: dataset(name, db=store, as_of=S, compare_to=C) for name in CHANGES}
    assert sorted(fills) == [("", C), ("", S)]
    for markets in (None, ["NORTH"], ["SOUTH", "WEST"]):
        for name in CHANGES:
            again = dataset(name, db=store, as_of=S, compare_to=C, markets=markets)
            expected = own_connection_frames(store, as_of=S, compare_to=C, markets=markets)[name]
            assert again.equals(expected), (name, markets)
    assert first["exception_changes"].height > 0
    assert [kind for kind, _ in fills].count("") == 2  # the filters reuse S's and C's tables


def test_each_set_of_stall_limits_has_its_own_tables(store: Path, fills):
    default = dataset("exception_changes", db=store, as_of=S, compare_to=C)
    strict = dataset("exception_changes", db=store, as_of=S, compare_to=C, thresholds={"awaiting_network": 5})
    assert "stalled" not in default["rule"].to_list()
    assert "stalled" in strict["rule"].to_list()
    assert strict.equals(own_connection_frames_with_limits(store))
    assert [kind for kind, _ in fills].count("") == 4


def own_connection_frames_with_limits(store: Path):
    con = duckdb.connect(str(store), read_only=True)
    try:
        return dataset("exception_changes", db=con, as_of=S, compare_to=C, thresholds={"awaiting_network": 5})
    finally:
        con.close()


def test_a_swapped_store_gets_new_tables(store: Path, tmp_path: Path):
    before = dataset("exception_changes", db=store, as_of=S, compare_to=C)
    assert "NEW1" not in before["order_id"].to_list()
    extract = tmp_path / "late.csv"
    extract.write_text(
        "snapshot_date,order_id,market,stage,ordered_at,fallout_code\n"
        "2026-03-12,NEW1,NORTH,awaiting_network,2026-03-11,F\n",
        encoding="utf-8",
    )
    ingest_files(store, [extract])
    after = dataset("exception_changes", db=store, as_of=S, compare_to=C)
    assert after.filter(order_id="NEW1").select("rule", "change").rows() == [("fallout", "new")]


def test_days_beyond_the_limit_are_dropped_least_recently_used_first(store: Path, monkeypatch, fills):
    dataset("exception_changes", db=store, as_of=S, compare_to=C)
    dataset("exception_changes", db=store, as_of=S, compare_to=D3)  # C is now the least recently used
    kept = _POOL._open[store].facts["day_bits"]
    rows = {key[0]: table.rows for key, table in kept._tables.items()}
    assert list(rows) == [C, S, D3]
    monkeypatch.setattr(daybits, "MAX_CACHED_ROWS", rows[S] + rows[D3])
    dataset("changes", db=store, as_of=S, compare_to=D3)
    assert [key[0] for key in kept._tables] == [S, D3]
    assert day_tables_in(_POOL._open[store].con) == sorted(t.name.split(".")[-1] for t in kept._tables.values())
    assert dataset("changes", db=store, as_of=S, compare_to=C).equals(own_connection_frames(store, as_of=S)["changes"])
    assert [date for _, date in fills] == [S, C, D3, C] + [S, C] * 2  # C made again; then the own connection's


def test_a_day_in_use_is_never_dropped(store: Path, monkeypatch):
    """With room for no table at all, every query drops its tables when done, while others run."""
    monkeypatch.setattr(daybits, "MAX_CACHED_ROWS", 0)
    expected = {compare_to: own_connection_frames(store, as_of=S, compare_to=compare_to) for compare_to in (C, D3)}
    errors: list[BaseException] = []

    def read(compare_to) -> None:
        try:
            for _ in range(5):
                for name in CHANGES:
                    assert dataset(name, db=store, as_of=S, compare_to=compare_to).equals(expected[compare_to][name])
        except BaseException as error:  # collected and re-raised in the test thread
            errors.append(error)

    threads = [threading.Thread(target=read, args=(compare_to,)) for compare_to in (C, D3, C, D3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert _POOL._open[store].facts["day_bits"]._tables == {}
    assert day_tables_in(_POOL._open[store].con) == []
