"""Forecast: installs ahead, when each stage's backlog clears, service levels, and the orders about to breach them."""

from dataclasses import replace

import polars as pl
import streamlit as st

from opslens import charts
from opslens.app import data, fmt, state, widgets
from opslens.app.text import plain
from opslens.charts import TOP_MARKETS as PAGE_MARKETS  # the per-market charts' limit, here too
from opslens.contract import OPEN_STAGES

state.forecast_pickers()
# The simulations run per market: with more than PAGE_MARKETS markets in view, only the busiest are
# simulated and shown besides ALL (which counts every market); the export has them all.
filters = replace(state.forecast_filters(), top_markets=PAGE_MARKETS)
markets_in_view = len(filters.markets or data.choices()[1]["markets"])
st.title("Forecast")
st.caption(
    f"Installs in the next {filters.horizon} days, backlog clearance and service levels, learnt from the last"
    f" {filters.history} days · {plain(state.describe(filters))}"
)

forecast = data.dataset("install_forecast", filters)
totals = forecast.filter(pl.col("market") == "ALL")
if totals.is_empty():
    widgets.empty_state(totals, "snapshots", filters)
    st.stop()
total = totals.row(0, named=True)
if total["installs_p50"] is None:
    st.info(
        f"Too little history to forecast: the forecasts need at least {total['min_history_days']} days of"
        f" snapshots up to the as-of date, and this view has {total['history_days']}. Pick a later snapshot, or"
        f" load {total['min_history_days'] - total['history_days']} more day(s) of earlier extracts.",
        icon=":material/hourglass_empty:",
    )
    st.stop()

st.subheader(f"Installs in the next {filters.horizon} days")
tiles = st.columns(4)
tiles[0].metric(
    "Expected (P50)", fmt.count(total["installs_p50"]), help="Reached or exceeded in half of the simulations"
)
tiles[1].metric(
    "At least, 85% sure", fmt.count(total["installs_at_least_85"]), help="Reached in 85% of the simulations"
)
tiles[2].metric(
    "At least, 95% sure", fmt.count(total["installs_at_least_95"]), help="Reached in 95% of the simulations"
)
tiles[3].metric(f"Installs in the last {total['history_days']} days", fmt.count(total["installs_in_history"]))
markets = forecast.filter(pl.col("market") != "ALL")
busiest = markets.height == PAGE_MARKETS < markets_in_view  # only the busiest markets were simulated
figure = charts.grouped_bars(
    markets,
    "market",
    {"installs_at_least_95": "At least (95%)", "installs_at_least_85": "At least (85%)", "installs_p50": "P50"},
    f"Installs expected in the next {filters.horizon} days, per market"
    + (f" (the {PAGE_MARKETS} with the most installs)" if busiest else ""),
    "Market",
    "Installs",
)
st.plotly_chart(figure, key="forecast-installs")
st.caption(
    "Monte Carlo over the weekly installs of the history window around their trend (10,000 seeded trials):"
    " 85% sure means the realised count reached this number in 85% of the simulated futures."
    " How well that held in the past: `opslens export install_forecast_calibration`."
)
if busiest:
    st.caption(
        f"Per market: the {PAGE_MARKETS} markets with the most installs in the last {total['history_days']} days,"
        f" of {markets_in_view:,} in this view; ALL counts every market. Pick markets in the sidebar to see"
        " others, or export every market with `opslens export install_forecast`."
    )
widgets.downloads("install_forecast", filters, forecast, figure, key="forecast-installs")
widgets.dataframe(
    forecast,
    hide_index=True,
    column_config={
        "market": "Market",
        "horizon_days": st.column_config.NumberColumn("Days ahead", format="%d"),
        "installs_p50": st.column_config.NumberColumn("P50", format="localized"),
        "installs_at_least_85": st.column_config.NumberColumn("At least (85%)", format="localized"),
        "installs_at_least_95": st.column_config.NumberColumn("At least (95%)", format="localized"),
        "history_days": st.column_config.NumberColumn("History (days)", format="%d"),
        "installs_in_history": st.column_config.NumberColumn("Installs in history", format="localized"),
        "min_history_days": None,
    },
)

st.subheader("When will today's backlog have left each stage?")
st.caption(
    "New orders arriving are not counted: these are the dates by which the orders open in a stage now will"
    f" have left it, at the pace orders left it in the last {filters.history} days (50%, 85% and 95% sure)."
)
clearance = data.dataset("backlog_clearance", filters)
shown = clearance.filter(pl.col("market") == "ALL")
clearance_columns = {
    "market": "Market",
    "stage": "Stage",
    "open_orders": st.column_config.NumberColumn("Open now", format="localized"),
    "left_in_history": st.column_config.NumberColumn(f"Left in {filters.history} days", format="localized"),
    "clear_by_p50": st.column_config.DateColumn("Clear by (50%)"),
    "clear_by_85": st.column_config.DateColumn("Clear by (85%)"),
    "clear_by_95": st.column_config.DateColumn("Clear by (95%)"),
    "status": st.column_config.TextColumn("Note"),
    "history_days": None,
    "clear_days_p50": None,
    "clear_days_85": None,
    "clear_days_95": None,
}
notes = {  # the status codes of backlog_clearance (queries/forecast.py CLEARANCE_STATUS), as a planner reads them
    "clears": "",
    "nothing_open": "Nothing open",
    "never": "Never at this pace: no order left the stage",
    "beyond_a_year": "Over a year at 95% confidence",
    "too_little_history": "Too little history",
}
widgets.dataframe(
    widgets.readable(shown.with_columns(pl.col("status").replace(notes))),
    hide_index=True,
    column_config=clearance_columns,
)
never = shown.filter(pl.col("status") == "never")
if never.height:
    st.warning(
        "Never clears at the recent pace: "
        + ", ".join(charts.stage_label(s) for s in never["stage"])
        + f" (no order left in the last {filters.history} days' whole weeks).",
        icon=":material/block:",
    )
per_market = clearance.filter(pl.col("market") != "ALL")
with st.expander("Per market"):
    if per_market["market"].n_unique() == PAGE_MARKETS < markets_in_view:
        st.caption(
            f"The {PAGE_MARKETS} markets with the most open orders, of {markets_in_view:,} in this view; ALL above"
            " counts every market. Every market: `opslens export backlog_clearance`."
        )
    widgets.dataframe(
        widgets.readable(per_market.with_columns(pl.col("status").replace(notes))),
        hide_index=True,
        column_config=clearance_columns,
    )
widgets.downloads("backlog_clearance", filters, clearance, key="forecast-clearance")

st.subheader("Service levels: how long orders take to leave each stage")
levels = data.dataset("service_levels", filters)
st.caption(
    f"Of the orders that left each stage in the last {filters.history} days, 50%, 85% and 95% had left within"
    " this many days in the stage (counted to the first snapshot that shows them gone)."
)
level_columns = {
    "market": "Market",
    "stage": "Stage",
    "left_orders": st.column_config.NumberColumn("Orders that left", format="localized"),
    "sle_p50_days": st.column_config.NumberColumn("50% within", format="%.1f d"),
    "sle_p85_days": st.column_config.NumberColumn("85% within", format="%.1f d"),
    "sle_p95_days": st.column_config.NumberColumn("95% within", format="%.1f d"),
    "history_days": None,
}
widgets.dataframe(
    widgets.readable(levels.filter(pl.col("market") == "ALL")), hide_index=True, column_config=level_columns
)
with st.expander("Per market"):
    widgets.dataframe(
        widgets.readable(levels.filter(pl.col("market") != "ALL")), hide_index=True, column_config=level_columns
    )
widgets.downloads("service_levels", filters, levels, key="forecast-sle")

st.subheader("Open orders against the service levels")
ageing = data.dataset("ageing_orders", filters)
if not widgets.empty_state(ageing, "open orders", filters):
    drawn = charts.dots_drawn(ageing)
    dots = charts.ageing_dots(drawn)
    st.plotly_chart(dots, key="forecast-ageing")
    st.caption(
        f"{fmt.counted(ageing.height, 'open order')}; {ageing['beyond_sle_85'].sum():,} are older in their stage"
        " than 85% of the orders that recently left it: they are about to breach."
        + (
            f" Drawn: an even sample of {drawn.height:,} dots, so each stage and band keeps its share; every"
            " order is in the download."
            if drawn.height < ageing.height
            else ""
        )
    )
    widgets.downloads("ageing_orders", filters, ageing, dots, key="forecast-ageing")

    stage = widgets.drill_choice(
        "Show the orders beyond the 85% service level in stage", list(OPEN_STAGES), "forecast-drill", charts.stage_label
    )
    if stage:
        drill_filters = filters.with_drill(stages=(stage,))
        breaching = data.dataset("ageing_orders", drill_filters).filter(pl.col("beyond_sle_85"))
        if breaching.is_empty():
            st.info(f"No open order in {charts.stage_label(stage)} is beyond its 85% service level.")
        else:
            st.caption(
                f"{fmt.counted(breaching.height, 'order')} in {charts.stage_label(stage)} beyond the 85% level,"
                " oldest first"
            )
            widgets.table(
                breaching,
                ["order_id", "market", "product", "segment", "age_in_stage_days", "sle_p85_days", "sle_band", "mrr"],
            )
            widgets.downloads("ageing_orders", drill_filters, breaching, key="forecast-breaching")
