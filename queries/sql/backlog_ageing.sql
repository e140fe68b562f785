-- backlog_ageing: one row per open stage and age-in-stage bucket at S, zeros included.
with snap as (
    select * from opslens_snap($as_of, $markets, $products, $segments) where is_open
),
buckets(bucket, bucket_index, min_days, max_days) as (
    values ('0-2 days', 1, null, 2), ('3-7 days', 2, 3, 7), ('8-14 days', 3, 8, 14),
           ('15-30 days', 4, 15, 30), ('31-60 days', 5, 31, 60), ('over 60 days', 6, 61, null)
),
counts as (
    select s.stage, b.bucket, count(*) as orders, sum(coalesce(s.mrr, 0)) as mrr
    from snap s
    join buckets b
      on (b.min_days is null or s.age_in_stage_days >= b.min_days)
     and (b.max_days is null or s.age_in_stage_days <= b.max_days)
    group by s.stage, b.bucket
),
final as (
    select
        st.stage,
        b.bucket,
        coalesce(c.orders, 0) as orders,
        coalesce(c.mrr, 0)::double as mrr,
        st.stage_index,
        b.bucket_index
    from stages st
    cross join buckets b
    left join counts c on c.stage = st.stage and c.bucket = b.bucket
    where st.is_open
)
select * from final order by stage_index, bucket_index
