"""`backlog` and `backlog_trend` against a hand-made store (SPEC §2 "Backlog by stage", §3).

Snapshot dates in the store: 2026-03-01, 03-02, 03-03 and 03-05 (no 03-04).
Default as_of = 2026-03-05 (the store's latest snapshot date, decision 2).
Stall limits (defaults): intake 3, awaiting_network 45, awaiting_appointment 7, scheduled 21,
installed 3, activated 7; stalled means age in stage strictly ABOVE the limit.

Age in stage at 2026-03-05 of each open order (decision 4):
  N1  intake               no stage_entered_at; intake on 03-01,02,03,05 -> run from 03-01      -> 4 (stalled)
  N2  intake               no s_e_a; intake 03-01, awaiting_network 03-02, intake 03-03, 03-05
                           -> the stage change back resets the run: from 03-03                   -> 2
  N3  intake               stage_entered_at 2026-03-02 10:00 (only row) -> 03-05 - 03-02        -> 3 (= limit, not stalled)
  N4  intake               no s_e_a; rows on 03-01 and 03-05 only (absent 03-02, 03-03 do not
                           break the run) -> from 03-01                                          -> 4 (stalled)
  N5  awaiting_network     s_e_a 2026-01-15: Jan15->Feb15 31 + Feb15->Mar1 14 + 4                -> 49 (stalled, > 45)
  S1  awaiting_network     s_e_a 2026-01-19 23:59 -> date 01-19: 31 + 10 + 4                     -> 45 (= limit, not stalled)
  S2  scheduled            awaiting_appointment 03-01, scheduled 03-02,03,05 -> from 03-02       -> 3
  N6  installed            scheduled 03-02, installed 03-03 (that row has s_e_a 2026-03-01),
                           installed 03-05 WITHOUT s_e_a -> run-based from 03-03                  -> 2
  N7  activated            s_e_a 2026-02-20: Feb20->Mar1 9 + 4                                   -> 13 (stalled, > 7)
  N8  invoiced at 03-05    terminal: not in the backlog
"""

# Fixture tables are kept one order-row per line, aligned, for readability.
# ruff: noqa: E501

from __future__ import annotations

import datetime as dt

import pytest
from handmade import NOTHING, OPEN_STAGES, assert_float, assert_integer, dataset, expect, make_store, no_config_file

D1, D2, D3, D5 = dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 3), dt.date(2026, 3, 5)

ROWS = """
snapshot_date | order_id | market | stage                | ordered_at | product    | segment     | stage_entered_at    | installed_at     | activated_at | invoiced_at | cancelled_at | mrr
2026-03-01    | N1       | NORTH  | intake               | 2026-02-28 | fiber_1g   | residential |                     |                  |              |             |              | 40
2026-03-02    | N1       | NORTH  | intake               | 2026-02-28 | fiber_1g   | residential |                     |                  |              |             |              | 40
2026-03-03    | N1       | NORTH  | intake               | 2026-02-28 | fiber_1g   | residential |                     |                  |              |             |              | 40
2026-03-05    | N1       | NORTH  | intake               | 2026-02-28 | fiber_1g   | residential |                     |                  |              |             |              | 40
2026-03-01    | N2       | NORTH  | intake               | 2026-02-27 | fiber_1g   | business    |                     |                  |              |             |              |
2026-03-02    | N2       | NORTH  | awaiting_network     | 2026-02-27 | fiber_1g   | business    |                     |                  |              |             |              |
2026-03-03    | N2       | NORTH  | intake               | 2026-02-27 | fiber_1g   | business    |                     |                  |              |             |              |
2026-03-05    | N2       | NORTH  | intake               | 2026-02-27 | fiber_1g   | business    |                     |                  |              |             |              |
2026-03-05    | N3       | NORTH  | intake               | 2026-03-02 |            | residential | 2026-03-02 10:00:00 |                  |              |             |              | 30
2026-03-01    | N4       | NORTH  | intake               | 2026-02-28 | fiber_500m | residential |                     |                  |              |             |              | 60
2026-03-05    | N4       | NORTH  | intake               | 2026-02-28 | fiber_500m | residential |                     |                  |              |             |              | 60
2026-03-03    | N5       | NORTH  | awaiting_network     | 2026-01-10 | fiber_1g   | residential | 2026-01-15          |                  |              |             |              | 55.5
2026-03-05    | N5       | NORTH  | awaiting_network     | 2026-01-10 | fiber_1g   | residential | 2026-01-15          |                  |              |             |              | 55.5
2026-03-02    | N6       | NORTH  | scheduled            | 2026-02-01 | fiber_1g   | residential |                     |                  |              |             |              | 25
2026-03-03    | N6       | NORTH  | installed            | 2026-02-01 | fiber_1g   | residential | 2026-03-01          | 2026-03-03 10:00 |              |             |              | 25
2026-03-05    | N6       | NORTH  | installed            | 2026-02-01 | fiber_1g   | residential |                     | 2026-03-03 10:00 |              |             |              | 25
2026-03-05    | N7       | NORTH  | activated            | 2026-01-20 | fiber_500m | business    | 2026-02-20          | 2026-02-18       | 2026-02-20   |             |              | 80
2026-03-03    | N8       | NORTH  | activated            | 2026-01-05 | fiber_1g   | residential |                     | 2026-03-01       | 2026-03-02   |             |              | 90
2026-03-05    | N8       | NORTH  | invoiced             | 2026-01-05 | fiber_1g   | residential |                     | 2026-03-01       | 2026-03-02   | 2026-03-04  |              | 90
2026-03-05    | S1       | SOUTH  | awaiting_network     | 2026-01-02 | fiber_1g   | residential | 2026-01-19 23:59:00 |                  |              |             |              | 44.5
2026-03-01    | S2       | SOUTH  | awaiting_appointment | 2026-02-10 | fiber_1g   | business    |                     |                  |              |             |              | 70
2026-03-02    | S2       | SOUTH  | scheduled            | 2026-02-10 | fiber_1g   | business    |                     |                  |              |             |              | 70
2026-03-03    | S2       | SOUTH  | scheduled            | 2026-02-10 | fiber_1g   | business    |                     |                  |              |             |              | 70
2026-03-05    | S2       | SOUTH  | scheduled            | 2026-02-10 | fiber_1g   | business    |                     |                  |              |             |              | 70
2026-03-01    | S3       | SOUTH  | intake               | 2026-02-28 | fiber_500m | residential |                     |                  |              |             |              | 20
2026-03-02    | S3       | SOUTH  | intake               | 2026-02-28 | fiber_500m | residential |                     |                  |              |             |              | 20
2026-03-03    | S3       | SOUTH  | cancelled            | 2026-02-28 | fiber_500m | residential |                     |                  |              |             | 2026-03-03   | 20
"""

COLUMNS = ["stage", "orders", "mrr", "median_age_days", "stalled"]


def zero(stage: str) -> dict:
    """An open stage with no orders: decision 1 / SPEC 'zeros included'."""
    return {"stage": stage, "orders": 0, "mrr": 0.0, "median_age_days": None, "stalled": 0}


def line(stage, orders, mrr, median, stalled) -> dict:
    return {"stage": stage, "orders": orders, "mrr": mrr, "median_age_days": median, "stalled": stalled}


@pytest.fixture(autouse=True)
def _no_config(monkeypatch, tmp_path):
    no_config_file(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("backlog"), ROWS)


# The expected backlog at the default as_of 2026-03-05, no filters.
BACKLOG_0305 = [
    # intake: N1 4, N2 2, N3 3, N4 4 -> sorted 2,3,4,4 -> median (3+4)/2 = 3.5;
    # mrr 40 + null(=0) + 30 + 60 = 130; stalled (> 3): N1, N4 -> 2
    line("intake", 4, 130.0, 3.5, 2),
    # awaiting_network: N5 49, S1 45 -> median 47.0; mrr 55.5 + 44.5 = 100; stalled: N5 only (45 is not above 45)
    line("awaiting_network", 2, 100.0, 47.0, 1),
    zero("awaiting_appointment"),
    # scheduled: S2 age 3, mrr 70
    line("scheduled", 1, 70.0, 3.0, 0),
    # installed: N6 age 2 (run-based, its row at S has no stage_entered_at), mrr 25
    line("installed", 1, 25.0, 2.0, 0),
    # activated: N7 age 13 > 7, mrr 80 (N8 is invoiced: terminal, not counted)
    line("activated", 1, 80.0, 13.0, 1),
]


def test_backlog_default_as_of_is_latest_snapshot(db):
    df = dataset("backlog", db)
    assert df.columns[:5] == COLUMNS
    expect(df, BACKLOG_0305)
    assert_integer(df, "orders", "stalled")
    assert_float(df, "mrr", "median_age_days")


def test_backlog_explicit_as_of_equals_default(db):
    expect(dataset("backlog", db, as_of=D5), BACKLOG_0305)


def test_backlog_six_open_stages_in_lifecycle_order(db):
    df = dataset("backlog", db, scope=["NOWHERE"])
    assert df["stage"].to_list() == list(OPEN_STAGES)


def test_backlog_earlier_as_of(db):
    # Rows at 2026-03-03: N1 intake, N2 intake, N5 awaiting_network, N6 installed, N8 activated,
    # S2 scheduled, S3 cancelled (terminal).
    expect(
        dataset("backlog", db, as_of=D3),
        [
            # N1: intake 03-01..03-03 -> 2; N2: awaiting_network on 03-02, intake on 03-03 -> 0
            # median (0+2)/2 = 1.0; mrr 40 + null = 40
            line("intake", 2, 40.0, 1.0, 0),
            # N5: 03-03 - 01-15 = 31 + 14 + 2 = 47 > 45 -> stalled
            line("awaiting_network", 1, 55.5, 47.0, 1),
            zero("awaiting_appointment"),
            # S2: scheduled since 03-02 -> 1
            line("scheduled", 1, 70.0, 1.0, 0),
            # N6: its row at 03-03 HAS stage_entered_at 2026-03-01 -> 2 (not the run length 0)
            line("installed", 1, 25.0, 2.0, 0),
            # N8: activated, first row 03-03 -> 0
            line("activated", 1, 90.0, 0.0, 0),
        ],
    )


def test_backlog_market_filter(db):
    expect(
        dataset("backlog", db, markets=["SOUTH"]),
        [
            zero("intake"),  # S3 was cancelled on 03-03 and is not in the 03-05 snapshot
            line("awaiting_network", 1, 44.5, 45.0, 0),  # S1, exactly at the limit
            zero("awaiting_appointment"),
            line("scheduled", 1, 70.0, 3.0, 0),  # S2
            zero("installed"),
            zero("activated"),
        ],
    )


def test_backlog_product_filter_excludes_null_product(db):
    # fiber_1g at 03-05: N1, N2 (intake; N3 has product null -> excluded, N4 is fiber_500m),
    # N5, S1, S2, N6. N7 is fiber_500m.
    expect(
        dataset("backlog", db, products=["fiber_1g"]),
        [
            # N1 4, N2 2 -> median 3.0; mrr 40 + null; stalled N1
            line("intake", 2, 40.0, 3.0, 1),
            line("awaiting_network", 2, 100.0, 47.0, 1),
            zero("awaiting_appointment"),
            line("scheduled", 1, 70.0, 3.0, 0),
            line("installed", 1, 25.0, 2.0, 0),
            zero("activated"),
        ],
    )


def test_backlog_segment_filter(db):
    # business at 03-05: N2 (intake, mrr null), S2 (scheduled), N7 (activated)
    expect(
        dataset("backlog", db, segments=["business"]),
        [
            line("intake", 1, 0.0, 2.0, 0),  # mrr null counts as 0
            zero("awaiting_network"),
            zero("awaiting_appointment"),
            line("scheduled", 1, 70.0, 3.0, 0),
            zero("installed"),
            line("activated", 1, 80.0, 13.0, 1),
        ],
    )


def test_backlog_market_and_product_filters_combine(db):
    # NORTH and fiber_500m: N4 (intake, age 4, stalled), N7 (activated, 13, stalled)
    expect(
        dataset("backlog", db, markets=["NORTH"], products=["fiber_500m"]),
        [
            line("intake", 1, 60.0, 4.0, 1),
            zero("awaiting_network"),
            zero("awaiting_appointment"),
            zero("scheduled"),
            zero("installed"),
            line("activated", 1, 80.0, 13.0, 1),
        ],
    )


@pytest.mark.parametrize(
    "filters",
    NOTHING,
)
def test_backlog_filter_matching_nothing_returns_six_zero_stages(db, filters):
    df = dataset("backlog", db, **filters)
    expect(df, [zero(stage) for stage in OPEN_STAGES])
    assert_integer(df, "orders", "stalled")


@pytest.mark.parametrize("empty", [None, []])
def test_backlog_empty_filter_means_all(db, empty):
    expect(dataset("backlog", db, markets=empty, products=empty, segments=empty), BACKLOG_0305)


def test_backlog_thresholds_override(db):
    # intake limit 4: ages 2,3,4,4 -> none above 4 -> 0 stalled.
    # installed limit 1: N6 age 2 > 1 -> 1 stalled. Other stages keep their defaults.
    df = dataset("backlog", db, thresholds={"intake": 4, "installed": 1})
    assert df["stalled"].to_list() == [0, 1, 0, 0, 1, 1]


def test_backlog_thresholds_lower_limit(db):
    # intake limit 1: N1 4, N2 2, N3 3, N4 4 are all above 1 -> 4
    df = dataset("backlog", db, thresholds={"intake": 1})
    assert df["stalled"].to_list() == [4, 1, 0, 0, 0, 1]


# ---------------------------------------------------------------- backlog_trend

# Orders per open stage on each snapshot date (no filters):
#   03-01: N1 N2 N4 S3 intake, S2 awaiting_appointment
#   03-02: N1 S3 intake, N2 awaiting_network, N6 S2 scheduled
#   03-03: N1 N2 intake, N5 awaiting_network, S2 scheduled, N6 installed, N8 activated (S3 cancelled)
#   03-05: N1 N2 N3 N4 intake, N5 S1 awaiting_network, S2 scheduled, N6 installed, N7 activated (N8 invoiced)
TREND = {
    D1: [4, 0, 1, 0, 0, 0],
    D2: [2, 1, 0, 2, 0, 0],
    D3: [2, 1, 0, 1, 1, 1],
    D5: [4, 2, 0, 1, 1, 1],
}


def trend_rows(counts_by_date: dict) -> list[dict]:
    return [
        {"snapshot_date": day, "stage": stage, "orders": n}
        for day, counts in counts_by_date.items()
        for stage, n in zip(OPEN_STAGES, counts, strict=True)
    ]


def test_backlog_trend_all_dates_zeros_included(db):
    df = dataset("backlog_trend", db)
    assert df.columns[:3] == ["snapshot_date", "stage", "orders"]
    # 4 snapshot dates (03-04 is not one) x 6 open stages = 24 rows
    assert df.height == 24
    expect(df, trend_rows(TREND))
    assert_integer(df, "orders")


def test_backlog_trend_start_end(db):
    # 03-02 <= date <= 03-03
    expect(dataset("backlog_trend", db, start=D2, end=D3), trend_rows({D2: TREND[D2], D3: TREND[D3]}))


def test_backlog_trend_start_between_snapshot_dates(db):
    # start 03-04 is not a snapshot date: only 03-05 remains
    expect(dataset("backlog_trend", db, start=dt.date(2026, 3, 4)), trend_rows({D5: TREND[D5]}))


def test_backlog_trend_end_never_after_as_of(db):
    # as_of 03-02, end 03-05 -> dates 03-01, 03-02 only
    expect(dataset("backlog_trend", db, as_of=D2, end=D5), trend_rows({D1: TREND[D1], D2: TREND[D2]}))


def test_backlog_trend_default_end_is_as_of(db):
    expect(dataset("backlog_trend", db, as_of=D3), trend_rows({d: TREND[d] for d in (D1, D2, D3)}))


def test_backlog_trend_market_filter(db):
    # SOUTH: 03-01 S3 intake, S2 awaiting_appointment; 03-02 S3 intake, S2 scheduled;
    #        03-03 S2 scheduled (S3 cancelled); 03-05 S1 awaiting_network, S2 scheduled
    expect(
        dataset("backlog_trend", db, markets=["SOUTH"]),
        trend_rows(
            {
                D1: [1, 0, 1, 0, 0, 0],
                D2: [1, 0, 0, 1, 0, 0],
                D3: [0, 0, 0, 1, 0, 0],
                D5: [0, 1, 0, 1, 0, 0],
            }
        ),
    )


def test_backlog_trend_filter_matching_nothing_keeps_dates_with_zeros(db):
    # dates are the store's snapshot dates (any market); filters apply to rows only
    df = dataset("backlog_trend", db, scope=["NOWHERE"])
    expect(df, trend_rows({d: [0] * 6 for d in (D1, D2, D3, D5)}))


# ---------------------------------------------------------------- re-ingest


def test_reingest_same_file_changes_nothing(tmp_path):
    db = make_store(tmp_path / "a", ROWS)
    make_store(tmp_path / "b", ROWS, db=db)
    expect(dataset("backlog", db), BACKLOG_0305)
    expect(dataset("backlog_trend", db), trend_rows(TREND))


def test_reingest_of_latest_pair_replaces_its_rows(tmp_path):
    # A new file for (2026-03-05, NORTH) with only N1 (intake) and N7 (activated): every other NORTH row
    # of 03-05 (N2, N3, N4, N5, N6, N8) disappears; SOUTH rows of 03-05 are untouched.
    replacement = """
    snapshot_date | order_id | market | stage     | ordered_at | product    | segment     | stage_entered_at | installed_at | activated_at | mrr
    2026-03-05    | N1       | NORTH  | intake    | 2026-02-28 | fiber_1g   | residential |                  |              |              | 40
    2026-03-05    | N7       | NORTH  | activated | 2026-01-20 | fiber_500m | business    | 2026-02-20       | 2026-02-18   | 2026-02-20   | 80
    """
    db = make_store(tmp_path / "a", ROWS)
    make_store(tmp_path / "b", replacement, db=db)
    expect(
        dataset("backlog", db),
        [
            line("intake", 1, 40.0, 4.0, 1),  # N1, run from 03-01
            line("awaiting_network", 1, 44.5, 45.0, 0),  # S1 only
            zero("awaiting_appointment"),
            line("scheduled", 1, 70.0, 3.0, 0),  # S2
            zero("installed"),
            line("activated", 1, 80.0, 13.0, 1),  # N7
        ],
    )


def test_reingest_of_earlier_pair_changes_later_age_in_stage(tmp_path):
    # A new file for (2026-03-02, NORTH) in which N2 is intake (not awaiting_network): N2's intake run
    # at 03-05 now starts on 03-01 -> age 4 > 3 -> stalled. Ages at 03-05: N1 4, N2 4, N3 3, N4 4
    # -> median 4.0, stalled 3. N6's 03-02 row (scheduled) is re-sent unchanged.
    replacement = """
    snapshot_date | order_id | market | stage     | ordered_at | product  | segment     | mrr
    2026-03-02    | N1       | NORTH  | intake    | 2026-02-28 | fiber_1g | residential | 40
    2026-03-02    | N2       | NORTH  | intake    | 2026-02-27 | fiber_1g | business    |
    2026-03-02    | N6       | NORTH  | scheduled | 2026-02-01 | fiber_1g | residential | 25
    """
    db = make_store(tmp_path / "a", ROWS)
    make_store(tmp_path / "b", replacement, db=db)
    expect(dataset("backlog", db), [line("intake", 4, 130.0, 4.0, 3), *BACKLOG_0305[1:]])
    # trend on 03-02: N1 N2 S3 intake, N6 S2 scheduled, nothing awaiting_network any more
    trend = dataset("backlog_trend", db, start=D2, end=D2)
    expect(trend, trend_rows({D2: [3, 0, 0, 2, 0, 0]}))


def test_reingest_that_deletes_an_intermediate_row_rejoins_the_run(tmp_path):
    # (2026-03-02, NORTH) re-sent WITHOUT N2: N2's awaiting_network row disappears (decision 11), so its rows are
    # intake 03-01, 03-03, 03-05 -> one unbroken intake run from 03-01 -> age 4 > 3 -> stalled.
    # Intake at 03-05: N1 4, N2 4, N3 3, N4 4 -> median 4.0, stalled 3 (same as the re-ingest above).
    replacement = """
    snapshot_date | order_id | market | stage     | ordered_at | product  | segment     | mrr
    2026-03-02    | N1       | NORTH  | intake    | 2026-02-28 | fiber_1g | residential | 40
    2026-03-02    | N6       | NORTH  | scheduled | 2026-02-01 | fiber_1g | residential | 25
    """
    db = make_store(tmp_path / "a", ROWS)
    make_store(tmp_path / "b", replacement, db=db)
    expect(dataset("backlog", db), [line("intake", 4, 130.0, 4.0, 3), *BACKLOG_0305[1:]])
    # on 03-02 only N1 and S3 (intake), N6 and S2 (scheduled) remain
    expect(dataset("backlog_trend", db, start=D2, end=D2), trend_rows({D2: [2, 0, 0, 2, 0, 0]}))


def test_backlog_threshold_zero(db):
    # as_of 03-03 with intake limit 0: N1 (2) is above 0, N2 (0, entered intake that day) is not
    df = dataset("backlog", db, as_of=D3, thresholds={"intake": 0})
    assert df["stalled"].to_list() == [1, 1, 0, 0, 0, 0]


@pytest.mark.parametrize("as_of", [D3, D5])
def test_backlog_stalled_matches_stalled_exceptions(db, as_of):
    # SPEC: backlog `stalled` = orders with the `stalled` exception, per stage
    backlog = dataset("backlog", db, as_of=as_of)
    exceptions = dataset("exceptions", db, as_of=as_of)
    stalled = exceptions.filter(exceptions["rule"] == "stalled")["stage"].to_list()
    assert backlog["stalled"].to_list() == [stalled.count(stage) for stage in OPEN_STAGES]


def test_dataset_accepts_an_open_connection(db):
    # SPEC §3: db is a path or an open DuckDB connection
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        expect(dataset("backlog", con), BACKLOG_0305)
    finally:
        con.close()
