"""Exceptions: counts per rule and market, the thresholds explained, and the filterable order list."""

import polars as pl
import streamlit as st

from opslens import charts, config
from opslens.app import data, fmt, state, widgets
from opslens.app.text import plain
from opslens.contract import STAGES
from opslens.queries import RULES

filters = state.current_filters()
st.title("Exceptions")
st.caption(f"Orders breaking a rule, one row per order and rule · {plain(state.describe(filters))}")

exceptions = data.dataset("exceptions", filters)
if widgets.empty_state(exceptions, "exceptions", filters):
    st.stop()

labels = {name: rule.label for name, rule in RULES.items()}
summary = data.dataset("exception_summary", filters).row(0, named=True)
counts = data.dataset("exception_counts", filters).with_columns(
    pl.col("rule").replace_strict(labels).alias("rule_label")
)
tiles = st.columns(4)
tiles[0].metric("Exception rows", f"{summary['exception_rows']:,}", help="One row per order and rule it breaks")
tiles[1].metric("Orders affected", f"{summary['exception_orders']:,}", help="Orders breaking at least one rule")
tiles[2].metric(
    "MRR at risk",
    fmt.money(summary["mrr_at_risk"]) + "/mo",
    help="Monthly revenue of the orders with at least one exception",
)
tiles[3].metric(
    "Most frequent",
    labels[summary["top_rule"]],
    f"{fmt.counted(summary['top_rule_orders'], 'order')}",
    delta_color="off",
    delta_arrow="off",
)

drawn, hidden = charts.top_n(counts, "market", "orders", summed=("orders",), keys=("rule", "rule_label"))
figure = charts.heatmap(
    drawn,
    "market",
    "rule_label",
    "orders",
    "Exceptions per rule and market (click a cell)",
    "Market",
    "Rule",
    y_order=list(labels.values()),
    key="rule",
)
st.plotly_chart(figure, key="exceptions-heatmap", on_select="rerun", selection_mode="points")
widgets.top_caption(hidden, "exceptions", summed=True, every_market_in="the download")
widgets.downloads("exceptions", filters, exceptions, figure, key="exceptions-heatmap")

with st.expander("What each rule means, and its thresholds"):
    limits = config.stall_limits()
    st.markdown("\n".join(f"- **{rule.label}** (`{name}`): {rule.explanation}." for name, rule in RULES.items()))
    st.markdown(
        "**Stalled** limits (days in stage; set them in `opslens.toml` under `[stalled_after_days]`): "
        + ", ".join(f"{charts.stage_label(stage)} {days} d" for stage, days in limits.items())
    )

st.subheader("Orders with exceptions")
market_options = exceptions["market"].unique().sort().to_list()
cell = widgets.new_click("exceptions-heatmap")
if cell is not None:  # a cell: its rule, and its market unless "Other"
    market, rule = cell["customdata"]
    st.session_state["exceptions-rules"] = [rule]
    st.session_state["exceptions-markets"] = [market] if market in market_options else []
left, middle, right = st.columns(3)
chosen_rules = left.multiselect(
    "Rules",
    list(RULES),
    format_func=lambda name: labels[name],
    key="exceptions-rules",
    placeholder="All rules",
    bind="query-params",
)
with_exceptions = set(exceptions["stage"].unique())
chosen_stages = middle.multiselect(
    "Stages",
    [stage for stage in STAGES if stage in with_exceptions],  # lifecycle order
    format_func=charts.stage_label,
    key="exceptions-stages",
    placeholder="All stages",
    bind="query-params",
)
chosen_markets = right.multiselect(
    "Markets",
    market_options,
    key="exceptions-markets",
    placeholder="All markets in view",
    bind="query-params",
    filter_mode="contains",
)
drill = filters.with_drill(
    rules=tuple(chosen_rules) or None, stages=tuple(chosen_stages) or None, markets=tuple(chosen_markets) or None
)
listed = data.dataset("exceptions", drill) if (chosen_rules or chosen_stages or chosen_markets) else exceptions
st.caption(f"{listed.height:,} rows · sort by clicking a column header")
widgets.table(
    listed,
    ["order_id", "market", "stage", "rule", "age_in_stage_days", "age_days", "mrr", "product", "segment"],
    height=420,
)
widgets.downloads("exceptions", drill, listed, key="exceptions-list")
