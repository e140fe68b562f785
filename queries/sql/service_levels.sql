-- service_levels: one row per market (with rows at S or leavers in the window) and open stage, then
-- market = 'ALL' per open stage: of the orders that left the stage in S's history window
-- (opslens_stage_leavers), how many, and the days in stage within which 50/85/95% of them had left
-- (quantile_cont, so linear interpolation as everywhere in the SPEC). Null where none left.
with leavers as (
    select * from opslens_stage_leavers($as_of, $history, $markets, $products, $segments)
),
per_group as (
    select
        market,
        stage,
        grouping(market) = 1 as is_total,
        count(*) as left_orders,
        quantile_cont(days_in_stage, [0.5, 0.85, 0.95]) as days_quantiles
    from leavers
    group by grouping sets ((market, stage), (stage))
),
markets_shown as (
    select market, false as is_total, market as group_market from leavers
    union
    select market, false, market from market_days
    where snapshot_date = $as_of and ($markets is null or list_contains($markets, market))
),
with_total as (
    select * from markets_shown
    union all
    select 'ALL', true, null where exists (select 1 from markets_shown)
),
final as (
    select
        m.market,
        st.stage,
        coalesce(g.left_orders, 0)::bigint as left_orders,
        g.days_quantiles[1]::double as sle_p50_days,
        g.days_quantiles[2]::double as sle_p85_days,
        g.days_quantiles[3]::double as sle_p95_days,
        ($as_of - opslens_history_start($as_of, $history, $markets) + 1)::bigint as history_days,
        m.is_total,
        st.stage_index
    from with_total m
    cross join stages st
    left join per_group g  -- equalities only, so a hash join however many markets (ALL's group has no market)
      on g.stage = st.stage and g.is_total = m.is_total and g.market is not distinct from m.group_market
    where st.is_open
)
select * from final order by is_total, market, stage_index
