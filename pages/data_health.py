"""Data health: is every market's extract in, do its systems agree, what the ingests did; load files."""

import polars as pl
import streamlit as st

from opslens import charts
from opslens.app import audit_view, data, fmt, state, upload, widgets
from opslens.app.text import LIST_LIMIT, listed, plain
from opslens.queries import Filters

# freshness columns about the extract itself (the rest are about the systems agreeing at the snapshot)
EXTRACT_COLUMNS = ["market", "latest_snapshot_date", "rows", "days_behind", "last_ingest_at"]
OUT_OF_SYNC = "Stage disagrees with milestones (systems out of sync)"

filters = state.current_filters()
st.title("Data health")
st.caption(
    f"Freshness of each market's extract and the ingest log · {plain(state.describe(filters))} "
    "(product and segment filters do not apply: extracts arrive per market)"
)

freshness = data.dataset("freshness", filters)
# A market whose extract is missing at the snapshot has 0 open orders there: still a row to show.
if widgets.empty_state(freshness.select(EXTRACT_COLUMNS), "markets", filters):
    st.stop()

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
        + listed(
            late.iter_rows(named=True),
            shown=lambda r: f"{plain(r['market'])} (last {r['latest_snapshot_date']}, {r['days_behind']} d behind)",
        )
        + (" (all in the table below)" if late.height > LIST_LIMIT else ""),
        icon=":material/schedule:",
    )
else:
    st.success("Every market reported at the selected snapshot.", icon=":material/check_circle:")
if gaps.height:
    st.warning(
        "Missing extracts in the date range: "
        + listed(
            gaps.iter_rows(named=True),
            shown=lambda r: f"{plain(r['market'])} on {r['days']} date(s), latest {r['latest']}",
        ),
        icon=":material/event_busy:",
    )

widgets.dataframe(
    freshness,
    hide_index=True,
    column_config={
        "market": "Market",
        "latest_snapshot_date": st.column_config.DateColumn("Latest snapshot"),
        "rows": st.column_config.NumberColumn("Rows there", format="%d"),
        "days_behind": st.column_config.NumberColumn("Days behind", format="%d d"),
        "last_ingest_at": st.column_config.DatetimeColumn("Last ingest", format="YYYY-MM-DD HH:mm"),
        "open_orders": st.column_config.NumberColumn("Open orders", format="%d"),
        "stage_mismatch_orders": st.column_config.NumberColumn("Out of sync", format="%d"),
        "stage_mismatch_share": st.column_config.ProgressColumn(
            OUT_OF_SYNC,
            format="percent",
            min_value=0.0,
            max_value=1.0,
            help="Share of the market's open orders whose stage is behind their milestones; empty when the "
            "market has no rows at the snapshot",
        ),
    },
)
st.caption(
    f"**{OUT_OF_SYNC}**: open orders whose reported stage is earlier than their milestones say (invoiced, "
    "activated or installed), so billing, provisioning and field systems disagree (the `stage_mismatch` rule)."
)
widgets.downloads("freshness", filters, freshness)

out_of_sync = freshness.filter(pl.col("stage_mismatch_orders") > 0)
if out_of_sync.height:
    market = widgets.drill_choice(
        "List the out-of-sync orders of a market",
        out_of_sync["market"].to_list(),
        "health-sync-drill",
        format_func=lambda m: f"{m} ({out_of_sync.filter(pl.col('market') == m)['stage_mismatch_orders'].item():,})",
    )
    if market:
        # Like the column above: the market alone, whatever the product and segment filters.
        drill = Filters(as_of=filters.as_of, markets=(market,), rules=("stage_mismatch",))
        listed = data.dataset("orders", drill)
        st.caption(
            f"{fmt.counted(listed.height, 'open order')} in {plain(market)} whose stage is behind their milestones"
        )
        widgets.table(
            listed,
            ["order_id", "market", "stage", "installed_at", "activated_at", "invoiced_at", "age_in_stage_days", "mrr"],
        )
        widgets.downloads("orders", drill, listed, key="health-sync-orders")
else:
    st.caption("No open order's stage is behind its milestones at this snapshot.")

st.subheader("Rows per snapshot and market")
if not widgets.empty_state(rows, "snapshots in this date range", range_filters):
    # The markets with the most missing extracts; with many markets the rest are only in the download.
    drawn, hidden = charts.top_n(rows, "market", pl.col("rows") == 0)
    figure = charts.heatmap(
        drawn.with_columns(pl.col("snapshot_date").cast(pl.String)),
        "snapshot_date",
        "market",
        "rows",
        "Rows delivered per snapshot date (0 = extract missing)",
        "Snapshot date",
        "Market",
    )
    st.plotly_chart(figure, key="health-rows")
    if hidden:
        unseen = gaps.filter(~pl.col("market").is_in(drawn["market"].unique().to_list()))
        st.caption(
            f"Drawn: the {charts.TOP_MARKETS} markets with the most missing extracts; of the other {hidden:,}, "
            + (
                f"{unseen.height:,} missed {unseen['days'].sum():,} extract(s) in all"
                if unseen.height
                else "none missed one"
            )
            + ". The download has every market and date."
        )
    widgets.downloads("snapshot_rows", range_filters, rows, figure, key="health-rows")

st.subheader("Ingest log")
log = data.dataset("ingest_log", filters)
rejected = log.filter(pl.col("outcome") == "rejected")
if rejected.height:
    st.error(f"{rejected.height} ingest(s) were rejected; their reasons are in the log below.", icon=":material/error:")
widgets.dataframe(
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

upload.section(data.store_path())
audit_view.section()
