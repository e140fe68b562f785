"""`readiness` against a hand-made store (SPEC §2 "Readiness gaps, per market", decisions 1, 2 and 7).

Snapshot dates: 2026-05-03 and 2026-05-10 (default as_of S = 05-10).
Footprint rows: NORTH 05-01 (1000 passed / 600 ready), NORTH 05-08 (1000 / 700),
SOUTH 05-10 (0 / 0), EAST 05-10 (50 / 5); no footprint for WEST.

NORTH at S (ages since order, S - date(ordered_at)):
  A1  awaiting_network  ordered 05-08           -> wait 2,  mrr 10
  A2  awaiting_network  ordered 05-08 23:30     -> wait 2 (date part), mrr null (= 0)
  A3  awaiting_network  ordered 05-06           -> wait 4,  mrr 20.5, segment business
  A4  awaiting_network  ordered 04-30           -> wait 10, mrr 30, product null
  A5  intake; A6 scheduled with an appointment and NO network_ready_at -> scheduled_before_ready
  A7  scheduled, ready 04-21 10:00, ordered 04-01      -> order_to_ready 20 (05-03 row: awaiting_network, not ready)
  A8  installed, ordered 04-02 08:00, ready 04-02 17:00 -> later timestamp, same day -> order_to_ready 0
  A9  invoiced (terminal), ready 02-15 BEFORE ordered 03-01 -> not in order_to_ready
  A10 last row on 05-03 (invoiced), ready 03-11, ordered 03-01 -> order_to_ready 10 (latest row as of S)
  A11 awaiting_appointment, ready = ordered = 2026-04-10 (not later) -> not in order_to_ready
  A12 awaiting_appointment, ordered 04-01: ready 04-05 on its 05-03 row, 04-16 on its 05-10 row
      -> only the latest row as of S counts: 15 (at as_of 05-03: 4)
  open = A1..A8, A11, A12 = 10; awaiting_network = 4 -> share 0.4; mrr 10 + 0 + 20.5 + 30 = 60.5
  wait days 2,2,4,10: p50 at position 1.5 -> 2 + 0.5*(4-2) = 3.0;
                      p85 at position 0.85*3 = 2.55 -> 4 + 0.55*(10-4) = 7.3
  order_to_ready 0,10,15,20: p50 at position 1.5 -> 10 + 0.5*5 = 12.5
  footprint: latest row <= 05-10 is 05-08 -> 1000 / 700 -> 0.7
SOUTH at S: B1 awaiting_network (ordered 05-01 -> wait 9, mrr 15); B2 scheduled with ready 05-09 12:00 = appointment
  (not later -> not scheduled_before_ready), ordered 05-02 -> order_to_ready 7; B3 cancelled with an appointment and
  no network (terminal -> not counted); B4 only on 05-03 (not ready).
  footprint 05-10: passed 0 -> ready_share null.
WEST at S: only W1, invoiced -> open 0, share null; W1 ready 03-05, ordered 03-01 -> order_to_ready 4; no footprint.
EAST: rows only on 05-03 -> no row at S.
"""

# Fixture tables are kept one order-row per line, aligned, for readability.
# ruff: noqa: E501

from __future__ import annotations

import datetime as dt

import pytest
from handmade import NOTHING, assert_float, assert_integer, dataset, expect, make_store, no_config_file

S = dt.date(2026, 5, 10)

ROWS = """
snapshot_date | order_id | market | stage                | ordered_at       | product    | segment     | network_ready_at | appointment_at   | installed_at | activated_at | invoiced_at | cancelled_at | mrr
2026-05-03    | A7       | NORTH  | awaiting_network     | 2026-04-01       | fiber_1g   | residential |                  |                  |              |              |             |              | 40
2026-05-03    | A10      | NORTH  | invoiced             | 2026-03-01       | fiber_1g   | residential | 2026-03-11       |                  | 2026-04-01   | 2026-04-02   | 2026-04-20  |              | 50
2026-05-03    | A12      | NORTH  | awaiting_appointment | 2026-04-01       | fiber_1g   | residential | 2026-04-05       |                  |              |              |             |              | 25
2026-05-03    | B4       | SOUTH  | awaiting_network     | 2026-04-26       | fiber_1g   | residential |                  |                  |              |              |             |              |
2026-05-03    | E1       | EAST   | intake               | 2026-05-01       | fiber_1g   | residential |                  |                  |              |              |             |              | 10
2026-05-10    | A1       | NORTH  | awaiting_network     | 2026-05-08       | fiber_1g   | residential |                  |                  |              |              |             |              | 10
2026-05-10    | A2       | NORTH  | awaiting_network     | 2026-05-08 23:30 | fiber_1g   | residential |                  |                  |              |              |             |              |
2026-05-10    | A3       | NORTH  | awaiting_network     | 2026-05-06       | fiber_500m | business    |                  |                  |              |              |             |              | 20.5
2026-05-10    | A4       | NORTH  | awaiting_network     | 2026-04-30       |            | residential |                  |                  |              |              |             |              | 30
2026-05-10    | A5       | NORTH  | intake               | 2026-05-09       | fiber_1g   | residential |                  |                  |              |              |             |              | 11
2026-05-10    | A6       | NORTH  | scheduled            | 2026-04-01       | fiber_1g   | residential |                  | 2026-05-12 09:00 |              |              |             |              | 12
2026-05-10    | A7       | NORTH  | scheduled            | 2026-04-01       | fiber_1g   | residential | 2026-04-21 10:00 | 2026-05-11 09:00 |              |              |             |              | 40
2026-05-10    | A8       | NORTH  | installed            | 2026-04-02 08:00 | fiber_500m | residential | 2026-04-02 17:00 | 2026-05-01 09:00 | 2026-05-05   |              |             |              | 13
2026-05-10    | A9       | NORTH  | invoiced             | 2026-03-01       | fiber_1g   | residential | 2026-02-15       |                  | 2026-03-10   | 2026-03-11   | 2026-05-09  |              | 14
2026-05-10    | A11      | NORTH  | awaiting_appointment | 2026-04-10       | fiber_1g   | residential | 2026-04-10       |                  |              |              |             |              | 15
2026-05-10    | A12      | NORTH  | awaiting_appointment | 2026-04-01       | fiber_1g   | residential | 2026-04-16       |                  |              |              |             |              | 25
2026-05-10    | B1       | SOUTH  | awaiting_network     | 2026-05-01       | fiber_1g   | business    |                  |                  |              |              |             |              | 15
2026-05-10    | B2       | SOUTH  | scheduled            | 2026-05-02       | fiber_500m | residential | 2026-05-09 12:00 | 2026-05-09 12:00 |              |              |             |              | 16
2026-05-10    | B3       | SOUTH  | cancelled            | 2026-05-01       | fiber_1g   | residential |                  | 2026-05-12       |              |              |             | 2026-05-10   | 17
2026-05-10    | W1       | WEST   | invoiced             | 2026-03-01       | fiber_500m | residential | 2026-03-05       |                  | 2026-03-20   | 2026-03-21   | 2026-04-01  |              | 18
"""

FOOTPRINT = """
snapshot_date | market | premises_passed | premises_ready
2026-05-01    | NORTH  | 1000            | 600
2026-05-08    | NORTH  | 1000            | 700
2026-05-10    | SOUTH  | 0               | 0
2026-05-10    | EAST   | 50              | 5
"""

COLUMNS = [
    "market",
    "open_orders",
    "awaiting_network",
    "awaiting_network_share",
    "awaiting_network_mrr",
    "wait_days_p50",
    "wait_days_p85",
    "scheduled_before_ready",
    "order_to_ready_days_p50",
    "premises_passed",
    "premises_ready",
    "ready_share",
]


def market(*values) -> dict:
    return dict(zip(COLUMNS, values, strict=True))


NORTH_S = market("NORTH", 10, 4, 0.4, 60.5, 3.0, 7.3, 1, 12.5, 1000, 700, 0.7)
SOUTH_S = market("SOUTH", 2, 1, 0.5, 15.0, 9.0, 9.0, 0, 7.0, 0, 0, None)
WEST_S = market("WEST", 0, 0, None, 0.0, None, None, 0, 4.0, None, None, None)


@pytest.fixture(autouse=True)
def _no_config(monkeypatch, tmp_path):
    no_config_file(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("readiness"), ROWS, FOOTPRINT)


def test_readiness_at_latest_snapshot(db):
    df = dataset("readiness", db)
    assert df.columns[: len(COLUMNS)] == COLUMNS
    # EAST has no rows at S (only on 05-03) -> no EAST row even though it has footprint at S
    expect(df, [NORTH_S, SOUTH_S, WEST_S])
    assert_integer(df, "open_orders", "awaiting_network", "scheduled_before_ready", "premises_passed", "premises_ready")
    assert_float(
        df,
        "awaiting_network_share",
        "awaiting_network_mrr",
        "wait_days_p50",
        "wait_days_p85",
        "order_to_ready_days_p50",
        "ready_share",
    )


def test_readiness_explicit_as_of_equals_default(db):
    expect(dataset("readiness", db, as_of=S), [NORTH_S, SOUTH_S, WEST_S])


def test_readiness_earlier_as_of(db):
    # S = 05-03.
    # EAST: E1 intake -> open 1, none awaiting network (share 0/1 = 0.0); EAST footprint is dated 05-10 > S -> nulls.
    # NORTH: A7 (awaiting_network, wait 05-03 - 04-01 = 32, mrr 40), A12 (awaiting_appointment) open; A10 invoiced.
    #        order_to_ready over latest rows as of 05-03: A10 10, A12 04-05 - 04-01 = 4 -> p50 (4+10)/2 = 7.0
    #        (A7 not ready yet on 05-03). Footprint: latest <= 05-03 is 05-01 -> 1000 / 600 -> 0.6.
    # SOUTH: B4 awaiting_network, mrr null -> 0.0, wait 05-03 - 04-26 = 7; SOUTH footprint is dated 05-10 -> nulls.
    expect(
        dataset("readiness", db, as_of=dt.date(2026, 5, 3)),
        [
            market("EAST", 1, 0, 0.0, 0.0, None, None, 0, None, None, None, None),
            market("NORTH", 2, 1, 0.5, 40.0, 32.0, 32.0, 0, 7.0, 1000, 600, 0.6),
            market("SOUTH", 1, 1, 1.0, 0.0, 7.0, 7.0, 0, None, None, None, None),
        ],
    )


def test_readiness_market_filter(db):
    expect(dataset("readiness", db, markets=["WEST"]), [WEST_S])
    expect(dataset("readiness", db, markets=["NORTH", "WEST"]), [NORTH_S, WEST_S])


def test_readiness_product_filter_keeps_footprint(db):
    # fiber_1g (A4's null product excluded; A3, A8, B2, W1 are fiber_500m):
    # NORTH: open A1 A2 A5 A6 A7 A11 A12 = 7; awaiting_network A1 A2 -> share 2/7; mrr 10 + null = 10;
    #        wait 2,2 -> 2.0 / 2.0; A6 scheduled before ready; order_to_ready A10 10, A12 15, A7 20 -> 15.0
    #        (A8, the 0, is fiber_500m). Product filters do not apply to the footprint: 1000 / 700.
    # SOUTH: B1 open, B3 cancelled -> open 1, awaiting 1, share 1.0, mrr 15, wait 9; B4's latest row is not ready
    #        and B2 is fiber_500m -> order_to_ready null.
    # WEST: W1 is fiber_500m -> no rows in the filtered snapshot -> no WEST row.
    expect(
        dataset("readiness", db, products=["fiber_1g"]),
        [
            market("NORTH", 7, 2, 2 / 7, 10.0, 2.0, 2.0, 1, 15.0, 1000, 700, 0.7),
            market("SOUTH", 1, 1, 1.0, 15.0, 9.0, 9.0, 0, None, 0, 0, None),
        ],
    )


def test_readiness_segment_filter(db):
    # business: A3 (NORTH, wait 4, mrr 20.5, not ready) and B1 (SOUTH, wait 9, mrr 15)
    expect(
        dataset("readiness", db, segments=["business"]),
        [
            market("NORTH", 1, 1, 1.0, 20.5, 4.0, 4.0, 0, None, 1000, 700, 0.7),
            market("SOUTH", 1, 1, 1.0, 15.0, 9.0, 9.0, 0, None, 0, 0, None),
        ],
    )


@pytest.mark.parametrize("filters", NOTHING)
def test_readiness_filter_matching_nothing(db, filters):
    df = dataset("readiness", db, **filters)
    assert df.height == 0
    assert df.columns[: len(COLUMNS)] == COLUMNS


@pytest.mark.parametrize("empty", [None, []])
def test_readiness_empty_filters_mean_all(db, empty):
    expect(dataset("readiness", db, markets=empty, products=empty, segments=empty), [NORTH_S, SOUTH_S, WEST_S])
