-- orders: one row per order in snap(S) with its ages and the exception rules it breaks.
with snap as (
    select * from opslens_snap($as_of, $markets, $products, $segments)
),
rules_per_order as (
    select order_id, list(rule order by rule_index) as exceptions
    from opslens_exceptions($as_of, $markets, $products, $segments, $stall_limits)
    where rule <> 'missing_from_snapshot'
    group by order_id
),
final as (
    select
        s.snapshot_date, s.order_id, s.market, s.stage, s.ordered_at, s.product, s.segment,
        s.network_ready_at, s.appointment_at, s.installed_at, s.activated_at, s.invoiced_at,
        s.cancelled_at, s.stage_entered_at, s.missed_appointments, s.truck_rolls, s.mrr, s.fallout_code,
        s.age_in_stage_days,
        s.age_days,
        coalesce(r.exceptions, []::varchar[]) as exceptions
    from snap s
    left join rules_per_order r using (order_id)
    where ($stages is null or list_contains($stages, s.stage))
      and ($rules is null or list_has_any(coalesce(r.exceptions, []::varchar[]), $rules))
)
select * from final order by order_id
