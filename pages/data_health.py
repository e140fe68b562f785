"""Data health: is every market's extract in, how many rows arrived, and what the ingests did."""

import polars as pl
import streamlit as st

from opslens import charts
from opslens.app import data, state, widgets

filters = state.current_filters()
st.title("Data health")
st.caption(
    f"Freshness of each market's extract and the ingest log · {state.describe(filters)} "
    "(product and segment filters do not apply: extracts arrive per market)"
)

freshness = data.dataset("freshness", filters)
if widgets.empty_state(freshness, "markets", filters):
    st.stop()

dates, _options = data.choices()
state.date_range_filter(dates, "Snapshots")
range_filters = state.current_filters(with_dates=True)
rows = data.dataset("snapshot_rows", range_filters)

late = freshness.filter(freshness["days_behind"] > 0)
gaps = (
    rows.filter(pl.col("rows") == 0)
    .group_by("market", maintain_order=True)
    .agg(pl.len().alias("days"), pl.col("snapshot_date").max().alias("latest"))
)
if late.height:
    st.warning(
        f"{late.height} market(s) have no rows at the selected snapshot: "
        + ", ".join(
            f"{r['market']} (last {r['latest_snapshot_date']}, {r['days_behind']} d behind)"
            for r in late.iter_rows(named=True)
        ),
        icon=":material/schedule:",
    )
else:
    st.success("Every market reported at the selected snapshot.", icon=":material/check_circle:")
if gaps.height:
    st.warning(
        "Missing extracts in the date range: "
        + ", ".join(f"{r['market']} on {r['days']} date(s), latest {r['latest']}" for r in gaps.iter_rows(named=True)),
        icon=":material/event_busy:",
    )

st.dataframe(
    freshness,
    hide_index=True,
    column_config={
        "market": "Market",
        "latest_snapshot_date": st.column_config.DateColumn("Latest snapshot"),
        "rows": st.column_config.NumberColumn("Rows there", format="%d"),
        "days_behind": st.column_config.NumberColumn("Days behind", format="%d d"),
        "last_ingest_at": st.column_config.DatetimeColumn("Last ingest", format="YYYY-MM-DD HH:mm"),
    },
)
widgets.downloads("freshness", filters, freshness)

st.subheader("Rows per snapshot and market")
figure = charts.heatmap(
    rows.with_columns(pl.col("snapshot_date").cast(pl.String)),
    "snapshot_date",
    "market",
    "rows",
    "Rows delivered per snapshot date (0 = extract missing)",
    "Snapshot date",
    "Market",
)
st.plotly_chart(figure, key="health-rows")
widgets.downloads("snapshot_rows", range_filters, rows, figure, key="health-rows")

st.subheader("Ingest log")
log = data.dataset("ingest_log", filters)
rejected = log.filter(pl.col("outcome") == "rejected")
if rejected.height:
    st.error(f"{rejected.height} ingest(s) were rejected; their reasons are in the log below.", icon=":material/error:")
st.dataframe(
    log,
    hide_index=True,
    column_config={
        "ingest_id": st.column_config.NumberColumn("Ingest", format="%d"),
        "started_at": st.column_config.DatetimeColumn("Started", format="YYYY-MM-DD HH:mm:ss"),
        "finished_at": st.column_config.DatetimeColumn("Finished", format="YYYY-MM-DD HH:mm:ss"),
        "outcome": "Outcome",
        "files": st.column_config.TextColumn("Files", width="large"),
        "snapshot_rows": st.column_config.NumberColumn("Snapshot rows", format="%d"),
        "footprint_rows": st.column_config.NumberColumn("Footprint rows", format="%d"),
        "message": st.column_config.TextColumn("Warnings / reason", width="large"),
    },
)
widgets.downloads("ingest_log", filters, log, key="health-log")
