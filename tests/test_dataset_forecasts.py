"""Flow and forecasts (SPEC §6, README "Forecasts"): install_forecast, backlog_clearance, service_levels,
ageing_orders against hand-made stores; determinism by seed; calibration on generated data.

FLOW store: snapshot dates 2026-02-28 .. 2026-03-28 (29 days) for NORTH; SOUTH delivers extracts
only on 03-10, 03-12, 03-15, 03-20, 03-21, 03-23, 03-24, 03-28 (a market with gaps).

NORTH, every day d from 02-28 to 03-28:
  I{d}a  scheduled on d-1 (from 03-01 on), installed on d (installed_at d), invoiced on d+1
  I{d}b  installed on d (new that day, stage_entered_at d), invoiced on d+1
  -> 2 installs a day; 1 order a day leaves `scheduled` (I{d}a, 1 day in it), 2 leave `installed`
     (1 day in it) on every date from 03-01; at S = 03-28 `installed` holds I0328a, I0328b.
  W1     awaiting_network every day: nobody ever leaves that stage -> clearance never
  Q1-Q10 scheduled, new on 03-28: 10 open, 1 leaves a day -> clears in exactly 10 days (04-07)
SOUTH:
  Y1  scheduled 03-10 (entered 03-08), invoiced 03-12 with installed_at 03-11 (no extract that day)
  X1  intake 03-20 (entered 03-20), cancelled 03-21                           -> left intake after 1 day
  X2  intake 03-20 (entered 03-19), cancelled 03-21                           -> 2 days
  X3  intake 03-20, 03-21, 03-23 (no stage_entered_at: run from 03-20), awaiting_appointment 03-24, 03-28 -> 4
  X4  intake 03-15 (entered 03-10), scheduled 03-20, 03-21, 03-23, 03-24, 03-28 (run from 03-20) -> 10
"""

# Fixture tables are kept one order-row per line, aligned, for readability.
# ruff: noqa: E501

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from handmade import by_key, dataset, make_store

from opslens.queries import montecarlo

FIRST, S = dt.date(2026, 2, 28), dt.date(2026, 3, 28)
HEADER = "snapshot_date | order_id | market | stage | ordered_at | stage_entered_at | installed_at | invoiced_at | cancelled_at"


def _row(day, order, market, stage, entered="", installed="", invoiced="", cancelled="") -> str:
    return f"{day} | {order} | {market} | {stage} | 2026-02-01 | {entered} | {installed} | {invoiced} | {cancelled}"


def _north() -> str:
    lines = [HEADER]
    day = FIRST
    while day <= S:
        before, after = day - dt.timedelta(days=1), day + dt.timedelta(days=1)
        for order in (f"I{day:%m%d}a", f"I{day:%m%d}b"):
            if order.endswith("a") and day > FIRST:
                lines.append(_row(before, order, "NORTH", "scheduled"))
            lines.append(_row(day, order, "NORTH", "installed", entered=day, installed=f"{day} 11:00"))
            if after <= S:
                lines.append(_row(after, order, "NORTH", "invoiced", installed=f"{day} 11:00", invoiced=after))
        lines.append(_row(day, "W1", "NORTH", "awaiting_network"))
        day = after
    lines += [_row(S, f"Q{k}", "NORTH", "scheduled") for k in range(1, 11)]
    return "\n".join(lines)


SOUTH = """
snapshot_date | order_id | market | stage                | ordered_at | stage_entered_at | installed_at     | invoiced_at | cancelled_at
2026-03-10    | Y1       | SOUTH  | scheduled            | 2026-02-01 | 2026-03-08       |                  |             |
2026-03-12    | Y1       | SOUTH  | invoiced             | 2026-02-01 |                  | 2026-03-11 09:00 | 2026-03-12  |
2026-03-15    | X4       | SOUTH  | intake               | 2026-02-01 | 2026-03-10       |                  |             |
2026-03-20    | X4       | SOUTH  | scheduled            | 2026-02-01 |                  |                  |             |
2026-03-21    | X4       | SOUTH  | scheduled            | 2026-02-01 |                  |                  |             |
2026-03-23    | X4       | SOUTH  | scheduled            | 2026-02-01 |                  |                  |             |
2026-03-24    | X4       | SOUTH  | scheduled            | 2026-02-01 |                  |                  |             |
2026-03-28    | X4       | SOUTH  | scheduled            | 2026-02-01 |                  |                  |             |
2026-03-20    | X1       | SOUTH  | intake               | 2026-02-01 | 2026-03-20       |                  |             |
2026-03-21    | X1       | SOUTH  | cancelled            | 2026-02-01 |                  |                  |             | 2026-03-21
2026-03-20    | X2       | SOUTH  | intake               | 2026-02-01 | 2026-03-19       |                  |             |
2026-03-21    | X2       | SOUTH  | cancelled            | 2026-02-01 |                  |                  |             | 2026-03-21
2026-03-20    | X3       | SOUTH  | intake               | 2026-02-01 |                  |                  |             |
2026-03-21    | X3       | SOUTH  | intake               | 2026-02-01 |                  |                  |             |
2026-03-23    | X3       | SOUTH  | intake               | 2026-02-01 |                  |                  |             |
2026-03-24    | X3       | SOUTH  | awaiting_appointment | 2026-02-01 |                  |                  |             |
2026-03-28    | X3       | SOUTH  | awaiting_appointment | 2026-02-01 |                  |                  |             |
"""


@pytest.fixture(scope="module")
def flow_db(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("flow"), _north(), SOUTH)


def test_constant_installs_forecast_exactly(flow_db):
    # history 28: 03-01..03-28, NORTH 2 a day = 56; every simulated week holds 14 installs
    for horizon, expected in ((28, 56), (10, 20), (3, 6)):
        rows = by_key(dataset("install_forecast", flow_db, horizon=horizon, history=28, markets=["NORTH"]), "market")
        assert set(rows) == {"NORTH", "ALL"}
        for market in ("NORTH", "ALL"):
            row = rows[market]
            assert row["horizon_days"] == horizon and row["history_days"] == 28 and row["installs_in_history"] == 56
            assert (row["installs_p50"], row["installs_at_least_85"], row["installs_at_least_95"]) == (expected,) * 3


def test_forecast_uses_the_whole_weeks_and_counts_the_whole_window(flow_db):
    # default history 56 reaches back before the store: 29 days from 02-28 (58 installs); the whole
    # weeks are the last 28 days, so the forecast is still exact
    north = by_key(dataset("install_forecast", flow_db, markets=["NORTH"]), "market")["NORTH"]
    assert (north["history_days"], north["installs_in_history"], north["horizon_days"]) == (29, 58, 28)
    assert north["installs_at_least_85"] == 56


def test_a_market_with_gaps_counts_installs_on_their_own_date(flow_db):
    # Y1 installed on 03-11, a day SOUTH sent no extract; the 03-12 row reports it, counted once
    rows = by_key(dataset("install_forecast", flow_db, history=28), "market")
    assert rows["SOUTH"]["installs_in_history"] == 1
    assert rows["ALL"]["installs_in_history"] == 57
    # as of 03-11 nothing of SOUTH is known yet (its latest row then is the scheduled one of 03-10)
    early = by_key(dataset("install_forecast", flow_db, as_of=dt.date(2026, 3, 11), history=28), "market")
    assert early["SOUTH"]["installs_in_history"] == 0


def test_too_little_history_gives_no_forecast_but_says_how_much(flow_db):
    # as of 03-10 the store has 11 days (02-28..03-10): fewer than the 28 needed
    rows = by_key(dataset("install_forecast", flow_db, as_of=dt.date(2026, 3, 10), markets=["NORTH"]), "market")
    north = rows["NORTH"]
    assert (north["history_days"], north["installs_in_history"], north["min_history_days"]) == (11, 22, 28)
    assert north["installs_p50"] is None and north["installs_at_least_85"] is None
    clearance = dataset("backlog_clearance", flow_db, as_of=dt.date(2026, 3, 10))
    assert set(clearance["status"]) == {"too_little_history"}
    assert clearance["clear_by_85"].null_count() == clearance.height


INSTALLS = """
snapshot_date | order_id | market | stage     | ordered_at | installed_at     | invoiced_at
2026-03-01    | A1       | NORTH  | scheduled | 2026-02-01 |                  |
2026-03-02    | A1       | NORTH  | installed | 2026-02-01 | 2026-03-02 10:00 |
2026-03-03    | A1       | NORTH  | invoiced  | 2026-02-01 | 2026-03-02 10:00 | 2026-03-03
2026-03-04    | A2       | NORTH  | installed | 2026-02-01 | 2026-03-04 10:00 |
2026-03-05    | A2       | NORTH  | installed | 2026-02-01 | 2026-03-03 16:00 |
2026-03-01    | A3       | NORTH  | activated | 2026-02-01 | 2026-02-20       |
2026-03-02    | A3       | NORTH  | activated | 2026-02-01 | 2026-02-20       |
2026-03-03    | A3       | NORTH  | activated | 2026-02-01 | 2026-02-20       |
2026-03-04    | A3       | NORTH  | activated | 2026-02-01 | 2026-02-20       |
2026-03-05    | A3       | NORTH  | activated | 2026-02-01 | 2026-02-20       |
2026-03-05    | A4       | NORTH  | scheduled | 2026-02-01 |                  |
"""


def test_each_install_counts_once_on_the_date_its_latest_row_says(tmp_path):
    # A1: three rows, one install (03-02). A2: corrected to 03-03 on its latest row. A3: installed
    # before the store began (not in the window). A4: not installed.
    db = make_store(tmp_path, INSTALLS)
    assert by_key(dataset("install_forecast", db), "market")["NORTH"]["installs_in_history"] == 2
    # history 2 = 03-04, 03-05: A2 now counts on 03-03, outside
    assert by_key(dataset("install_forecast", db, history=2), "market")["NORTH"]["installs_in_history"] == 0
    # as of 03-04 A2's latest row says 03-04
    assert (
        by_key(dataset("install_forecast", db, as_of=dt.date(2026, 3, 4)), "market")["NORTH"]["installs_in_history"]
        == 2
    )
    assert (
        by_key(dataset("install_forecast", db, as_of=dt.date(2026, 3, 2)), "market")["NORTH"]["installs_in_history"]
        == 1
    )


def test_clearance_constant_throughput_zero_throughput_and_nothing_open(flow_db):
    rows = {(r["market"], r["stage"]): r for r in dataset("backlog_clearance", flow_db, history=28).to_dicts()}
    installed = rows[("NORTH", "installed")]  # 2 open, 2 leave a day
    assert (installed["open_orders"], installed["left_in_history"], installed["status"]) == (2, 56, "clears")
    assert (installed["clear_days_p50"], installed["clear_days_85"], installed["clear_days_95"]) == (1, 1, 1)
    assert installed["clear_by_95"] == dt.date(2026, 3, 29)
    scheduled = rows[("NORTH", "scheduled")]  # Q1-Q10, 1 leaves a day
    assert (scheduled["open_orders"], scheduled["left_in_history"]) == (10, 28)
    assert (scheduled["clear_by_p50"], scheduled["clear_by_85"], scheduled["clear_by_95"]) == (dt.date(2026, 4, 7),) * 3
    never = rows[("NORTH", "awaiting_network")]  # W1, nobody leaves
    assert (never["open_orders"], never["left_in_history"], never["status"]) == (1, 0, "never")
    assert (never["clear_by_p50"], never["clear_by_85"], never["clear_by_95"], never["clear_days_85"]) == (None,) * 4
    empty = rows[("NORTH", "intake")]
    assert (empty["open_orders"], empty["status"], empty["clear_by_95"]) == (0, "nothing_open", S)
    # ALL adds SOUTH: scheduled holds Q1-Q10 and X4; Y1 left scheduled on 03-12 too
    total = rows[("ALL", "scheduled")]
    assert (total["open_orders"], total["left_in_history"], total["status"]) == (11, 29, "clears")
    assert [m for m, stage in rows if stage == "intake"] == ["NORTH", "SOUTH", "ALL"]


def test_service_levels_per_stage_and_market(flow_db):
    rows = {(r["market"], r["stage"]): r for r in dataset("service_levels", flow_db, history=28).to_dicts()}
    intake = rows[("SOUTH", "intake")]  # X1 1, X2 2, X3 4, X4 10 days
    assert intake["left_orders"] == 4
    # quantile_cont: p50 (1.5 -> 2 + 0.5*2) = 3; p85 (2.55 -> 4 + 0.55*6) = 7.3; p95 (2.85 -> 4 + 0.85*6) = 9.1
    assert (intake["sle_p50_days"], intake["sle_p85_days"], intake["sle_p95_days"]) == pytest.approx((3.0, 7.3, 9.1))
    assert rows[("SOUTH", "scheduled")]["left_orders"] == 1 and rows[("SOUTH", "scheduled")]["sle_p85_days"] == 4.0
    north = rows[("NORTH", "scheduled")]
    assert (north["left_orders"], north["sle_p50_days"], north["sle_p95_days"]) == (28, 1.0, 1.0)
    assert rows[("NORTH", "installed")]["left_orders"] == 56
    none = rows[("NORTH", "awaiting_network")]
    assert (none["left_orders"], none["sle_p85_days"]) == (0, None)
    assert rows[("ALL", "scheduled")]["left_orders"] == 29 and rows[("ALL", "intake")]["sle_p85_days"] == pytest.approx(
        7.3
    )
    assert {r["history_days"] for r in rows.values()} == {28}
    # history 5: the window is 03-24..03-28, where only X3 left intake
    short = by_key(
        dataset("service_levels", flow_db, history=5, markets=["SOUTH"]).filter(pl.col("market") == "SOUTH"), "stage"
    )
    assert (short["intake"]["left_orders"], short["intake"]["sle_p50_days"], short["intake"]["sle_p95_days"]) == (
        1,
        4.0,
        4.0,
    )


def test_ageing_orders_against_the_stage_sle(flow_db):
    south = by_key(dataset("ageing_orders", flow_db, markets=["SOUTH"], history=28), "order_id")
    assert set(south) == {"X3", "X4"}
    # X4: scheduled since 03-20 = 8 days; SOUTH's scheduled SLE is Y1's 4 days
    assert (south["X4"]["age_in_stage_days"], south["X4"]["sle_p85_days"]) == (8, 4.0)
    assert (south["X4"]["sle_band"], south["X4"]["beyond_sle_85"]) == ("beyond P95", True)
    # X3: nobody left awaiting_appointment in SOUTH: no SLE, not flagged
    assert (south["X3"]["age_in_stage_days"], south["X3"]["sle_band"], south["X3"]["beyond_sle_85"]) == (4, None, False)
    everyone = dataset("ageing_orders", flow_db, stages=["scheduled"], history=28)
    assert everyone.height == 11 and everyone["order_id"][0] == "X4"  # oldest first
    q1 = by_key(everyone, "order_id")["Q1"]
    assert (q1["age_in_stage_days"], q1["sle_band"], q1["beyond_sle_85"]) == (0, "within P50", False)


def test_same_store_same_answer_and_the_seed_matters(demo_db, monkeypatch):
    first = dataset("install_forecast", demo_db, history=28, horizon=14)
    assert first.equals(dataset("install_forecast", demo_db, history=28, horizon=14))
    clearance = dataset("backlog_clearance", demo_db)
    assert clearance.equals(dataset("backlog_clearance", demo_db))
    monkeypatch.setattr(montecarlo, "SEED", montecarlo.SEED + 1)
    assert not first.equals(dataset("install_forecast", demo_db, history=28, horizon=14))


def test_monte_carlo_levels_count_the_trials():
    trials = np.arange(montecarlo.TRIALS)  # 0 .. 9999, each once
    # reached or exceeded in at least 85% of trials: 1500 (8500 trials are >= 1500)
    assert montecarlo.at_least(trials, 0.85) == 1500 and montecarlo.at_least(trials, 0.5) == 5000
    assert montecarlo.within(trials.astype(float), 0.85) == 8499.0  # 8500 trials are <= 8499


@pytest.mark.parametrize("value", [0, -3, 400, 2.5, "7"])
def test_horizon_and_history_are_checked(flow_db, value):
    with pytest.raises(ValueError, match="horizon must be a whole number of days from 1 to 365"):
        dataset("install_forecast", flow_db, horizon=value)
    if value != 400:
        with pytest.raises(ValueError, match="history must be a whole number"):
            dataset("backlog_clearance", flow_db, history=value)


def test_backtest_replays_the_forecast_at_past_snapshots(flow_db):
    # T needs 28 days of history (from 02-28: T >= 03-27) and T + horizon <= 03-28
    assert dataset("install_forecast_backtest", flow_db, history=28, horizon=2).is_empty()
    backtest = dataset("install_forecast_backtest", flow_db, history=28, horizon=1, markets=["NORTH"])
    # T = 03-27: NORTH forecasts 2 for 03-28 and realises I0328a, I0328b
    assert backtest.to_dicts() == [
        {"as_of_date": dt.date(2026, 3, 27), "market": market, "horizon_days": 1, "installs_p50": 2,
         "installs_at_least_85": 2, "installs_at_least_95": 2, "realised_installs": 2,
         "reached_p50": True, "reached_85": True, "reached_95": True}
        for market in ("NORTH", "ALL")
    ]  # fmt: skip
    # a history shorter than the forecast needs has nothing to replay
    assert dataset("install_forecast_backtest", flow_db, history=14, horizon=1).is_empty()


def test_calibration_on_generated_data(tmp_path):
    """SPEC §6: backtested, the realised count reaches installs_at_least_85 in about 85% of cases.

    The default demo store (`opslens demo`): its business grows, so a plain bootstrap of the past
    reaches its 85% level in every case (docs/forecasts.md); the trend method must stay within 75-95%.
    """
    from opslens.cli import main

    db = tmp_path / "generated.duckdb"
    assert (
        main(["demo", "--db", str(db), "--orders", "6000", "--days", "120", "--seed", "7", "--end", "2026-11-20"]) == 0
    )
    backtest = dataset("install_forecast_backtest", db)
    assert backtest.height == 37 * 7  # dates 2026-09-17 .. 10-23 (56 days of history, 28 ahead); 6 markets and ALL
    share = backtest["reached_85"].mean()
    assert 0.75 <= share <= 0.95, share
    calibration = dataset("install_forecast_calibration", db)
    assert calibration["market"].to_list()[-1] == "ALL"
    assert calibration["cases"].sum() == backtest.height


def test_top_markets_keeps_the_busiest_markets_numbers_and_the_whole_all_row(flow_db):
    # installs in the window: NORTH 56, SOUTH 1; open in open stages at S: NORTH 13 (I0328a, I0328b,
    # W1, Q1-Q10), SOUTH 2 (X3, X4). One market shown: NORTH; ALL still counts SOUTH.
    full = by_key(dataset("install_forecast", flow_db, history=28), "market")
    top = by_key(dataset("install_forecast", flow_db, history=28, top_markets=1), "market")
    assert list(top) == ["NORTH", "ALL"]
    assert top == {m: full[m] for m in ("NORTH", "ALL")} and top["ALL"]["installs_in_history"] == 57
    clearance = dataset("backlog_clearance", flow_db, history=28)
    kept = dataset("backlog_clearance", flow_db, history=28, top_markets=1)
    assert kept["market"].unique(maintain_order=True).to_list() == ["NORTH", "ALL"]
    assert kept.equals(clearance.filter(pl.col("market") != "SOUTH"))
    assert by_key(kept.filter(pl.col("market") == "ALL"), "stage")["scheduled"]["open_orders"] == 11  # with X4
    # as many markets as allowed, or more allowed: every market
    assert dataset("install_forecast", flow_db, history=28, top_markets=2).equals(
        dataset("install_forecast", flow_db, history=28)
    )


@pytest.mark.parametrize("value", [0, -1, 2.5, "3", True])
def test_top_markets_is_checked(flow_db, value):
    with pytest.raises(ValueError, match="top_markets must be a whole number from 1"):
        dataset("install_forecast", flow_db, top_markets=value)
