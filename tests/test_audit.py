"""The audit log (SPEC §4): append-only lines beside the store, safe with several writers, readable
after a writer is killed, exported by `opslens audit`."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest

from opslens import audit
from opslens.cli import main

WRITERS, EVENTS_EACH = 4, 250

WRITER_SCRIPT = textwrap.dedent(
    """
    import sys
    from opslens import audit
    store, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for i in range(count):
        # long enough filters that a torn write would show (well over a typical 4 KB page for some)
        audit.record(store, f"{name}@example.com", "download", dataset="orders", format="csv",
                     filters={"markets": "WEST, SOUTH", "n": str(i), "pad": "x" * (i % 7) * 1000})
    """
)


def test_the_log_lives_beside_the_store(tmp_path):
    assert audit.log_path(tmp_path / "data" / "opslens.duckdb") == tmp_path / "data" / "opslens.duckdb.audit.jsonl"


def test_an_event_is_one_json_line_with_user_time_and_details(tmp_path):
    store = tmp_path / "s.duckdb"
    audit.record(store, "ann@example.com", "load", files=["a.csv", "b.csv"], outcome="loaded")
    audit.record(store, "ann@example.com", "download", dataset="backlog", format="xlsx", filters={"markets": "WEST"})
    lines = audit.log_path(store).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert (first["user"], first["event"], first["files"], first["outcome"]) == (
        "ann@example.com",
        "load",
        ["a.csv", "b.csv"],
        "loaded",
    )
    log = audit.read(store)
    assert log.skipped_lines == 0
    assert log.events.select("event", "dataset", "format", "filters", "files").rows() == [
        ("download", "backlog", "xlsx", "markets=WEST", None),
        ("load", None, None, None, "a.csv, b.csv"),
    ]
    assert log.events.schema["at"] == pl.Datetime("us", "UTC")


def test_unknown_events_and_fields_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown audit event 'delete'"):
        audit.record(tmp_path / "s", "a@x", "delete")
    with pytest.raises(ValueError, match="unknown audit field"):
        audit.record(tmp_path / "s", "a@x", "load", path="/etc")


def test_several_processes_writing_at_once_lose_no_line(tmp_path):
    store = tmp_path / "s.duckdb"
    script = tmp_path / "writer.py"
    script.write_text(WRITER_SCRIPT, encoding="utf-8")
    writers = [
        subprocess.Popen([sys.executable, str(script), str(store), f"w{n}", str(EVENTS_EACH)]) for n in range(WRITERS)
    ]
    assert [w.wait(timeout=120) for w in writers] == [0] * WRITERS
    raw = audit.log_path(store).read_bytes()
    assert raw.endswith(b"\n") and raw.count(b"\n") == WRITERS * EVENTS_EACH
    log = audit.read(store)
    assert log.skipped_lines == 0
    seen = log.events.select("user", pl.col("filters").str.extract(r"n=(\d+)").cast(int).alias("n"))
    assert seen.unique().height == WRITERS * EVENTS_EACH
    assert sorted(seen["user"].unique()) == [f"w{n}@example.com" for n in range(WRITERS)]


def test_a_killed_writer_leaves_a_readable_log(tmp_path):
    store = tmp_path / "s.duckdb"
    script = tmp_path / "writer.py"
    script.write_text(WRITER_SCRIPT, encoding="utf-8")
    writer = subprocess.Popen([sys.executable, str(script), str(store), "victim", "1000000"])
    deadline = time.monotonic() + 60
    while (not audit.log_path(store).exists() or audit.log_path(store).stat().st_size < 200_000) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.05)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=30)
    written = audit.read(store)
    assert written.events.height > 10 and written.skipped_lines <= 1
    audit.record(store, "next@example.com", "sign_in", outcome="granted")
    after = audit.read(store)
    assert after.events.height == written.events.height + 1
    assert after.events["user"][0] == "next@example.com"


def test_a_partial_last_line_is_skipped_and_never_swallows_the_next(tmp_path):
    store = tmp_path / "s.duckdb"
    audit.record(store, "a@example.com", "sign_in")
    with audit.log_path(store).open("ab") as log:  # what a writer killed in mid-line would leave
        log.write(b'{"at": "2026-12-01T10:00:00+00:00", "user": "b@exa')
    assert audit.read(store).skipped_lines == 1
    audit.record(store, "c@example.com", "sign_in")
    log = audit.read(store)
    assert log.skipped_lines == 1
    assert log.events["user"].to_list() == ["c@example.com", "a@example.com"]


def test_opslens_audit_exports_the_log_like_a_dataset(tmp_path, capsys):
    store = tmp_path / "s.duckdb"
    audit.record(store, "ann@example.com", "download", dataset="backlog", format="csv", filters={"markets": "WEST"})
    capsys.readouterr()
    assert main(["audit", "--db", str(store)]) == 0
    exported = pl.read_csv(io.StringIO(capsys.readouterr().out))
    assert exported.columns == list(audit.COLUMNS)
    assert exported.select("user", "event", "dataset", "format", "filters").rows() == [
        ("ann@example.com", "download", "backlog", "csv", "markets=WEST")
    ]
    output = tmp_path / "audit.parquet"
    assert main(["audit", "--db", str(store), "--format", "parquet", "--output", str(output)]) == 0
    assert pl.read_parquet(output)["user"].to_list() == ["ann@example.com"]


def test_opslens_audit_without_a_log_exports_no_rows(tmp_path, capsys):
    capsys.readouterr()
    assert main(["audit", "--db", str(tmp_path / "none.duckdb"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == []


def test_the_store_is_never_touched(tmp_path):
    store = tmp_path / "s.duckdb"
    audit.record(store, "a@x.com", "sign_in")
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["s.duckdb.audit.jsonl"]
