"""Install to invoice: how long installed orders wait for their first invoice, and what is still unbilled."""

import streamlit as st

from opslens import charts
from opslens.app import data, fmt, state, widgets
from opslens.app.text import plain

filters = state.current_filters(with_dates=True)
st.title("Install to invoice")
st.caption(f"Days from install to first invoice · {plain(state.describe(filters))}")

summary = data.dataset("install_to_invoice", filters)
totals = summary.filter(summary["market"] == "ALL")
if totals.is_empty():
    widgets.empty_state(totals, "orders", filters)
    st.stop()
total = totals.row(0, named=True)
tiles = st.columns(5)
tiles[0].metric("Invoiced orders", fmt.count(total["invoiced_orders"]))
tiles[1].metric("P50", fmt.days(total["days_p50"]), help="Half of the orders were invoiced within this many days")
tiles[2].metric("P85", fmt.days(total["days_p85"]))
tiles[3].metric("P95", fmt.days(total["days_p95"]))
tiles[4].metric(
    "Unbilled MRR ($/mo)",
    fmt.money(total["unbilled_mrr"]),
    f"{total['installed_not_invoiced']:,} installed, not invoiced",
    delta_color="off",
    delta_arrow="off",
)

if total["invoiced_orders"] == 0:
    st.info(
        "No order in this view has been both installed and invoiced yet (within the install dates, if set).",
        icon=":material/filter_alt_off:",
    )
else:
    distribution = data.dataset("install_to_invoice_distribution", filters)
    left, right = st.columns(2)
    with left:
        histogram = charts.histogram_with_percentiles(
            distribution,
            {"P50": total["days_p50"], "P85": total["days_p85"], "P95": total["days_p95"]},
            "Distribution of days from install to invoice",
            "Days from install to first invoice",
        )
        st.plotly_chart(histogram, key="i2i-histogram")
        widgets.downloads(
            "install_to_invoice_distribution",
            filters,
            distribution,
            histogram,
            key="i2i-histogram",
            orders=("install_to_invoice_orders", total["invoiced_orders"]),
        )
    with right:
        markets, hidden = charts.top_n(summary.filter(summary["market"] != "ALL"), "market", "invoiced_orders")
        percentiles = charts.grouped_bars(
            markets,
            "market",
            {"days_p50": "P50", "days_p85": "P85", "days_p95": "P95"},
            "Install to invoice percentiles per market",
            "Market",
            "Days",
        )
        st.plotly_chart(percentiles, key="i2i-markets")
        widgets.top_caption(hidden, "invoiced orders", summed=False, every_market_in="the table below")
        widgets.downloads("install_to_invoice", filters, summary, percentiles, key="i2i-markets")

    weekly = data.dataset("install_to_invoice_weekly", filters)
    left, right = st.columns(2)
    with left:
        trend = charts.install_week_lines(
            weekly,
            {"days_p50": "P50", "days_p85": "P85", "days_p95": "P95"},
            "Install to invoice by install week",
            "Days",
        )
        st.plotly_chart(trend, key="i2i-weekly")
        incomplete = weekly.height - int(weekly["complete"].sum())
        st.caption(
            "Lines join complete weeks only; an open circle is a week whose percentiles can still change"
            f" ({fmt.counted(incomplete, 'week')} here): installed before the first snapshot (only orders still"
            " unbilled then are known, so it leans long) or with more than 5% of its installed orders not yet"
            " invoiced (the slow ones are still to come, so it leans short). Grey bars below: invoiced orders per week."
        )
        widgets.downloads("install_to_invoice_weekly", filters, weekly, trend, key="i2i-weekly")
    with right:
        segments = charts.install_week_lines(
            weekly,
            {
                "install_to_activation_p50": "Install → activation (P50)",
                "activation_to_invoice_p50": "Activation → invoice (P50)",
            },
            "Where the days go: segments by install week",
            "Days (median)",
        )
        st.plotly_chart(segments, key="i2i-segments")
        widgets.downloads("install_to_invoice_weekly", filters, weekly, segments, key="i2i-segments")

    widgets.dataframe(
        summary,
        hide_index=True,
        column_config={
            "market": "Market",
            "invoiced_orders": st.column_config.NumberColumn("Invoiced orders", format="localized"),
            "days_p50": st.column_config.NumberColumn("P50", format="%.1f d"),
            "days_p85": st.column_config.NumberColumn("P85", format="%.1f d"),
            "days_p95": st.column_config.NumberColumn("P95", format="%.1f d"),
            "days_mean": st.column_config.NumberColumn("Mean", format="%.1f d"),
            "installed_not_invoiced": st.column_config.NumberColumn("Installed, not invoiced", format="%d"),
            "unbilled_mrr": st.column_config.NumberColumn("Unbilled MRR ($/mo)", format="dollar"),
        },
    )

st.subheader("Installed, not yet invoiced")
unbilled = data.dataset("unbilled_orders", filters)
if not widgets.empty_state(unbilled, "unbilled installed orders", filters):
    st.caption(
        f"{fmt.counted(unbilled.height, 'order')}, ${unbilled['mrr'].fill_null(0).sum():,.0f}/mo unbilled;"
        " largest MRR first"
    )
    widgets.table(unbilled, height=360)
    widgets.downloads("unbilled_orders", filters, unbilled, key="i2i-unbilled")
