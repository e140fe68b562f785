-- backlog_flow: one row per snapshot date in [start, end] (never after S) and open stage:
-- inflow = orders in the stage whose previous row was in another stage (or that are new);
-- outflow = orders whose previous row was in the stage and that are now in another stage.
-- "Previous row" is the order's own previous snapshot row, so a day a market skips is no flow.
-- Reads stage_days, which counts rows per (stage, previous_stage) each day.
with dates as (
    select * from opslens_trend_dates($as_of, $start_date, $end_date)
),
moves as (
    select snapshot_date, stage, previous_stage, orders
    from stage_days
    where snapshot_date in (select snapshot_date from dates)
      and previous_stage is distinct from stage
      and opslens_passes($markets, $products, $segments, market, product, segment)
),
inflow as (
    select snapshot_date, stage, sum(orders) as inflow from moves group by all
),
outflow as (
    select snapshot_date, previous_stage as stage, sum(orders) as outflow
    from moves
    where previous_stage is not null
    group by all
),
final as (
    select
        d.snapshot_date,
        st.stage,
        coalesce(i.inflow, 0)::bigint as inflow,
        coalesce(o.outflow, 0)::bigint as outflow,
        (coalesce(i.inflow, 0) - coalesce(o.outflow, 0))::bigint as net_change,
        st.stage_index
    from dates d
    cross join stages st
    left join inflow i on i.snapshot_date = d.snapshot_date and i.stage = st.stage
    left join outflow o on o.snapshot_date = d.snapshot_date and o.stage = st.stage
    where st.is_open
)
select * from final order by snapshot_date, stage_index
