-- compared_markets: one row per market of the store (within the market filter): its extract's rows on
-- the comparison date C and on S, and whether it reported on both, so the changes of a market whose
-- extract is missing on one date are read as such (SPEC §5). Market filter only, like freshness.
with final as (
    select
        market,
        $compare_to::date as compare_to,
        $as_of::date as as_of,
        rows_then::bigint as rows_then,
        rows_now::bigint as rows_now,
        reported_both
    from opslens_reporting($as_of, $compare_to)
    where ($markets is null or list_contains($markets, market))
      and $compare_to is not null
)
select * from final order by market
