"""Backlog: orders and MRR per stage, ageing, cumulative flow over time, inflow and outflow; drill to orders."""

import polars as pl
import streamlit as st

from opslens import charts
from opslens.app import data, fmt, state, widgets
from opslens.app.text import listed, plain
from opslens.contract import OPEN_STAGES

filters = state.current_filters()
trend_filters = state.current_filters(with_dates=True)

st.title("Backlog")
st.caption(f"Open orders by lifecycle stage · {plain(state.describe(filters))}")

backlog = data.dataset("backlog", filters)
if widgets.empty_state(backlog, "open orders", filters):
    st.stop()

orders_tab, mrr_tab = st.tabs(["Orders", "MRR"])
with orders_tab:
    figure = charts.backlog_bars(backlog, "orders", "Open orders by stage (click a bar to list its orders)")
    orders_chart = widgets.DrillChart(st.container(), figure, "backlog-chart", list(backlog["stage"]))
    widgets.downloads("backlog", filters, backlog, figure)
with mrr_tab:
    figure_mrr = charts.backlog_bars(backlog, "mrr", "MRR in backlog by stage (click a bar to list its orders)")
    mrr_chart = widgets.DrillChart(st.container(), figure_mrr, "backlog-mrr-chart", list(backlog["stage"]))
    widgets.downloads("backlog", filters, backlog, figure_mrr, key="backlog-mrr")

st.subheader("Orders behind a stage")
stage = widgets.drill_choice(
    "Show the open orders in stage", list(OPEN_STAGES), "backlog-drill", charts.stage_label, (orders_chart, mrr_chart)
)
if stage:
    drill_filters = filters.with_drill(stages=(stage,))
    orders = data.dataset("orders", drill_filters)
    st.caption(f"{fmt.counted(orders.height, 'order')} in {charts.stage_label(stage)}, longest in stage first")
    widgets.table(
        orders.sort("age_in_stage_days", descending=True),
        ["order_id", "market", "product", "segment", "age_in_stage_days", "age_days", "mrr", "exceptions"],
    )
    widgets.downloads("orders", drill_filters, orders, key="backlog-orders")

widgets.dataframe(
    widgets.readable(backlog),
    hide_index=True,
    column_config={
        "stage": "Stage",
        "orders": st.column_config.NumberColumn("Open orders", format="localized"),
        "mrr": st.column_config.NumberColumn("MRR ($/mo)", format="dollar"),
        "median_age_days": st.column_config.NumberColumn("Median days in stage", format="%.1f d"),
        "stalled": st.column_config.NumberColumn("Stalled", format="%d"),
    },
)

st.subheader("How long orders have been in their stage")
ageing = data.dataset("backlog_ageing", filters)
figure_ageing = charts.ageing_bars(ageing)
st.plotly_chart(figure_ageing, key="ageing-chart")
widgets.downloads("backlog_ageing", filters, ageing, figure_ageing)

st.subheader("Trend")
trend = data.dataset("backlog_trend", trend_filters)
if not widgets.empty_state(trend, "snapshots in this date range", trend_filters):
    gaps = data.dataset("snapshot_rows", trend_filters).filter(pl.col("rows") == 0)
    figure_trend = charts.stage_area(trend, gaps=gaps)
    st.plotly_chart(figure_trend, key="trend-chart")
    if gaps.height:
        per_market = gaps.group_by("market", maintain_order=True).len("days")
        st.caption(
            "Grey bands: dates a market sent no extract, not drawn (their totals would lack it): "
            + listed(
                per_market.iter_rows(named=True),
                shown=lambda r: f"{plain(r['market'])} on {r['days']} date(s)",
            )
            + " (see Data health)."
        )
    widgets.downloads("backlog_trend", trend_filters, trend, figure_trend)

    flow = data.dataset("backlog_flow", trend_filters)
    figure_flow = charts.flow_bars(flow, "Orders entering and leaving each stage in the date range")
    st.plotly_chart(figure_flow, key="flow-chart")
    st.caption("Entered: orders whose previous snapshot row was in another stage (or new orders). Left: the reverse.")
    widgets.downloads("backlog_flow", trend_filters, flow, figure_flow)
