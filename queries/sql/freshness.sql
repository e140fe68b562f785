-- freshness: one row per market in the store: its latest snapshot as of S, rows there, lag, last ingest.
with latest_per_market as (
    select market, max(snapshot_date) as latest_snapshot_date
    from snapshots
    where snapshot_date <= $as_of and ($markets is null or list_contains($markets, market))
    group by market
),
rows_there as (
    select s.market, count(*) as rows
    from snapshots s
    join latest_per_market l on s.market = l.market and s.snapshot_date = l.latest_snapshot_date
    group by s.market
),
last_ingest as (
    select c.market, max(i.finished_at) as last_ingest_at
    from ingest_contents c
    join ingests i using (ingest_id)
    where c.kind = 'snapshots' and i.outcome = 'loaded'
    group by c.market
),
final as (
    select
        l.market,
        l.latest_snapshot_date,
        r.rows,
        $as_of - l.latest_snapshot_date as days_behind,
        i.last_ingest_at
    from latest_per_market l
    join rows_there r using (market)
    left join last_ingest i using (market)
)
select * from final order by market
