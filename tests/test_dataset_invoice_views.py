"""install_to_invoice_orders, _distribution, _weekly and unbilled_orders against a hand-made store, and their CLI face.

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
    assert dataset("install_to_invoice_distribution", invoice_db, scope=["NOWHERE"]).height == 0


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
    empty = dataset("install_to_invoice_orders", invoice_db, scope=["NOWHERE"])
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
    assert dataset("install_to_invoice_weekly", invoice_db, scope=["NOWHERE"]).height == 0


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
    assert dataset("unbilled_orders", invoice_db, scope=["NOWHERE"]).height == 0


def test_unbilled_orders_match_install_to_invoice_totals(invoice_db):
    # 6 orders; mrr 75.5 + 70*3 + 5 + null(0) = 290.5
    totals = dataset("install_to_invoice", invoice_db).filter(pl.col("market") == "ALL").to_dicts()[0]
    assert totals["installed_not_invoiced"] == 6
    assert totals["unbilled_mrr"] == pytest.approx(290.5)


def cli_csv(capsys, *args: str) -> str:
    from opslens.cli import main

    capsys.readouterr()  # drop anything printed before
    assert main(["export", *args, "--format", "csv"]) == 0
    return capsys.readouterr().out


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


def test_install_to_invoice_weekly_sample_and_completeness_in_the_fixture(invoice_db):
    # First snapshot 08-20 (a Thursday): every install week of the fixture began before it, so none is
    # complete however many of its orders are invoiced. Still waiting in snap(S): U2 (installed 08-21,
    # week 08-17); U1, U5, U6, U9 (week 08-24) and U8 (week 08-31) have no invoiced order, so no row.
    expect(
        dataset("install_to_invoice_weekly", invoice_db).select(
            "install_week", "invoiced_orders", "uninvoiced_orders", "invoiced_share", "complete"
        ),
        [
            {"install_week": W0727, "invoiced_orders": 1, "uninvoiced_orders": 0, "invoiced_share": 1.0, "complete": False},
            {"install_week": W0803, "invoiced_orders": 3, "uninvoiced_orders": 0, "invoiced_share": 1.0, "complete": False},
            {"install_week": W0810, "invoiced_orders": 2, "uninvoiced_orders": 0, "invoiced_share": 1.0, "complete": False},
            {"install_week": W0817, "invoiced_orders": 1, "uninvoiced_orders": 1, "invoiced_share": 0.5, "complete": False},
        ],
    )


def test_install_to_invoice_weekly_complete_needs_the_history_and_95_percent_invoiced(tmp_path):
    # Snapshots 03-02 (a Monday, the first) and S = 03-16.
    #   week 02-23: C1 installed 02-27, before the history: invoiced, but not complete
    #   week 03-02: A1-A3 invoiced, A4 still installed at S: 3 / 4 = 0.75 -> not complete
    #   week 03-09: B01-B19 invoiced, B20 still installed: 19 / 20 = 0.95 -> complete (the bound counts)
    header = "snapshot_date | order_id | market | stage | ordered_at | installed_at | invoiced_at | mrr"
    rows = [
        "2026-03-02 | C1 | NORTH | installed | 2026-02-20 | 2026-02-27 |            | 10",
        "2026-03-16 | C1 | NORTH | invoiced  | 2026-02-20 | 2026-02-27 | 2026-03-03 | 10",
        *(f"2026-03-16 | A{i} | NORTH | invoiced | 2026-02-25 | 2026-03-03 | 2026-03-0{4 + i} | 10" for i in range(1, 4)),
        "2026-03-16 | A4 | NORTH | installed | 2026-02-25 | 2026-03-04 |            | 10",
        *(f"2026-03-16 | B{i:02d} | NORTH | invoiced | 2026-03-01 | 2026-03-10 | 2026-03-12 | 10" for i in range(1, 20)),
        "2026-03-16 | B20 | NORTH | installed | 2026-03-01 | 2026-03-11 |            | 10",
    ]
    db = make_store(tmp_path, "\n".join([header, *rows]) + "\n")
    weekly = dataset("install_to_invoice_weekly", db)
    expect(
        weekly.select("install_week", "invoiced_orders", "uninvoiced_orders", "invoiced_share", "complete"),
        [
            {"install_week": dt.date(2026, 2, 23), "invoiced_orders": 1, "uninvoiced_orders": 0, "invoiced_share": 1.0, "complete": False},
            {"install_week": dt.date(2026, 3, 2), "invoiced_orders": 3, "uninvoiced_orders": 1, "invoiced_share": 0.75, "complete": False},
            {"install_week": dt.date(2026, 3, 9), "invoiced_orders": 19, "uninvoiced_orders": 1, "invoiced_share": 0.95, "complete": True},
        ],
    )
    assert_integer(weekly, "uninvoiced_orders")
