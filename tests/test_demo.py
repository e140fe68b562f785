"""The demo generator: deterministic, inside the input contract, and realistic enough to exercise every view."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from opslens.contract import OPEN_STAGES, PAST_MILESTONES, SNAPSHOT_COLUMNS, SNAPSHOT_NAMES, STAGES, TERMINAL_STAGES
from opslens.demo import DemoData, generate, write_files

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
LIMITS = dict(zip(OPEN_STAGES, (3, 45, 7, 21, 3, 7), strict=True))  # SPEC default stall limits
EARLY_STAGES = ["intake", "awaiting_network", "awaiting_appointment", "scheduled"]
OPEN = pl.col("stage").is_in(OPEN_STAGES)
DTYPES = {"date": pl.Date, "timestamp": pl.Datetime("us"), "text": pl.String, "money": pl.Float64}


@pytest.fixture(scope="module")
def demo() -> DemoData:
    """The default demo, the one the product owner looks at."""
    return generate()


@pytest.fixture(scope="module")
def snaps(demo: DemoData) -> pl.DataFrame:
    return demo.snapshots


@pytest.fixture(scope="module")
def latest(snaps: pl.DataFrame) -> pl.DataFrame:
    return snaps.filter(pl.col("snapshot_date") == snaps["snapshot_date"].max())


def age_in_stage() -> pl.Expr:
    return (pl.col("snapshot_date") - pl.col("stage_entered_at").dt.date()).dt.total_days()


# --- determinism and sizes ---------------------------------------------------------------------


def test_same_seed_same_frames_and_other_seed_differs() -> None:
    a, b, c = (generate(seed=s, orders=500, days=20, markets=3) for s in (5, 5, 6))
    assert a.snapshots.equals(b.snapshots) and a.footprint.equals(b.footprint)
    assert not a.snapshots.equals(c.snapshots)
    assert not a.footprint.equals(c.footprint)


def test_sizes_are_honoured(demo: DemoData, snaps: pl.DataFrame) -> None:
    dates = snaps["snapshot_date"].unique().sort()
    assert dates.len() == 120 and dates[-1] == date(2026, 11, 20)
    assert dates.diff().drop_nulls().dt.total_days().unique().to_list() == [1]
    assert sorted(snaps["market"].unique()) == ["COAST", "EAST", "METRO", "NORTH", "SOUTH", "WEST"]
    assert demo.footprint.height == 120 * 6
    small = generate(orders=300, days=10, markets=8, end=date(2026, 3, 1))
    assert small.snapshots["snapshot_date"].n_unique() == 10
    assert small.snapshots["snapshot_date"].max() == date(2026, 3, 1)
    assert {"M07", "M08"} <= set(small.footprint["market"])
    assert small.footprint["market"].n_unique() == 8


def test_rejects_empty_sizes() -> None:
    with pytest.raises(ValueError):
        generate(orders=0)


# --- the input contract, as ingest checks it ------------------------------------------------------


def test_columns_and_dtypes(demo: DemoData, snaps: pl.DataFrame) -> None:
    assert tuple(snaps.columns) == SNAPSHOT_NAMES
    for col in SNAPSHOT_COLUMNS:
        dtype = snaps.schema[col.name]
        assert dtype == DTYPES[col.kind] if col.kind in DTYPES else dtype.is_integer(), col.name
    assert demo.footprint.columns == ["snapshot_date", "market", "premises_passed", "premises_ready"]


def test_contract_rules(snaps: pl.DataFrame) -> None:
    assert not snaps.select("snapshot_date", "order_id").is_duplicated().any()
    required = [c.name for c in SNAPSHOT_COLUMNS if c.required]
    assert snaps.select(pl.col(required).null_count()).sum_horizontal().item() == 0
    assert set(snaps["stage"].unique()) == set(STAGES)
    day_end = pl.col("snapshot_date").cast(pl.Datetime("us")) + timedelta(days=1)
    for milestone in PAST_MILESTONES:
        assert snaps.filter(pl.col(milestone) >= day_end).height == 0, milestone
    assert snaps.filter(pl.col("installed_at") < pl.col("ordered_at")).height == 0
    assert min(snaps.select(pl.min("missed_appointments", "truck_rolls", "mrr")).row(0)) >= 0


def test_footprint_rules(demo: DemoData) -> None:
    fp = demo.footprint
    assert not fp.select("snapshot_date", "market").is_duplicated().any()
    assert fp.filter(pl.col("premises_ready") > pl.col("premises_passed")).height == 0
    assert fp["premises_ready"].min() >= 0
    growth = fp.sort("snapshot_date").group_by("market").agg(pl.col("premises_passed", "premises_ready").diff().min())
    assert growth.select(pl.min_horizontal("premises_passed", "premises_ready")).min().item() >= 0


def test_terminal_orders_are_listed_once_and_never_again(snaps: pl.DataFrame) -> None:
    per_order = snaps.group_by("order_id").agg(
        terminal_rows=pl.col("stage").is_in(TERMINAL_STAGES).sum(),
        terminal_date=pl.col("snapshot_date").filter(pl.col("stage").is_in(TERMINAL_STAGES)).first(),
        last_date=pl.col("snapshot_date").max(),
    )
    ended = per_order.filter(pl.col("terminal_rows") > 0)
    assert ended.height > 0 and ended["terminal_rows"].max() == 1
    assert ended.filter(pl.col("terminal_date") != pl.col("last_date")).height == 0


def test_terminal_row_comes_with_its_milestone(snaps: pl.DataFrame) -> None:
    assert snaps.filter((pl.col("stage") == "invoiced") & pl.col("invoiced_at").is_null()).height == 0
    assert snaps.filter((pl.col("stage") == "cancelled") & pl.col("cancelled_at").is_null()).height == 0
    assert snaps.filter(OPEN & pl.col("cancelled_at").is_not_null()).height == 0


# --- extract flaws: a market that skips days, orders that vanish --------------------------------------


def test_last_market_skips_days_but_not_the_latest(snaps: pl.DataFrame) -> None:
    dates = snaps.group_by("market").agg(pl.col("snapshot_date").unique())
    by_market = {row["market"]: set(row["snapshot_date"]) for row in dates.iter_rows(named=True)}
    latest = max(by_market["NORTH"])
    assert 100 <= len(by_market["COAST"]) <= 110
    assert latest in by_market["COAST"] and latest - timedelta(days=1) not in by_market["COAST"]
    assert all(len(d) == 120 for m, d in by_market.items() if m != "COAST")


def test_some_open_orders_vanish_from_the_latest_snapshot(snaps: pl.DataFrame) -> None:
    last = snaps["snapshot_date"].max()
    before = snaps.filter((pl.col("snapshot_date") == last - timedelta(days=1)) & OPEN)
    now = snaps.filter(pl.col("snapshot_date") == last)
    vanished = before.join(now, on="order_id", how="anti")
    assert 3 <= vanished.height <= 20 and set(vanished["market"]) == {"NORTH"}


# --- realism --------------------------------------------------------------------------------------


def test_markets_differ_in_network_maturity(demo: DemoData, latest: pl.DataFrame) -> None:
    share = latest.filter(OPEN).group_by("market").agg((pl.col("stage") == "awaiting_network").mean().alias("s"))
    share = dict(share.iter_rows())
    assert share["METRO"] < 0.08 and share["NORTH"] < 0.08
    assert share["COAST"] > 0.3 and share["WEST"] > 0.2
    ready = demo.footprint.filter(pl.col("snapshot_date") == latest["snapshot_date"][0])
    ready = dict(ready.select("market", pl.col("premises_ready") / pl.col("premises_passed")).iter_rows())
    assert ready["METRO"] > 0.9 and ready["COAST"] < 0.5
    volume = latest.group_by("market").len()["len"]
    assert volume.max() > 1.5 * volume.min()


def test_every_stage_has_stalled_orders(latest: pl.DataFrame) -> None:
    limit = pl.col("stage").replace_strict(LIMITS, default=None)
    stalled = latest.filter(OPEN & (age_in_stage() > limit))
    assert set(stalled["stage"]) == set(OPEN_STAGES)


def test_stage_entered_at_given_on_most_rows(snaps: pl.DataFrame) -> None:
    assert 0.6 < snaps["stage_entered_at"].is_not_null().mean() < 0.8


def test_exception_patterns_are_present(snaps: pl.DataFrame, latest: pl.DataFrame) -> None:
    day = latest["snapshot_date"][0]
    ready_late = pl.col("network_ready_at").is_null() | (pl.col("network_ready_at") > pl.col("appointment_at"))
    patterns = {
        "overdue": (pl.col("stage") == "scheduled") & (pl.col("appointment_at").dt.date() < day),
        "missed": OPEN & (pl.col("missed_appointments") >= 1),
        "repeat_visit": pl.col("truck_rolls") >= 2,
        "scheduled_before_ready": OPEN & pl.col("appointment_at").is_not_null() & ready_late,
        "fallout": OPEN & pl.col("fallout_code").is_not_null(),
        "stuck_fallout": OPEN & pl.col("fallout_code").is_not_null() & (age_in_stage() > 7),
    }
    for name, rule in patterns.items():
        assert latest.filter(rule).height > 0, name
    fallout_share = latest.filter(patterns["fallout"]).height / latest.filter(OPEN).height
    assert 0.01 < fallout_share < 0.08
    assert {"ADDR_MISMATCH", "CREDIT_HOLD", "PORT_FAIL"} <= set(snaps["fallout_code"].drop_nulls())
    lagging = snaps.filter(pl.col("installed_at").is_not_null() & pl.col("stage").is_in(EARLY_STAGES))
    assert lagging.height > 0
    invoiced_early = pl.col("activated_at").is_null() | (pl.col("activated_at") > pl.col("invoiced_at"))
    assert snaps.filter(pl.col("invoiced_at").is_not_null() & invoiced_early).height > 0


def test_missed_appointments_are_rebooked(snaps: pl.DataFrame) -> None:
    missed = snaps.filter(pl.col("missed_appointments") >= 1)["order_id"].unique()
    rebooked = (
        snaps.filter(pl.col("order_id").is_in(missed.implode()))
        .group_by("order_id")
        .agg(pl.col("appointment_at").drop_nulls().n_unique())
    )
    assert rebooked.filter(pl.col("appointment_at") >= 2).height > 0.5 * rebooked.height


def test_billing_lag_has_a_long_tail_and_unbilled_installs(snaps: pl.DataFrame, latest: pl.DataFrame) -> None:
    invoiced = snaps.filter(pl.col("stage") == "invoiced")
    lag = (invoiced["invoiced_at"].dt.date() - invoiced["installed_at"].dt.date()).dt.total_days()
    assert (lag <= 10).mean() > 0.75 and (lag >= 30).sum() > 0
    old = latest.filter(OPEN & (pl.col("installed_at").dt.date() < latest["snapshot_date"][0] - timedelta(days=90)))
    assert old.height > 0


def test_cancellations_from_several_stages(snaps: pl.DataFrame) -> None:
    ids = snaps["order_id"].unique()
    cancelled = snaps.filter(pl.col("stage") == "cancelled")
    assert 0.02 < cancelled.height / ids.len() < 0.1
    earlier = snaps.filter(pl.col("order_id").is_in(cancelled["order_id"].implode()) & OPEN)
    assert earlier["stage"].n_unique() >= 4


def test_products_segments_and_mrr(snaps: pl.DataFrame) -> None:
    assert {"fiber_300m", "fiber_1g", "fiber_2g"} <= set(snaps["product"])
    segments = snaps.group_by("segment").agg(pl.col("order_id").n_unique(), pl.col("mrr").mean())
    share = dict(segments.select("segment", pl.col("order_id") / pl.col("order_id").sum()).iter_rows())
    assert share["residential"] > 0.75 and share["business"] > 0.05
    mean_mrr = dict(segments.select("segment", "mrr").iter_rows())
    assert mean_mrr["business"] > mean_mrr["residential"]
    assert snaps["mrr"].min() >= 40 and snaps["mrr"].max() <= 250


# --- files ----------------------------------------------------------------------------------------


def test_write_files_splits_by_month(tmp_path: Path) -> None:
    data = generate(orders=400, days=45, markets=2, end=date(2026, 10, 10))
    paths = write_files(data, tmp_path / "pq")
    assert [p.name for p in paths] == [
        "snapshots_2026-08.parquet",
        "snapshots_2026-09.parquet",
        "snapshots_2026-10.parquet",
        "footprint.parquet",
    ]
    assert pl.concat([pl.read_parquet(p) for p in paths[:-1]]).equals(data.snapshots)
    assert pl.read_parquet(paths[-1]).equals(data.footprint)
    csvs = write_files(data, tmp_path / "csv", fmt="csv")
    assert csvs[-1].name == "footprint.csv"
    assert pl.concat([read_csv(p) for p in csvs[:-1]]).equals(data.snapshots)
    with pytest.raises(ValueError):
        write_files(data, tmp_path, fmt="xlsx")


def read_csv(path: Path) -> pl.DataFrame:
    """Read a snapshot CSV the way the template describes it."""
    schema = {c.name: DTYPES.get(c.kind, pl.Int32) for c in SNAPSHOT_COLUMNS}
    return pl.read_csv(path, schema=schema)


def test_sample_files_are_the_generator_output() -> None:
    sample = generate(seed=1, orders=150, days=21, markets=3)
    path = SAMPLE / "snapshots.csv"
    assert path.stat().st_size < 1_000_000 and (SAMPLE / "footprint.csv").stat().st_size < 1_000_000
    assert read_csv(path).equals(sample.snapshots), "regenerate data/sample (see its README)"
    footprint = pl.read_csv(SAMPLE / "footprint.csv", schema=dict(sample.footprint.schema))
    assert footprint.equals(sample.footprint)
    first_row = path.read_text().splitlines()[1]
    assert ".000" not in first_row and "T" not in first_row.split(",")[4]
