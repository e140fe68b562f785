-- install_to_invoice: one row per market in the population or in snap(S), then market = 'ALL'
-- (SPEC §2 "Install to invoice"). start/end filter the population's install date only.
with population as (
    select market, install_to_invoice_days as days
    from opslens_invoiced($as_of, $markets, $products, $segments, $start_date, $end_date)
),
unbilled as (
    select market, coalesce(mrr, 0) as mrr
    from opslens_unbilled($as_of, $markets, $products, $segments)
),
-- per market and over all markets (is_total) in one pass; one quantile call computes all three
durations as (
    select
        market,
        grouping(market) = 1 as is_total,
        count(days) as invoiced_orders,
        quantile_cont(days, [0.5, 0.85, 0.95]) as days_quantiles,
        avg(days) as days_mean
    from population
    group by grouping sets ((market), ())
),
unbilled_totals as (
    select market, grouping(market) = 1 as is_total, count(*) as installed_not_invoiced, sum(mrr) as unbilled_mrr
    from unbilled
    group by grouping sets ((market), ())
),
rows_shown as (
    -- the population's markets read off its per-market rows: reading the population a second time
    -- would make DuckDB keep all its rows (750,000 at a year of a million orders) to read them twice
    select market, false as is_total from durations where not is_total
    union
    select market, false from opslens_snap($as_of, $markets, $products, $segments)
),
with_total as (
    select * from rows_shown
    union all
    select 'ALL', true where exists (select 1 from rows_shown)
),
final as (
    select
        r.market,
        coalesce(d.invoiced_orders, 0) as invoiced_orders,
        d.days_quantiles[1]::double as days_p50,
        d.days_quantiles[2]::double as days_p85,
        d.days_quantiles[3]::double as days_p95,
        d.days_mean::double as days_mean,
        coalesce(u.installed_not_invoiced, 0) as installed_not_invoiced,
        coalesce(u.unbilled_mrr, 0)::double as unbilled_mrr,
        r.is_total
    from with_total r
    -- equality joins (the total rows have market NULL there): an OR here made a nested loop, 5 s at 10,000 markets
    left join durations d on d.is_total = r.is_total and d.market is not distinct from if(r.is_total, null, r.market)
    left join unbilled_totals u on u.is_total = r.is_total and u.market is not distinct from if(r.is_total, null, r.market)
)
select * from final order by is_total, market
