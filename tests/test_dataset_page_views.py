"""The datasets behind the pages' further charts, against hand-made stores (SPEC §2, §3).

Each dataset's definition is read from its SQL header (queries/sql/*.sql) and queries/headline.py;
every expected value below is worked out by hand from the fixture tables, arithmetic in comments.
Days are calendar days between dates; percentiles are quantile_cont: sorted values v0..v(n-1),
h = (n-1)*p, value = v[floor h] + frac(h) * (v[floor h + 1] - v[floor h]).

Stores (one per group of datasets, each built once per module):
  AGEING   backlog_ageing                                         S = 2026-05-31, also 05-29
  FLOW     backlog_flow, snapshot_rows (+ CLI export)             2026-07-01 .. 07-04
  INVOICE  install_to_invoice_orders/_weekly, unbilled_orders     S = 2026-08-31, also 08-20
  ATTN     market_attention, headline                             S = 2026-09-10, also 09-01
  ingest_log builds its own store per test.
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
    write_csv,
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
    df = dataset("backlog_ageing", ageing_db, markets=["NOWHERE"])
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
        dataset("backlog_flow", flow_db, markets=["NOWHERE"]),
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
    df = dataset("snapshot_rows", flow_db, markets=["NOWHERE"])
    assert df.height == 0
    assert df.columns[:3] == ["snapshot_date", "market", "rows"]


# ====================================================================== install to invoice, unbilled
#
# Snapshot dates 2026-08-20 and S = 2026-08-31. Calendar: Mondays are 07-27, 08-03, 08-10, 08-17
# (08-02 and 08-09 are Sundays).
#
# Population at S (latest row as of S has installed_at and invoiced_at), days by DATE:
#        market  last row  installed         activated  invoiced          i->inv  i->act  act->inv  install week
#   P1   NORTH   08-20     08-02 23:30 (Sun)  08-04     08-12              10      2       8         07-27
#   P2   NORTH   08-20     08-03 00:15 (Mon)  -         08-07              4       null    null      08-03
#   P3   NORTH   S         08-04              08-04     08-14              10      0       10        08-03
#   P4   SOUTH   08-20     08-09 (Sun)        08-10     08-11              2       1       1         08-03
#   P5   SOUTH   S         08-10              08-20     08-18              8       10      -2        08-10
#   P6   NORTH   S         08-11              08-12     08-30 23:59        19      1       18        08-10
#   P7   NORTH   S         08-17 09:00        08-18     08-24              7       1       6         08-17
# P1, P2, P4 are absent from the S snapshot but their latest row as of S counts.
# Not in it: U7 (invoiced, never installed), U10 (installed on 08-20, absent at S, no invoice), the U* below.
#
# Installed, not invoiced, not cancelled, in snap(S): days since install = S - date(installed_at)
#   U8  SOUTH installed 08-31 08:00 -> 0   mrr 75.5
#   U1  NORTH installed 08-25       -> 6   mrr 70
#   U5  NORTH installed 08-27       -> 4   mrr 70
#   U6  NORTH activated 08-27       -> 4   mrr 70     (ties U5 on mrr and days -> order_id)
#   U9  NORTH stage invoiced but invoiced_at empty, installed 08-28 -> 3  mrr 5
#   U2  SOUTH activated 08-21       -> 10  mrr null   (nulls last)
#   U4 cancelled (excluded), U3 scheduled (not installed), U7 no installed_at.

INVOICE_ROWS = """
snapshot_date | order_id | market | stage     | ordered_at | product    | segment     | installed_at     | activated_at | invoiced_at      | cancelled_at | mrr
2026-08-20    | P1       | NORTH  | invoiced  | 2026-07-15 | fiber_1g   | residential | 2026-08-02 23:30 | 2026-08-04   | 2026-08-12       |              | 10
2026-08-20    | P2       | NORTH  | invoiced  | 2026-07-15 | fiber_1g   | residential | 2026-08-03 00:15 |              | 2026-08-07       |              | 20
2026-08-20    | P3       | NORTH  | activated | 2026-07-15 | fiber_1g   | residential | 2026-08-04       | 2026-08-04   |                  |              |
2026-08-31    | P3       | NORTH  | invoiced  | 2026-07-15 | fiber_1g   | residential | 2026-08-04       | 2026-08-04   | 2026-08-14       |              |
2026-08-20    | P4       | SOUTH  | invoiced  | 2026-07-15 | fiber_500m | business    | 2026-08-09       | 2026-08-10   | 2026-08-11       |              | 30
2026-08-20    | P5       | SOUTH  | installed | 2026-07-15 | fiber_1g   | business    | 2026-08-10       |              |                  |              | 40
2026-08-31    | P5       | SOUTH  | invoiced  | 2026-07-15 | fiber_1g   | business    | 2026-08-10       | 2026-08-20   | 2026-08-18       |              | 40
2026-08-20    | P6       | NORTH  | activated | 2026-07-15 | fiber_1g   | residential | 2026-08-11       | 2026-08-12   |                  |              | 50
2026-08-31    | P6       | NORTH  | invoiced  | 2026-07-15 | fiber_1g   | residential | 2026-08-11       | 2026-08-12   | 2026-08-30 23:59 |              | 50
2026-08-20    | P7       | NORTH  | installed | 2026-07-15 | fiber_1g   | residential | 2026-08-17 09:00 |              |                  |              | 60
2026-08-31    | P7       | NORTH  | invoiced  | 2026-07-15 | fiber_1g   | residential | 2026-08-17 09:00 | 2026-08-18   | 2026-08-24       |              | 60
2026-08-20    | U10      | NORTH  | installed | 2026-07-15 | fiber_1g   | residential | 2026-08-15       |              |                  |              | 33
2026-08-20    | U3       | SOUTH  | scheduled | 2026-07-15 | fiber_1g   | residential |                  |              |                  |              | 11
2026-08-31    | U3       | SOUTH  | scheduled | 2026-07-15 | fiber_1g   | residential |                  |              |                  |              | 11
2026-08-31    | U1       | NORTH  | installed | 2026-07-15 | fiber_1g   | residential | 2026-08-25       |              |                  |              | 70
2026-08-31    | U2       | SOUTH  | activated | 2026-07-15 | fiber_1g   | residential | 2026-08-21       | 2026-08-22   |                  |              |
2026-08-31    | U4       | SOUTH  | cancelled | 2026-07-15 | fiber_1g   | residential | 2026-08-19       |              |                  | 2026-08-30   | 99
2026-08-31    | U5       | NORTH  | installed | 2026-07-15 | fiber_1g   | residential | 2026-08-27       |              |                  |              | 70
2026-08-31    | U6       | NORTH  | activated | 2026-07-15 | fiber_1g   | residential | 2026-08-27       | 2026-08-28   |                  |              | 70
2026-08-31    | U7       | SOUTH  | invoiced  | 2026-07-15 | fiber_1g   | residential |                  |              | 2026-08-30       |              | 12
2026-08-31    | U8       | SOUTH  | installed | 2026-07-15 | fiber_1g   | residential | 2026-08-31 08:00 |              |                  |              | 75.5
2026-08-31    | U9       | NORTH  | invoiced  | 2026-07-15 | fiber_1g   | residential | 2026-08-28       |              |                  |              | 5
"""

INVOICE_S = dt.date(2026, 8, 31)
INVOICE_EARLIER = dt.date(2026, 8, 20)
W0727, W0803, W0810, W0817 = (dt.date(2026, 7, 27), dt.date(2026, 8, 3), dt.date(2026, 8, 10), dt.date(2026, 8, 17))

ORDER_COLUMNS = [
    "order_id",
    "market",
    "install_to_invoice_days",
    "install_to_activation_days",
    "activation_to_invoice_days",
    "install_week",
]


def order(order_id, market, days, to_activation, activation_to_invoice, week) -> dict:
    return dict(zip(ORDER_COLUMNS, (order_id, market, days, to_activation, activation_to_invoice, week), strict=True))


P1 = order("P1", "NORTH", 10, 2, 8, W0727)
P2 = order("P2", "NORTH", 4, None, None, W0803)
P3 = order("P3", "NORTH", 10, 0, 10, W0803)
P4 = order("P4", "SOUTH", 2, 1, 1, W0803)
P5 = order("P5", "SOUTH", 8, 10, -2, W0810)
P6 = order("P6", "NORTH", 19, 1, 18, W0810)
P7 = order("P7", "NORTH", 7, 1, 6, W0817)

WEEK_COLUMNS = [
    "install_week",
    "invoiced_orders",
    "days_p50",
    "days_p85",
    "days_p95",
    "install_to_activation_p50",
    "activation_to_invoice_p50",
]


def week(*values) -> dict:
    return dict(zip(WEEK_COLUMNS, values, strict=True))


@pytest.fixture(scope="module")
def invoice_db(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("invoice"), INVOICE_ROWS)


def test_install_to_invoice_orders_slowest_first_ties_by_order_id(invoice_db):
    # 19 P6; 10 P1, P3 (tie -> order_id); 8 P5; 7 P7; 4 P2; 2 P4
    df = dataset("install_to_invoice_orders", invoice_db)
    expect(df, [P6, P1, P3, P5, P7, P2, P4])
    assert_integer(df, "install_to_invoice_days", "install_to_activation_days", "activation_to_invoice_days")
    assert df.schema["install_week"] == pl.Date


def test_install_to_invoice_distribution_counts_orders_per_day_count(invoice_db):
    # days: P4 2, P2 4, P7 7, P5 8, P1 10, P3 10, P6 19 -> 10 days twice, the rest once
    df = dataset("install_to_invoice_distribution", invoice_db)
    expect(df, [{"days": d, "orders": n} for d, n in ((2, 1), (4, 1), (7, 1), (8, 1), (10, 2), (19, 1))])
    assert_integer(df, "days", "orders")
    # as of 08-20: P1 10, P2 4, P4 2; within install dates 08-03..08-09: P2 4, P3 10, P4 2
    expect(
        dataset("install_to_invoice_distribution", invoice_db, as_of=INVOICE_EARLIER),
        [{"days": 2, "orders": 1}, {"days": 4, "orders": 1}, {"days": 10, "orders": 1}],
    )
    expect(
        dataset("install_to_invoice_distribution", invoice_db, start=W0803, end=dt.date(2026, 8, 9)),
        [{"days": 2, "orders": 1}, {"days": 4, "orders": 1}, {"days": 10, "orders": 1}],
    )
    assert dataset("install_to_invoice_distribution", invoice_db, markets=["NOWHERE"]).height == 0


def test_install_to_invoice_orders_earlier_as_of(invoice_db):
    # latest rows as of 08-20 with both dates: P1, P2, P4 (P3, P5, P6, P7 were not invoiced yet)
    expect(dataset("install_to_invoice_orders", invoice_db, as_of=INVOICE_EARLIER), [P1, P2, P4])


def test_install_to_invoice_orders_install_date_range_compares_dates(invoice_db):
    # 08-03 .. 08-09: P2 (08-03 00:15), P3 (08-04), P4 (08-09); P1 (08-02 23:30) and P5 (08-10) fall outside
    expect(
        dataset("install_to_invoice_orders", invoice_db, start=W0803, end=dt.date(2026, 8, 9)),
        [P3, P2, P4],
    )


def test_install_to_invoice_orders_filters(invoice_db):
    expect(dataset("install_to_invoice_orders", invoice_db, segments=["business"]), [P5, P4])
    expect(dataset("install_to_invoice_orders", invoice_db, products=["fiber_500m"]), [P4])
    empty = dataset("install_to_invoice_orders", invoice_db, markets=["NOWHERE"])
    assert empty.height == 0
    assert set(ORDER_COLUMNS) <= set(empty.columns)


WEEKLY_AT_S = [
    week(W0727, 1, 10.0, 10.0, 10.0, 2.0, 8.0),  # P1
    # P2 4, P3 10, P4 2 -> 2,4,10: p50 4; p85 h=1.7 -> 4 + 0.7*6 = 8.2; p95 h=1.9 -> 4 + 0.9*6 = 9.4.
    # to activation: P2 null (ignored), P3 0, P4 1 -> 0.5; activation to invoice: 10, 1 -> 5.5
    week(W0803, 3, 4.0, 8.2, 9.4, 0.5, 5.5),
    # P5 8, P6 19: p50 13.5; p85 8 + 0.85*11 = 17.35; p95 8 + 0.95*11 = 18.45.
    # to activation 10, 1 -> 5.5; activation to invoice -2, 18 -> 8.0
    week(W0810, 2, 13.5, 17.35, 18.45, 5.5, 8.0),
    week(W0817, 1, 7.0, 7.0, 7.0, 1.0, 6.0),  # P7
]


def test_install_to_invoice_weekly(invoice_db):
    df = dataset("install_to_invoice_weekly", invoice_db)
    assert df.columns[: len(WEEK_COLUMNS)] == WEEK_COLUMNS
    expect(df, WEEKLY_AT_S)
    assert_integer(df, "invoiced_orders")
    assert_float(df, "days_p50", "days_p85", "days_p95", "install_to_activation_p50", "activation_to_invoice_p50")


def test_install_to_invoice_weekly_earlier_as_of(invoice_db):
    # as of 08-20: P1 (07-27) 10; P2 4 and P4 2 (08-03): p50 3; p85 2 + 0.85*2 = 3.7; p95 2 + 0.95*2 = 3.9;
    # to activation: P2 null, P4 1 -> 1.0; activation to invoice: P4 1 -> 1.0
    expect(
        dataset("install_to_invoice_weekly", invoice_db, as_of=INVOICE_EARLIER),
        [week(W0727, 1, 10.0, 10.0, 10.0, 2.0, 8.0), week(W0803, 2, 3.0, 3.7, 3.9, 1.0, 1.0)],
    )


def test_install_to_invoice_weekly_market_filter(invoice_db):
    # NORTH: 07-27 P1; 08-03 P2 4, P3 10 -> p50 7; p85 4 + 0.85*6 = 9.1; p95 4 + 0.95*6 = 9.7;
    # to activation P3 0 only; activation to invoice P3 10 only; 08-10 P6; 08-17 P7
    expect(
        dataset("install_to_invoice_weekly", invoice_db, markets=["NORTH"]),
        [
            week(W0727, 1, 10.0, 10.0, 10.0, 2.0, 8.0),
            week(W0803, 2, 7.0, 9.1, 9.7, 0.0, 10.0),
            week(W0810, 1, 19.0, 19.0, 19.0, 1.0, 18.0),
            week(W0817, 1, 7.0, 7.0, 7.0, 1.0, 6.0),
        ],
    )


def test_install_to_invoice_weekly_segment_medians_null_without_activation(invoice_db):
    # installed on 08-03 only: P2, never activated -> both segment medians are null
    expect(
        dataset("install_to_invoice_weekly", invoice_db, start=W0803, end=W0803),
        [week(W0803, 1, 4.0, 4.0, 4.0, None, None)],
    )
    expect(dataset("install_to_invoice_orders", invoice_db, start=W0803, end=W0803), [P2])


def test_install_to_invoice_weekly_filter_matching_nothing_is_empty(invoice_db):
    assert dataset("install_to_invoice_weekly", invoice_db, products=["none"]).height == 0


def test_install_to_invoice_weekly_agrees_with_orders(invoice_db):
    # each week's invoiced_orders = the orders listing that week; they add up to the 7 orders
    orders = dataset("install_to_invoice_orders", invoice_db)
    weekly = dataset("install_to_invoice_weekly", invoice_db)
    assert weekly["invoiced_orders"].sum() == orders.height == 7
    for row in weekly.to_dicts():
        assert row["invoiced_orders"] == orders.filter(pl.col("install_week") == row["install_week"]).height


UNBILLED_COLUMNS = ["order_id", "market", "stage", "days_since_install", "mrr"]


def unbilled(order_id, market, stage, days, mrr) -> dict:
    return dict(zip(UNBILLED_COLUMNS, (order_id, market, stage, days, mrr), strict=True))


UNBILLED_AT_S = [
    unbilled("U8", "SOUTH", "installed", 0, 75.5),
    unbilled("U1", "NORTH", "installed", 6, 70.0),  # mrr tie with U5, U6: more days first
    unbilled("U5", "NORTH", "installed", 4, 70.0),  # tie with U6 on mrr and days: order_id
    unbilled("U6", "NORTH", "activated", 4, 70.0),
    unbilled("U9", "NORTH", "invoiced", 3, 5.0),  # stage invoiced but no invoiced_at: still unbilled
    unbilled("U2", "SOUTH", "activated", 10, None),  # mrr null: last despite the most days
]


def test_unbilled_orders_sorted_by_mrr_then_days_then_order_id(invoice_db):
    df = dataset("unbilled_orders", invoice_db)
    assert df.columns[:3] == ["order_id", "market", "stage"]
    expect(df, UNBILLED_AT_S)
    assert_integer(df, "days_since_install")


def test_unbilled_orders_earlier_as_of(invoice_db):
    # snap(08-20) installed, not invoiced: P7 08-17 -> 3 (60), P6 08-11 -> 9 (50), P5 08-10 -> 10 (40),
    # U10 08-15 -> 5 (33), P3 08-04 -> 16 (null). U10 is absent at S, so it is not unbilled at S.
    expect(
        dataset("unbilled_orders", invoice_db, as_of=INVOICE_EARLIER),
        [
            unbilled("P7", "NORTH", "installed", 3, 60.0),
            unbilled("P6", "NORTH", "activated", 9, 50.0),
            unbilled("P5", "SOUTH", "installed", 10, 40.0),
            unbilled("U10", "NORTH", "installed", 5, 33.0),
            unbilled("P3", "NORTH", "activated", 16, None),
        ],
    )


def test_unbilled_orders_market_filter(invoice_db):
    expect(dataset("unbilled_orders", invoice_db, markets=["SOUTH"]), [UNBILLED_AT_S[0], UNBILLED_AT_S[-1]])
    assert dataset("unbilled_orders", invoice_db, markets=["NOWHERE"]).height == 0


def test_unbilled_orders_match_install_to_invoice_totals(invoice_db):
    # 6 orders; mrr 75.5 + 70*3 + 5 + null(0) = 290.5
    totals = dataset("install_to_invoice", invoice_db).filter(pl.col("market") == "ALL").to_dicts()[0]
    assert totals["installed_not_invoiced"] == 6
    assert totals["unbilled_mrr"] == pytest.approx(290.5)


# ====================================================================== market_attention, headline
#
# T0 = 2026-09-01 (NORTH, SOUTH, VALE), S = 2026-09-10. Every row has stage_entered_at (s_e_a).
# Default stall limits: intake 3, awaiting_network 45, awaiting_appointment 7, scheduled 21, installed 3, activated 7.
#
# At S, per order: rules that fire. "Orders with exceptions" is one definition everywhere: every order
# in `exceptions` (terminal rows and orders missing from the snapshot too); market_attention's share
# is of the orders the rules judged (rows at S plus orders missing from S).
#   NORTH N1 intake     s_e_a 09-05 -> 5 > 3                               stalled              mrr 10
#         N2 intake     business, missed 1, fallout X                       missed, fallout      mrr 20
#         N3 aw_appt    fallout Y, age 2                                    fallout              mrr null
#         N4 scheduled  business, appointment 09-09 14:00 < S, ready 09-01  overdue_appointment  mrr 40
#         N5 intake     age 1                                               -                    mrr 50
#         N6 invoiced   truck_rolls 3 (terminal row)                      repeat_visit         mrr 1000
#         N7 intake on T0 only -> missing_from_snapshot at S (its T0 mrr 7)
#   SOUTH S1 scheduled  business, appointment 09-12, network not ready      scheduled_before_ready  mrr 30
#         S2 installed  installed 09-09, truck_rolls 2                      repeat_visit            mrr 25
#         S3 intake, S4 awaiting_network (s_e_a 09-01 -> 9 <= 45)         -                       mrr 5, 5
#   EAST  E1 intake                                                         -                       mrr 100
#         E2 activated  installed 09-07, activated 09-08, invoiced 09-09    stage_mismatch          mrr 60
#         E3 scheduled  business, appointment 09-09 10:00 < S, ready 09-01  overdue_appointment     mrr 40
#         E4 aw_appt    missed 2                                            missed_appointment      mrr 0
#   WEST  W1 intake fallout Z (mrr 8), W2 intake (mrr 12)
#   CENTRAL C1 intake missed 1 (mrr null); C2 intake business, s_e_a 09-01 -> 9 > 3, missed 1 (mrr 15);
#         C3, C4 intake (mrr 10 each)
#   VALE  V1 intake (mrr 3); V2 intake on T0 only -> missing_from_snapshot at S
#
# At T0: N7 NORTH intake s_e_a 08-20 -> 12 > 3 stalled (mrr 7); S4 SOUTH awaiting_network age 0 (mrr 5);
#        V2 VALE intake age 0 (mrr 9).

ATTN_ROWS = """
snapshot_date | order_id | market  | stage                | ordered_at | segment     | network_ready_at | appointment_at   | installed_at | activated_at | invoiced_at | stage_entered_at | missed_appointments | truck_rolls | mrr  | fallout_code
2026-09-01    | N7       | NORTH   | intake               | 2026-08-01 | residential |                  |                  |              |              |             | 2026-08-20       |                     |             | 7    |
2026-09-01    | S4       | SOUTH   | awaiting_network     | 2026-08-01 | residential |                  |                  |              |              |             | 2026-09-01       |                     |             | 5    |
2026-09-01    | V2       | VALE    | intake               | 2026-08-01 | residential |                  |                  |              |              |             | 2026-09-01       |                     |             | 9    |
2026-09-10    | N1       | NORTH   | intake               | 2026-08-01 | residential |                  |                  |              |              |             | 2026-09-05       |                     |             | 10   |
2026-09-10    | N2       | NORTH   | intake               | 2026-08-01 | business    |                  |                  |              |              |             | 2026-09-09       | 1                   |             | 20   | X
2026-09-10    | N3       | NORTH   | awaiting_appointment | 2026-08-01 | residential |                  |                  |              |              |             | 2026-09-08       |                     |             |      | Y
2026-09-10    | N4       | NORTH   | scheduled            | 2026-08-01 | business    | 2026-09-01       | 2026-09-09 14:00 |              |              |             | 2026-09-08       |                     |             | 40   |
2026-09-10    | N5       | NORTH   | intake               | 2026-08-01 | residential |                  |                  |              |              |             | 2026-09-09       |                     |             | 50   |
2026-09-10    | N6       | NORTH   | invoiced             | 2026-08-01 | residential |                  |                  | 2026-09-05   | 2026-09-09   | 2026-09-09  | 2026-09-09       |                     | 3           | 1000 |
2026-09-10    | S1       | SOUTH   | scheduled            | 2026-08-01 | business    |                  | 2026-09-12 09:00 |              |              |             | 2026-09-08       |                     |             | 30   |
2026-09-10    | S2       | SOUTH   | installed            | 2026-08-01 | residential |                  |                  | 2026-09-09   |              |             | 2026-09-09       |                     | 2           | 25   |
2026-09-10    | S3       | SOUTH   | intake               | 2026-08-01 | residential |                  |                  |              |              |             | 2026-09-09       |                     |             | 5    |
2026-09-10    | S4       | SOUTH   | awaiting_network     | 2026-08-01 | residential |                  |                  |              |              |             | 2026-09-01       |                     |             | 5    |
2026-09-10    | E1       | EAST    | intake               | 2026-08-01 | residential |                  |                  |              |              |             | 2026-09-09       |                     |             | 100  |
2026-09-10    | E2       | EAST    | activated            | 2026-08-01 | residential |                  |                  | 2026-09-07   | 2026-09-08   | 2026-09-09  | 2026-09-09       |                     |             | 60   |
2026-09-10    | E3       | EAST    | scheduled            | 2026-08-01 | business    | 2026-09-01       | 2026-09-09 10:00 |              |              |             | 2026-09-09       |                     |             | 40   |
2026-09-10    | E4       | EAST    | awaiting_appointment | 2026-08-01 | residential |                  |                  |              |              |             | 2026-09-09       | 2                   |             | 0    |
2026-09-10    | W1       | WEST    | intake               | 2026-08-01 | residential |                  |                  |              |              |             | 2026-09-09       |                     |             | 8    | Z
2026-09-10    | W2       | WEST    | intake               | 2026-08-01 | residential |                  |                  |              |              |             | 2026-09-09       |                     |             | 12   |
2026-09-10    | C1       | CENTRAL | intake               | 2026-08-01 | residential |                  |                  |              |              |             | 2026-09-09       | 1                   |             |      |
2026-09-10    | C2       | CENTRAL | intake               | 2026-08-01 | business    |                  |                  |              |              |             | 2026-09-01       | 1                   |             | 15   |
2026-09-10    | C3       | CENTRAL | intake               | 2026-08-01 | residential |                  |                  |              |              |             | 2026-09-09       |                     |             | 10   |
2026-09-10    | C4       | CENTRAL | intake               | 2026-08-01 | residential |                  |                  |              |              |             | 2026-09-09       |                     |             | 10   |
2026-09-10    | V1       | VALE    | intake               | 2026-08-01 | residential |                  |                  |              |              |             | 2026-09-09       |                     |             | 3    |
"""

ATTN_S = dt.date(2026, 9, 10)
ATTN_T0 = dt.date(2026, 9, 1)

ATTN_COLUMNS = [
    "market",
    "orders",
    "open_orders",
    "exception_orders",
    "exception_share",
    "mrr_at_risk",
    "top_rule",
    "top_rule_orders",
    "attention_rank",
]


def attention(*values) -> dict:
    return dict(zip(ATTN_COLUMNS, values, strict=True))


# Ranked by share desc, then exception_orders desc, then market.
ATTENTION_AT_S = [
    # judged: rows N1..N6 + missing N7 = 7 (open N1..N5 = 5); with exceptions N1 N2 N3 N4 N6 N7 = 6 -> 6/7;
    # mrr 10 + 20 + null + 40 + 1000 + 7 = 1077; rules: stalled 1, overdue 1, missed 1, repeat 1, missing 1,
    # fallout 2 (N2, N3) -> fallout 2
    attention("NORTH", 7, 5, 6, 6 / 7, 1077.0, "fallout", 2, 1),
    # 4 rows, all open; E2 E3 E4 -> 0.75; mrr 60 + 40 + 0 = 100; stage_mismatch, overdue, missed 1 each -> overdue
    # (rule order)
    attention("EAST", 4, 4, 3, 0.75, 100.0, "overdue_appointment", 1, 2),
    # 4; C1 C2 -> 0.5; mrr null + 15 = 15; missed 2, stalled 1 -> missed 2
    attention("CENTRAL", 4, 4, 2, 0.5, 15.0, "missed_appointment", 2, 3),
    # 4; S1 S2 -> 0.5 (ties CENTRAL on share and count: market decides); mrr 55;
    # repeat_visit 1 ties scheduled_before_ready 1 -> repeat_visit comes first in rule order
    attention("SOUTH", 4, 4, 2, 0.5, 55.0, "repeat_visit", 1, 4),
    # V1 + missing V2 = 2, open 1; V2 -> 1/2 = 0.5, 1 order; mrr 9 (V2 at T0); ties WEST: VALE < WEST
    attention("VALE", 2, 1, 1, 0.5, 9.0, "missing_from_snapshot", 1, 5),
    # 2; W1 -> 0.5, 1 exception order < 2 -> after CENTRAL and SOUTH
    attention("WEST", 2, 2, 1, 0.5, 8.0, "fallout", 1, 6),
]


@pytest.fixture(scope="module")
def attn_db(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("attention"), ATTN_ROWS)


def test_market_attention_ranked(attn_db):
    df = dataset("market_attention", attn_db)
    assert set(ATTN_COLUMNS) <= set(df.columns)
    expect(df, ATTENTION_AT_S)
    assert_integer(df, "orders", "open_orders", "exception_orders", "top_rule_orders", "attention_rank")
    assert_float(df, "exception_share", "mrr_at_risk")


def test_market_attention_explicit_as_of_equals_default(attn_db):
    expect(dataset("market_attention", attn_db, as_of=ATTN_S), ATTENTION_AT_S)


def test_market_attention_earlier_as_of(attn_db):
    # T0: NORTH N7 stalled (12 > 3) -> 1/1; SOUTH S4 and VALE V2 clean -> 0, tie broken by market
    expect(
        dataset("market_attention", attn_db, as_of=ATTN_T0),
        [
            attention("NORTH", 1, 1, 1, 1.0, 7.0, "stalled", 1, 1),
            attention("SOUTH", 1, 1, 0, 0.0, 0.0, None, 0, 2),
            attention("VALE", 1, 1, 0, 0.0, 0.0, None, 0, 3),
        ],
    )


def test_market_attention_market_filter_reranks(attn_db):
    south, west = ATTENTION_AT_S[3], ATTENTION_AT_S[5]
    expect(
        dataset("market_attention", attn_db, markets=["WEST", "SOUTH"]),
        [{**south, "attention_rank": 1}, {**west, "attention_rank": 2}],
    )


def test_market_attention_segment_filter(attn_db):
    # business at S: N2, N4 (NORTH); S1 (SOUTH); E3 (EAST); C2 (CENTRAL). WEST, VALE have none -> no row.
    #   NORTH 2 open, both with exceptions -> 1.0; mrr 20 + 40; missed 1, fallout 1, overdue 1 -> overdue first
    #   (N7, missing from S, is residential: filtered out like the rows)
    #   CENTRAL C2: stalled 1, missed 1 -> stalled first; EAST E3 overdue; SOUTH S1 scheduled_before_ready
    # all shares 1.0 -> NORTH (2 orders) first, then 1-order markets alphabetically
    expect(
        dataset("market_attention", attn_db, segments=["business"]),
        [
            attention("NORTH", 2, 2, 2, 1.0, 60.0, "overdue_appointment", 1, 1),
            attention("CENTRAL", 1, 1, 1, 1.0, 15.0, "stalled", 1, 2),
            attention("EAST", 1, 1, 1, 1.0, 40.0, "overdue_appointment", 1, 3),
            attention("SOUTH", 1, 1, 1, 1.0, 30.0, "scheduled_before_ready", 1, 4),
        ],
    )


def test_market_attention_filter_matching_nothing_is_empty(attn_db):
    df = dataset("market_attention", attn_db, markets=["NOWHERE"])
    assert df.height == 0


def test_market_attention_counts_agree_with_exceptions_and_headline(attn_db):
    # one definition of "orders with exceptions": distinct orders in `exceptions`, per market and in all
    exceptions = dataset("exceptions", attn_db)
    expected = {
        m: exceptions.filter(pl.col("market") == m)["order_id"].n_unique() for m in exceptions["market"].unique()
    }
    actual = {
        r["market"]: r["exception_orders"]
        for r in dataset("market_attention", attn_db).to_dicts()
        if r["exception_orders"]
    }
    assert actual == expected == {"NORTH": 6, "EAST": 3, "CENTRAL": 2, "SOUTH": 2, "WEST": 1, "VALE": 1}
    headline = dataset("headline", attn_db).filter(pl.col("measure") == "exception_orders")
    summary = dataset("exception_summary", attn_db)
    assert headline["value"][0] == summary["exception_orders"][0] == sum(actual.values()) == 15


# exception_counts, exception_summary: the Exceptions page's heatmap and tiles, on the same fixture at S.
EXCEPTION_COUNTS_AT_S = [
    # (rule, market, orders, mrr_at_risk) in rule order, then market; a null mrr counts 0
    ("stalled", "CENTRAL", 1, 15.0),  # C2
    ("stalled", "NORTH", 1, 10.0),  # N1
    ("overdue_appointment", "EAST", 1, 40.0),  # E3
    ("overdue_appointment", "NORTH", 1, 40.0),  # N4
    ("missed_appointment", "CENTRAL", 2, 15.0),  # C1 (null) + C2
    ("missed_appointment", "EAST", 1, 0.0),  # E4
    ("missed_appointment", "NORTH", 1, 20.0),  # N2
    ("repeat_visit", "NORTH", 1, 1000.0),  # N6, terminal
    ("repeat_visit", "SOUTH", 1, 25.0),  # S2
    ("scheduled_before_ready", "SOUTH", 1, 30.0),  # S1
    ("stage_mismatch", "EAST", 1, 60.0),  # E2
    ("fallout", "NORTH", 2, 20.0),  # N2 + N3 (null)
    ("fallout", "WEST", 1, 8.0),  # W1
    ("missing_from_snapshot", "NORTH", 1, 7.0),  # N7, its T0 mrr
    ("missing_from_snapshot", "VALE", 1, 9.0),  # V2
]


def test_exception_counts_per_rule_and_market(attn_db):
    df = dataset("exception_counts", attn_db)
    assert df.columns == ["rule", "market", "orders", "mrr_at_risk"]
    assert df.rows() == EXCEPTION_COUNTS_AT_S


def test_exception_summary_tiles(attn_db):
    # 17 rows (the counts above); 15 distinct orders; mrr of each once: 10+20+0+40+1000+7+30+25+60+40+0+8+0+15+9
    # = 1264; missed_appointment has the most orders (4)
    assert dataset("exception_summary", attn_db).to_dicts() == [
        {
            "exception_rows": 17,
            "exception_orders": 15,
            "mrr_at_risk": 1264.0,
            "top_rule": "missed_appointment",
            "top_rule_orders": 4,
        }
    ]


def test_exception_summary_ties_broken_by_rule_order_and_empty(attn_db):
    # WEST: W1 fallout only; SOUTH: repeat_visit 1 ties scheduled_before_ready 1 -> repeat_visit (earlier rule)
    south = dataset("exception_summary", attn_db, markets=["SOUTH"]).row(0, named=True)
    assert (south["top_rule"], south["top_rule_orders"], south["exception_orders"]) == ("repeat_visit", 1, 2)
    assert dataset("exception_summary", attn_db, markets=["NOWHERE"]).to_dicts() == [
        {"exception_rows": 0, "exception_orders": 0, "mrr_at_risk": 0.0, "top_rule": None, "top_rule_orders": 0}
    ]


def test_market_attention_market_with_only_terminal_rows(tmp_path):
    # A market whose rows at S are all terminal: no open orders, but its terminal exception (repeat_visit on an
    # invoiced row) is an order with exceptions like anywhere else: 1 of 1 judged orders.
    rows = """
    snapshot_date | order_id | market | stage    | ordered_at | installed_at | activated_at | invoiced_at | truck_rolls | mrr
    2026-09-10    | T1       | UPPER  | invoiced | 2026-08-01 | 2026-09-01   | 2026-09-02   | 2026-09-03  | 2           | 40
    """
    df = dataset("market_attention", make_store(tmp_path, rows))
    assert df.to_dicts() == [
        {
            "attention_rank": 1,
            "market": "UPPER",
            "orders": 1,
            "open_orders": 0,
            "exception_orders": 1,
            "exception_share": 1.0,
            "mrr_at_risk": 40.0,
            "top_rule": "repeat_visit",
            "top_rule_orders": 1,
        }
    ]


# headline -------------------------------------------------------------
#
# At S (no filters):
#   open_orders        NORTH 5 + SOUTH 4 + EAST 4 + WEST 2 + CENTRAL 4 + VALE 1 = 20
#   backlog_mrr        NORTH 10+20+0+40+50 = 120; SOUTH 30+25+5+5 = 65; EAST 100+60+40+0 = 200;
#                      WEST 8+12 = 20; CENTRAL 0+15+10+10 = 35; VALE 3 -> 443 (N6 is terminal)
#   exception_orders   N1 N2 N3 N4 N6 (terminal) N7 (missing) S1 S2 E2 E3 E4 W1 C1 C2 V2 (missing) = 15
#   awaiting_network   S4 -> 1 / 20 = 0.05
#   install_to_invoice population: N6 09-05 -> 09-09 = 4, E2 09-07 -> 09-09 = 2 -> p85 h=0.85 -> 2 + 0.85*2 = 3.7
#   unbilled_mrr       S2 (installed 09-09, not invoiced) 25
# At the previous snapshot T0 (the store's latest date before S):
#   open 3 (N7, S4, V2), mrr 7 + 5 + 9 = 21, exception orders 1 (N7 stalled; no earlier date -> no missing),
#   awaiting 1/3, no invoiced orders -> p85 null, unbilled 0.
MEASURES = [
    "open_orders",
    "backlog_mrr",
    "exception_orders",
    "awaiting_network_share",
    "install_to_invoice_p85",
    "unbilled_mrr",
]


def headline_rows(values, previous, change) -> list[dict]:
    return [
        {"measure": m, "value": v, "previous_value": p, "change": c}
        for m, v, p, c in zip(MEASURES, values, previous, change, strict=True)
    ]


def test_headline_with_previous_snapshot(attn_db):
    df = dataset("headline", attn_db)
    assert df.columns[:1] == ["measure"]
    expect(
        df,
        headline_rows(
            [20.0, 443.0, 15.0, 0.05, 3.7, 25.0],
            [3.0, 21.0, 1.0, 1 / 3, None, 0.0],
            # Changes compare only markets reporting on both dates: NORTH, SOUTH, VALE (T0 had no others).
            # At S over those: open N1-N5, S1-S4, V1 = 10; mrr 120 + 65 + 3 = 188;
            # exception orders N1 N2 N3 N4 N6 N7(missing) S1 S2 V2(missing) = 9; awaiting S4 1/10;
            # p85 over N6 only (4 d); unbilled S2 25. Change = that minus T0's values.
            [7.0, 167.0, 8.0, 0.1 - 1 / 3, None, 25.0],  # p85 change null: no previous value
        ),
    )


def test_headline_first_snapshot_has_no_previous(attn_db):
    df = dataset("headline", attn_db, as_of=ATTN_T0)
    expect(
        df,
        headline_rows(
            [3.0, 21.0, 1.0, 1 / 3, None, 0.0],
            [None] * 6,
            [None] * 6,
        ),
    )


def test_headline_previous_date_is_the_stores_not_the_markets(attn_db):
    # SOUTH + EAST at S: open 4 + 4 = 8; mrr 65 + 200 = 265; exceptions S1 S2 E2 E3 E4 = 5; awaiting S4 1/8 = 0.125;
    # population E2 only -> p85 2.0; unbilled S2 25.
    # Previous = T0 (store-wide, though EAST had no rows then): S4 only -> open 1, mrr 5, exceptions 0,
    # awaiting 1/1 = 1.0, p85 null, unbilled 0.
    expect(
        dataset("headline", attn_db, markets=["SOUTH", "EAST"]),
        headline_rows(
            [8.0, 265.0, 5.0, 0.125, 2.0, 25.0],
            [1.0, 5.0, 0.0, 1.0, None, 0.0],
            # EAST did not report at T0, so the change compares SOUTH alone: at S open 4, mrr 65,
            # exceptions S1 S2 = 2, awaiting 1/4, no population (p85 null), unbilled 25.
            [3.0, 60.0, 2.0, 0.25 - 1.0, None, 25.0],
        ),
    )


def test_headline_matches_its_source_datasets(attn_db):
    # the tiles read the same numbers as the pages
    values = dict(
        zip(*dataset("headline", attn_db).select("measure", "value").to_dict(as_series=False).values(), strict=True)
    )
    assert values["open_orders"] == dataset("backlog", attn_db)["orders"].sum() == 20
    assert values["exception_orders"] == dataset("exceptions", attn_db)["order_id"].n_unique() == 15


# ====================================================================== ingest_log


def test_ingest_log_newest_first_with_outcomes(tmp_path):
    from opslens.ingest import IngestRejected, ingest_files

    db = tmp_path / "store.duckdb"
    first = write_csv(
        tmp_path,
        """
        snapshot_date | order_id | market | stage  | ordered_at
        2026-10-01    | G1       | NORTH  | intake | 2026-09-30
        2026-10-01    | G2       | NORTH  | intake | 2026-09-30
        """,
    )
    ingest_files(db, [first])
    bad = write_csv(
        tmp_path,
        """
        snapshot_date | order_id | market | stage   | ordered_at
        2026-10-02    | G1       | NORTH  | intake  | 2026-09-30
        2026-10-02    | G2       | NORTH  | shipped | 2026-09-30
        """,
    )
    with pytest.raises(IngestRejected) as rejection:
        ingest_files(db, [bad])
    snapshots = write_csv(
        tmp_path,
        """
        snapshot_date | order_id | market | stage     | ordered_at
        2026-10-02    | G1       | NORTH  | intake    | 2026-09-30
        2026-10-02    | G2       | NORTH  | scheduled | 2026-09-30
        2026-10-02    | H1       | SOUTH  | intake    | 2026-09-30
        """,
    )
    footprint = write_csv(
        tmp_path,
        """
        snapshot_date | market | premises_passed | premises_ready
        2026-10-02    | NORTH  | 100             | 60
        2026-10-02    | SOUTH  | 50              | 10
        """,
    )
    ingest_files(db, [snapshots, footprint])

    df = dataset("ingest_log", db)
    assert df.height == 3
    expect(
        df,
        [
            {
                "outcome": "loaded",
                "files": f"{snapshots}, {footprint}",
                "snapshot_rows": 3,
                "footprint_rows": 2,
                "message": None,
            },
            {
                "outcome": "rejected",
                "files": str(bad),
                "snapshot_rows": 0,
                "footprint_rows": 0,
                "message": str(rejection.value),
            },
            {"outcome": "loaded", "files": str(first), "snapshot_rows": 2, "footprint_rows": 0, "message": None},
        ],
    )
    # the reason names file, data row 2, column and value
    message = df["message"][1]
    assert bad.name in message and "row 2" in message and "stage" in message and "shipped" in message
    started = df["started_at"].to_list()
    assert started == sorted(started, reverse=True)
    # the rejected ingest loaded nothing: 2026-10-02 holds the third ingest's 3 rows
    assert dataset("snapshot_rows", db).to_dicts() == [
        {"snapshot_date": dt.date(2026, 10, 1), "market": "NORTH", "rows": 2},
        {"snapshot_date": dt.date(2026, 10, 1), "market": "SOUTH", "rows": 0},
        {"snapshot_date": dt.date(2026, 10, 2), "market": "NORTH", "rows": 2},
        {"snapshot_date": dt.date(2026, 10, 2), "market": "SOUTH", "rows": 1},
    ]


# ====================================================================== the CLI export face


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


def test_cli_export_install_to_invoice_orders_matches_dataset(invoice_db, capsys):
    # installed 08-03..08-09 in NORTH or SOUTH: P3 10, P2 4, P4 2
    printed = cli_csv(
        capsys,
        "install_to_invoice_orders",
        "--db",
        str(invoice_db),
        "--market",
        "NORTH",
        "--market",
        "SOUTH",
        "--from",
        "2026-08-03",
        "--to",
        "2026-08-09",
    )
    frame = dataset(
        "install_to_invoice_orders", invoice_db, markets=["NORTH", "SOUTH"], start=W0803, end=dt.date(2026, 8, 9)
    )
    assert printed == frame.write_csv()
    parsed = pl.read_csv(io.StringIO(printed), try_parse_dates=True)
    expect(parsed, [P3, P2, P4])


def test_cli_export_unbilled_orders_as_of_matches_dataset(invoice_db, capsys):
    printed = cli_csv(capsys, "unbilled_orders", "--db", str(invoice_db), "--as-of", "2026-08-20", "--market", "NORTH")
    frame = dataset("unbilled_orders", invoice_db, as_of=INVOICE_EARLIER, markets=["NORTH"])
    assert printed == frame.write_csv()
    # NORTH at 08-20: P7 60, P6 50, U10 33, P3 null
    assert pl.read_csv(io.StringIO(printed))["order_id"].to_list() == ["P7", "P6", "U10", "P3"]
