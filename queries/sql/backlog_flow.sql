-- backlog_flow: one row per snapshot date in [start, end] (never after S) and open stage:
-- inflow = orders in the stage whose previous row was in another stage (or that are new);
-- outflow = orders whose previous row was in the stage and that are now in another stage.
-- "Previous row" is the order's own previous snapshot row, so a day a market skips is no flow.
with dates as (
    select distinct snapshot_date
    from snapshots
    where snapshot_date <= $as_of
      and ($start_date is null or snapshot_date >= $start_date)
      and ($end_date is null or snapshot_date <= $end_date)
),
current_rows as (
    select order_id, snapshot_date, stage
    from snapshots
    where snapshot_date in (select snapshot_date from dates)
      and opslens_passes($markets, $products, $segments, market, product, segment)
),
previous_rows as (
    select order_id, next_snapshot_date as snapshot_date, stage as previous_stage
    from snapshots
    where next_snapshot_date in (select snapshot_date from dates)
      and opslens_passes($markets, $products, $segments, market, product, segment)
),
moves as (
    select c.snapshot_date, c.stage, p.previous_stage
    from current_rows c
    left join previous_rows p using (order_id, snapshot_date)
    where p.previous_stage is distinct from c.stage
),
inflow as (
    select snapshot_date, stage, count(*) as inflow from moves group by all
),
outflow as (
    select snapshot_date, previous_stage as stage, count(*) as outflow
    from moves
    where previous_stage is not null
    group by all
),
final as (
    select
        d.snapshot_date,
        st.stage,
        coalesce(i.inflow, 0) as inflow,
        coalesce(o.outflow, 0) as outflow,
        coalesce(i.inflow, 0) - coalesce(o.outflow, 0) as net_change,
        st.stage_index
    from dates d
    cross join stages st
    left join inflow i on i.snapshot_date = d.snapshot_date and i.stage = st.stage
    left join outflow o on o.snapshot_date = d.snapshot_date and o.stage = st.stage
    where st.is_open
)
select * from final order by snapshot_date, stage_index
