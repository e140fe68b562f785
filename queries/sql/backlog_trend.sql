-- backlog_trend: one row per snapshot date in [start, end] (never after S) and open stage, zeros included.
-- Reads the per-day aggregate stage_days (maintained by ingest), never the snapshot history.
with dates as (
    select * from opslens_trend_dates($as_of, $start_date, $end_date)
),
counts as (
    select snapshot_date, stage, sum(orders) as orders, sum(mrr) as mrr
    from stage_days
    where snapshot_date in (select snapshot_date from dates)
      and opslens_passes($markets, $products, $segments, market, product, segment)
    group by snapshot_date, stage
),
final as (
    select
        d.snapshot_date,
        st.stage,
        coalesce(c.orders, 0)::bigint as orders,
        coalesce(c.mrr, 0)::double as mrr,
        st.stage_index
    from dates d
    cross join stages st
    left join counts c on c.snapshot_date = d.snapshot_date and c.stage = st.stage
    where st.is_open
)
select * from final order by snapshot_date, stage_index
