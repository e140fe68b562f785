"""`opslens backup` / `opslens restore`: consistent copies that are checked by reopening them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from opslens.cli import main
from opslens.queries import DATASETS, Filters, fetch

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


@pytest.fixture
def store(demo_db: Path, tmp_path: Path) -> Path:
    path = tmp_path / "opslens.duckdb"
    shutil.copyfile(demo_db, path)
    return path


def every_dataset(path: Path) -> dict:
    return {name: fetch(name, path, Filters()) for name in DATASETS}


def assert_same_datasets(left: Path, right: Path) -> None:
    a, b = every_dataset(left), every_dataset(right)
    for name in DATASETS:
        assert_frame_equal(a[name], b[name], rel_tol=1e-9)


def test_backup_writes_a_copy_that_reads_the_same(store: Path, tmp_path: Path, capsys) -> None:
    target = tmp_path / "backups" / "nightly.duckdb"
    target.parent.mkdir()
    assert main(["backup", "--db", str(store), str(target)]) == 0
    assert "the copy opens and reads" in capsys.readouterr().out
    assert_same_datasets(store, target)
    assert [p.name for p in target.parent.iterdir()] == ["nightly.duckdb"]  # no partial file left


def test_restore_brings_back_the_backed_up_data(store: Path, tmp_path: Path, capsys) -> None:
    backup = tmp_path / "before.duckdb"
    assert main(["backup", "--db", str(store), str(backup)]) == 0
    before = every_dataset(store)
    assert main(["ingest", "--db", str(store), str(SAMPLE / "snapshots.csv")]) == 0
    assert every_dataset(store)["ingest_log"].height == before["ingest_log"].height + 1
    assert main(["restore", "--db", str(store), str(backup)]) == 0
    assert "viewers see it on their next interaction" in capsys.readouterr().out
    assert_same_datasets(store, backup)


def test_restore_refuses_a_file_that_is_not_a_store_and_changes_nothing(store: Path, tmp_path: Path, capsys) -> None:
    before = store.read_bytes()
    not_a_store = tmp_path / "notes.duckdb"
    not_a_store.write_text("just some text\n")
    assert main(["restore", "--db", str(store), str(not_a_store)]) == 1
    error = capsys.readouterr().err
    assert "notes.duckdb is not a readable DuckDB store" in error and "Traceback" not in error
    assert store.read_bytes() == before


def test_restore_refuses_a_missing_backup(store: Path, tmp_path: Path, capsys) -> None:
    assert main(["restore", "--db", str(store), str(tmp_path / "nope.duckdb")]) == 1
    assert "no store at" in capsys.readouterr().err


def test_backup_of_a_missing_store_or_into_a_missing_folder_fails_clearly(store: Path, tmp_path: Path, capsys) -> None:
    assert main(["backup", "--db", str(tmp_path / "none.duckdb"), str(tmp_path / "b.duckdb")]) == 1
    assert "no store at" in capsys.readouterr().err
    assert main(["backup", "--db", str(store), str(tmp_path / "no" / "such" / "b.duckdb")]) == 1
    assert "cannot write" in capsys.readouterr().err
