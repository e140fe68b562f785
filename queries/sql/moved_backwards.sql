-- moved_backwards: one row per order in snap(S) whose stage at S is earlier in the lifecycle than its
-- stage in its row at C (SPEC §5), most stages back first, then market, order. The order's row at S
-- passes the filters; its row at C is taken whatever its market then (market_then shows it).
with now_rows as (
    select order_id, market, stage, stage_index, age_in_stage_days, mrr, product, segment
    from opslens_snap($as_of, $markets, $products, $segments)
),
then_rows as (
    select s.order_id, s.market, s.stage, st.stage_index
    from snapshots s
    join stages st using (stage)
    where s.snapshot_date = $compare_to
),
final as (
    select
        n.order_id,
        n.market,
        t.stage as stage_then,
        n.stage as stage_now,
        $as_of - $compare_to as days_between,
        t.stage_index - n.stage_index as stages_back,
        t.market as market_then,
        n.age_in_stage_days,
        n.mrr,
        n.product,
        n.segment,
        $compare_to::date as compare_to,
        $as_of::date as as_of
    from now_rows n
    join then_rows t using (order_id)
    where n.stage_index < t.stage_index
      and $compare_to is not null
)
select * from final order by stages_back desc, market, order_id
