-- exception_counts: one row per rule and market with exceptions at S, in rule order then market:
-- the orders breaking the rule and their MRR (the Exceptions page's heatmap).
with hits as (
    select rule, rule_index, market, coalesce(mrr, 0) as mrr
    from opslens_exceptions($as_of, $markets, $products, $segments, $stall_limits)
),
final as (
    select rule, market, count(*) as orders, sum(mrr)::double as mrr_at_risk, rule_index
    from hits
    group by rule, rule_index, market
)
select * from final order by rule_index, market
