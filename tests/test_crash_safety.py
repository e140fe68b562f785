"""An ingest that dies or cannot write leaves the store exactly as it was, and openable.

Ingests run in their own process (the CLI, or a small driver that kills itself with SIGKILL at a
chosen step). After each, the store file must be byte-for-byte the one from before, every dataset
must read the same, and the next ingest must work (no stale lock, leftovers cleaned up).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from opslens.demo import generate
from opslens.ingest import ingest_files
from opslens.queries import DATASETS, Filters, fetch

END = dt.date(2026, 11, 20)
OPSLENS = [sys.executable, "-m", "opslens.cli"]

# Runs one ingest in a child process and kills it with SIGKILL at the named step.
DRIVER = """
import os, signal, sys
import opslens.ingest as ingest
import opslens.writer as writer

load = sys.modules["opslens.ingest.load"]  # the package's `load` attribute is the function

point, db, *files = sys.argv[1:]

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

def die_after(module, name):
    real = getattr(module, name)
    def wrapped(*args, **kwargs):
        result = real(*args, **kwargs)
        die()
        return result
    setattr(module, name, wrapped)

steps = {
    "after the copy": lambda: die_after(writer, "_copy_database"),
    "after staging the files": lambda: die_after(ingest, "stage_keys"),
    "inside the load transaction": lambda: setattr(load, "_log", die),
    "after the commit, before the checkpoint": lambda: die_after(ingest, "load"),
    "before the swap": lambda: setattr(writer.os, "replace", die),
    "after the swap": lambda: die_after(writer.os, "replace"),
}
steps[point]()
ingest.ingest_files(db, files)
"""
KILL_POINTS = [
    "after the copy",
    "after staging the files",
    "inside the load transaction",
    "after the commit, before the checkpoint",
    "before the swap",
]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """Thirty days of demo data: the history, and the last day with a footprint file as the new ingest."""
    folder = tmp_path_factory.mktemp("crash-files")
    data = generate(orders=1500, days=30, end=END)
    history = folder / "history.parquet"
    data.snapshots.filter(pl.col("snapshot_date") < END).write_parquet(history)
    new_day = folder / "new_day.csv"
    data.snapshots.filter(pl.col("snapshot_date") == END).write_csv(new_day, datetime_format="%Y-%m-%d %H:%M:%S")
    footprint = folder / "footprint.parquet"
    data.footprint.write_parquet(footprint)
    return {"history": [history, footprint], "new": [new_day, footprint]}


@pytest.fixture(scope="module")
def base_store(files, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crash-base") / "base.duckdb"
    ingest_files(path, files["history"])
    return path


@pytest.fixture
def store(base_store: Path, tmp_path: Path) -> Path:
    path = tmp_path / "opslens.duckdb"
    shutil.copyfile(base_store, path)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def every_dataset(path: Path) -> dict[str, pl.DataFrame]:
    return {name: fetch(name, path, Filters()) for name in DATASETS}


def assert_unchanged(path: Path, digest_before: str, datasets_before: dict[str, pl.DataFrame]) -> None:
    """Same bytes, same datasets, nothing left beside it, and the next ingest still works."""
    assert digest(path) == digest_before
    after = every_dataset(path)
    for name, frame in datasets_before.items():
        assert_frame_equal(after[name], frame, rel_tol=1e-9)  # float sums vary in the last bits with threads
    assert not Path(f"{path}.wal").exists()


def assert_next_ingest_works(path: Path, new_files: list[Path]) -> None:
    result = ingest_files(path, new_files, wait_seconds=5)
    assert result.rows_by_date and max(result.rows_by_date) == END
    assert max(fetch("backlog_trend", path, Filters())["snapshot_date"]) == END
    assert not [p.name for p in path.parent.iterdir() if ".draft-" in p.name]


@pytest.mark.parametrize("point", KILL_POINTS)
def test_an_ingest_killed_at_any_step_changes_nothing(point, store: Path, files) -> None:
    digest_before, datasets_before = digest(store), every_dataset(store)
    child = subprocess.run(
        [sys.executable, "-c", DRIVER, point, str(store), *map(str, files["new"])], capture_output=True, text=True
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert_unchanged(store, digest_before, datasets_before)
    assert_next_ingest_works(store, files["new"])


def test_an_ingest_killed_just_after_the_swap_has_loaded_everything(store: Path, files) -> None:
    digest_before = digest(store)
    child = subprocess.run([sys.executable, "-c", DRIVER, "after the swap", str(store), *map(str, files["new"])])
    assert child.returncode == -signal.SIGKILL
    assert digest(store) != digest_before
    assert max(fetch("backlog_trend", store, Filters())["snapshot_date"]) == END
    log = fetch("ingest_log", store, Filters())
    assert log.filter(pl.col("outcome") == "loaded").height == 2


@pytest.mark.parametrize("delay", [0.2, 0.6, 1.0, 1.4, 1.8, 2.4])
def test_a_cli_ingest_killed_after_a_delay_is_all_or_nothing(delay: float, store: Path, files) -> None:
    """Wherever the kill lands, the store is either exactly the old one or holds the whole new day."""
    digest_before, datasets_before = digest(store), every_dataset(store)
    child = subprocess.Popen([*OPSLENS, "ingest", "--db", str(store), *map(str, files["new"])])
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait()
    if digest(store) == digest_before:
        assert_unchanged(store, digest_before, datasets_before)
        assert_next_ingest_works(store, files["new"])
    else:
        assert max(fetch("backlog_trend", store, Filters())["snapshot_date"]) == END


def _file_size_limit(limit: int):
    """For a child: writes past `limit` bytes fail with EFBIG, the way a full disk fails them."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.parametrize("room", ["none for the copy", "none for the new rows"])
def test_an_ingest_that_cannot_write_fails_clearly_and_changes_nothing(room: str, store: Path, files) -> None:
    digest_before, datasets_before = digest(store), every_dataset(store)
    limit = 1024 * 1024 if room == "none for the copy" else store.stat().st_size + 1024
    child = subprocess.run(
        [*OPSLENS, "ingest", "--db", str(store), *map(str, files["new"])],
        capture_output=True,
        text=True,
        preexec_fn=_file_size_limit(limit),
    )
    assert child.returncode == 1, child.stderr
    assert "disk space" in child.stderr and "nothing was changed" in child.stderr
    assert "Traceback" not in child.stderr
    assert_unchanged(store, digest_before, datasets_before)
    assert_next_ingest_works(store, files["new"])


def test_leftovers_of_a_killed_ingest_do_not_stop_the_app_from_reading(store: Path, files) -> None:
    subprocess.run([sys.executable, "-c", DRIVER, "inside the load transaction", str(store), *map(str, files["new"])])
    leftovers = [p for p in store.parent.iterdir() if ".draft-" in p.name]
    assert leftovers, "the killed ingest should have left its draft behind"
    assert fetch("backlog", store, Filters()).height == 6
    assert os.path.getsize(store) > 0
