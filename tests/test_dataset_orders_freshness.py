"""`orders` and `freshness` against a hand-made store (SPEC §2, §3; decisions 1, 2, 4, 9, 10 and 11).

Two ingests, a little apart in time:
  first  ingest: snapshots 2026-07-01 and 07-02 (NORTH, SOUTH, WEST)
  second ingest: snapshot  2026-07-04 (NORTH, SOUTH only; WEST stops reporting after 07-01)
Default as_of S = 2026-07-04.

Orders at S (age in stage; age since order = S - date(ordered_at); exception rules in rule order):
  O1 NORTH intake      intake 07-01, 07-02, 07-04, no stage_entered_at -> run from 07-01 -> 3 (= limit, not stalled);
                       ordered 06-30 -> 4; []
  O2 NORTH scheduled   stage_entered_at 06-25 -> 9; ordered 06-01 -> 33; appointment 07-03 10:00 (< S), no
                       network_ready_at, missed 1, truck_rolls 2, fallout JEOP ->
                       [overdue_appointment, missed_appointment, repeat_visit, scheduled_before_ready, fallout]
  O3 SOUTH installed   07-01 row installed WITH stage_entered_at 06-28, absent 07-02, 07-04 row installed WITHOUT it
                       -> the row at S has none -> run-based from 07-01 (absence does not break it) -> 3, not 6;
                       ordered 06-10 -> 24; mrr null; []
  O4 NORTH invoiced    stage_entered_at 07-03 -> 1; ordered 06-01 -> 33; invoiced, never activated ->
                       [invoiced_before_activation]; product null
  O5 SOUTH activated   installed 07-01, activated 07-02 and 07-04, no stage_entered_at -> run from 07-02 -> 2;
                       ordered 06-15 -> 19; []
M1 (NORTH, 07-02 only) is missing at S: it is in `exceptions`, never in `orders`.
"""

# Fixture tables are kept one order-row per line, aligned, for readability.
# ruff: noqa: E501

from __future__ import annotations

import datetime as dt
import time

import pytest
from handmade import NOTHING, SNAPSHOT_COLUMNS, assert_integer, dataset, expect, make_store, no_config_file

S = dt.date(2026, 7, 4)
D1, D2 = dt.date(2026, 7, 1), dt.date(2026, 7, 2)

FIRST = """
snapshot_date | order_id | market | stage     | ordered_at | product    | segment     | installed_at | activated_at | stage_entered_at | mrr
2026-07-01    | O1       | NORTH  | intake    | 2026-06-30 | fiber_1g   | residential |              |              |                  | 10
2026-07-01    | O3       | SOUTH  | installed | 2026-06-10 | fiber_1g   | residential | 2026-06-28   |              | 2026-06-28       |
2026-07-01    | O5       | SOUTH  | installed | 2026-06-15 | fiber_500m | business    | 2026-06-20   |              |                  | 30
2026-07-01    | W1       | WEST   | intake    | 2026-06-30 | fiber_1g   | residential |              |              |                  | 5
2026-07-02    | O1       | NORTH  | intake    | 2026-06-30 | fiber_1g   | residential |              |              |                  | 10
2026-07-02    | M1       | NORTH  | intake    | 2026-07-01 | fiber_1g   | residential |              |              |                  | 8
2026-07-02    | O5       | SOUTH  | activated | 2026-06-15 | fiber_500m | business    | 2026-06-20   | 2026-06-22   |                  | 30
"""

SECOND = """
snapshot_date | order_id | market | stage     | ordered_at | product    | segment     | network_ready_at | appointment_at   | installed_at | activated_at | invoiced_at | stage_entered_at | missed_appointments | truck_rolls | mrr | fallout_code
2026-07-04    | O1       | NORTH  | intake    | 2026-06-30 | fiber_1g   | residential |                  |                  |              |              |             |                  |                     |             | 10  |
2026-07-04    | O2       | NORTH  | scheduled | 2026-06-01 | fiber_1g   | business    |                  | 2026-07-03 10:00 |              |              |             | 2026-06-25       | 1                   | 2           | 40  | JEOP
2026-07-04    | O4       | NORTH  | invoiced  | 2026-06-01 |            | residential |                  |                  | 2026-06-20   |              | 2026-07-03  | 2026-07-03       |                     |             | 50  |
2026-07-04    | O3       | SOUTH  | installed | 2026-06-10 | fiber_1g   | residential |                  |                  | 2026-06-28   |              |             |                  |                     |             |     |
2026-07-04    | O5       | SOUTH  | activated | 2026-06-15 | fiber_500m | business    |                  |                  | 2026-06-20   | 2026-06-22   |             |                  |                     |             | 30  |
"""

ORDER_COLUMNS = [*SNAPSHOT_COLUMNS, "age_in_stage_days", "age_days", "exceptions"]
FRESHNESS_COLUMNS = ["market", "latest_snapshot_date", "rows", "days_behind", "last_ingest_at"]

O2_RULES = ["overdue_appointment", "missed_appointment", "repeat_visit", "scheduled_before_ready", "fallout"]


def order(order_id, market, stage, age_in_stage, age, rules) -> dict:
    return {
        "order_id": order_id,
        "market": market,
        "stage": stage,
        "age_in_stage_days": age_in_stage,
        "age_days": age,
        "exceptions": rules,
    }


O1 = order("O1", "NORTH", "intake", 3, 4, [])
O2 = order("O2", "NORTH", "scheduled", 9, 33, O2_RULES)
O3 = order("O3", "SOUTH", "installed", 3, 24, [])
O4 = order("O4", "NORTH", "invoiced", 1, 33, ["invoiced_before_activation"])
O5 = order("O5", "SOUTH", "activated", 2, 19, [])


def fresh(market, latest, rows, behind) -> dict:
    return {"market": market, "latest_snapshot_date": latest, "rows": rows, "days_behind": behind}


@pytest.fixture(autouse=True)
def _no_config(monkeypatch, tmp_path):
    no_config_file(monkeypatch, tmp_path)


def two_ingests(directory):
    db = make_store(directory / "first", FIRST)
    time.sleep(1.1)  # so that the two ingests' timestamps differ at any precision
    make_store(directory / "second", SECOND, db=db)
    return db


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return two_ingests(tmp_path_factory.mktemp("orders_freshness"))


# ---------------------------------------------------------------- orders


def test_orders_at_latest_snapshot(db):
    df = dataset("orders", db)
    assert df.columns[: len(ORDER_COLUMNS)] == ORDER_COLUMNS
    expect(df, [O1, O2, O3, O4, O5])
    assert_integer(df, "age_in_stage_days", "age_days", "missed_appointments", "truck_rolls")


def test_orders_carry_the_contract_columns(db):
    df = dataset("orders", db)
    o2 = df.filter(df["order_id"] == "O2").to_dicts()[0]
    assert o2["snapshot_date"] == S
    assert o2["ordered_at"] == dt.datetime(2026, 6, 1)  # a date-only value is midnight of that day
    assert o2["product"] == "fiber_1g"
    assert o2["segment"] == "business"
    assert o2["network_ready_at"] is None
    assert o2["appointment_at"] == dt.datetime(2026, 7, 3, 10, 0)
    assert o2["installed_at"] is None
    assert o2["activated_at"] is None
    assert o2["invoiced_at"] is None
    assert o2["cancelled_at"] is None
    assert o2["stage_entered_at"] == dt.datetime(2026, 6, 25)
    assert o2["missed_appointments"] == 1
    assert o2["truck_rolls"] == 2
    assert o2["mrr"] == pytest.approx(40.0)
    assert o2["fallout_code"] == "JEOP"
    o4 = df.filter(df["order_id"] == "O4").to_dicts()[0]
    assert o4["product"] is None
    assert o4["installed_at"] == dt.datetime(2026, 6, 20)
    assert o4["invoiced_at"] == dt.datetime(2026, 7, 3)
    o3 = df.filter(df["order_id"] == "O3").to_dicts()[0]
    assert o3["mrr"] is None
    assert o3["stage_entered_at"] is None  # the row at S has none (its 07-01 row had 06-28)


def test_orders_missing_order_is_not_listed(db):
    # M1 is missing at S: reported by `exceptions`, absent from `orders`
    assert "M1" not in dataset("orders", db)["order_id"].to_list()
    exceptions = dataset("exceptions", db)
    missing = exceptions.filter(exceptions["rule"] == "missing_from_snapshot")
    # NORTH's previous snapshot is 07-02: M1 (intake since 07-02) -> age 07-04 - 07-02 = 2, mrr 8.
    # SOUTH's previous snapshot is 07-02 too: only O5 there, present at S. WEST has no rows at S.
    expect(missing, [{"order_id": "M1", "market": "NORTH", "stage": "intake", "age_in_stage_days": 2, "mrr": 8.0}])


def test_orders_thresholds(db):
    # intake limit 2: O1 (3) is stalled
    df = dataset("orders", db, thresholds={"intake": 2})
    expect(df, [{**O1, "exceptions": ["stalled"]}, O2, O3, O4, O5])


def test_orders_earlier_as_of(db):
    # S = 07-02: M1 intake since 07-02 -> 0, ordered 07-01 -> 1; O1 intake since 07-01 -> 1, ordered 06-30 -> 2;
    # O5 activated since 07-02 -> 0, ordered 06-15 -> 17.
    expect(
        dataset("orders", db, as_of=D2),
        [
            order("M1", "NORTH", "intake", 0, 1, []),
            order("O1", "NORTH", "intake", 1, 2, []),
            order("O5", "SOUTH", "activated", 0, 17, []),
        ],
    )


def test_orders_filters(db):
    expect(dataset("orders", db, markets=["SOUTH"]), [O3, O5])
    expect(dataset("orders", db, products=["fiber_1g"]), [O1, O2, O3])  # O4 product null, O5 fiber_500m
    expect(dataset("orders", db, segments=["business"]), [O2, O5])
    expect(dataset("orders", db, markets=[], products=None, segments=[]), [O1, O2, O3, O4, O5])


@pytest.mark.parametrize("filters", NOTHING)
def test_orders_filter_matching_nothing(db, filters):
    df = dataset("orders", db, **filters)
    assert df.height == 0
    assert df.columns[: len(ORDER_COLUMNS)] == ORDER_COLUMNS


# ---------------------------------------------------------------- freshness


def test_freshness_at_latest_snapshot(db):
    df = dataset("freshness", db)
    assert df.columns[: len(FRESHNESS_COLUMNS)] == FRESHNESS_COLUMNS
    # NORTH 07-04: O1 O2 O4; SOUTH 07-04: O3 O5; WEST last reported 07-01 (W1) -> 3 days behind
    expect(df, [fresh("NORTH", S, 3, 0), fresh("SOUTH", S, 2, 0), fresh("WEST", D1, 1, 3)])
    assert_integer(df, "rows", "days_behind")


def test_freshness_last_ingest_per_market(db):
    by_market = {row["market"]: row["last_ingest_at"] for row in dataset("freshness", db).to_dicts()}
    assert all(isinstance(value, dt.datetime) for value in by_market.values())
    # NORTH and SOUTH were last loaded by the second ingest, WEST only by the first
    assert by_market["NORTH"] == by_market["SOUTH"]
    assert by_market["WEST"] < by_market["NORTH"]


def test_freshness_earlier_as_of(db):
    # S = 07-02: NORTH O1 M1; SOUTH O5; WEST 07-01 -> 1 day behind
    expect(
        dataset("freshness", db, as_of=D2),
        [fresh("NORTH", D2, 2, 0), fresh("SOUTH", D2, 1, 0), fresh("WEST", D1, 1, 1)],
    )


def test_freshness_market_filter(db):
    expect(dataset("freshness", db, markets=["WEST"]), [fresh("WEST", D1, 1, 3)])
    df = dataset("freshness", db, scope=["NOWHERE"])
    assert df.height == 0
    assert df.columns[: len(FRESHNESS_COLUMNS)] == FRESHNESS_COLUMNS


def test_rejected_ingest_changes_nothing(tmp_path):
    from opslens.ingest import IngestRejected

    db = two_ingests(tmp_path)
    before = dataset("freshness", db)
    orders_before = dataset("orders", db, as_of=D1)
    bad = """
    snapshot_date | order_id | market | stage | ordered_at
    2026-07-05    | W9       | WEST   | bogus | 2026-07-01
    """
    with pytest.raises(IngestRejected):
        make_store(tmp_path / "bad", bad, db=db)
    assert dataset("freshness", db).to_dicts() == before.to_dicts()
    assert dataset("orders", db, as_of=D1).to_dicts() == orders_before.to_dicts()


def test_reingest_of_a_pair_replaces_its_rows(tmp_path):
    # Re-send (07-01, WEST) with W1 and a new W2: WEST now has 2 rows on 07-01 and was last loaded by this ingest.
    # Re-send (07-04, NORTH) without O4: O4 disappears from the 07-04 snapshot, NORTH has 2 rows there.
    db = two_ingests(tmp_path)
    before = {row["market"]: row["last_ingest_at"] for row in dataset("freshness", db).to_dicts()}
    time.sleep(1.1)
    again = """
    snapshot_date | order_id | market | stage     | ordered_at | product  | segment     | appointment_at   | stage_entered_at | missed_appointments | truck_rolls | mrr | fallout_code
    2026-07-01    | W1       | WEST   | intake    | 2026-06-30 | fiber_1g | residential |                  |                  |                     |             | 5   |
    2026-07-01    | W2       | WEST   | intake    | 2026-06-29 | fiber_1g | residential |                  |                  |                     |             | 6   |
    2026-07-04    | O1       | NORTH  | intake    | 2026-06-30 | fiber_1g | residential |                  |                  |                     |             | 10  |
    2026-07-04    | O2       | NORTH  | scheduled | 2026-06-01 | fiber_1g | business    | 2026-07-03 10:00 | 2026-06-25       | 1                   | 2           | 40  | JEOP
    """
    make_store(tmp_path / "again", again, db=db)
    df = dataset("freshness", db)
    expect(df, [fresh("NORTH", S, 2, 0), fresh("SOUTH", S, 2, 0), fresh("WEST", D1, 2, 3)])
    after = {row["market"]: row["last_ingest_at"] for row in df.to_dicts()}
    assert after["WEST"] > before["WEST"]
    assert after["NORTH"] > before["NORTH"]
    assert after["SOUTH"] == before["SOUTH"]  # this ingest loaded no SOUTH rows
    expect(dataset("orders", db), [O1, O2, O3, O5])
    # W2, ordered 06-29, intake on its only row 07-01 -> age in stage 0, age 2
    expect(
        dataset("orders", db, as_of=D1, markets=["WEST"]),
        [order("W1", "WEST", "intake", 0, 1, []), order("W2", "WEST", "intake", 0, 2, [])],
    )
