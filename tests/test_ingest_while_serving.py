"""Ingest while people are viewing: viewers never fail, ingests never fail on a busy store.

Viewers are separate processes reading every dataset in a loop (as the app's server does), while
the test runs ingests one after another and two at once. An AppTest session shows that the app
picks up a new snapshot on its next interaction.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from apptest_harness import page_app

from opslens.demo import generate
from opslens.ingest import ingest_files
from opslens.writer import StoreBusy, writer_lock

END = dt.date(2026, 11, 20)
NEW_DAYS = [END - dt.timedelta(days=n) for n in (3, 2, 1, 0)]
OPSLENS = [sys.executable, "-m", "opslens.cli"]

# A viewer: read every dataset until it has seen the newest snapshot (or two minutes passed);
# report reads, errors and the dates it saw.
VIEWER = """
import json, sys, time
from opslens.queries import DATASETS, Filters, fetch

db, newest = sys.argv[1], sys.argv[2]
reads, errors, seen = 0, [], set()
deadline = time.monotonic() + 120
while newest not in seen and time.monotonic() < deadline:
    for name in DATASETS:
        try:
            frame = fetch(name, db, Filters())
            reads += 1
            if name == "backlog_trend":
                seen.add(str(frame["snapshot_date"].max()))
        except Exception as error:
            errors.append(f"{name}: {type(error).__name__}: {error}")
print(json.dumps({"reads": reads, "errors": errors[:5], "error_count": len(errors), "seen": sorted(seen)}))
"""


@pytest.fixture(scope="module")
def day_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], dict[dt.date, Path]]:
    """History up to four days before the end, and one CSV per later day."""
    folder = tmp_path_factory.mktemp("serving-files")
    data = generate(orders=1500, days=30, end=END)
    history = folder / "history.parquet"
    data.snapshots.filter(pl.col("snapshot_date") < NEW_DAYS[0]).write_parquet(history)
    footprint = folder / "footprint.parquet"
    data.footprint.write_parquet(footprint)
    days = {}
    for day in NEW_DAYS:
        days[day] = folder / f"snapshots_{day}.csv"
        data.snapshots.filter(pl.col("snapshot_date") == day).write_csv(days[day], datetime_format="%Y-%m-%d %H:%M:%S")
    return [history, footprint], days


@pytest.fixture
def store(day_files, tmp_path: Path) -> Path:
    path = tmp_path / "opslens.duckdb"
    ingest_files(path, day_files[0])
    return path


def test_viewers_never_fail_while_ingests_run_one_after_another_and_at_once(store: Path, day_files) -> None:
    _history, days = day_files
    viewers = [
        subprocess.Popen([sys.executable, "-c", VIEWER, str(store), str(END)], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    time.sleep(1.0)  # the viewers are reading before the first ingest starts
    ingests = []
    for day in NEW_DAYS[:2]:
        ingests.append(subprocess.run([*OPSLENS, "ingest", "--db", str(store), str(days[day])], capture_output=True))
    # Two ingests at once: the second waits for the first instead of failing.
    together = [
        subprocess.Popen([*OPSLENS, "ingest", "--db", str(store), str(days[day])], stderr=subprocess.PIPE)
        for day in NEW_DAYS[2:]
    ]
    for child in together:
        child.wait(timeout=120)
        ingests.append(child)
    reports = [json.loads(v.communicate(timeout=150)[0]) for v in viewers]

    assert [child.returncode for child in ingests] == [0, 0, 0, 0]
    for report in reports:
        assert report["error_count"] == 0, report["errors"]
        assert report["reads"] > 0
        assert str(END) in report["seen"], "a viewer should see the newest snapshot after the last ingest"
        assert len(report["seen"]) >= 2, "a viewer should have been reading while the ingests ran"
    assert sorted(ingest_dates(store)) == NEW_DAYS


def ingest_dates(store: Path) -> list[dt.date]:
    from opslens.queries import Filters, fetch

    trend = fetch("backlog_trend", store, Filters())
    return [d for d in trend["snapshot_date"].unique().to_list() if d >= NEW_DAYS[0]]


def test_an_ingest_waits_for_another_writer_and_says_so(store: Path, day_files) -> None:
    _history, days = day_files
    held = threading.Event()

    def hold_the_lock_for_a_while() -> None:
        with writer_lock(store):
            held.set()
            time.sleep(2.0)

    holder = threading.Thread(target=hold_the_lock_for_a_while)
    holder.start()
    held.wait()
    child = subprocess.run(
        [*OPSLENS, "ingest", "--db", str(store), str(days[NEW_DAYS[0]])], capture_output=True, text=True
    )
    holder.join()
    assert child.returncode == 0, child.stderr
    assert "is being written by process" in child.stderr and "waiting up to 600 s" in child.stderr


def test_an_ingest_that_waited_too_long_says_why_and_changes_nothing(store: Path, day_files) -> None:
    _history, days = day_files
    before = store.read_bytes()
    with writer_lock(store):
        child = subprocess.run(
            [*OPSLENS, "ingest", "--wait", "0.5", "--db", str(store), str(days[NEW_DAYS[0]])],
            capture_output=True,
            text=True,
        )
        with pytest.raises(StoreBusy, match="still being written"):
            ingest_files(store, [days[NEW_DAYS[0]]], wait_seconds=0.3)
    assert child.returncode == 1
    assert "still being written by process" in child.stderr and "--wait" in child.stderr
    assert "Traceback" not in child.stderr
    assert store.read_bytes() == before


def test_an_open_page_shows_the_new_snapshot_on_its_next_interaction(store: Path, day_files, monkeypatch) -> None:
    _history, days = day_files
    at = page_app("backlog", store, monkeypatch)
    at.run()
    assert not at.exception
    assert at.sidebar.selectbox(key="as_of").value == str(NEW_DAYS[0] - dt.timedelta(days=1))
    ingest_files(store, [days[NEW_DAYS[0]]])
    at.run()  # the next interaction
    assert not at.exception
    assert at.sidebar.selectbox(key="as_of").value == str(NEW_DAYS[0])
    assert f"as of {NEW_DAYS[0]}" in at.caption[0].value


def test_a_page_on_a_chosen_older_snapshot_stays_there_after_an_ingest(store: Path, day_files, monkeypatch) -> None:
    _history, days = day_files
    chosen = str(NEW_DAYS[0] - dt.timedelta(days=5))
    at = page_app("backlog", store, monkeypatch)
    at.run()
    at.sidebar.selectbox(key="as_of").set_value(chosen).run()
    ingest_files(store, [days[NEW_DAYS[0]]])
    at.run()
    assert not at.exception
    assert at.sidebar.selectbox(key="as_of").value == chosen
    assert at.sidebar.selectbox(key="as_of").options[0] == str(NEW_DAYS[0])
