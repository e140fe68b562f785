-- install_to_invoice: one row per market in the population or in snap(S), then market = 'ALL'
-- (SPEC §2 "Install to invoice"). start/end filter the population's install date only.
with population as (
    select market, install_to_invoice_days as days
    from opslens_invoiced($as_of, $markets, $products, $segments, $start_date, $end_date)
),
snap as (
    select * from opslens_snap($as_of, $markets, $products, $segments)
),
unbilled as (
    select market, order_id, coalesce(mrr, 0) as mrr
    from opslens_unbilled($as_of, $markets, $products, $segments)
),
markets as (
    select market from population
    union
    select market from snap
),
per_market as (
    select
        m.market,
        false as is_total,
        count(p.days) as invoiced_orders,
        quantile_cont(p.days, 0.5) as days_p50,
        quantile_cont(p.days, 0.85) as days_p85,
        quantile_cont(p.days, 0.95) as days_p95,
        avg(p.days) as days_mean
    from markets m
    left join population p using (market)
    group by m.market
),
overall as (
    select
        'ALL' as market,
        true as is_total,
        count(days) as invoiced_orders,
        quantile_cont(days, 0.5) as days_p50,
        quantile_cont(days, 0.85) as days_p85,
        quantile_cont(days, 0.95) as days_p95,
        avg(days) as days_mean
    from population
    having exists (select 1 from markets)
),
unbilled_per_market as (
    select market, false as is_total, count(*) as installed_not_invoiced, sum(mrr) as unbilled_mrr
    from unbilled
    group by market
    union all
    select 'ALL', true, count(*), sum(mrr) from unbilled
),
final as (
    select
        t.market,
        t.invoiced_orders,
        t.days_p50::double as days_p50,
        t.days_p85::double as days_p85,
        t.days_p95::double as days_p95,
        t.days_mean::double as days_mean,
        coalesce(u.installed_not_invoiced, 0) as installed_not_invoiced,
        coalesce(u.unbilled_mrr, 0)::double as unbilled_mrr,
        t.is_total
    from (select * from per_market union all select * from overall) t
    left join unbilled_per_market u using (market, is_total)
)
select * from final order by is_total, market
