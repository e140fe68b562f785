-- market_attention: one row per market with rows in snap(S), ranked by the share of its open
-- orders that break at least one exception rule, with the rule that accounts for most of them.
with snap as (
    select market, is_open, coalesce(mrr, 0) as mrr, rules
    from opslens_snap_rules($as_of, $markets, $products, $segments, $stall_limits)
),
per_market as (
    select
        market,
        count(*) filter (where is_open) as open_orders,
        count(*) filter (where is_open and len(rules) > 0) as exception_orders,
        sum(mrr) filter (where is_open and len(rules) > 0) as mrr_at_risk
    from snap
    group by market
),
rule_counts as (
    select market, rule, count(*) as orders
    from (select market, unnest(rules) as rule from snap where is_open)
    group by all
),
top_rule as (
    select c.market, c.rule as top_rule, c.orders as top_rule_orders
    from rule_counts c
    join opslens_rule_order() o using (rule)
    qualify row_number() over (partition by c.market order by c.orders desc, o.rule_index) = 1
),
final as (
    select
        p.market,
        p.open_orders,
        p.exception_orders,
        p.exception_orders / nullif(p.open_orders, 0) as exception_share,
        coalesce(p.mrr_at_risk, 0)::double as mrr_at_risk,
        t.top_rule,
        coalesce(t.top_rule_orders, 0) as top_rule_orders
    from per_market p
    left join top_rule t using (market)
)
select
    rank() over (order by exception_share desc nulls last, exception_orders desc, market) as attention_rank,
    *
from final
order by attention_rank, market
