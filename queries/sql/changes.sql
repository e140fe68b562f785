-- changes: one row per market and exception rule, then market 'ALL' per rule (SPEC §5): how many
-- (order, rule) exceptions are new since C, resolved and persisting. Every rule of every market that
-- reported on C or S (or that an order moved to) is listed, zeros included. ALL sums only the markets
-- that reported on both dates, so a missing extract does not show up as a wave of new or resolved
-- exceptions; reported_both says, per market, whether it did (for ALL: whether every market did).
with counts as (
    select
        market,
        rule,
        sum(orders) filter (where change = 'new') as new,
        sum(orders) filter (where change = 'resolved') as resolved,
        sum(orders) filter (where change = 'persisting') as persisting
    from opslens_exception_change_counts($bits_now, $bits_then, $markets, $products, $segments)
    group by all
),
reporting as (
    select * from opslens_reporting($as_of, $compare_to)
),
markets as (
    select market from reporting
    where (rows_then > 0 or rows_now > 0) and ($markets is null or list_contains($markets, market))
    union
    select market from counts
),
per_market as (
    select
        m.market,
        o.rule,
        o.rule_index,
        coalesce(c.new, 0) as new,
        coalesce(c.resolved, 0) as resolved,
        coalesce(c.persisting, 0) as persisting
    from markets m
    cross join opslens_rule_order() o
    left join counts c on c.market = m.market and c.rule = o.rule
),
market_rows as (
    select p.*, coalesce(r.reported_both, false) as reported_both, 0 as is_total
    from per_market p
    left join reporting r using (market)
),
total_rows as (
    select
        'ALL' as market,
        o.rule,
        o.rule_index,
        coalesce(sum(m.new) filter (where m.reported_both), 0) as new,
        coalesce(sum(m.resolved) filter (where m.reported_both), 0) as resolved,
        coalesce(sum(m.persisting) filter (where m.reported_both), 0) as persisting,
        coalesce(bool_and(m.reported_both), false) as reported_both,
        1 as is_total
    from opslens_rule_order() o
    left join market_rows m using (rule)
    group by all
),
final as (
    select
        market, rule, new::bigint as new, resolved::bigint as resolved, persisting::bigint as persisting,
        (new - resolved)::bigint as net_change, reported_both, is_total, rule_index
    from (select * from market_rows union all by name select * from total_rows)
    where $compare_to is not null
)
select * from final order by is_total, market, rule_index
