"""The install forecast's backtest as Markdown tables, for docs/forecasts.md: each method, then per market.

    .venv/bin/opslens demo --db /tmp/demo.duckdb --end 2026-11-20
    .venv/bin/python scripts/forecast_backtest.py --db /tmp/demo.duckdb

Replays the forecast at every past snapshot with a full history (queries/forecast.py) with the method
Ops Lens uses (trend) and the two simpler ones it was compared with (weekly blocks, independent days).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from opslens.queries import Filters, forecast, forecast_window, latest_snapshot  # noqa: E402
from opslens.queries.db import connection  # noqa: E402

LABELS = {
    "daily": "plain bootstrap of days",
    "weekly": "bootstrap of whole weeks",
    "trend": "whole weeks around a refitted trend (used)",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--horizon", type=int, default=None)
    parser.add_argument("--history", type=int, default=None)
    args = parser.parse_args(argv)
    horizon, history = forecast_window(Filters(horizon=args.horizon, history=args.history))
    with connection(args.db) as con:
        params = {
            "as_of": latest_snapshot(con),
            "markets": None,
            "products": None,
            "segments": None,
            "horizon": horizon,
            "history": history,
        }
        print(f"horizon {horizon} days, history {history} days\n")
        print("| method | cases | reached P50 | reached 85% level | reached 95% level |")
        print("|---|---:|---:|---:|---:|")
        for method in ("daily", "weekly", "trend"):
            backtest = forecast.install_forecast_backtest(con, params, method)
            shares = backtest.select(pl.col("reached_p50", "reached_85", "reached_95").mean()).row(0)
            print(f"| {LABELS[method]} | {backtest.height} | " + " | ".join(f"{s:.0%}" for s in shares) + " |")
        calibration = forecast.install_forecast_calibration(forecast.install_forecast_backtest(con, params))
        print("\n| market | cases | reached P50 | reached 85% level | reached 95% level |")
        print("|---|---:|---:|---:|---:|")
        for row in calibration.iter_rows(named=True):
            shares = (row["share_reached_p50"], row["share_reached_85"], row["share_reached_95"])
            print(f"| {row['market']} | {row['cases']} | " + " | ".join(f"{s:.0%}" for s in shares) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
