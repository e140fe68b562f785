-- readiness: one row per market with rows in snap(S) (SPEC §2 "Readiness gaps, per market").
with snap as (
    select * from opslens_snap_rules($as_of, $markets, $products, $segments, $stall_limits)
),
per_market as (
    select
        market,
        count(*) filter (where is_open) as open_orders,
        count(*) filter (where stage = 'awaiting_network') as awaiting_network,
        coalesce(sum(mrr) filter (where stage = 'awaiting_network'), 0)::double as awaiting_network_mrr,
        quantile_cont(age_days, 0.5) filter (where stage = 'awaiting_network') as wait_days_p50,
        quantile_cont(age_days, 0.85) filter (where stage = 'awaiting_network') as wait_days_p85,
        count(*) filter (where is_scheduled_before_ready) as scheduled_before_ready
    from snap
    group by market
),
order_to_ready as (
    select market, quantile_cont(network_ready_at::date - ordered_at::date, 0.5) as order_to_ready_days_p50
    from opslens_latest_as_of('ready_rows', $as_of, $markets, $products, $segments)
    where network_ready_at > ordered_at
    group by market
),
footprint_as_of as (
    select market, premises_passed, premises_ready
    from footprint
    where snapshot_date <= $as_of and ($markets is null or list_contains($markets, market))
    qualify row_number() over (partition by market order by snapshot_date desc) = 1
),
final as (
    select
        m.market,
        m.open_orders,
        m.awaiting_network,
        m.awaiting_network / nullif(m.open_orders, 0) as awaiting_network_share,
        m.awaiting_network_mrr,
        m.wait_days_p50::double as wait_days_p50,
        m.wait_days_p85::double as wait_days_p85,
        m.scheduled_before_ready,
        r.order_to_ready_days_p50::double as order_to_ready_days_p50,
        f.premises_passed,
        f.premises_ready,
        f.premises_ready / nullif(f.premises_passed, 0) as ready_share
    from per_market m
    left join order_to_ready r using (market)
    left join footprint_as_of f using (market)
)
select * from final order by market
