-- exception_summary: one row: the Exceptions page's tiles at S. Exception rows (order x rule), orders
-- with exceptions and their MRR (opslens_exception_orders, the one definition), and the rule broken
-- by most orders (ties: rule order; null when there are no exceptions).
with per_order as (
    select count(*) as exception_orders, coalesce(sum(rules_broken), 0) as exception_rows, sum(mrr) as mrr_at_risk
    from opslens_exception_orders($as_of, $markets, $products, $segments, $stall_limits)
),
rule_combinations as (
    -- the exception rows as bits (opslens_exception_bits), counted per combination of rules, so each
    -- rule is looked at once per combination rather than once per row of a second opslens_exceptions
    select bits, count(*) as rows_with_bits
    from opslens_exception_bits($bits_now, $markets, $products, $segments)
    group by bits
),
per_rule as (
    select r.rule, sum(c.rows_with_bits)::bigint as orders
    from rule_combinations c
    join opslens_rules_of_bits() r on r.bits = c.bits
    group by r.rule, r.rule_index
    qualify row_number() over (order by sum(c.rows_with_bits) desc, r.rule_index) = 1
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
