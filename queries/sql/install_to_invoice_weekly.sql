-- install_to_invoice_weekly: one row per install week (Monday) of the population, with the segments.
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
final as (
    select
        install_week,
        invoiced_orders,
        days_quantiles[1]::double as days_p50,
        days_quantiles[2]::double as days_p85,
        days_quantiles[3]::double as days_p95,
        install_to_activation_p50,
        activation_to_invoice_p50
    from weekly
)
select * from final order by install_week
