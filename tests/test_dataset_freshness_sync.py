"""`freshness`: systems out of sync per market (the `stage_mismatch` share), on a hand-made store,
and how the Data health page shows it and drills into it.

One ingest, two snapshots: D1 = 2026-08-01 and S = 2026-08-02 (the default as-of).
Stage order: intake 1 ... scheduled 4, installed 5, activated 6 (open); invoiced 7, cancelled 8.
`stage_mismatch` (SPEC §2): open, and the stage is earlier than the milestones imply
(invoiced_at -> invoiced 7, else activated_at -> activated 6, else installed_at -> installed 5).

At S:
  NORTH  N1 activated, invoiced_at set            -> 6 < 7 mismatch
         N2 installed, activated_at set           -> 5 < 6 mismatch
         N3 scheduled, installed_at set           -> 4 < 5 mismatch
         N4 installed, installed_at set           -> 5 = 5 in sync
         N5 activated, only installed_at          -> 6 > 5 in sync (a stage ahead of its milestones is fine)
         N6 intake, no milestones                 -> in sync
         N7 invoiced (terminal), all milestones   -> not open: in neither count
         N8 cancelled (terminal), installed_at    -> not open: in neither count
         rows 8, open 6 (N1-N6), out of sync 3 (N1 N2 N3), share 3/6 = 0.5
  SOUTH  S1 intake; S2 installed with installed_at -> rows 2, open 2, out of sync 0, share 0/2 = 0.0
  EAST   E1 invoiced, E2 cancelled (terminal only) -> rows 2, open 0, out of sync 0, share 0.0 (no open orders)
  WEST   no rows at S (last reported D1, 1 day behind) -> open 0, out of sync 0, share NULL
At D1:
  NORTH  N6 intake                                 -> rows 1, open 1, out of sync 0, share 0.0
  SOUTH  S1 intake; S2 scheduled WITH installed_at -> rows 2, open 2, out of sync 1 (S2), share 1/2 = 0.5
  WEST   W1 installed with activated_at            -> rows 1, open 1, out of sync 1, share 1/1 = 1.0
  EAST   first reports at S: no row at D1
Products: N1 is the only fiber_1g order; the product and segment filters do not apply to freshness
(extracts arrive per market), so filtering on fiber_1g changes nothing.
"""

# Fixture tables are kept one order-row per line, aligned, for readability.
# ruff: noqa: E501

from __future__ import annotations

import datetime as dt
import json

import pytest
from apptest_harness import main_captions, rerun, run_page, table
from handmade import assert_float, assert_integer, dataset, expect, make_store, no_config_file

S = dt.date(2026, 8, 2)
D1 = dt.date(2026, 8, 1)

ROWS = """
snapshot_date | order_id | market | stage     | ordered_at | product    | appointment_at | installed_at | activated_at | invoiced_at | cancelled_at | mrr
2026-08-01    | N6       | NORTH  | intake    | 2026-07-30 | fiber_500m |                |              |              |             |              | 10
2026-08-01    | S1       | SOUTH  | intake    | 2026-07-20 | fiber_500m |                |              |              |             |              | 20
2026-08-01    | S2       | SOUTH  | scheduled | 2026-07-01 | fiber_500m | 2026-07-31     | 2026-07-31   |              |             |              | 30
2026-08-01    | W1       | WEST   | installed | 2026-07-01 | fiber_500m |                | 2026-07-20   | 2026-07-22   |             |              | 40
2026-08-02    | N1       | NORTH  | activated | 2026-07-01 | fiber_1g   |                | 2026-07-20   | 2026-07-21   | 2026-08-01  |              | 50
2026-08-02    | N2       | NORTH  | installed | 2026-07-01 | fiber_500m |                | 2026-07-25   | 2026-07-28   |             |              | 60
2026-08-02    | N3       | NORTH  | scheduled | 2026-07-01 | fiber_500m | 2026-07-30     | 2026-07-30   |              |             |              | 70
2026-08-02    | N4       | NORTH  | installed | 2026-07-01 | fiber_500m |                | 2026-07-29   |              |             |              | 80
2026-08-02    | N5       | NORTH  | activated | 2026-07-01 | fiber_500m |                | 2026-07-20   |              |             |              | 90
2026-08-02    | N6       | NORTH  | intake    | 2026-07-30 | fiber_500m |                |              |              |             |              | 10
2026-08-02    | N7       | NORTH  | invoiced  | 2026-07-01 | fiber_500m |                | 2026-07-10   | 2026-07-11   | 2026-07-31  |              | 15
2026-08-02    | N8       | NORTH  | cancelled | 2026-07-01 | fiber_500m |                | 2026-07-15   |              |             | 2026-07-31   | 25
2026-08-02    | S1       | SOUTH  | intake    | 2026-07-20 | fiber_500m |                |              |              |             |              | 20
2026-08-02    | S2       | SOUTH  | installed | 2026-07-01 | fiber_500m | 2026-07-31     | 2026-07-31   |              |             |              | 30
2026-08-02    | E1       | EAST   | invoiced  | 2026-07-01 | fiber_500m |                | 2026-07-10   | 2026-07-11   | 2026-08-01  |              | 35
2026-08-02    | E2       | EAST   | cancelled | 2026-07-01 | fiber_500m |                |              |              |             | 2026-08-01   | 45
"""

LEADING = ["market", "latest_snapshot_date", "rows", "days_behind", "last_ingest_at"]
SYNC = ["open_orders", "stage_mismatch_orders", "stage_mismatch_share"]
LABEL = "Stage disagrees with milestones (systems out of sync)"


def row(market, latest, rows, behind, open_orders, mismatched, share) -> dict:
    return {
        "market": market,
        "latest_snapshot_date": latest,
        "rows": rows,
        "days_behind": behind,
        "open_orders": open_orders,
        "stage_mismatch_orders": mismatched,
        "stage_mismatch_share": share,
    }


EAST = row("EAST", S, 2, 0, 0, 0, 0.0)
NORTH = row("NORTH", S, 8, 0, 6, 3, 0.5)
SOUTH = row("SOUTH", S, 2, 0, 2, 0, 0.0)
WEST = row("WEST", D1, 1, 1, 0, 0, None)


@pytest.fixture(autouse=True)
def _no_config(monkeypatch, tmp_path):
    no_config_file(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("freshness_sync"), ROWS)


# ---------------------------------------------------------------- the dataset


def test_columns_follow_the_leading_ones(db):
    df = dataset("freshness", db)
    assert df.columns == LEADING + SYNC
    assert_integer(df, "rows", "days_behind", "open_orders", "stage_mismatch_orders")
    assert_float(df, "stage_mismatch_share")


def test_out_of_sync_share_per_market_at_latest_snapshot(db):
    expect(dataset("freshness", db), [EAST, NORTH, SOUTH, WEST])


def test_earlier_snapshot(db):
    expect(
        dataset("freshness", db, as_of=D1),
        [
            row("NORTH", D1, 1, 0, 1, 0, 0.0),
            row("SOUTH", D1, 2, 0, 2, 1, 0.5),
            row("WEST", D1, 1, 0, 1, 1, 1.0),
        ],
    )


def test_counts_are_the_stage_mismatch_exception(db):
    # one definition: the out-of-sync orders are exactly the `stage_mismatch` rows of `exceptions`
    mismatched = dataset("exceptions", db, rules=["stage_mismatch"])
    assert sorted(mismatched["order_id"]) == ["N1", "N2", "N3"]
    earlier = dataset("exceptions", db, as_of=D1, rules=["stage_mismatch"])
    assert sorted(earlier["order_id"]) == ["S2", "W1"]


def test_market_filter(db):
    expect(dataset("freshness", db, markets=["WEST", "NORTH"]), [NORTH, WEST])
    expect(dataset("freshness", db, markets=["EAST"]), [EAST])
    expect(dataset("freshness", db, as_of=D1, markets=["WEST"]), [row("WEST", D1, 1, 0, 1, 1, 1.0)])


def test_filter_matching_nothing(db):
    df = dataset("freshness", db, scope=["NOWHERE"])
    assert df.height == 0
    assert df.columns == LEADING + SYNC
    # EAST sends its first extract at S: nothing to say about it at D1
    assert dataset("freshness", db, as_of=D1, markets=["EAST"]).height == 0


def test_the_product_filter_does_not_apply(db):
    # Only N1 is fiber_1g; were the product filter applied, NORTH would show 1 open order, 1 out of sync.
    expect(dataset("freshness", db, products=["fiber_1g"]), [EAST, NORTH, SOUTH, WEST])
    # (this store has no segments, so any segment filter is a mistake: FilterError, tests/test_cli_errors.py)


# ---------------------------------------------------------------- the Data health page


def _column_labels(at, index: int = 0) -> dict[str, str]:
    config = json.loads(at.main.dataframe[index].proto.columns)
    return {name: spec.get("label") for name, spec in config.items()}


def test_page_shows_the_share_with_its_label_and_explanation(db, monkeypatch):
    at = run_page("data_health", db, monkeypatch)
    shown = table(at, 0, ["market", *SYNC])
    assert shown == [{k: v for k, v in r.items() if k == "market" or k in SYNC} for r in (EAST, NORTH, SOUTH, WEST)]
    labels = _column_labels(at)
    assert labels["stage_mismatch_share"] == LABEL
    assert labels["open_orders"] == "Open orders"
    assert any(c.startswith(f"**{LABEL}**: open orders whose reported stage is earlier") for c in main_captions(at))


def test_page_drills_into_a_markets_out_of_sync_orders(db, monkeypatch):
    at = run_page("data_health", db, monkeypatch)
    drill = at.selectbox(key="health-sync-drill")
    assert drill.options == ["NORTH (3)"]  # only markets with out-of-sync orders, with their count
    assert drill.value is None
    tables = len(at.main.dataframe)

    drill.set_value("NORTH")
    rerun(at)
    assert len(at.main.dataframe) == tables + 1
    assert "3 open orders in NORTH whose stage is behind their milestones" in main_captions(at)
    listed = table(at, 1, ["order_id", "market", "stage", "invoiced_at"])
    assert listed == [
        {"order_id": "N1", "market": "NORTH", "stage": "Activated", "invoiced_at": "2026-08-01T00:00:00"},
        {"order_id": "N2", "market": "NORTH", "stage": "Installed", "invoiced_at": None},
        {"order_id": "N3", "market": "NORTH", "stage": "Scheduled", "invoiced_at": None},
    ]


def test_page_drill_ignores_the_product_filter_like_the_column(db, monkeypatch):
    at = run_page("data_health", db, monkeypatch, {"product": ["fiber_1g"]})
    assert at.selectbox(key="health-sync-drill").options == ["NORTH (3)"]
    at.selectbox(key="health-sync-drill").set_value("NORTH")
    rerun(at)
    assert [r["order_id"] for r in table(at, 1, ["order_id"])] == ["N1", "N2", "N3"]


def test_page_at_an_earlier_snapshot_offers_the_markets_out_of_sync_then(db, monkeypatch):
    at = run_page("data_health", db, monkeypatch, {"as_of": D1.isoformat()})
    assert at.selectbox(key="health-sync-drill").options == ["SOUTH (1)", "WEST (1)"]
    at.selectbox(key="health-sync-drill").set_value("WEST")
    rerun(at)
    assert table(at, 1, ["order_id", "stage"]) == [{"order_id": "W1", "stage": "Installed"}]


def test_page_market_missing_at_the_snapshot_is_shown_not_an_empty_state(db, monkeypatch):
    # WEST has 0 open orders at S because its extract is missing: the page must still show it
    at = run_page("data_health", db, monkeypatch, {"market": ["WEST"]})
    assert not at.main.info
    assert table(at, 0, ["market", "days_behind", *SYNC]) == [
        {"market": "WEST", "days_behind": 1, "open_orders": 0, "stage_mismatch_orders": 0, "stage_mismatch_share": None}
    ]
    assert "No open order's stage is behind its milestones at this snapshot." in main_captions(at)
    assert not [s for s in at.selectbox if s.key == "health-sync-drill"]
