-- backlog_changes: one row per market and open stage, then market 'ALL' per stage: open orders and MRR
-- in snap(C) and snap(S) and the change (SPEC §5, "backlog at C and at S"), zeros included, for every
-- market in the filter that reported on C or S. ALL sums only the markets that reported on both dates
-- (reported_both), so a missing extract is not read as the backlog emptying or filling up.
with now_rows as (
    select market, stage, count(*) as orders, sum(coalesce(mrr, 0)) as mrr
    from opslens_snap($as_of, $markets, $products, $segments)
    where is_open
    group by all
),
then_rows as (
    select market, stage, count(*) as orders, sum(coalesce(mrr, 0)) as mrr
    from opslens_snap($compare_to, $markets, $products, $segments)
    where is_open
    group by all
),
reporting as (
    select * from opslens_reporting($as_of, $compare_to)
    where (rows_then > 0 or rows_now > 0) and ($markets is null or list_contains($markets, market))
),
market_rows as (
    select
        r.market,
        st.stage,
        st.stage_index,
        coalesce(t.orders, 0) as orders_then,
        coalesce(n.orders, 0) as orders_now,
        coalesce(t.mrr, 0)::double as mrr_then,
        coalesce(n.mrr, 0)::double as mrr_now,
        r.reported_both,
        0 as is_total
    from reporting r
    cross join stages st
    left join now_rows n on n.market = r.market and n.stage = st.stage
    left join then_rows t on t.market = r.market and t.stage = st.stage
    where st.is_open
),
total_rows as (
    select
        'ALL' as market,
        st.stage,
        st.stage_index,
        coalesce(sum(m.orders_then) filter (where m.reported_both), 0) as orders_then,
        coalesce(sum(m.orders_now) filter (where m.reported_both), 0) as orders_now,
        coalesce(sum(m.mrr_then) filter (where m.reported_both), 0)::double as mrr_then,
        coalesce(sum(m.mrr_now) filter (where m.reported_both), 0)::double as mrr_now,
        coalesce(bool_and(m.reported_both), false) as reported_both,
        1 as is_total
    from stages st
    left join market_rows m using (stage)
    where st.is_open
    group by all
),
final as (
    select
        stage, market,
        orders_then::bigint as orders_then, orders_now::bigint as orders_now,
        (orders_now - orders_then)::bigint as orders_change,
        mrr_then, mrr_now, mrr_now - mrr_then as mrr_change,
        reported_both, is_total, stage_index
    from (select * from market_rows union all by name select * from total_rows)
    where $compare_to is not null
)
select * from final order by is_total, market, stage_index
