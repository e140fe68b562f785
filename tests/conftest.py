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


MANY_MARKETS = 30  # more than charts.TOP_MARKETS (20): per-market charts must draw 20 and sum the rest


@pytest.fixture(scope="session")
def many_markets_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo store with 30 markets (seed 5, 3000 orders, 20 days, last snapshot 2026-11-20). Read-only."""
    path = tmp_path_factory.mktemp("many") / "many.duckdb"
    args = ["demo", "--db", str(path), "--orders", "3000", "--days", "20", "--markets", str(MANY_MARKETS)]
    assert main([*args, "--seed", "5", "--end", DEMO_END.isoformat()]) == 0
    return path
