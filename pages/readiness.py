"""Readiness: per market, demand waiting for the network, how long, bookings before readiness, footprint."""

import streamlit as st

from opslens import charts
from opslens.app import data, fmt, state, widgets
from opslens.app.text import plain

filters = state.current_filters()
st.title("Readiness")
st.caption(f"Orders sold where the network is not ready yet · {plain(state.describe(filters))}")

readiness = data.dataset("readiness", filters)
if widgets.empty_state(readiness, "markets with orders", filters):
    st.stop()

# Per-market charts draw the markets with the most orders waiting (charts.top_n); the table has all.
waiting_drawn, hidden = charts.top_n(
    readiness, "market", "awaiting_network", summed=("awaiting_network", "scheduled_before_ready")
)
ranked, _ = charts.top_n(readiness, "market", "awaiting_network")
waiting = charts.grouped_bars(
    waiting_drawn,
    "market",
    {"awaiting_network": "Awaiting network", "scheduled_before_ready": "Booked before ready"},
    "Orders waiting for the network, per market",
    "Market",
    "Orders",
)
st.plotly_chart(waiting, key="readiness-orders")
widgets.top_caption(hidden, "orders awaiting network", summed=True, every_market_in="the table below")
widgets.downloads("readiness", filters, readiness, waiting, key="readiness-orders")

left, right = st.columns(2)
with left:
    waits = charts.grouped_bars(
        ranked,
        "market",
        {
            "wait_days_p50": "Waiting P50",
            "wait_days_p85": "Waiting P85",
            "order_to_ready_days_p50": "Order to ready P50",
        },
        "Days waiting for the network",
        "Market",
        "Days",
    )
    st.plotly_chart(waits, key="readiness-days")
    widgets.downloads("readiness", filters, readiness, waits, key="readiness-days")
with right:
    footprint = charts.grouped_bars(
        ranked,
        "market",
        {
            "awaiting_network_share": "Open orders awaiting network (% of open orders)",
            "ready_share": "Premises ready (% of premises passed)",
        },
        "Demand waiting vs. footprint ready",
        "Market",
        "Percent of its own total",
    )
    footprint.update_yaxes(tickformat=".0%")
    st.plotly_chart(footprint, key="readiness-share")
    widgets.downloads("readiness", filters, readiness, footprint, key="readiness-share")

widgets.dataframe(
    readiness,
    hide_index=True,
    column_config={
        "market": "Market",
        "open_orders": st.column_config.NumberColumn("Open orders", format="localized"),
        "awaiting_network": st.column_config.NumberColumn("Awaiting network", format="%d"),
        "awaiting_network_share": st.column_config.NumberColumn("Share awaiting", format="percent"),
        "awaiting_network_mrr": st.column_config.NumberColumn("MRR waiting ($/mo)", format="dollar"),
        "wait_days_p50": st.column_config.NumberColumn("Wait P50", format="%.1f d"),
        "wait_days_p85": st.column_config.NumberColumn("Wait P85", format="%.1f d"),
        "scheduled_before_ready": st.column_config.NumberColumn("Booked before ready", format="%d"),
        "order_to_ready_days_p50": st.column_config.NumberColumn("Order to ready P50", format="%.1f d"),
        "premises_passed": st.column_config.NumberColumn("Premises passed", format="localized"),
        "premises_ready": st.column_config.NumberColumn("Premises ready", format="localized"),
        "ready_share": st.column_config.NumberColumn("Ready share", format="percent"),
    },
)

st.subheader("Orders waiting for the network")
market = widgets.drill_choice(
    "Show the orders awaiting network in market", readiness["market"].to_list(), "readiness-drill"
)
if market:
    drill = filters.with_drill(markets=(market,), stages=("awaiting_network",))
    orders = data.dataset("orders", drill)
    st.caption(f"{fmt.counted(orders.height, 'order')} in {plain(market)} awaiting network, longest waiting first")
    widgets.table(
        orders.sort("age_days", descending=True),
        ["order_id", "market", "product", "segment", "age_days", "appointment_at", "mrr", "exceptions"],
    )
    widgets.downloads("orders", drill, orders, key="readiness-orders-list")
