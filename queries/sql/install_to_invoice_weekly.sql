-- install_to_invoice_weekly: one row per install week (Monday) of the population, with the segments.
with population as (
    select * from opslens_invoiced($as_of, $markets, $products, $segments, $start_date, $end_date)
),
final as (
    select
        install_week,
        count(*) as invoiced_orders,
        quantile_cont(install_to_invoice_days, 0.5)::double as days_p50,
        quantile_cont(install_to_invoice_days, 0.85)::double as days_p85,
        quantile_cont(install_to_invoice_days, 0.95)::double as days_p95,
        quantile_cont(install_to_activation_days, 0.5)::double as install_to_activation_p50,
        quantile_cont(activation_to_invoice_days, 0.5)::double as activation_to_invoice_p50
    from population
    group by install_week
)
select * from final order by install_week
