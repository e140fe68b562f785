-- orders: one row per order in snap(S) with its ages and the exception rules it breaks.
with snap as (
    select * from opslens_snap_rules($as_of, $markets, $products, $segments, $stall_limits)
),
final as (
    select
        snapshot_date, order_id, market, stage, ordered_at, product, segment,
        network_ready_at, appointment_at, installed_at, activated_at, invoiced_at,
        cancelled_at, stage_entered_at, missed_appointments, truck_rolls, mrr, fallout_code,
        age_in_stage_days,
        age_days,
        rules as exceptions
    from snap
    where ($stages is null or list_contains($stages, stage))
      and ($rules is null or list_has_any(rules, $rules))
)
select * from final order by order_id
