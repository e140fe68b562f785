-- exception_summary: one row: the Exceptions page's tiles at S. Exception rows (order x rule), orders
-- with exceptions and their MRR (opslens_exception_orders, the one definition), and the rule broken
-- by most orders (ties: rule order; null when there are no exceptions).
with per_order as (
    select count(*) as exception_orders, coalesce(sum(rules_broken), 0) as exception_rows, sum(mrr) as mrr_at_risk
    from opslens_exception_orders($as_of, $markets, $products, $segments, $stall_limits)
),
per_rule as (
    select rule, count(*) as orders
    from opslens_exceptions($as_of, $markets, $products, $segments, $stall_limits)
    group by rule, rule_index
    qualify row_number() over (order by count(*) desc, rule_index) = 1
),
final as (
    select
        p.exception_rows,
        p.exception_orders,
        coalesce(p.mrr_at_risk, 0)::double as mrr_at_risk,
        r.rule as top_rule,
        coalesce(r.orders, 0) as top_rule_orders
    from per_order p
    left join per_rule r on true
)
select * from final
