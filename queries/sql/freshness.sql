-- freshness: one row per market in the store: its latest snapshot as of S, rows there, lag, last ingest,
-- then whether its systems agree at S: open orders and those whose stage is behind their milestones
-- (the `stage_mismatch` exception, defined once in _macros.sql).
-- Extracts arrive per market, so only the market filter applies here (not products or segments).
with market_days as (
    select snapshot_date, market, sum(orders) as rows
    from stage_days
    where snapshot_date <= $as_of and ($markets is null or list_contains($markets, market))
    group by snapshot_date, market
),
latest_per_market as (
    select market, snapshot_date as latest_snapshot_date, rows
    from market_days
    qualify row_number() over (partition by market order by snapshot_date desc) = 1
),
last_ingest as (
    select c.market, max(i.finished_at) as last_ingest_at
    from ingest_contents c
    join ingests i using (ingest_id)
    where c.kind = 'snapshots' and i.outcome = 'loaded'
    group by c.market
),
open_at_s as (
    select d.market, sum(d.orders) as open_orders
    from stage_days d
    join stages st using (stage)
    where d.snapshot_date = $as_of and st.is_open
      and ($markets is null or list_contains($markets, d.market))
    group by d.market
),
stage_mismatch as (
    select market, count(distinct order_id) as stage_mismatch_orders
    from opslens_exceptions($as_of, $markets, null, null, $stall_limits)
    where rule = 'stage_mismatch'
    group by market
),
final as (
    select
        l.market,
        l.latest_snapshot_date,
        l.rows::bigint as rows,
        $as_of - l.latest_snapshot_date as days_behind,
        i.last_ingest_at,
        coalesce(o.open_orders, 0)::bigint as open_orders,
        coalesce(m.stage_mismatch_orders, 0)::bigint as stage_mismatch_orders,
        -- of the open orders at S; 0 when the market reported only terminal orders, NULL when it
        -- has no rows at S (nothing to judge: see days_behind)
        case
            when l.latest_snapshot_date <> $as_of then null
            when coalesce(o.open_orders, 0) = 0 then 0.0
            else coalesce(m.stage_mismatch_orders, 0) / o.open_orders
        end::double as stage_mismatch_share
    from latest_per_market l
    left join last_ingest i using (market)
    left join open_at_s o using (market)
    left join stage_mismatch m using (market)
)
select * from final order by market
