-- install_to_invoice_distribution: one row per number of days from install to invoice in the
-- install-to-invoice population (SPEC §2), with how many orders took that long: the histogram.
with population as (
    select install_to_invoice_days as days
    from opslens_invoiced($as_of, $markets, $products, $segments, $start_date, $end_date)
),
final as (
    select days, count(*) as orders
    from population
    group by days
)
select * from final order by days
