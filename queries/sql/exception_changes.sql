-- exception_changes: one row per (order, rule) in exceptions at S or at the comparison date C (SPEC §5),
-- new first, then resolved, then persisting; within each by rule (SPEC order), market, order.
-- reported_both: the row's market delivered an extract on both dates (else its rows may only say that
-- the extract is missing). Empty when the store has no snapshot before S.
with changed as (
    select * from opslens_exception_changes($bits_now, $bits_then, $markets, $products, $segments)
),
final as (
    select
        c.order_id, c.market, c.rule, c.change, c.stage_then, c.stage_now, c.market_then, c.market_now, c.mrr,
        coalesce(r.reported_both, false) as reported_both,
        c.change_index, c.rule_index
    from changed c
    left join opslens_reporting($as_of, $compare_to) r using (market)
    where ($rules is null or list_contains($rules, rule))
      and $compare_to is not null
)
select * from final order by change_index, rule_index, market, order_id
