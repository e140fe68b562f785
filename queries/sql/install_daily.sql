-- install_daily (input of install_forecast; queries/forecast.py): one row per as-of date A in
-- $as_of_dates, market and install day d in (A - $window, A] with installs: the orders whose latest
-- row as of A passes the filters and has date(installed_at) = d. Each order counts once. An order
-- installed on d is listed on d or later (installed_at is never after its snapshot date), so its
-- latest row as of A is dated in the window too: only rows from $first_date on are read.
with as_of_dates as (
    select unnest($as_of_dates::date[]) as as_of_date
),
installed as (  -- rows grouped by what decides where they count, before meeting every as-of date
    select market, installed_at::date as install_date, snapshot_date, next_snapshot_date, count(*) as orders
    from snapshots
    where installed_at is not null
      and snapshot_date >= $first_date
      and snapshot_date <= $last_date
      and installed_at::date >= $first_date
      and opslens_passes($markets, $products, $segments, market, product, segment)
    group by all
),
final as (
    select a.as_of_date, i.market, i.install_date, sum(i.orders)::bigint as installs
    from installed i
    join as_of_dates a
      on i.snapshot_date <= a.as_of_date
     and (i.next_snapshot_date is null or i.next_snapshot_date > a.as_of_date)
     and i.install_date > a.as_of_date - $window
     and i.install_date <= a.as_of_date
    group by all
)
select * from final order by as_of_date, market, install_date
