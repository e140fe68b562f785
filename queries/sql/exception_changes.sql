-- exception_changes: one row per (order, rule) in exceptions at S or at the comparison date C (SPEC §5),
-- new first, then resolved, then persisting; within each by rule (SPEC order), market, order.
-- reported_both: the row's market delivered an extract on both dates (else its rows may only say that
-- the extract is missing). Empty when the store has no snapshot before S.
with changed as (
    select * from opslens_exception_changes($as_of, $compare_to, $markets, $products, $segments, $stall_limits)
),
final as (
    select
        order_id, market, rule, change, stage_then, stage_now, market_then, market_now, mrr, reported_both,
        change_index, rule_index
    from changed
    where ($rules is null or list_contains($rules, rule))
      and $compare_to is not null
)
select * from final order by change_index, rule_index, market, order_id
