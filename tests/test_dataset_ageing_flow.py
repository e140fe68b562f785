"""backlog_ageing, backlog_flow and snapshot_rows against a hand-made store (SPEC §2, §3), and their CLI face.

Each dataset's definition is read from its SQL header (queries/sql/*.sql) and queries/headline.py;
every expected value below is worked out by hand from the fixture tables, arithmetic in comments.
Days are calendar days between dates; percentiles are quantile_cont: sorted values v0..v(n-1),
h = (n-1)*p, value = v[floor h] + frac(h) * (v[floor h + 1] - v[floor h]).
"""

# Fixture tables are kept one order-row per line, aligned, for readability.
# ruff: noqa: E501

from __future__ import annotations

import datetime as dt
import io

import polars as pl
import pytest
from handmade import (
    OPEN_STAGES,
    assert_float,
    assert_integer,
    dataset,
    expect,
    make_store,
    no_config_file,
)


@pytest.fixture(autouse=True)
def _no_config(monkeypatch, tmp_path):
    no_config_file(monkeypatch, tmp_path)


# ====================================================================== backlog_ageing
#
# S = 2026-05-31. Age in stage = S - date(stage_entered_at) (s_e_a), or the run start when s_e_a is empty.
# Buckets: 0-2, 3-7, 8-14, 15-30, 31-60, over 60 days (the labels carry the word "days").
#
#   A1  NORTH intake               s_e_a 05-29                  -> 2            0-2   mrr 10
#   A2  NORTH intake    business   s_e_a 05-28                  -> 3            3-7   mrr 20
#   A3  NORTH intake               s_e_a 06-02 (AFTER S)        -> -2           0-2   mrr null
#   A4  NORTH intake               s_e_a 05-31 23:00            -> 0            0-2   mrr 5.5
#   A5  NORTH awaiting_network     s_e_a 05-24                  -> 7            3-7   mrr 30
#   A6  NORTH awaiting_network     s_e_a 05-23                  -> 8            8-14  mrr 40
#   A7  SOUTH awaiting_network bus s_e_a 05-17                  -> 14           8-14  mrr 50
#   A8  SOUTH scheduled            s_e_a 05-16                  -> 15           15-30 mrr 60
#   A9  SOUTH scheduled            s_e_a 05-01                  -> 30           15-30 mrr 70
#   A10 SOUTH installed            s_e_a 04-30 (1 + 30)         -> 31           31-60 mrr 80
#   A11 NORTH installed            s_e_a 04-01 (30 + 30)        -> 60           31-60 mrr 90
#   A12 NORTH activated business   s_e_a 03-31 (31 + 30)        -> 61           >60   mrr 100
#   A13 SOUTH activated            s_e_a 2025-12-31 (31+28+31+30+31) -> 151     >60   mrr null
#   A16 NORTH awaiting_appointment no s_e_a, rows 05-29, 05-31  -> run from 05-29 -> 2   0-2  mrr 15
#   A14 invoiced at S, A15 cancelled at S: terminal, not counted. A17 (05-29 only) is absent at S.
#
# At 2026-05-29 (rows: A1, A12, A14, A15, A16, A17):
#   A1  intake     s_e_a 05-29 -> 0  0-2   10
#   A17 intake     s_e_a 05-27 -> 2  0-2   35
#   A15 intake     s_e_a 05-20 -> 9  8-14  25
#   A16 awaiting_appointment run from 05-29 -> 0  0-2  15
#   A14 activated  s_e_a 05-20 -> 9  8-14  45
#   A12 activated  s_e_a 03-31 -> 30 + 29 = 59  31-60  100

AGEING_ROWS = """
snapshot_date | order_id | market | stage                | ordered_at | segment     | stage_entered_at | mrr
2026-05-29    | A1       | NORTH  | intake               | 2025-12-01 | residential | 2026-05-29       | 10
2026-05-31    | A1       | NORTH  | intake               | 2025-12-01 | residential | 2026-05-29       | 10
2026-05-31    | A2       | NORTH  | intake               | 2025-12-01 | business    | 2026-05-28       | 20
2026-05-31    | A3       | NORTH  | intake               | 2025-12-01 | residential | 2026-06-02       |
2026-05-31    | A4       | NORTH  | intake               | 2025-12-01 | residential | 2026-05-31 23:00 | 5.5
2026-05-31    | A5       | NORTH  | awaiting_network     | 2025-12-01 | residential | 2026-05-24       | 30
2026-05-31    | A6       | NORTH  | awaiting_network     | 2025-12-01 | residential | 2026-05-23       | 40
2026-05-31    | A7       | SOUTH  | awaiting_network     | 2025-12-01 | business    | 2026-05-17       | 50
2026-05-31    | A8       | SOUTH  | scheduled            | 2025-12-01 | residential | 2026-05-16       | 60
2026-05-31    | A9       | SOUTH  | scheduled            | 2025-12-01 | residential | 2026-05-01       | 70
2026-05-31    | A10      | SOUTH  | installed            | 2025-12-01 | residential | 2026-04-30       | 80
2026-05-31    | A11      | NORTH  | installed            | 2025-12-01 | residential | 2026-04-01       | 90
2026-05-29    | A12      | NORTH  | activated            | 2025-12-01 | business    | 2026-03-31       | 100
2026-05-31    | A12      | NORTH  | activated            | 2025-12-01 | business    | 2026-03-31       | 100
2026-05-31    | A13      | SOUTH  | activated            | 2025-12-01 | residential | 2025-12-31       |
2026-05-29    | A14      | NORTH  | activated            | 2025-12-01 | residential | 2026-05-20       | 45
2026-05-31    | A14      | NORTH  | invoiced             | 2025-12-01 | residential | 2026-05-30       | 45
2026-05-29    | A15      | SOUTH  | intake               | 2025-12-01 | residential | 2026-05-20       | 25
2026-05-31    | A15      | SOUTH  | cancelled            | 2025-12-01 | residential | 2026-05-30       | 25
2026-05-29    | A16      | NORTH  | awaiting_appointment | 2025-12-01 | residential |                  | 15
2026-05-31    | A16      | NORTH  | awaiting_appointment | 2025-12-01 | residential |                  | 15
2026-05-29    | A17      | NORTH  | intake               | 2025-12-01 | residential | 2026-05-27       | 35
"""

BUCKETS = ("0-2 days", "3-7 days", "8-14 days", "15-30 days", "31-60 days", "over 60 days")
AGEING_S = dt.date(2026, 5, 31)


def ageing_rows(cells: dict[tuple[str, str], tuple[int, float]]) -> list[dict]:
    """All 36 (stage, bucket) rows in lifecycle x bucket order; cells not given are (0, 0.0)."""
    unknown = [key for key in cells if key[0] not in OPEN_STAGES or key[1] not in BUCKETS]
    assert not unknown, unknown
    return [
        {
            "stage": stage,
            "bucket": bucket,
            "orders": cells.get((stage, bucket), (0, 0.0))[0],
            "mrr": cells.get((stage, bucket), (0, 0.0))[1],
        }
        for stage in OPEN_STAGES
        for bucket in BUCKETS
    ]


AGEING_AT_S = ageing_rows(
    {
        ("intake", "0-2 days"): (3, 15.5),  # A1 10 + A3 null(0) + A4 5.5
        ("intake", "3-7 days"): (1, 20.0),  # A2 (age exactly 3)
        ("awaiting_network", "3-7 days"): (1, 30.0),  # A5 (exactly 7)
        ("awaiting_network", "8-14 days"): (2, 90.0),  # A6 (8) 40 + A7 (14) 50
        ("awaiting_appointment", "0-2 days"): (1, 15.0),  # A16 (run-based 2)
        ("scheduled", "15-30 days"): (2, 130.0),  # A8 (15) 60 + A9 (30) 70
        ("installed", "31-60 days"): (2, 170.0),  # A10 (31) 80 + A11 (60) 90
        ("activated", "over 60 days"): (2, 100.0),  # A12 (61) 100 + A13 (151) null
    }
)


@pytest.fixture(scope="module")
def ageing_db(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("ageing"), AGEING_ROWS)


def test_ageing_at_latest_snapshot_boundaries_and_zeros(ageing_db):
    df = dataset("backlog_ageing", ageing_db)
    assert df.columns[:4] == ["stage", "bucket", "orders", "mrr"]
    assert df.height == 36  # 6 open stages x 6 buckets, zeros included
    expect(df, AGEING_AT_S)
    assert_integer(df, "orders")
    assert_float(df, "mrr")


def test_ageing_explicit_as_of_equals_default(ageing_db):
    expect(dataset("backlog_ageing", ageing_db, as_of=AGEING_S), AGEING_AT_S)


def test_ageing_earlier_as_of(ageing_db):
    expect(
        dataset("backlog_ageing", ageing_db, as_of=dt.date(2026, 5, 29)),
        ageing_rows(
            {
                ("intake", "0-2 days"): (2, 45.0),  # A1 (0) 10 + A17 (2) 35
                ("intake", "8-14 days"): (1, 25.0),  # A15 (9), cancelled only later
                ("awaiting_appointment", "0-2 days"): (1, 15.0),  # A16 (0)
                ("activated", "8-14 days"): (1, 45.0),  # A14 (9), invoiced only later
                ("activated", "31-60 days"): (1, 100.0),  # A12 (59)
            }
        ),
    )


def test_ageing_market_filter(ageing_db):
    expect(
        dataset("backlog_ageing", ageing_db, markets=["SOUTH"]),
        ageing_rows(
            {
                ("awaiting_network", "8-14 days"): (1, 50.0),  # A7
                ("scheduled", "15-30 days"): (2, 130.0),  # A8 60 + A9 70
                ("installed", "31-60 days"): (1, 80.0),  # A10
                ("activated", "over 60 days"): (1, 0.0),  # A13, mrr null -> 0 (A15 is cancelled)
            }
        ),
    )


def test_ageing_segment_filter(ageing_db):
    # business at S: A2 intake 3, A7 awaiting_network 14, A12 activated 61
    expect(
        dataset("backlog_ageing", ageing_db, segments=["business"]),
        ageing_rows(
            {
                ("intake", "3-7 days"): (1, 20.0),
                ("awaiting_network", "8-14 days"): (1, 50.0),
                ("activated", "over 60 days"): (1, 100.0),
            }
        ),
    )


def test_ageing_filter_matching_nothing_keeps_all_zero_cells(ageing_db):
    df = dataset("backlog_ageing", ageing_db, scope=["NOWHERE"])
    expect(df, ageing_rows({}))
    assert_integer(df, "orders")


def test_ageing_orders_add_up_to_backlog_orders(ageing_db):
    # Each open order at S falls in exactly one bucket: per stage the buckets sum to backlog.orders
    # (intake 4, awaiting_network 3, awaiting_appointment 1, scheduled 2, installed 2, activated 2).
    ageing = dataset("backlog_ageing", ageing_db)
    per_stage = [sum(r["orders"] for r in ageing.to_dicts() if r["stage"] == stage) for stage in OPEN_STAGES]
    assert per_stage == [4, 3, 1, 2, 2, 2]
    assert dataset("backlog", ageing_db)["orders"].to_list() == per_stage


# ====================================================================== backlog_flow, snapshot_rows
#
# Snapshot dates D1 2026-07-01, D2 07-02, D3 07-03 (NORTH only: SOUTH skips it), D4 07-04.
# Each order's own rows (stage per date; '-' = no row):
#          market product     D1                D2                 D3                D4
#   F1     NORTH  fiber_1g    intake            intake             awaiting_network  awaiting_network
#   F2     NORTH  fiber_1g    intake            awaiting_network   intake            awaiting_appointment
#   F3     NORTH  fiber_500m  -                 scheduled          installed         invoiced
#   F4     NORTH  fiber_1g    activated         invoiced           -                 -
#   F5     NORTH  fiber_500m  intake            - (absent)         intake            intake
#   F6     SOUTH  fiber_1g    awaiting_network  awaiting_network   - (market skips)  awaiting_appointment
#   F7     SOUTH  fiber_500m  scheduled         installed          - (market skips)  installed
#   F8     SOUTH  fiber_1g    -                 intake             - (market skips)  cancelled
#   F9     SOUTH  (null)      -                 -                  -                 intake
#   E1     EAST   fiber_500m  intake            -                  -                 -
#
# Flow per date, stages in lifecycle order [intake, awaiting_network, awaiting_appointment, scheduled, installed, activated]:
#   D1: every order is new -> inflow intake F1 F2 F5 E1 = 4, awaiting_network F6, scheduled F7, activated F4.
#   D2: F2 intake->AN (out intake, in AN); F3 new (in scheduled); F4 activated->invoiced (out activated);
#       F7 scheduled->installed; F8 new (in intake); F5 absent: nothing. F1, F6 same stage: nothing.
#   D3: F1 intake->AN; F2 AN->intake; F3 scheduled->installed; F5's previous row is D1 intake: nothing.
#   D4: F2 intake->AA; F3 installed->invoiced (out installed); F6 previous row D2 AN -> AA (the skipped D3 is no
#       flow); F8 intake->cancelled (out intake); F9 new (in intake); F1, F5, F7 same stage as their previous row.
D1, D2, D3, D4 = (dt.date(2026, 7, day) for day in (1, 2, 3, 4))

FLOW_ROWS = """
snapshot_date | order_id | market | stage                | ordered_at | product
2026-07-01    | F1       | NORTH  | intake               | 2026-06-01 | fiber_1g
2026-07-02    | F1       | NORTH  | intake               | 2026-06-01 | fiber_1g
2026-07-03    | F1       | NORTH  | awaiting_network     | 2026-06-01 | fiber_1g
2026-07-04    | F1       | NORTH  | awaiting_network     | 2026-06-01 | fiber_1g
2026-07-01    | F2       | NORTH  | intake               | 2026-06-01 | fiber_1g
2026-07-02    | F2       | NORTH  | awaiting_network     | 2026-06-01 | fiber_1g
2026-07-03    | F2       | NORTH  | intake               | 2026-06-01 | fiber_1g
2026-07-04    | F2       | NORTH  | awaiting_appointment | 2026-06-01 | fiber_1g
2026-07-02    | F3       | NORTH  | scheduled            | 2026-06-01 | fiber_500m
2026-07-03    | F3       | NORTH  | installed            | 2026-06-01 | fiber_500m
2026-07-04    | F3       | NORTH  | invoiced             | 2026-06-01 | fiber_500m
2026-07-01    | F4       | NORTH  | activated            | 2026-06-01 | fiber_1g
2026-07-02    | F4       | NORTH  | invoiced             | 2026-06-01 | fiber_1g
2026-07-01    | F5       | NORTH  | intake               | 2026-06-01 | fiber_500m
2026-07-03    | F5       | NORTH  | intake               | 2026-06-01 | fiber_500m
2026-07-04    | F5       | NORTH  | intake               | 2026-06-01 | fiber_500m
2026-07-01    | F6       | SOUTH  | awaiting_network     | 2026-06-01 | fiber_1g
2026-07-02    | F6       | SOUTH  | awaiting_network     | 2026-06-01 | fiber_1g
2026-07-04    | F6       | SOUTH  | awaiting_appointment | 2026-06-01 | fiber_1g
2026-07-01    | F7       | SOUTH  | scheduled            | 2026-06-01 | fiber_500m
2026-07-02    | F7       | SOUTH  | installed            | 2026-06-01 | fiber_500m
2026-07-04    | F7       | SOUTH  | installed            | 2026-06-01 | fiber_500m
2026-07-02    | F8       | SOUTH  | intake               | 2026-06-01 | fiber_1g
2026-07-04    | F8       | SOUTH  | cancelled            | 2026-06-01 | fiber_1g
2026-07-04    | F9       | SOUTH  | intake               | 2026-06-01 |
2026-07-01    | E1       | EAST   | intake               | 2026-06-01 | fiber_500m
"""

FLOW_COLUMNS = ["snapshot_date", "stage", "inflow", "outflow", "net_change"]
ZERO6 = [0, 0, 0, 0, 0, 0]

# (inflow, outflow, net_change) per date, lists in lifecycle order.
FLOW_ALL = {
    D1: ([4, 1, 0, 1, 0, 1], ZERO6, [4, 1, 0, 1, 0, 1]),
    D2: ([1, 1, 0, 1, 1, 0], [1, 0, 0, 1, 0, 1], [0, 1, 0, 0, 1, -1]),
    D3: ([1, 1, 0, 0, 1, 0], [1, 1, 0, 1, 0, 0], [0, 0, 0, -1, 1, 0]),
    D4: ([1, 0, 2, 0, 0, 0], [2, 1, 0, 0, 1, 0], [-1, -1, 2, 0, -1, 0]),
}


def flow_rows(by_date: dict) -> list[dict]:
    out = []
    for day, (inflow, outflow, net) in by_date.items():
        for i, stage in enumerate(OPEN_STAGES):
            assert net[i] == inflow[i] - outflow[i], f"fixture arithmetic {day} {stage}"
            out.append(
                {"snapshot_date": day, "stage": stage, "inflow": inflow[i], "outflow": outflow[i], "net_change": net[i]}
            )
    return out


@pytest.fixture(scope="module")
def flow_db(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("flow"), FLOW_ROWS)


def test_flow_all_dates(flow_db):
    df = dataset("backlog_flow", flow_db)
    assert df.columns[:5] == FLOW_COLUMNS
    assert df.height == 24  # 4 dates x 6 open stages
    expect(df, flow_rows(FLOW_ALL))
    assert_integer(df, "inflow", "outflow", "net_change")


def test_flow_range_uses_previous_rows_before_the_range(flow_db):
    # start D3: F1's previous row (D2, outside the range) still makes D3 an intake -> AN move, and F5's
    # previous row D1 (intake) still means "no flow" on D3.
    expect(dataset("backlog_flow", flow_db, start=D3, end=D4), flow_rows({D3: FLOW_ALL[D3], D4: FLOW_ALL[D4]}))


def test_flow_earlier_as_of_caps_the_dates(flow_db):
    # as_of D2: dates D1, D2 only, even with end after it
    expected = flow_rows({D1: FLOW_ALL[D1], D2: FLOW_ALL[D2]})
    expect(dataset("backlog_flow", flow_db, as_of=D2), expected)
    expect(dataset("backlog_flow", flow_db, as_of=D2, end=D4), expected)


def test_flow_market_skipping_a_day_is_not_flow(flow_db):
    # SOUTH only:
    #   D1: F6 new AN, F7 new scheduled.
    #   D2: F7 scheduled->installed; F8 new intake.
    #   D3: SOUTH has no rows: the store date is kept with zeros, and nothing is "out" because of the gap.
    #   D4: F6 AN (D2) -> AA; F8 intake (D2) -> cancelled: out intake; F9 new intake; F7 installed (D2) -> installed.
    expect(
        dataset("backlog_flow", flow_db, markets=["SOUTH"]),
        flow_rows(
            {
                D1: ([0, 1, 0, 1, 0, 0], ZERO6, [0, 1, 0, 1, 0, 0]),
                D2: ([1, 0, 0, 0, 1, 0], [0, 0, 0, 1, 0, 0], [1, 0, 0, -1, 1, 0]),
                D3: (ZERO6, ZERO6, ZERO6),
                D4: ([1, 0, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0], [0, -1, 1, 0, 0, 0]),
            }
        ),
    )


def test_flow_product_filter(flow_db):
    # fiber_1g: F1, F2, F4 (NORTH), F6, F8 (SOUTH); F9 has product null -> excluded.
    #   D1: F1, F2 new intake; F6 new AN; F4 new activated.
    #   D2: F2 intake->AN; F4 activated->invoiced; F8 new intake.
    #   D3: F1 intake->AN; F2 AN->intake.
    #   D4: F2 intake->AA; F6 AN->AA; F8 intake->cancelled.
    expect(
        dataset("backlog_flow", flow_db, products=["fiber_1g"]),
        flow_rows(
            {
                D1: ([2, 1, 0, 0, 0, 1], ZERO6, [2, 1, 0, 0, 0, 1]),
                D2: ([1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 1], [0, 1, 0, 0, 0, -1]),
                D3: ([1, 1, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0], ZERO6),
                D4: ([0, 0, 2, 0, 0, 0], [2, 1, 0, 0, 0, 0], [-2, -1, 2, 0, 0, 0]),
            }
        ),
    )


def test_flow_filter_matching_nothing_keeps_dates_with_zeros(flow_db):
    expect(
        dataset("backlog_flow", flow_db, scope=["NOWHERE"]),
        flow_rows({d: (ZERO6, ZERO6, ZERO6) for d in (D1, D2, D3, D4)}),
    )


def test_flow_absent_order_is_neither_in_nor_out(flow_db):
    # F5 (intake D1, absent D2) is not an outflow on D2 although the intake count drops from 4 to 2:
    # backlog_trend intake D1 F1 F2 F5 E1 = 4, D2 F1 F8 = 2 (change -2), but intake net_change on D2 is
    # 0 (F8 in, F2 out). The two datasets disagree exactly by the absent F5 and E1.
    trend = dataset("backlog_trend", flow_db, end=D2).filter(pl.col("stage") == "intake")["orders"].to_list()
    assert trend == [4, 2]
    flow = dataset("backlog_flow", flow_db, start=D2, end=D2).filter(pl.col("stage") == "intake")
    assert flow.select("inflow", "outflow", "net_change").row(0) == (1, 1, 0)


# snapshot_rows: rows per date and market (terminal rows count: a row is a row).
#   D1: EAST 1 (E1), NORTH 4 (F1 F2 F4 F5), SOUTH 2 (F6 F7)
#   D2: EAST 0,      NORTH 4 (F1 F2 F3 F4), SOUTH 3 (F6 F7 F8)
#   D3: EAST 0,      NORTH 4 (F1 F2 F3 F5), SOUTH 0 (skipped)
#   D4: EAST 0,      NORTH 4 (F1 F2 F3 F5), SOUTH 4 (F6 F7 F8 F9)
SNAPSHOT_ROWS = {
    D1: {"EAST": 1, "NORTH": 4, "SOUTH": 2},
    D2: {"EAST": 0, "NORTH": 4, "SOUTH": 3},
    D3: {"EAST": 0, "NORTH": 4, "SOUTH": 0},
    D4: {"EAST": 0, "NORTH": 4, "SOUTH": 4},
}


def snapshot_rows(dates, markets=("EAST", "NORTH", "SOUTH")) -> list[dict]:
    return [{"snapshot_date": d, "market": m, "rows": SNAPSHOT_ROWS[d][m]} for d in dates for m in markets]


def test_snapshot_rows_zeros_for_missing_market_days(flow_db):
    df = dataset("snapshot_rows", flow_db)
    assert df.columns[:3] == ["snapshot_date", "market", "rows"]
    expect(df, snapshot_rows((D1, D2, D3, D4)))
    assert_integer(df, "rows")


def test_snapshot_rows_market_filter_and_range(flow_db):
    expect(
        dataset("snapshot_rows", flow_db, markets=["SOUTH", "EAST"]), snapshot_rows((D1, D2, D3, D4), ("EAST", "SOUTH"))
    )
    expect(dataset("snapshot_rows", flow_db, start=D2, end=D3), snapshot_rows((D2, D3)))


def test_snapshot_rows_earlier_as_of(flow_db):
    expect(dataset("snapshot_rows", flow_db, as_of=D2, end=D4), snapshot_rows((D1, D2)))


def test_snapshot_rows_filter_matching_nothing_is_empty(flow_db):
    df = dataset("snapshot_rows", flow_db, scope=["NOWHERE"])
    assert df.height == 0
    assert df.columns[:3] == ["snapshot_date", "market", "rows"]


def cli_csv(capsys, *args: str) -> str:
    from opslens.cli import main

    capsys.readouterr()  # drop anything printed before
    assert main(["export", *args, "--format", "csv"]) == 0
    return capsys.readouterr().out


def test_cli_export_backlog_flow_matches_dataset(flow_db, capsys):
    # NORTH + EAST, D2..D4 (EAST reports only on D1, so this is NORTH's flow):
    #   D2: F2 intake->AN, F3 new scheduled, F4 activated->invoiced
    #   D3: F1 intake->AN, F2 AN->intake, F3 scheduled->installed
    #   D4: F2 intake->AA, F3 installed->invoiced
    printed = cli_csv(
        capsys,
        "backlog_flow",
        "--db",
        str(flow_db),
        "--market",
        "NORTH",
        "--market",
        "EAST",
        "--from",
        "2026-07-02",
        "--to",
        "2026-07-04",
    )
    frame = dataset("backlog_flow", flow_db, markets=["NORTH", "EAST"], start=D2, end=D4)
    assert printed == frame.write_csv()
    expect(
        pl.read_csv(io.StringIO(printed), try_parse_dates=True),
        flow_rows(
            {
                D2: ([0, 1, 0, 1, 0, 0], [1, 0, 0, 0, 0, 1], [-1, 1, 0, 1, 0, -1]),
                D3: ([1, 1, 0, 0, 1, 0], [1, 1, 0, 1, 0, 0], [0, 0, 0, -1, 1, 0]),
                D4: ([0, 0, 1, 0, 0, 0], [1, 0, 0, 0, 1, 0], [-1, 0, 1, 0, -1, 0]),
            }
        ),
    )
