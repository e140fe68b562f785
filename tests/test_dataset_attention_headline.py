"""market_attention, exception_counts, exception_summary and headline against a hand-made store.

Each dataset's definition is read from its SQL header (queries/sql/*.sql) and queries/headline.py;
every expected value below is worked out by hand from the fixture tables, arithmetic in comments.
Days are calendar days between dates; percentiles are quantile_cont: sorted values v0..v(n-1),
h = (n-1)*p, value = v[floor h] + frac(h) * (v[floor h + 1] - v[floor h]).
"""

# Fixture tables are kept one order-row per line, aligned, for readability.
# ruff: noqa: E501

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from handmade import (
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
    df = dataset("market_attention", attn_db, scope=["NOWHERE"])
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
    assert dataset("exception_summary", attn_db, scope=["NOWHERE"]).to_dicts() == [
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
