-- unbilled_orders: one row per order installed but not invoiced at S, largest MRR first.
with unbilled as (
    select * from opslens_unbilled($as_of, $markets, $products, $segments)
),
final as (
    select order_id, market, stage, product, segment, installed_at, activated_at, days_since_install, mrr
    from unbilled
)
select * from final order by mrr desc nulls last, days_since_install desc, order_id
