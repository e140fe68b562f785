-- install_to_invoice_orders: one row per order in the install-to-invoice population, slowest first.
with population as (
    select * from opslens_invoiced($as_of, $markets, $products, $segments, $start_date, $end_date)
),
final as (
    select
        order_id, market, product, segment, installed_at, activated_at, invoiced_at,
        install_to_invoice_days, install_to_activation_days, activation_to_invoice_days, install_week, mrr
    from population
)
select * from final order by install_to_invoice_days desc, order_id
