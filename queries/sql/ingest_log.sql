-- ingest_log: one row per ingest, newest first: when, which files, what it loaded, or why it was rejected.
with final as (
    select
        ingest_id,
        started_at,
        finished_at,
        outcome,
        array_to_string(files, ', ') as files,
        snapshot_rows,
        footprint_rows,
        message
    from ingests
)
select * from final order by ingest_id desc
