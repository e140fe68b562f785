-- ageing_orders: one row per open order in snap(S) (optionally only $stages), with its age in stage
-- and its stage's service level expectation over the same filters (the 'ALL' row of service_levels):
-- sle_band says where the age lies ('within P50', 'P50 to P85', 'P85 to P95', 'beyond P95'; null where
-- no order left the stage in the window) and beyond_sle_85 marks the orders about to breach: older in
-- the stage than 85% of the orders that left it. Oldest first within each stage.
with leavers as (
    select * from opslens_stage_leavers($as_of, $history, $markets, $products, $segments)
),
sle as (
    select stage, quantile_cont(days_in_stage, [0.5, 0.85, 0.95]) as q
    from leavers
    group by stage
),
open_orders as (
    select order_id, market, stage, product, segment, age_in_stage_days, age_days, mrr, stage_index
    from opslens_snap($as_of, $markets, $products, $segments)
    where is_open and ($stages is null or list_contains($stages, stage))
),
final as (
    select
        o.order_id, o.market, o.stage, o.product, o.segment, o.age_in_stage_days, o.age_days, o.mrr,
        s.q[1]::double as sle_p50_days,
        s.q[2]::double as sle_p85_days,
        s.q[3]::double as sle_p95_days,
        case
            when s.q is null then null
            when o.age_in_stage_days > s.q[3] then 'beyond P95'
            when o.age_in_stage_days > s.q[2] then 'P85 to P95'
            when o.age_in_stage_days > s.q[1] then 'P50 to P85'
            else 'within P50'
        end as sle_band,
        coalesce(o.age_in_stage_days > s.q[2], false) as beyond_sle_85,
        o.stage_index
    from open_orders o
    left join sle s using (stage)
)
select * from final order by stage_index, age_in_stage_days desc, order_id
