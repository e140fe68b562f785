-- clearance_inputs (input of backlog_clearance; queries/forecast.py): per market and open stage,
-- kind 'open': the orders in the stage at S (snapshot_date = S); kind 'left': per snapshot date d of
-- the history window (see opslens_history_start), the orders that left the stage on d (their row at
-- d is in another stage than their previous row: backlog_flow's outflow). Reads stage_days.
with window_start as (
    select opslens_history_start($as_of, $history, $markets) as first_date
),
counts as (
    select snapshot_date, market, stage, previous_stage, orders
    from stage_days
    where snapshot_date >= (select first_date from window_start)
      and snapshot_date <= $as_of
      and opslens_passes($markets, $products, $segments, market, product, segment)
),
open_now as (
    select 'open' as kind, market, stage, snapshot_date, sum(orders)::bigint as orders
    from counts
    where snapshot_date = $as_of
    group by all
),
left_stage as (
    select 'left' as kind, market, previous_stage as stage, snapshot_date, sum(orders)::bigint as orders
    from counts
    where previous_stage is not null and previous_stage <> stage
    group by all
),
final as (
    select x.*
    from (select * from open_now union all select * from left_stage) x
    join stages st on st.stage = x.stage
    where st.is_open
)
select * from final order by kind, market, stage, snapshot_date
