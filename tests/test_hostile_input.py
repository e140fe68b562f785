"""Hostile and careless input (issue 11), met where a user meets it: the `opslens` command and app uploads.

Uses the corpus of tests/hostile.py. Each rejection leaves the store's data exactly as it was; each
damaged store is refused by restore, backup and migrate, which leave the store working.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hostile import (
    CONTROL_VALUES,
    IMPOSSIBLE_DATES,
    INVISIBLE_VALUES,
    MARKUP_MARKETS,
    MISSHAPEN_TIMES,
    bomb_rows,
    gzip_bomb,
    overwritten_copy,
    parquet_with,
    truncated_copy,
)
from ingest_rows import csv_text, run_cli, write
from test_ingest_rejects import DEFECT_ROW, NEXT_DAY, assert_precise, rejected, store, store_data, with_defect

from opslens.app.upload import load_uploads
from opslens.ingest import ingest_files
from opslens.queries import Filters, fetch

__all__ = ["store"]  # the fixture: a store holding the valid baseline
OPSLENS = [sys.executable, "-m", "opslens.cli"]


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """Write opslens.toml content and point OPSLENS_CONFIG at it."""

    def use(text: str) -> Path:
        path = tmp_path / "opslens.toml"
        path.write_text(text)
        monkeypatch.setenv("OPSLENS_CONFIG", str(path))
        return path

    return use


def assert_no_raw_controls(text: str) -> None:
    invisible = "\u200b\u200d\ufeff\u200f"
    raw = [ch for ch in text if (ord(ch) < 32 and ch != "\n") or 127 <= ord(ch) < 160 or ch in invisible]
    assert not raw, f"raw control or invisible characters printed: {raw!r} in {text!r}"


# --------------------------------------------------------------------------------------------
# Damaged stores: restore, backup and migrate read every block and refuse


@pytest.fixture
def good_store(demo_db: Path, tmp_path: Path) -> Path:
    path = tmp_path / "live" / "opslens.duckdb"
    path.parent.mkdir()
    shutil.copyfile(demo_db, path)
    return path


DAMAGE = {"truncated": truncated_copy, "overwritten": overwritten_copy}


def assert_store_works(path: Path, capsys) -> None:
    code, out, err = run_cli(["export", "backlog", "--db", str(path)], capsys)
    assert code == 0, err
    assert out.count("\n") == 7  # header and the six open stages


@pytest.mark.parametrize("damage", DAMAGE)
def test_restore_refuses_a_damaged_backup(good_store, tmp_path, capsys, damage):
    broken = DAMAGE[damage](good_store, tmp_path / f"{damage}.duckdb")
    before = good_store.read_bytes()
    code, _, err = run_cli(["restore", "--db", str(good_store), str(broken)], capsys)
    assert code == 1
    assert f"{broken} is damaged" in err and "it was not used" in err and "Traceback" not in err
    assert good_store.read_bytes() == before
    assert not [p.name for p in good_store.parent.iterdir() if "draft" in p.name]
    assert_store_works(good_store, capsys)


@pytest.mark.parametrize("damage", DAMAGE)
def test_backup_refuses_a_damaged_store(good_store, tmp_path, capsys, damage):
    DAMAGE[damage](good_store, good_store)  # the live store itself is damaged
    target = tmp_path / "backups" / "nightly.duckdb"
    target.parent.mkdir()
    code, out, err = run_cli(["backup", "--db", str(good_store), str(target)], capsys)
    assert code == 1
    assert f"{good_store} is damaged" in err and "the copy opens and reads" not in out
    assert list(target.parent.iterdir()) == []  # no backup, no partial file


@pytest.mark.parametrize("damage", DAMAGE)
def test_migrate_refuses_a_damaged_store(good_store, capsys, damage):
    DAMAGE[damage](good_store, good_store)
    before = good_store.read_bytes()
    code, out, err = run_cli(["migrate", "--db", str(good_store)], capsys)
    assert code == 1
    assert f"{good_store} is damaged" in err and "at the current schema" not in out
    assert good_store.read_bytes() == before


def test_a_whole_store_still_restores(good_store, tmp_path, capsys):
    copy = tmp_path / "fine.duckdb"
    shutil.copyfile(good_store, copy)
    assert run_cli(["restore", "--db", str(good_store), str(copy)], capsys)[0] == 0
    assert_store_works(good_store, capsys)


# --------------------------------------------------------------------------------------------
# Bounds: inflated size, rows, time; SIGTERM


def test_gzip_bomb_stops_at_the_inflated_limit(store, tmp_path, capsys, settings):
    settings("[ingest]\nmax_inflated_mb = 4\n")
    bomb = gzip_bomb(tmp_path / "bomb.csv.gz", inflated_mb=64)
    assert bomb.stat().st_size < 1024 * 1024  # 64 MB from well under 1 MB
    started = time.monotonic()
    _, err = rejected(store, [bomb], capsys)
    assert time.monotonic() - started < 20
    assert "bomb.csv.gz" in err and "[ingest] max_inflated_mb = 4 MB" in err and "nothing was loaded" in err


def test_plain_csv_counts_its_bytes_against_the_limit(store, tmp_path, capsys, settings):
    settings("[ingest]\nmax_inflated_mb = 1\n")
    path = write(tmp_path / "big.csv", csv_text(bomb_rows(20_000)))  # about 1.4 MB
    _, err = rejected(store, [path], capsys)
    assert "[ingest] max_inflated_mb = 1 MB" in err


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_rows_over_the_limit(store, tmp_path, capsys, settings, fmt):
    settings("[ingest]\nmax_rows = 10\n")
    rows = bomb_rows(11)
    path = tmp_path / f"eleven.{fmt}"
    if fmt == "csv":
        write(path, csv_text(rows))
    else:
        pl.DataFrame(rows).write_parquet(path)
    _, err = rejected(store, [path], capsys)
    assert "[ingest] max_rows = 10 rows" in err and "eleven" in err


def test_an_ingest_over_its_time_limit_is_stopped_and_logged(store, tmp_path, capsys, settings):
    settings("[ingest]\nmax_seconds = 1\n")
    path = write(tmp_path / "slow.csv", csv_text(bomb_rows(400_000)))  # takes several seconds to load
    before = store_data(store)
    started = time.monotonic()
    code, _, err = run_cli(["ingest", "--db", str(store), str(path)], capsys)
    assert code == 2, err
    assert time.monotonic() - started < 15
    assert "ran longer than [ingest] max_seconds = 1 s" in err
    assert store_data(store) == before
    log = fetch("ingest_log", store, Filters())
    assert "max_seconds" in log["message"][0]


def test_upload_limits_are_tighter(store, tmp_path, settings):
    settings("[upload]\nmax_inflated_mb = 2\n")
    content = gzip_bomb(tmp_path / "bomb.csv.gz", inflated_mb=16).read_bytes()
    before = store_data(store)
    outcome = load_uploads(store, [("bomb.csv.gz", content)])
    assert outcome.status == "rejected"
    assert any("[upload] max_inflated_mb = 2 MB" in p["message"] for p in outcome.problems), outcome.problems
    assert store_data(store) == before


def test_ingest_settings_are_checked(store, tmp_path, capsys, settings):
    settings("[ingest]\nmax_rows = 0\n")
    code, _, err = run_cli(["ingest", "--db", str(store), str(tmp_path)], capsys)
    assert code == 1 and "[ingest] max_rows must be a whole number >= 1, got 0" in err
    settings("[ingest]\nmax_minutes = 3\n")
    code, _, err = run_cli(["ingest", "--db", str(store), str(tmp_path)], capsys)
    assert code == 1 and "[ingest] has no setting 'max_minutes'" in err


def test_sigterm_stops_an_ingest_cleanly(store, tmp_path):
    """SIGTERM in the middle of a load: exit 1 with a message, store unchanged, no draft, lock free."""
    path = write(tmp_path / "long.csv", csv_text(bomb_rows(600_000)))
    before = store.read_bytes()
    child = subprocess.Popen(
        [*OPSLENS, "ingest", "--db", str(store), str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 30
    while not list(store.parent.glob(".opslens.duckdb.draft-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # well into reading and checking the file
    assert child.poll() is None, "the ingest finished before it could be stopped; make the file larger"
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 1, err
    assert "stopped by SIGTERM before it finished; nothing was changed" in err and "Traceback" not in err
    assert store.read_bytes() == before
    assert not list(store.parent.glob(".opslens.duckdb.draft-*"))
    small = write(tmp_path / "next.csv", csv_text(NEXT_DAY))
    again = subprocess.run([*OPSLENS, "ingest", "--db", str(store), "--wait", "0", str(small)], capture_output=True)
    assert again.returncode == 0, again.stderr  # the lock was released


# --------------------------------------------------------------------------------------------
# Impossible and misshapen dates


@pytest.mark.parametrize(("column", "value", "message"), IMPOSSIBLE_DATES)
def test_impossible_dates(store, tmp_path, capsys, column, value, message):
    path = write(tmp_path / "impossible.csv", csv_text(with_defect(**{column: value})))
    problems, err = rejected(store, [path], capsys)
    assert_precise(problems, err, file=path.name, row=DEFECT_ROW, column=column, value=value)
    assert message in err


def test_snapshot_dates_after_today_plus_the_allowance(store, tmp_path, capsys, settings):
    today = dt.date.today()
    ahead = [(today + dt.timedelta(days=n)).isoformat() for n in (1, 2)]
    tomorrow, after = [with_defect(snapshot_date=day, ordered_at="2026-01-05") for day in ahead]
    path = write(tmp_path / "ahead.csv", csv_text(after))
    problems, err = rejected(store, [path], capsys)
    assert_precise(problems, err, file=path.name, row=DEFECT_ROW, column="snapshot_date", value=ahead[1])
    assert f"after {ahead[0]}" in err and "[ingest] future_days" in err
    ingest_files(store, [write(tmp_path / "tomorrow.csv", csv_text(tomorrow))])  # the default allowance: 1 day
    settings("[ingest]\nfuture_days = 0\n")
    problems, err = rejected(store, [write(tmp_path / "tomorrow_again.csv", csv_text(tomorrow))], capsys)
    assert f"after {today.isoformat()}" in err


@pytest.mark.parametrize(("column", "value"), MISSHAPEN_TIMES)
def test_dates_must_have_two_digit_months_days_and_hours(store, tmp_path, capsys, column, value):
    path = write(tmp_path / "misshapen.csv", csv_text(with_defect(**{column: value})))
    problems, err = rejected(store, [path], capsys)
    assert_precise(problems, err, file=path.name, row=DEFECT_ROW, column=column, value=value)


# --------------------------------------------------------------------------------------------
# Parquet types, MRR bound, files that are not files


@pytest.mark.parametrize(
    ("column", "values", "dtype", "found"),
    [
        ("market", [{"code": "N"}] * 4, pl.Struct({"code": pl.String}), "STRUCT"),
        ("market", [["N", "S"]] * 4, pl.List(pl.String), "VARCHAR[]"),
        ("order_id", [b"\x00\xff", b"\x01", b"\x02", b"\x03"], pl.Binary, "BLOB"),
        ("mrr", [[1.0]] * 4, pl.List(pl.Float64), "DOUBLE[]"),
        ("ordered_at", [True] * 4, pl.Boolean, "BOOLEAN"),
    ],
)
def test_parquet_columns_of_a_non_contract_type(store, tmp_path, capsys, column, values, dtype, found):
    path = parquet_with(tmp_path / "typed.parquet", NEXT_DAY, column, values, dtype)
    problems, err = rejected(store, [path], capsys)
    assert any(p.column == column and found in p.message for p in problems), problems
    assert path.name in err and column in err and found in err and "must be" in err


@pytest.mark.parametrize("value", ["1.7e308", "1000000.01", "5e6"])
def test_mrr_above_the_bound(store, tmp_path, capsys, value):
    path = write(tmp_path / "mrr.csv", csv_text(with_defect(mrr=value)))
    problems, err = rejected(store, [path], capsys)
    assert_precise(problems, err, file=path.name, row=DEFECT_ROW, column="mrr", value=value)
    assert "1,000,000" in err


def test_mrr_at_the_bound_loads(store, tmp_path):
    ingest_files(store, [write(tmp_path / "mrr.csv", csv_text(with_defect(mrr="1000000")))])


def test_fifo_is_named_as_such(store, tmp_path, capsys):
    fifo = tmp_path / "extract.csv"
    os.mkfifo(fifo)
    _, err = rejected(store, [fifo], capsys)
    assert "extract.csv: is not a regular file" in err and "empty" not in err


# --------------------------------------------------------------------------------------------
# Control and invisible characters; markup is just text


@pytest.mark.parametrize("column", ["order_id", "market", "product", "segment", "fallout_code"])
@pytest.mark.parametrize("kind", CONTROL_VALUES)
def test_control_characters_in_text_keys(store, tmp_path, capsys, column, kind):
    value = CONTROL_VALUES[kind]
    path = write(tmp_path / "controls.csv", csv_text(with_defect(**{column: value})))
    problems, err = rejected(store, [path], capsys)
    find = [p for p in problems if p.row == DEFECT_ROW and p.column == column and p.value == value]
    assert find, problems
    assert f"row {DEFECT_ROW}" in err and "control character" in err
    escaped = value.encode("unicode_escape").decode("ascii").replace("\\\\", "\\")
    assert escaped in err, err
    assert_no_raw_controls(err)


@pytest.mark.parametrize("kind", INVISIBLE_VALUES)
def test_invisible_characters_warn_and_load(store, tmp_path, capsys, kind):
    value = INVISIBLE_VALUES[kind]
    rows = with_defect(market=value)
    path = write(tmp_path / "invisible.csv", csv_text(rows))
    code, out, err = run_cli(["ingest", "--db", str(store), str(path)], capsys)
    assert code == 0, err
    assert f"invisible.csv, row {DEFECT_ROW}, column 'market'" in err and "invisible character" in err
    assert value.encode("unicode_escape").decode("ascii") in err
    assert_no_raw_controls(out + err)
    markets = {r[2] for r in store_data(store)["snapshots"]}
    assert value in markets


def test_markup_market_names_load_as_plain_text(store, tmp_path, capsys):
    rows = [
        dict(NEXT_DAY[i % len(NEXT_DAY)], order_id=f"M{i}", market=market) for i, market in enumerate(MARKUP_MARKETS)
    ]
    path = write(tmp_path / "markup.csv", csv_text(rows))
    code, _, err = run_cli(["ingest", "--db", str(store), str(path)], capsys)
    assert code == 0, err
    con = duckdb.connect(str(store), read_only=True)
    try:
        stored = {r[0] for r in con.sql("select market from snapshots where order_id like 'M%'").fetchall()}
    finally:
        con.close()
    assert stored == set(MARKUP_MARKETS)


# --------------------------------------------------------------------------------------------
# The ingest log names uploaded files, never the server's temporary copies


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bad.csv", csv_text(with_defect(stage="shipped")).encode()),
        ("bad.parquet", b"PAR1 not really parquet"),
        ("bad.csv.gz", b"\x1f\x8b not really gzip"),
    ],
)
def test_upload_rejection_logs_file_names_only(store, name, content):
    outcome = load_uploads(store, [(name, content)])
    assert outcome.status == "rejected"
    log = fetch("ingest_log", store, Filters())
    message = log["message"][0]
    assert name in message and "opslens-upload-" not in message and os.sep + name not in message, message
    assert all("opslens-upload-" not in str(p) for p in outcome.problems)


def test_an_upload_can_be_cancelled(store, tmp_path):
    """What the page's Cancel button does: the load stops soon, nothing is loaded, the log says so."""
    content = csv_text(bomb_rows(400_000)).encode()  # takes several seconds to load
    before = store_data(store)
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    started = time.monotonic()
    outcome = load_uploads(store, [("big.csv", content)], cancel=cancel)
    assert time.monotonic() - started < 10
    assert outcome.status == "rejected" and outcome.message.startswith("Loading was cancelled before it finished")
    assert store_data(store) == before
    assert "cancelled" in fetch("ingest_log", store, Filters())["message"][0]


def test_demo_logs_file_names_not_its_temporary_folder(demo_db):
    files = fetch("ingest_log", demo_db, Filters())["files"][0]
    assert "snapshots_2026-11.parquet" in files and os.sep not in files, files
