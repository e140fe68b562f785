"""The small valid extract both ingest test files start from, and helpers to write it as files.

Two snapshot dates (2026-03-01, 2026-03-02), two markets, six orders, and their footprint, as CSV
text values; `test_ingest_rejects` adds a defective next day to it, `test_ingest_loads` loads it.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from opslens.contract import SNAPSHOT_NAMES


def order(snapshot_date: str, order_id: str, market: str, stage: str, ordered_at: str, **optional: str) -> dict:
    """One snapshot row as CSV text values; unknown keys are a test bug."""
    unknown = set(optional) - set(SNAPSHOT_NAMES)
    assert not unknown, f"not contract columns: {unknown}"
    row = dict.fromkeys(SNAPSHOT_NAMES, "")
    row.update(
        snapshot_date=snapshot_date, order_id=order_id, market=market, stage=stage, ordered_at=ordered_at, **optional
    )
    return row


BASELINE = [
    order(
        "2026-03-01",
        "O1",
        "NORTH",
        "intake",
        "2026-02-27",
        product="fiber_1g",
        segment="residential",
        stage_entered_at="2026-02-27",
        missed_appointments="0",
        truck_rolls="0",
        mrr="60.00",
    ),
    order(
        "2026-03-01",
        "O2",
        "NORTH",
        "scheduled",
        "2026-02-10 09:15:00",
        product="fiber_1g",
        segment="residential",
        network_ready_at="2026-02-12",
        appointment_at="2026-03-04 10:00:00",
        stage_entered_at="2026-02-20",
        missed_appointments="0",
        truck_rolls="0",
        mrr="60.00",
    ),
    order(
        "2026-03-01",
        "O3",
        "SOUTH",
        "awaiting_network",
        "2026-01-05",
        product="fiber_500",
        segment="business",
        mrr="120.50",
        fallout_code="NR01",
    ),
    order(
        "2026-03-01",
        "O4",
        "SOUTH",
        "installed",
        "2026-02-01",
        product="fiber_1g",
        segment="residential",
        network_ready_at="2026-02-02",
        appointment_at="2026-02-25 08:00:00",
        installed_at="2026-02-25 14:30:00",
        stage_entered_at="2026-02-25 14:30:00",
        missed_appointments="1",
        truck_rolls="2",
        mrr="60.00",
    ),
    order(
        "2026-03-02",
        "O1",
        "NORTH",
        "awaiting_appointment",
        "2026-02-27",
        product="fiber_1g",
        segment="residential",
        network_ready_at="2026-03-02",
        stage_entered_at="2026-03-02",
        mrr="60.00",
    ),
    order(
        "2026-03-02",
        "O2",
        "NORTH",
        "scheduled",
        "2026-02-10 09:15:00",
        product="fiber_1g",
        segment="residential",
        network_ready_at="2026-02-12",
        appointment_at="2026-03-04 10:00:00",
        stage_entered_at="2026-02-20",
        missed_appointments="0",
        truck_rolls="0",
        mrr="60.00",
    ),
    order(
        "2026-03-02",
        "O3",
        "SOUTH",
        "awaiting_network",
        "2026-01-05",
        product="fiber_500",
        segment="business",
        mrr="120.50",
        fallout_code="NR01",
    ),
    order(
        "2026-03-02",
        "O4",
        "SOUTH",
        "activated",
        "2026-02-01",
        product="fiber_1g",
        segment="residential",
        network_ready_at="2026-02-02",
        appointment_at="2026-02-25 08:00:00",
        installed_at="2026-02-25 14:30:00",
        activated_at="2026-03-02 08:00:00",
        missed_appointments="1",
        truck_rolls="2",
        mrr="60.00",
    ),
    order("2026-03-02", "O5", "NORTH", "intake", "2026-03-02 07:45:00", product="fiber_1g", segment="residential"),
    order(
        "2026-03-02",
        "O6",
        "SOUTH",
        "cancelled",
        "2026-02-20",
        product="fiber_500",
        segment="business",
        cancelled_at="2026-03-02 16:20:00",
        mrr="95.00",
    ),
]


FOOTPRINT = [
    {"snapshot_date": "2026-03-01", "market": "NORTH", "premises_passed": "1000", "premises_ready": "400"},
    {"snapshot_date": "2026-03-01", "market": "SOUTH", "premises_passed": "800", "premises_ready": "200"},
    {"snapshot_date": "2026-03-02", "market": "NORTH", "premises_passed": "1000", "premises_ready": "420"},
    {"snapshot_date": "2026-03-02", "market": "SOUTH", "premises_passed": "800", "premises_ready": "200"},
]


def csv_text(rows: list[dict], columns: tuple[str, ...] | list[str] | None = None) -> str:
    columns = list(columns or rows[0].keys())
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    from opslens.cli import main

    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse-style exits count as the exit code
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err
