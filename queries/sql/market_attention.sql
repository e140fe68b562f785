-- market_attention: one row per market with rows in snap(S) (or orders missing from it), ranked by the
-- share of its orders that have exceptions, with the rule that accounts for most of them.
-- "Orders with exceptions" is the one definition of opslens_exception_orders (as on the headline tile
-- and the Exceptions page); `orders` counts what the rules judged: the market's rows of snap(S) plus
-- its orders missing from it, so the share is of the same population.
with hits as (
    -- opslens_exceptions' rows as bits (opslens_exception_bits): each exception row's rules are counted
    -- per market and combination of rules, so the rules are looked at once per combination, not per row
    select market, bits, count(*) as rows_with_bits
    from opslens_exception_bits($bits_now, $markets, $products, $segments)
    group by all
),
per_rule as (
    select h.market, r.rule, r.rule_index, sum(h.rows_with_bits)::bigint as orders
    from hits h
    join opslens_rules_of_bits() r on r.bits = h.bits
    group by all
),
with_exceptions as (
    select market, count(*) as exception_orders, sum(mrr) as mrr_at_risk
    from opslens_exception_orders($as_of, $markets, $products, $segments, $stall_limits)
    group by market
),
snapshot_orders as (
    select market, count(*) as snapshot_orders, count(*) filter (where is_open) as open_orders
    from opslens_snap($as_of, $markets, $products, $segments)
    group by market
),
missing_orders as (
    select market, orders as missing_orders
    from per_rule
    where rule = 'missing_from_snapshot'
),
top_rule as (
    select market, rule as top_rule, orders as top_rule_orders
    from per_rule
    qualify row_number() over (partition by market order by orders desc, rule_index) = 1
),
markets as (
    select market from snapshot_orders union select market from with_exceptions
),
final as (
    select
        m.market,
        coalesce(s.snapshot_orders, 0) + coalesce(x.missing_orders, 0) as orders,
        coalesce(s.open_orders, 0) as open_orders,
        coalesce(w.exception_orders, 0) as exception_orders,
        coalesce(w.exception_orders, 0)
            / nullif(coalesce(s.snapshot_orders, 0) + coalesce(x.missing_orders, 0), 0) as exception_share,
        coalesce(w.mrr_at_risk, 0)::double as mrr_at_risk,
        t.top_rule,
        coalesce(t.top_rule_orders, 0) as top_rule_orders
    from markets m
    left join snapshot_orders s using (market)
    left join missing_orders x using (market)
    left join with_exceptions w using (market)
    left join top_rule t using (market)
)
select
    rank() over (order by exception_share desc nulls last, exception_orders desc, market) as attention_rank,
    *
from final
order by attention_rank, market
