-- freshness: one row per market in the store: its latest snapshot as of S, rows there, lag, last ingest,
-- then whether its systems agree at S: open orders and those whose stage is behind their milestones
-- (the `stage_mismatch` exception, defined once in _macros.sql).
-- Extracts arrive per market, so only the market filter applies here (not products or segments).
with latest_per_market as (
    select market, snapshot_date as latest_snapshot_date, rows
    from market_days
    where snapshot_date <= $as_of and ($markets is null or list_contains($markets, market))
    qualify row_number() over (partition by market order by snapshot_date desc) = 1
),
last_ingest as (
    select c.market, max(i.finished_at) as last_ingest_at
    from ingest_contents c
    join ingests i using (ingest_id)
    where c.kind = 'snapshots' and i.outcome = 'loaded'
    group by c.market
),
sync_at_s as (
    select
        market,
        count(*) filter (where is_open) as open_orders,
        count(*) filter (where is_stage_mismatch) as stage_mismatch_orders
    from opslens_snap_rules($as_of, $markets, null, null, $stall_limits)
    group by market
),
final as (
    select
        l.market,
        l.latest_snapshot_date,
        l.rows::bigint as rows,
        $as_of - l.latest_snapshot_date as days_behind,
        i.last_ingest_at,
        coalesce(y.open_orders, 0)::bigint as open_orders,
        coalesce(y.stage_mismatch_orders, 0)::bigint as stage_mismatch_orders,
        -- of the open orders at S; 0 when the market reported only terminal orders, NULL when it
        -- has no rows at S (nothing to judge: see days_behind)
        case
            when l.latest_snapshot_date <> $as_of then null
            when coalesce(y.open_orders, 0) = 0 then 0.0
            else y.stage_mismatch_orders / y.open_orders
        end::double as stage_mismatch_share
    from latest_per_market l
    left join last_ingest i using (market)
    left join sync_at_s y using (market)
)
select * from final order by market
