-- market_attention: one row per market with rows in snap(S), ranked by the share of its open
-- orders that break at least one exception rule, with the rule that accounts for most of them.
with snap as (
    select * from opslens_snap($as_of, $markets, $products, $segments)
),
hits as (
    select * from opslens_exceptions($as_of, $markets, $products, $segments, $stall_limits)
    where rule <> 'missing_from_snapshot' and stage in (select stage from stages where is_open)
),
per_market as (
    select market, count(*) filter (where is_open) as open_orders
    from snap
    group by market
),
orders_with_exceptions as (
    select market, order_id, any_value(coalesce(mrr, 0)) as mrr
    from hits
    group by market, order_id
),
exception_totals as (
    select market, count(*) as exception_orders, sum(mrr) as mrr_at_risk
    from orders_with_exceptions
    group by market
),
rule_counts as (
    select market, rule, rule_index, count(*) as orders
    from hits
    group by all
),
top_rule as (
    select market, rule as top_rule, orders as top_rule_orders
    from rule_counts
    qualify row_number() over (partition by market order by orders desc, rule_index) = 1
),
final as (
    select
        m.market,
        m.open_orders,
        coalesce(e.exception_orders, 0) as exception_orders,
        coalesce(e.exception_orders, 0) / nullif(m.open_orders, 0) as exception_share,
        coalesce(e.mrr_at_risk, 0)::double as mrr_at_risk,
        t.top_rule,
        coalesce(t.top_rule_orders, 0) as top_rule_orders
    from per_market m
    left join exception_totals e using (market)
    left join top_rule t using (market)
)
select
    rank() over (order by exception_share desc nulls last, exception_orders desc, market) as attention_rank,
    *
from final
order by attention_rank, market
