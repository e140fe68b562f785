"""Shared fixtures: a small deterministic demo store, built once per test session."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from opslens.cli import main

DEMO_END = dt.date(2026, 11, 20)


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo store (seed 7, 3000 orders, 60 days, 6 markets, last snapshot 2026-11-20). Treat as read-only."""
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    code = main(
        ["demo", "--db", str(path), "--orders", "3000", "--days", "60", "--seed", "7", "--end", DEMO_END.isoformat()]
    )
    assert code == 0
    return path
