-- ingest_log: one row per ingest, newest first: when, which files, what it loaded, or why it was rejected.
-- Under a scope (SPEC §4) only the ingests that brought rows of one of the user's markets are listed
-- (a rejected ingest brought none), and their row counts are those markets' rows. The market filter
-- does not apply: the log is about the store, not a view of it.
with scoped_rows as (
    select
        ingest_id,
        sum(rows) filter (where kind = 'snapshots') as snapshot_rows,
        sum(rows) filter (where kind = 'footprint') as footprint_rows
    from ingest_contents
    where list_contains($scope, market)
    group by ingest_id
),
visible as (
    select i.* replace (
        coalesce(s.snapshot_rows, 0)::bigint as snapshot_rows,
        coalesce(s.footprint_rows, 0)::bigint as footprint_rows
    )
    from ingests i
    join scoped_rows s using (ingest_id)
    where $scope is not null
    union all
    select * from ingests where $scope is null
),
final as (
    select
        ingest_id,
        started_at,
        finished_at,
        outcome,
        array_to_string(files, ', ') as files,
        snapshot_rows,
        footprint_rows,
        message
    from visible
)
select * from final order by ingest_id desc
