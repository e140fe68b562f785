"""Naive baselines the benchmark compares Ops Lens against, measured in the same run.

`SQL` holds, per SPEC dataset, one straightforward query over the raw contract columns of the
snapshot rows: age in stage and each order's latest row are recomputed with window functions on
every call, as someone would write it without Ops Lens's derived columns and aggregates.
`polars_*` do the same eagerly in Polars from the Parquet extracts. Both are checked against
Ops Lens's results by the benchmark, so a fast wrong answer cannot pass.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

FILTER = "($markets is null or list_contains($markets, market))"
_RUN_AGES = f"""
    rows_to_s as (
        select * from snapshots where snapshot_date <= $as_of and {FILTER}
    ),
    flagged as (
        select *,
            (stage is distinct from lag(stage) over (partition by order_id order by snapshot_date))::int as new_run
        from rows_to_s
    ),
    numbered as (
        select *, sum(new_run) over (partition by order_id order by snapshot_date) as run_no from flagged
    ),
    aged as (
        select *, $as_of - coalesce(stage_entered_at::date,
                                    min(snapshot_date) over (partition by order_id, run_no)) as age_in_stage_days
        from numbered
    ),
    snap as (select * from aged where snapshot_date = $as_of)
"""
_LATEST = f"""
    latest as (
        select * from snapshots where snapshot_date <= $as_of and {FILTER}
        qualify row_number() over (partition by order_id order by snapshot_date desc) = 1
    )
"""
OPEN = "('intake','awaiting_network','awaiting_appointment','scheduled','installed','activated')"
LIMIT = """case stage when 'intake' then 3 when 'awaiting_network' then 45 when 'awaiting_appointment' then 7
           when 'scheduled' then 21 when 'installed' then 3 when 'activated' then 7 end"""

SQL: dict[str, str] = {
    "backlog": f"""
        with {_RUN_AGES}
        select stage, count(*) as orders, sum(coalesce(mrr, 0)) as mrr,
               quantile_cont(age_in_stage_days, 0.5) as median_age_days,
               count(*) filter (where age_in_stage_days > {LIMIT}) as stalled
        from snap where stage in {OPEN} group by stage order by stage
    """,
    "backlog_trend": f"""
        select snapshot_date, stage, count(*) as orders from snapshots
        where snapshot_date <= $as_of and stage in {OPEN} and {FILTER}
        group by all order by all
    """,
    "exceptions": f"""
        with {_RUN_AGES},
        days as (select distinct market, snapshot_date from snapshots where snapshot_date <= $as_of),
        prev as (select market, max(snapshot_date) as p from days where snapshot_date < $as_of
                 and market in (select market from days where snapshot_date = $as_of) group by market),
        hits as (
            select order_id, 'stalled' as rule from snap where stage in {OPEN} and age_in_stage_days > {LIMIT}
            union all select order_id, 'overdue_appointment' from snap
                where stage = 'scheduled' and appointment_at::date < $as_of
            union all select order_id, 'missed_appointment' from snap where stage in {OPEN} and missed_appointments >= 1
            union all select order_id, 'repeat_visit' from snap where truck_rolls >= 2
            union all select order_id, 'scheduled_before_ready' from snap where stage in {OPEN}
                and appointment_at is not null and (network_ready_at is null or network_ready_at > appointment_at)
            union all select order_id, 'invoiced_before_activation' from snap
                where invoiced_at is not null and (activated_at is null or activated_at > invoiced_at)
            union all select order_id, 'stage_mismatch' from snap where stage in {OPEN} and (
                (invoiced_at is not null) or (activated_at is not null and stage <> 'activated')
                or (installed_at is not null
                    and stage in ('intake', 'awaiting_network', 'awaiting_appointment', 'scheduled')))
            union all select order_id, 'fallout' from snap where stage in {OPEN} and fallout_code is not null
            union all select s.order_id, 'missing_from_snapshot' from snapshots s join prev on s.market = prev.market
                and s.snapshot_date = prev.p where s.stage in {OPEN}
                and ($markets is null or list_contains($markets, s.market))
                and s.order_id not in (select order_id from snapshots where snapshot_date = $as_of)
        )
        select rule, count(*) as n from hits group by rule order by rule
    """,
    "readiness": f"""
        with {_RUN_AGES}, {_LATEST.strip()},
        per_market as (
            select market, count(*) filter (where stage in {OPEN}) as open_orders,
                   count(*) filter (where stage = 'awaiting_network') as awaiting_network,
                   quantile_cont($as_of - ordered_at::date, 0.5) filter (where stage = 'awaiting_network') as wait_p50
            from snap group by market
        ),
        ready as (
            select market, quantile_cont(network_ready_at::date - ordered_at::date, 0.5) as order_to_ready_days_p50
            from latest where network_ready_at > ordered_at group by market
        )
        select * from per_market left join ready using (market) order by market
    """,
    "install_to_invoice": f"""
        with {_LATEST.strip()}
        select market, count(*) as invoiced_orders,
               quantile_cont(invoiced_at::date - installed_at::date, 0.85) as days_p85
        from latest where installed_at is not null and invoiced_at is not null
        group by market order by market
    """,
    "orders": f"""
        with {_RUN_AGES}
        select order_id, stage, age_in_stage_days from snap order by order_id
    """,
    "freshness": f"""
        with latest_day as (
            select market, max(snapshot_date) as latest from snapshots
            where snapshot_date <= $as_of and {FILTER} group by market
        ),
        sync as (
            select market,
                count(*) filter (where stage in {OPEN}) as open_orders,
                count(*) filter (where stage in {OPEN} and (invoiced_at is not null
                    or (activated_at is not null and stage <> 'activated')
                    or (installed_at is not null
                        and stage in ('intake', 'awaiting_network', 'awaiting_appointment', 'scheduled'))))
                    as stage_mismatch_orders
            from snapshots where snapshot_date = $as_of and {FILTER} group by market
        )
        select l.market, l.latest, count(*) as rows,
            any_value(y.open_orders) as open_orders, any_value(y.stage_mismatch_orders) as stage_mismatch_orders
        from latest_day l join snapshots s on s.market = l.market and s.snapshot_date = l.latest
        left join sync y on y.market = l.market
        group by l.market, l.latest order by l.market
    """,
}


def polars_backlog(files: list[Path], as_of: dt.date, markets: list[str] | None) -> pl.DataFrame:
    """Backlog the naive Polars way: read every row up to S, compute runs, aggregate."""
    rows = pl.read_parquet(files).filter(pl.col("snapshot_date") <= as_of)
    if markets:
        rows = rows.filter(pl.col("market").is_in(markets))
    rows = rows.sort("order_id", "snapshot_date").with_columns(
        (pl.col("stage") != pl.col("stage").shift(1).over("order_id"))
        .fill_null(True)
        .cum_sum()
        .over("order_id")
        .alias("run_no")
    )
    rows = rows.with_columns(pl.col("snapshot_date").min().over("order_id", "run_no").alias("run_start"))
    snap = rows.filter(pl.col("snapshot_date") == as_of).with_columns(
        (pl.lit(as_of) - pl.coalesce(pl.col("stage_entered_at").dt.date(), "run_start")).dt.total_days().alias("age")
    )
    return snap.group_by("stage").agg(pl.len().alias("orders"), pl.col("age").median().alias("median_age_days"))


def polars_latest_rows(files: list[Path], as_of: dt.date, markets: list[str] | None) -> pl.DataFrame:
    """Each order's latest row as of S, the naive Polars way (install to invoice, readiness)."""
    rows = pl.read_parquet(files).filter(pl.col("snapshot_date") <= as_of)
    if markets:
        rows = rows.filter(pl.col("market").is_in(markets))
    latest = rows.sort("snapshot_date").group_by("order_id").last()
    invoiced = latest.filter(pl.col("installed_at").is_not_null() & pl.col("invoiced_at").is_not_null())
    return invoiced.group_by("market").agg(
        pl.len().alias("invoiced_orders"),
        (pl.col("invoiced_at").dt.date() - pl.col("installed_at").dt.date())
        .dt.total_days()
        .quantile(0.85, "linear")
        .alias("days_p85"),
    )


def polars_trend(files: list[Path], as_of: dt.date, markets: list[str] | None) -> pl.DataFrame:
    rows = pl.read_parquet(files, columns=["snapshot_date", "market", "stage"]).filter(pl.col("snapshot_date") <= as_of)
    if markets:
        rows = rows.filter(pl.col("market").is_in(markets))
    return rows.group_by("snapshot_date", "stage").len("orders")


POLARS = {"backlog": polars_backlog, "install_to_invoice": polars_latest_rows, "backlog_trend": polars_trend}


# What changed between C and S (SPEC §5), the straightforward way: the exceptions baseline run at both
# dates and paired, and counts straight off the raw rows of both days.
_HITS = SQL["exceptions"].replace(
    "select rule, count(*) as n from hits group by rule order by rule", "select order_id, rule from hits"
)
_PAIRED = f"""
    select coalesce(n.order_id, t.order_id) as order_id, coalesce(n.rule, t.rule) as rule,
           case when t.order_id is null then 'new' when n.order_id is null then 'resolved' else 'persisting' end
               as change
    from ({_HITS}) n
    full join ({_HITS.replace("$as_of", "$compare_to")}) t on n.order_id = t.order_id and n.rule = t.rule
"""
STAGE_RANK = """case stage when 'intake' then 1 when 'awaiting_network' then 2 when 'awaiting_appointment' then 3
    when 'scheduled' then 4 when 'installed' then 5 when 'activated' then 6 when 'invoiced' then 7 else 8 end"""
SQL |= {
    "exception_changes": f"select change, count(*) as n from ({_PAIRED}) group by change order by change",
    "changes": f"""
        select rule, count(*) filter (where change = 'new') as new,
               count(*) filter (where change = 'resolved') as resolved,
               count(*) filter (where change = 'persisting') as persisting
        from ({_PAIRED}) group by rule order by rule
    """,
    "backlog_changes": f"""
        select market, stage,
               count(*) filter (where snapshot_date = $compare_to) as orders_then,
               count(*) filter (where snapshot_date = $as_of) as orders_now
        from snapshots
        where snapshot_date in ($compare_to, $as_of) and stage in {OPEN} and {FILTER}
        group by all order by all
    """,
    "moved_backwards": f"""
        select n.order_id, t.stage as stage_then, n.stage as stage_now
        from (select *, {STAGE_RANK} as rank from snapshots where snapshot_date = $as_of and {FILTER}) n
        join (select *, {STAGE_RANK} as rank from snapshots where snapshot_date = $compare_to) t using (order_id)
        where n.rank < t.rank
    """,
    "compared_markets": f"""
        select market, count(*) filter (where snapshot_date = $compare_to) as rows_then,
               count(*) filter (where snapshot_date = $as_of) as rows_now
        from snapshots where {FILTER} group by market order by market
    """,
}
