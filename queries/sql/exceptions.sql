-- exceptions: one row per order and rule at S, ordered by rule (SPEC order), market, order.
with hits as (
    select * from opslens_exceptions($as_of, $markets, $products, $segments, $stall_limits)
),
final as (
    select order_id, market, stage, rule, age_in_stage_days, mrr, product, segment, age_days, rule_index
    from hits
    where ($rules is null or list_contains($rules, rule))
      and ($stages is null or list_contains($stages, stage))
)
select * from final order by rule_index, market, order_id
