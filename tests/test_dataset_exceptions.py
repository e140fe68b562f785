"""`exceptions` against a hand-made store (SPEC §2 "Exceptions", decisions 1, 2 and 6).

Snapshot dates: 2026-04-06 (NORTH), 04-08 (NORTH, SOUTH, EAST), 04-09 (SOUTH), 04-10 (NORTH, SOUTH).
Default as_of S = 2026-04-10. Every order at S has stage_entered_at (s_e_a) unless noted, so its age
in stage is S - date(s_e_a).

What each order at S is built to trigger (fires) or narrowly miss (near miss):
  E01 NORTH intake        s_e_a 04-06 09:00 -> age 4 > 3                         stalled
  E02 NORTH intake        s_e_a 04-07 23:00 -> age 3 = limit                     near miss: not stalled
  E03 NORTH scheduled     appointment 04-09 16:00, date < S                      overdue_appointment (age 9)
  E04 NORTH scheduled     appointment 04-10 08:00 (today) and network ready at
                          the SAME timestamp                                     near miss: not overdue, not scheduled_before_ready
  E05 SOUTH awaiting_app. missed_appointments 1                                  missed_appointment (age 5)
  E06 SOUTH awaiting_app. missed 0, fallout_code NO_PORT, age 6                  fallout (not missed)
  E07 NORTH installed     truck_rolls 2, product null                            repeat_visit (age 2)
  E08 NORTH invoiced      truck_rolls 3; activated 04-09 12:00 after invoiced
                          04-09 10:00 (same day, later time)                     repeat_visit + invoiced_before_activation (terminal rows count)
  E09 SOUTH scheduled     appointment set, network_ready_at empty                scheduled_before_ready (age 2)
  E10 SOUTH scheduled     appointment 04-10 09:00, ready 04-10 09:30 (later)     scheduled_before_ready (age 1)
  E11 NORTH invoiced      activated = invoiced = 2026-04-05, truck_rolls 1       near miss: nothing
  E12 NORTH installed     invoiced_at set, activated_at empty, segment null      invoiced_before_activation + stage_mismatch (age 2)
  E13 SOUTH awaiting_app. installed_at set -> milestones say installed; age 7    stage_mismatch (7 = limit: not stalled)
  E14 NORTH activated     installed_at set, activated_at empty (stage LATER than
                          the milestones say); age 7 = limit                     near miss: nothing
  E15 NORTH intake        cancelled_at set but stage intake (cancelled_at is not a milestone
                          of stage_mismatch); age 1                              near miss: nothing
  E16 SOUTH installed     activated_at set -> milestones say activated; age 2    stage_mismatch
  C1  SOUTH cancelled     missed 2, fallout CREDIT, appointment, no network      near miss: terminal, nothing
  M7  SOUTH intake        was NORTH intake on 04-08 (moved market); age 2        nothing (and not missing)

missing_from_snapshot at S = 04-10 (previous snapshot per market):
  NORTH: previous = 04-08. Open there: M1 (intake), M7 (intake); M2 is invoiced (terminal).
         M1 absent at S -> fires; stage intake, mrr 12, age = S - start of its intake run (04-06) = 4.
         M7 is at S (in SOUTH) -> not missing. M3 was last seen 04-06, not in 04-08 -> not reported.
  SOUTH: previous = 04-09 (not 04-08). Open there: M5 (awaiting_network, s_e_a 2026-03-01).
         M5 absent at S -> fires; mrr 35, age = 04-10 - 03-01 = 31 + 9 = 40. M6 (04-08 only) -> no.
  EAST:  no rows at S -> M4 is not reported.
"""

# Fixture tables are kept one order-row per line, aligned, for readability.
# ruff: noqa: E501

from __future__ import annotations

import datetime as dt

import pytest
from handmade import NOTHING, RULES, assert_float, assert_integer, dataset, expect, make_store, no_config_file

S = dt.date(2026, 4, 10)

ROWS = """
snapshot_date | order_id | market | stage                | ordered_at | product    | segment     | network_ready_at | appointment_at   | installed_at     | activated_at     | invoiced_at      | cancelled_at | stage_entered_at | missed_appointments | truck_rolls | mrr | fallout_code
2026-04-10    | E01      | NORTH  | intake               | 2026-04-05 | fiber_1g   | residential |                  |                  |                  |                  |                  |              | 2026-04-06 09:00 |                     |             | 40  |
2026-04-10    | E02      | NORTH  | intake               | 2026-04-07 | fiber_1g   | business    |                  |                  |                  |                  |                  |              | 2026-04-07 23:00 |                     |             | 50  |
2026-04-10    | E03      | NORTH  | scheduled            | 2026-03-01 | fiber_1g   | residential | 2026-03-20       | 2026-04-09 16:00 |                  |                  |                  |              | 2026-04-01       |                     |             | 60  |
2026-04-10    | E04      | NORTH  | scheduled            | 2026-03-01 | fiber_500m | residential | 2026-04-10 08:00 | 2026-04-10 08:00 |                  |                  |                  |              | 2026-04-02       |                     |             | 45  |
2026-04-10    | E05      | SOUTH  | awaiting_appointment | 2026-03-10 | fiber_1g   | business    | 2026-04-01       |                  |                  |                  |                  |              | 2026-04-05       | 1                   | 1           | 70  |
2026-04-10    | E06      | SOUTH  | awaiting_appointment | 2026-03-10 | fiber_1g   | residential | 2026-04-01       |                  |                  |                  |                  |              | 2026-04-04       | 0                   |             | 30  | NO_PORT
2026-04-10    | E07      | NORTH  | installed            | 2026-03-01 |            | residential | 2026-03-05       | 2026-04-08 09:00 | 2026-04-08 11:00 |                  |                  |              | 2026-04-08 11:00 |                     | 2           | 55  |
2026-04-10    | E08      | NORTH  | invoiced             | 2026-02-01 | fiber_1g   | business    | 2026-02-10       | 2026-03-01       | 2026-03-01       | 2026-04-09 12:00 | 2026-04-09 10:00 |              | 2026-04-09 10:00 |                     | 3           | 90  |
2026-04-10    | E09      | SOUTH  | scheduled            | 2026-03-15 | fiber_500m | business    |                  | 2026-04-12 09:00 |                  |                  |                  |              | 2026-04-08       |                     |             | 65  |
2026-04-10    | E10      | SOUTH  | scheduled            | 2026-03-15 | fiber_1g   | residential | 2026-04-10 09:30 | 2026-04-10 09:00 |                  |                  |                  |              | 2026-04-09       |                     |             | 35  |
2026-04-10    | E11      | NORTH  | invoiced             | 2026-02-01 | fiber_1g   | residential | 2026-02-10       |                  | 2026-03-01       | 2026-04-05       | 2026-04-05       |              | 2026-04-05       |                     | 1           | 80  |
2026-04-10    | E12      | NORTH  | installed            | 2026-03-01 | fiber_1g   |             | 2026-03-10       |                  | 2026-04-05       |                  | 2026-04-09       |              | 2026-04-08       |                     |             | 25  |
2026-04-10    | E13      | SOUTH  | awaiting_appointment | 2026-03-01 | fiber_500m | residential | 2026-03-10       |                  | 2026-04-09       |                  |                  |              | 2026-04-03       |                     |             | 20  |
2026-04-10    | E14      | NORTH  | activated            | 2026-03-01 | fiber_1g   | residential | 2026-03-10       |                  | 2026-04-01       |                  |                  |              | 2026-04-03       |                     |             | 100 |
2026-04-10    | E15      | NORTH  | intake               | 2026-04-08 | fiber_1g   | residential |                  |                  |                  |                  |                  | 2026-04-09   | 2026-04-09       |                     |             | 5   |
2026-04-10    | E16      | SOUTH  | installed            | 2026-03-01 | fiber_1g   | residential | 2026-03-05       |                  | 2026-04-08       | 2026-04-09       |                  |              | 2026-04-08       |                     |             | 33  |
2026-04-10    | C1       | SOUTH  | cancelled            | 2026-03-01 | fiber_1g   | residential |                  | 2026-04-01       |                  |                  |                  | 2026-04-09   | 2026-04-09       | 2                   | 1           | 15  | CREDIT
2026-04-10    | M7       | SOUTH  | intake               | 2026-04-07 | fiber_1g   | residential |                  |                  |                  |                  |                  |              |                  |                     |             | 10  |
2026-04-06    | M1       | NORTH  | intake               | 2026-04-05 | fiber_1g   | residential |                  |                  |                  |                  |                  |              |                  |                     |             | 12  |
2026-04-06    | M3       | NORTH  | intake               | 2026-04-05 | fiber_1g   | residential |                  |                  |                  |                  |                  |              |                  |                     |             | 13  |
2026-04-08    | M1       | NORTH  | intake               | 2026-04-05 | fiber_1g   | residential |                  |                  |                  |                  |                  |              |                  |                     |             | 12  |
2026-04-08    | M2       | NORTH  | invoiced             | 2026-03-01 | fiber_1g   | residential | 2026-03-05       |                  | 2026-03-20       | 2026-03-25       | 2026-04-07       |              |                  |                     |             | 14  |
2026-04-08    | M7       | NORTH  | intake               | 2026-04-07 | fiber_1g   | residential |                  |                  |                  |                  |                  |              |                  |                     |             | 10  |
2026-04-08    | M6       | SOUTH  | intake               | 2026-04-08 | fiber_1g   | residential |                  |                  |                  |                  |                  |              |                  |                     |             | 16  |
2026-04-08    | M4       | EAST   | intake               | 2026-04-07 | fiber_1g   | residential |                  |                  |                  |                  |                  |              |                  |                     |             | 17  |
2026-04-09    | M5       | SOUTH  | awaiting_network     | 2026-02-20 | fiber_500m | business    |                  |                  |                  |                  |                  |              | 2026-03-01       |                     |             | 35  |
"""

COLUMNS = ["order_id", "market", "stage", "rule", "age_in_stage_days", "mrr"]


def exc(order_id, market, stage, rule, age, mrr) -> dict:
    return {"order_id": order_id, "market": market, "stage": stage, "rule": rule, "age_in_stage_days": age, "mrr": mrr}


# One row per (order, rule); sorted by rule (SPEC order), then market, then order_id.
STALLED_E01 = exc("E01", "NORTH", "intake", "stalled", 4, 40.0)
OVERDUE_E03 = exc("E03", "NORTH", "scheduled", "overdue_appointment", 9, 60.0)  # 04-10 - 04-01
MISSED_E05 = exc("E05", "SOUTH", "awaiting_appointment", "missed_appointment", 5, 70.0)  # 04-10 - 04-05
REPEAT_E07 = exc("E07", "NORTH", "installed", "repeat_visit", 2, 55.0)  # 04-10 - 04-08
REPEAT_E08 = exc("E08", "NORTH", "invoiced", "repeat_visit", 1, 90.0)  # 04-10 - 04-09
SBR_E09 = exc("E09", "SOUTH", "scheduled", "scheduled_before_ready", 2, 65.0)  # 04-10 - 04-08
SBR_E10 = exc("E10", "SOUTH", "scheduled", "scheduled_before_ready", 1, 35.0)  # 04-10 - 04-09
IBA_E08 = exc("E08", "NORTH", "invoiced", "invoiced_before_activation", 1, 90.0)
IBA_E12 = exc("E12", "NORTH", "installed", "invoiced_before_activation", 2, 25.0)  # 04-10 - 04-08
MISMATCH_E12 = exc("E12", "NORTH", "installed", "stage_mismatch", 2, 25.0)
MISMATCH_E13 = exc("E13", "SOUTH", "awaiting_appointment", "stage_mismatch", 7, 20.0)  # 04-10 - 04-03
MISMATCH_E16 = exc("E16", "SOUTH", "installed", "stage_mismatch", 2, 33.0)  # 04-10 - 04-08
FALLOUT_E06 = exc("E06", "SOUTH", "awaiting_appointment", "fallout", 6, 30.0)  # 04-10 - 04-04
MISSING_M1 = exc("M1", "NORTH", "intake", "missing_from_snapshot", 4, 12.0)
MISSING_M5 = exc("M5", "SOUTH", "awaiting_network", "missing_from_snapshot", 40, 35.0)

ALL_AT_S = [
    STALLED_E01,
    OVERDUE_E03,
    MISSED_E05,
    REPEAT_E07,
    REPEAT_E08,
    SBR_E09,
    SBR_E10,
    IBA_E08,
    IBA_E12,
    MISMATCH_E12,
    MISMATCH_E13,
    MISMATCH_E16,
    FALLOUT_E06,
    MISSING_M1,
    MISSING_M5,
]


@pytest.fixture(autouse=True)
def _no_config(monkeypatch, tmp_path):
    no_config_file(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("exceptions"), ROWS)


def test_exceptions_at_latest_snapshot(db):
    df = dataset("exceptions", db)
    assert df.columns[:6] == COLUMNS
    expect(df, ALL_AT_S)
    assert_integer(df, "age_in_stage_days")
    assert_float(df, "mrr")


def test_exceptions_explicit_as_of_equals_default(db):
    expect(dataset("exceptions", db, as_of=S), ALL_AT_S)


def test_every_rule_fires_at_least_once(db):
    assert set(dataset("exceptions", db)["rule"].to_list()) == set(RULES)


def test_near_misses_do_not_fire(db):
    df = dataset("exceptions", db)
    fired = set(df["order_id"].to_list())
    # E02 age = limit; E04 appointment today, ready at the same timestamp; E11 activated = invoiced;
    # E14 stage later than its milestones, age = limit; E15 cancelled_at on an open order; C1 terminal;
    # M7 moved market.
    for order_id in ("E02", "E04", "E11", "E14", "E15", "C1", "M7"):
        assert order_id not in fired
    # terminal in the previous snapshot (M2), not in the previous snapshot (M3, M6), market without rows at S (M4)
    for order_id in ("M2", "M3", "M4", "M6"):
        assert order_id not in fired
    # E06 has missed_appointments 0 -> only its fallout; E13 at age 7 (= limit) -> only the mismatch
    assert df.filter(df["order_id"] == "E06")["rule"].to_list() == ["fallout"]
    assert df.filter(df["order_id"] == "E13")["rule"].to_list() == ["stage_mismatch"]


def test_thresholds_raise_intake_limit(db):
    # intake 5: E01 (4) no longer stalled; no other order is above its default limit
    expect(dataset("exceptions", db, thresholds={"intake": 5}), ALL_AT_S[1:])


def test_thresholds_lower_intake_limit(db):
    # intake 2: E01 (4) and E02 (3) are above 2; M7 (2) is not
    expect(
        dataset("exceptions", db, thresholds={"intake": 2}),
        [STALLED_E01, exc("E02", "NORTH", "intake", "stalled", 3, 50.0), *ALL_AT_S[1:]],
    )


def test_thresholds_other_stages(db):
    # awaiting_appointment 6: E13 (7) > 6 stalled, E06 (6) and E05 (5) not.
    # activated 6: E14 (7) > 6 stalled. Sorted by market then order_id: E01, E14 (NORTH), E13 (SOUTH).
    df = dataset("exceptions", db, thresholds={"awaiting_appointment": 6, "activated": 6})
    expect(
        df.filter(df["rule"] == "stalled"),
        [
            STALLED_E01,
            exc("E14", "NORTH", "activated", "stalled", 7, 100.0),
            exc("E13", "SOUTH", "awaiting_appointment", "stalled", 7, 20.0),
        ],
    )


def test_market_filter(db):
    expect(
        dataset("exceptions", db, markets=["SOUTH"]),
        [MISSED_E05, SBR_E09, SBR_E10, MISMATCH_E13, MISMATCH_E16, FALLOUT_E06, MISSING_M5],
    )


def test_product_filter(db):
    # fiber_500m at S: E04 (nothing), E09, E13; previous-snapshot rows: M5 (SOUTH, 04-09)
    expect(dataset("exceptions", db, products=["fiber_500m"]), [SBR_E09, MISMATCH_E13, MISSING_M5])


def test_product_filter_excludes_null_product(db):
    # fiber_1g: E07 (product null) drops out of repeat_visit; E04, E09, E13 (fiber_500m) and M5 drop out
    expect(
        dataset("exceptions", db, products=["fiber_1g"]),
        [
            STALLED_E01,
            OVERDUE_E03,
            MISSED_E05,
            REPEAT_E08,
            SBR_E10,
            IBA_E08,
            IBA_E12,
            MISMATCH_E12,
            MISMATCH_E16,
            FALLOUT_E06,
            MISSING_M1,
        ],
    )


def test_segment_filter_excludes_null_segment(db):
    # business at S: E02 (nothing), E05, E08, E09; E12 has segment null -> excluded; M5 is business
    expect(
        dataset("exceptions", db, segments=["business"]),
        [MISSED_E05, REPEAT_E08, SBR_E09, IBA_E08, MISSING_M5],
    )


def test_previous_snapshot_ignores_product_and_segment_filters(db):
    # residential: SOUTH's previous snapshot is still 04-09 (its only row, M5, is business), so the
    # residential M6 seen on 04-08 is NOT reported as missing; NORTH's M1 is.
    expect(
        dataset("exceptions", db, segments=["residential"]),
        [STALLED_E01, OVERDUE_E03, REPEAT_E07, SBR_E10, MISMATCH_E13, MISMATCH_E16, FALLOUT_E06, MISSING_M1],
    )


@pytest.mark.parametrize("filters", NOTHING)
def test_filter_matching_nothing_is_empty_with_columns(db, filters):
    df = dataset("exceptions", db, **filters)
    assert df.height == 0
    assert df.columns[:6] == COLUMNS


@pytest.mark.parametrize("empty", [None, []])
def test_empty_filters_mean_all(db, empty):
    expect(dataset("exceptions", db, markets=empty, products=empty, segments=empty), ALL_AT_S)


def test_earlier_as_of_missing_from_snapshot(db):
    # S = 04-08. NORTH's previous snapshot is 04-06: M3 (intake) is absent on 04-08 -> missing,
    # age = 04-08 - 04-06 = 2, mrr 13. M1 is present. SOUTH and EAST have no earlier snapshot.
    # Ages at 04-08: M1 2 (intake since 04-06), M7 0, M6 0, M4 0 -> nothing stalled.
    expect(
        dataset("exceptions", db, as_of=dt.date(2026, 4, 8)),
        [exc("M3", "NORTH", "intake", "missing_from_snapshot", 2, 13.0)],
    )


def test_earlier_as_of_with_thresholds(db):
    # intake limit 1 at 04-08: M1 (2) stalled; M7, M6, M4 (0) not
    expect(
        dataset("exceptions", db, as_of=dt.date(2026, 4, 8), thresholds={"intake": 1}),
        [
            exc("M1", "NORTH", "intake", "stalled", 2, 12.0),
            exc("M3", "NORTH", "intake", "missing_from_snapshot", 2, 13.0),
        ],
    )


def test_previous_snapshot_is_per_market(db):
    # S = 04-09: only SOUTH has rows (M5, age 39 <= 45). NORTH has no rows at 04-09 -> nothing reported
    # for NORTH. SOUTH's previous snapshot is 04-08: M6 (intake) absent -> missing, age 04-09 - 04-08 = 1.
    expect(
        dataset("exceptions", db, as_of=dt.date(2026, 4, 9)),
        [exc("M6", "SOUTH", "intake", "missing_from_snapshot", 1, 16.0)],
    )


def test_age_in_stage_uses_all_own_rows_whatever_the_filters(db):
    # M7: NORTH intake on 04-08, SOUTH intake on 04-10 -> its own rows form one intake run from 04-08 -> 2,
    # also when only SOUTH is selected (the filter picks snap(S), not the order's history). E15: 04-10 - 04-09 = 1.
    for markets in (None, ["SOUTH"]):
        orders = dataset("orders", db, markets=markets)
        ages = dict(zip(orders["order_id"].to_list(), orders["age_in_stage_days"].to_list(), strict=True))
        assert ages["M7"] == 2
    orders = dataset("orders", db, markets=["NORTH"])
    assert dict(zip(orders["order_id"].to_list(), orders["age_in_stage_days"].to_list(), strict=True))["E15"] == 1
