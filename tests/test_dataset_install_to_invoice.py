"""`install_to_invoice` against a hand-made store (SPEC §2 "Install to invoice", decisions 1, 2 and 8).

Snapshot dates: 2026-06-10, 06-20, 06-30 (default as_of S = 06-30). Every order was ordered 2026-05-01.

Population at S = orders whose LATEST ROW as of S has installed_at and invoiced_at; days = date(invoiced) - date(installed):
  I1  NORTH  last row 06-10  installed 06-01 15:00, invoiced 06-03 09:00 -> 2 (date difference, not 1.75)
  I2  NORTH  last row 06-20  installed 06-05, invoiced 06-07          -> 2
  I3  NORTH  last row 06-20  installed 06-10, invoiced 06-14          -> 4   (product null)
  I4  NORTH  row 06-30       installed 06-15, invoiced 06-25          -> 10  (segment business; on 06-20 it was
                                                                             installed without invoice)
  J1  SOUTH  row 06-30       installed 06-21, invoiced 06-28          -> 7   (fiber_500m, business)
  J2  SOUTH  row 06-30, stage activated (open) but invoiced:
                             installed 06-20 18:00, invoiced 06-29    -> 9
  L1  EAST   last row 06-10  installed 06-01, invoiced 06-06          -> 5   (EAST has no rows at S)
  Not in it: I8 (last row 06-20, installed, no invoice), J3/J5/I6 (no invoice), J4 (cancelled, no invoice).
Installed, not invoiced, in snap(S), stage not cancelled:
  NORTH I6 (mrr 60); SOUTH J3 (mrr 45), J5 (mrr null = 0); J4 is cancelled -> excluded.
WEST has only K1 (scheduled) at S -> a row with no population.

Percentiles (quantile_cont): sorted values v0..v(n-1), position h = (n-1)*p, v[floor h] + frac(h) * (next - v[floor h]).
"""

# Fixture tables are kept one order-row per line, aligned, for readability.
# ruff: noqa: E501

from __future__ import annotations

import datetime as dt

import pytest
from handmade import NOTHING, assert_float, assert_integer, dataset, expect, make_store, no_config_file

S = dt.date(2026, 6, 30)

ROWS = """
snapshot_date | order_id | market | stage     | ordered_at | product    | segment     | installed_at     | activated_at | invoiced_at      | cancelled_at | mrr
2026-06-10    | I1       | NORTH  | invoiced  | 2026-05-01 | fiber_1g   | residential | 2026-06-01 15:00 | 2026-06-02   | 2026-06-03 09:00 |              | 21
2026-06-10    | L1       | EAST   | invoiced  | 2026-05-01 | fiber_1g   | residential | 2026-06-01       | 2026-06-02   | 2026-06-06       |              | 22
2026-06-20    | I2       | NORTH  | invoiced  | 2026-05-01 | fiber_1g   | residential | 2026-06-05       | 2026-06-06   | 2026-06-07       |              | 23
2026-06-20    | I3       | NORTH  | invoiced  | 2026-05-01 |            | residential | 2026-06-10       | 2026-06-11   | 2026-06-14       |              | 24
2026-06-20    | I4       | NORTH  | installed | 2026-05-01 | fiber_1g   | business    | 2026-06-15       |              |                  |              | 50
2026-06-20    | I8       | NORTH  | installed | 2026-05-01 | fiber_1g   | residential | 2026-06-18       |              |                  |              | 70
2026-06-20    | J4       | SOUTH  | installed | 2026-05-01 | fiber_1g   | residential | 2026-06-20       |              |                  |              | 99
2026-06-30    | I4       | NORTH  | invoiced  | 2026-05-01 | fiber_1g   | business    | 2026-06-15       | 2026-06-20   | 2026-06-25       |              | 50
2026-06-30    | I6       | NORTH  | installed | 2026-05-01 | fiber_1g   | residential | 2026-06-28       |              |                  |              | 60
2026-06-30    | I7       | NORTH  | scheduled | 2026-05-01 | fiber_1g   | residential |                  |              |                  |              | 26
2026-06-30    | J1       | SOUTH  | invoiced  | 2026-05-01 | fiber_500m | business    | 2026-06-21       | 2026-06-22   | 2026-06-28       |              | 27
2026-06-30    | J2       | SOUTH  | activated | 2026-05-01 | fiber_1g   | residential | 2026-06-20 18:00 | 2026-06-24   | 2026-06-29       |              | 28
2026-06-30    | J3       | SOUTH  | installed | 2026-05-01 | fiber_500m | residential | 2026-06-25       |              |                  |              | 45
2026-06-30    | J4       | SOUTH  | cancelled | 2026-05-01 | fiber_1g   | residential | 2026-06-20       |              |                  | 2026-06-27   | 99
2026-06-30    | J5       | SOUTH  | activated | 2026-05-01 | fiber_1g   | residential | 2026-06-26       | 2026-06-28   |                  |              |
2026-06-30    | K1       | WEST   | scheduled | 2026-05-01 | fiber_1g   | residential |                  |              |                  |              | 29
"""

COLUMNS = [
    "market",
    "invoiced_orders",
    "days_p50",
    "days_p85",
    "days_p95",
    "days_mean",
    "installed_not_invoiced",
    "unbilled_mrr",
]


def market(*values) -> dict:
    return dict(zip(COLUMNS, values, strict=True))


def none_invoiced(name, installed_not_invoiced=0, unbilled=0.0) -> dict:
    return market(name, 0, None, None, None, None, installed_not_invoiced, unbilled)


def single(name, days, installed_not_invoiced=0, unbilled=0.0) -> dict:
    """One invoiced order: every percentile and the mean equal its days."""
    return market(name, 1, days, days, days, days, installed_not_invoiced, unbilled)


AT_S = [
    single("EAST", 5.0),
    # NORTH 2,2,4,10 (ties): p50 h=1.5 -> 2 + 0.5*(4-2) = 3.0; p85 h=2.55 -> 4 + 0.55*(10-4) = 7.3;
    # p95 h=2.85 -> 4 + 0.85*6 = 9.1; mean 18/4 = 4.5. Unbilled: I6 -> 1, 60.
    market("NORTH", 4, 3.0, 7.3, 9.1, 4.5, 1, 60.0),
    # SOUTH 7,9: p50 8.0; p85 h=0.85 -> 7 + 0.85*2 = 8.7; p95 -> 7 + 0.95*2 = 8.9; mean 8.0.
    # Unbilled: J3 45 + J5 null(0) -> 2, 45.
    market("SOUTH", 2, 8.0, 8.7, 8.9, 8.0, 2, 45.0),
    none_invoiced("WEST"),
    # ALL 2,2,4,5,7,9,10: p50 h=3 -> 5.0; p85 h=5.1 -> 9 + 0.1*1 = 9.1; p95 h=5.7 -> 9 + 0.7*1 = 9.7;
    # mean 39/7. Unbilled 1 + 2 = 3, 60 + 45 = 105.
    market("ALL", 7, 5.0, 9.1, 9.7, 39 / 7, 3, 105.0),
]


@pytest.fixture(autouse=True)
def _no_config(monkeypatch, tmp_path):
    no_config_file(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("install_to_invoice"), ROWS)


def test_install_to_invoice_at_latest_snapshot(db):
    df = dataset("install_to_invoice", db)
    assert df.columns[: len(COLUMNS)] == COLUMNS
    expect(df, AT_S)
    assert_integer(df, "invoiced_orders", "installed_not_invoiced")
    assert_float(df, "days_p50", "days_p85", "days_p95", "days_mean", "unbilled_mrr")


def test_install_to_invoice_explicit_as_of_equals_default(db):
    expect(dataset("install_to_invoice", db, as_of=S), AT_S)


def test_install_to_invoice_earlier_as_of(db):
    # S = 06-20. Population: I1 2, I2 2, I3 4 (NORTH), L1 5 (EAST); I4's latest row as of 06-20 has no invoice.
    # snap(06-20) installed, not invoiced: I4 50, I8 70 (NORTH); J4 99 (SOUTH, still installed then).
    # NORTH 2,2,4: p50 2.0; p85 h=1.7 -> 2 + 0.7*2 = 3.4; p95 h=1.9 -> 2 + 0.9*2 = 3.8; mean 8/3.
    # ALL 2,2,4,5: p50 3.0; p85 h=2.55 -> 4 + 0.55*1 = 4.55; p95 h=2.85 -> 4.85; mean 13/4 = 3.25.
    expect(
        dataset("install_to_invoice", db, as_of=dt.date(2026, 6, 20)),
        [
            single("EAST", 5.0),
            market("NORTH", 3, 2.0, 3.4, 3.8, 8 / 3, 2, 120.0),
            none_invoiced("SOUTH", 1, 99.0),
            market("ALL", 4, 3.0, 4.55, 4.85, 3.25, 3, 219.0),
        ],
    )


def test_install_date_range_filters_population_only(db):
    # installed 06-05..06-20 inclusive: I2 2 (installed exactly on start), I3 4, I4 10, J2 9 (06-20 18:00 -> date 06-20,
    # exactly on end). Out: I1, L1 (06-01), J1 (06-21). EAST is then in neither the population nor snap(S) -> no row.
    # installed_not_invoiced is not date filtered (J3 installed 06-25 still counts).
    # NORTH 2,4,10: p50 4.0; p85 h=1.7 -> 4 + 0.7*6 = 8.2; p95 h=1.9 -> 4 + 0.9*6 = 9.4; mean 16/3.
    # ALL 2,4,9,10: p50 h=1.5 -> 4 + 0.5*5 = 6.5; p85 h=2.55 -> 9 + 0.55 = 9.55; p95 h=2.85 -> 9.85; mean 25/4.
    expect(
        dataset("install_to_invoice", db, start=dt.date(2026, 6, 5), end=dt.date(2026, 6, 20)),
        [
            market("NORTH", 3, 4.0, 8.2, 9.4, 16 / 3, 1, 60.0),
            single("SOUTH", 9.0, 2, 45.0),
            none_invoiced("WEST"),
            market("ALL", 4, 6.5, 9.55, 9.85, 6.25, 3, 105.0),
        ],
    )


def test_install_date_range_end_compares_dates(db):
    # end 06-01: I1 installed 2026-06-01 15:00 -> date 06-01 <= end -> in (days 2); L1 06-01 -> in (5).
    # ALL 2,5: p50 3.5; p85 2 + 0.85*3 = 4.55; p95 2 + 0.95*3 = 4.85; mean 3.5.
    expect(
        dataset("install_to_invoice", db, end=dt.date(2026, 6, 1)),
        [
            single("EAST", 5.0),
            single("NORTH", 2.0, 1, 60.0),
            none_invoiced("SOUTH", 2, 45.0),
            none_invoiced("WEST"),
            market("ALL", 2, 3.5, 4.55, 4.85, 3.5, 3, 105.0),
        ],
    )


def test_install_to_invoice_market_filter(db):
    north = market("NORTH", 4, 3.0, 7.3, 9.1, 4.5, 1, 60.0)
    expect(dataset("install_to_invoice", db, markets=["NORTH"]), [north, {**north, "market": "ALL"}])


def test_install_to_invoice_product_filter_excludes_null_product(db):
    # fiber_1g: population I1 2, I2 2, I4 10 (NORTH; I3 has product null), J2 9 (SOUTH; J1 is fiber_500m), L1 5.
    # Unbilled fiber_1g rows: I6 60 (NORTH), J5 null -> 0 (SOUTH; J3 is fiber_500m).
    # NORTH 2,2,10: p50 2.0; p85 h=1.7 -> 2 + 0.7*8 = 7.6; p95 h=1.9 -> 2 + 0.9*8 = 9.2; mean 14/3.
    # ALL 2,2,5,9,10: p50 5.0; p85 h=3.4 -> 9 + 0.4*1 = 9.4; p95 h=3.8 -> 9.8; mean 28/5 = 5.6.
    expect(
        dataset("install_to_invoice", db, products=["fiber_1g"]),
        [
            single("EAST", 5.0),
            market("NORTH", 3, 2.0, 7.6, 9.2, 14 / 3, 1, 60.0),
            single("SOUTH", 9.0, 1, 0.0),
            none_invoiced("WEST"),
            market("ALL", 5, 5.0, 9.4, 9.8, 5.6, 2, 60.0),
        ],
    )


def test_install_to_invoice_segment_filter(db):
    # business: I4 10 (NORTH), J1 7 (SOUTH); no unbilled business orders.
    # ALL 7,10: p50 8.5; p85 7 + 0.85*3 = 9.55; p95 7 + 0.95*3 = 9.85; mean 8.5.
    expect(
        dataset("install_to_invoice", db, segments=["business"]),
        [
            single("NORTH", 10.0),
            single("SOUTH", 7.0),
            market("ALL", 2, 8.5, 9.55, 9.85, 8.5, 0, 0.0),
        ],
    )


@pytest.mark.parametrize("filters", NOTHING)
def test_install_to_invoice_filter_matching_nothing(db, filters):
    df = dataset("install_to_invoice", db, **filters)
    assert df.height == 0
    assert df.columns[: len(COLUMNS)] == COLUMNS


@pytest.mark.parametrize("empty", [None, []])
def test_install_to_invoice_empty_filters_mean_all(db, empty):
    expect(dataset("install_to_invoice", db, markets=empty, products=empty, segments=empty), AT_S)
