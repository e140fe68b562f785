-- backlog: one row per open stage at S, in lifecycle order, zeros included (SPEC §2 "Backlog by stage").
with snap as (
    select * from opslens_snap_rules($as_of, $markets, $products, $segments, $stall_limits)
),
per_stage as (
    select
        stage,
        count(*) as orders,
        sum(coalesce(mrr, 0)) as mrr,
        quantile_cont(age_in_stage_days, 0.5) as median_age_days,
        count(*) filter (where is_stalled) as stalled
    from snap
    group by stage
),
final as (
    select
        st.stage,
        coalesce(p.orders, 0) as orders,
        coalesce(p.mrr, 0)::double as mrr,
        p.median_age_days::double as median_age_days,
        coalesce(p.stalled, 0) as stalled,
        st.stage_index
    from stages st
    left join per_stage p using (stage)
    where st.is_open
)
select * from final order by stage_index
