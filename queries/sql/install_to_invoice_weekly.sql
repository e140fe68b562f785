-- install_to_invoice_weekly: one row per install week (Monday) of the population, with the segments,
-- its sample size and whether its percentiles can be trusted yet:
--   uninvoiced_orders  installed that week, in snap(S), not invoiced yet (the slow ones still to come)
--   invoiced_share     invoiced_orders / (invoiced_orders + uninvoiced_orders)
--   complete           the week began on or after the store's first snapshot (earlier installs are in
--                      the population only if they were still unbilled when snapshots began) and at
--                      least 95% of its orders are invoiced (until then its P95, and its other
--                      percentiles, can still grow as the slow orders are invoiced)
with population as (
    select * from opslens_invoiced($as_of, $markets, $products, $segments, $start_date, $end_date)
),
weekly as (
    select
        install_week,
        count(*) as invoiced_orders,
        quantile_cont(install_to_invoice_days, [0.5, 0.85, 0.95]) as days_quantiles,
        quantile_cont(install_to_activation_days, 0.5)::double as install_to_activation_p50,
        quantile_cont(activation_to_invoice_days, 0.5)::double as activation_to_invoice_p50
    from population
    group by install_week
),
waiting as (
    select date_trunc('week', installed_at)::date as install_week, count(*) as uninvoiced_orders
    from opslens_unbilled($as_of, $markets, $products, $segments)
    where ($start_date is null or installed_at::date >= $start_date)
      and ($end_date is null or installed_at::date <= $end_date)
    group by all
),
history as (
    select min(snapshot_date) as first_snapshot from market_days
),
final as (
    select
        w.install_week,
        w.invoiced_orders,
        w.days_quantiles[1]::double as days_p50,
        w.days_quantiles[2]::double as days_p85,
        w.days_quantiles[3]::double as days_p95,
        w.install_to_activation_p50,
        w.activation_to_invoice_p50,
        coalesce(u.uninvoiced_orders, 0) as uninvoiced_orders,
        w.invoiced_orders / (w.invoiced_orders + coalesce(u.uninvoiced_orders, 0)) as invoiced_share,
        w.install_week >= h.first_snapshot
            and w.invoiced_orders >= 0.95 * (w.invoiced_orders + coalesce(u.uninvoiced_orders, 0)) as complete
    from weekly w
    left join waiting u using (install_week)
    cross join history h
)
select * from final order by install_week
