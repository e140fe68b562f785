-- snapshot_rows: one row per snapshot date (never after S, within [start, end]) and market,
-- zeros included, so a day a market's extract is missing shows as 0 rows. Reads market_days.
with dates as (
    select * from opslens_trend_dates($as_of, $start_date, $end_date)
),
markets as (
    select distinct market from market_days where ($markets is null or list_contains($markets, market))
),
counts as (
    select snapshot_date, market, rows
    from market_days
    where snapshot_date in (select snapshot_date from dates)
),
final as (
    select d.snapshot_date, m.market, coalesce(c.rows, 0)::bigint as rows
    from dates d
    cross join markets m
    left join counts c on c.snapshot_date = d.snapshot_date and c.market = m.market
)
select * from final order by snapshot_date, market
