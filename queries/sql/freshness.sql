-- freshness: one row per market in the store: its latest snapshot as of S, rows there, lag, last ingest.
with market_days as (
    select snapshot_date, market, sum(orders) as rows
    from stage_days
    where snapshot_date <= $as_of and ($markets is null or list_contains($markets, market))
    group by snapshot_date, market
),
latest_per_market as (
    select market, snapshot_date as latest_snapshot_date, rows
    from market_days
    qualify row_number() over (partition by market order by snapshot_date desc) = 1
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
        l.rows::bigint as rows,
        $as_of - l.latest_snapshot_date as days_behind,
        i.last_ingest_at
    from latest_per_market l
    left join last_ingest i using (market)
)
select * from final order by market
