"""Changes: what changed between an earlier snapshot and the as-of date, for the weekly review.

New, resolved and persisting exceptions per rule and market, the backlog then and now, the orders
that moved back in the lifecycle; every number drills down to its orders. Markets whose extract is
missing on either date are named, since their exceptions would otherwise look new or resolved.
"""

from dataclasses import replace

import polars as pl
import streamlit as st

from opslens import charts
from opslens.app import compare, data, fmt, state, widgets
from opslens.app.text import plain
from opslens.contract import OPEN_STAGES
from opslens.queries import RULES, ComparisonDateError

dates, _options = data.choices()
filters = state.current_filters()
as_of = filters.as_of or dates[0]
filters = replace(filters, as_of=as_of, compare_to=compare.compare_to_picker(dates, as_of))
st.title("Changes")

if not compare.earlier_dates(dates, as_of):
    st.caption(f"What changed since an earlier snapshot · {plain(state.describe(filters))}")
    st.info(
        f"No earlier snapshot to compare with: {as_of} is the store's first snapshot. Pick a later snapshot "
        "(as of) in the sidebar, or load earlier extracts.",
        icon=":material/history_toggle_off:",
    )
    st.stop()

try:
    reporting = data.dataset("compared_markets", filters)
except ComparisonDateError as error:
    st.warning(plain(error), icon=":material/event_busy:")
    st.stop()
if widgets.empty_state(reporting, "markets", filters):
    st.stop()
compare_to = reporting["compare_to"][0]
filters = replace(filters, compare_to=compare_to)  # the resolved date, so downloads record it
st.caption(f"What changed in {(as_of - compare_to).days} days · {plain(state.describe(filters))}")

missing = reporting.filter(~pl.col("reported_both"))
if missing.height:
    why = [
        f"{plain(r['market'])} (no extract on {compare_to if not r['rows_then'] else as_of})"
        for r in missing.iter_rows(named=True)
    ]
    st.warning(
        "Not compared: " + ", ".join(why) + ". Their exceptions show as new or resolved only because an extract"
        " is missing; the ALL totals and tiles cover the markets that reported on both dates.",
        icon=":material/warning:",
    )
with st.expander(f"Markets compared: {reporting.height - missing.height} of {reporting.height}"):
    widgets.dataframe(
        reporting.select("market", "rows_then", "rows_now", "reported_both"),
        hide_index=True,
        column_config={
            "market": "Market",
            "rows_then": st.column_config.NumberColumn(f"Rows on {compare_to}", format="localized"),
            "rows_now": st.column_config.NumberColumn(f"Rows on {as_of}", format="localized"),
            "reported_both": st.column_config.CheckboxColumn("Reported on both"),
        },
    )
    widgets.downloads("compared_markets", filters, reporting)

# --- exceptions: new, resolved, persisting ----------------------------------------------------------
st.subheader("Exceptions")
labels = {name: rule.label for name, rule in RULES.items()}
changes = data.dataset("changes", filters).with_columns(
    pl.col("rule").replace_strict(labels).alias("rule_label"),
    pl.format("+{} / −{}", "new", "resolved").alias("cell"),
)
total = changes.filter(pl.col("market") == "ALL")
tiles = st.columns(4)
for column, (key, label, help_text) in zip(
    tiles,
    [
        ("new", "New", f"exceptions at {as_of} that were not there on {compare_to}"),
        ("resolved", "Resolved", f"exceptions on {compare_to} that are gone by {as_of}"),
        ("persisting", "Persisting", "exceptions on both dates"),
        ("net_change", "Net change", "new minus resolved: more is worse"),
    ],
    strict=True,
):
    value = total[key].sum()
    shown = fmt.change(value, "orders") if key == "net_change" else fmt.count(value)
    column.metric(label, shown, help=f"{help_text} (markets that reported on both dates)", border=True)

if not (total["new"].sum() or total["resolved"].sum()):
    st.info(
        f"Nothing changed: no exception is new or resolved since {compare_to} "
        f"({total['persisting'].sum():,} persist) for these filters.",
        icon=":material/check_circle:",
    )
else:
    figure = charts.change_bars(total, "rule_label", f"Exceptions per rule since {compare_to}", key="rule")
    st.plotly_chart(figure, key="changes-bars", on_select="rerun", selection_mode="points")
    widgets.downloads("changes", filters, changes.drop("rule_label", "cell"), figure, key="changes-bars")
    per_market, rest = charts.top_n(  # the markets with the most change; the rest in "Other (K markets)"
        changes.filter(pl.col("market") != "ALL"),
        "market",
        pl.col("new") + pl.col("resolved"),
        summed=("new", "resolved", "persisting", "net_change"),
        keys=("rule", "rule_label"),
    )
    heatmap = charts.change_heatmap(
        per_market.with_columns(pl.format("+{} / −{}", "new", "resolved").alias("cell")),
        "market",
        "rule_label",
        "net_change",
        "cell",
        "New / resolved per rule and market (colour: net change)",
        "Market",
        "Rule",
        key="rule",
    )
    st.plotly_chart(heatmap, key="changes-heatmap", on_select="rerun", selection_mode="points")
    widgets.top_caption(rest, "change", summed=True, every_market_in="the download and the drill-down")
    widgets.downloads("changes", filters, changes.drop("rule_label", "cell"), heatmap, key="changes-heatmap")

# The orders behind a number: chosen in the three boxes, or by clicking a bar (a rule's new, resolved or
# persisting exceptions in the ALL total) or a heatmap cell (a rule's new and resolved ones in a market).
# The boxes are the one selection, kept in the link: a new click sets them (widgets.new_click, as drill_choice uses it),
# and afterwards they are free to change while the chart keeps showing the clicked point.
KINDS = {"new": "New", "resolved": "Resolved", "persisting": "Persisting", "changed": "New or resolved"}
market_options = changes["market"].unique(maintain_order=True).to_list()


def follow_chart_clicks() -> None:
    """A new click on the bars or the heatmap writes its rule, change and market into the boxes."""
    for chart_key in ("changes-bars", "changes-heatmap"):
        clicked = widgets.new_click(chart_key)  # None unless new: the boxes stay as the user set them
        point = clicked.get("customdata") if clicked else None
        if not point:
            continue
        if chart_key == "changes-bars":  # [count, rule, change] of a bar of the ALL totals
            rule_code, kind_code, market_code = point[1], point[2], "ALL"
        else:  # [market, rule] of a cell, which shows its new and resolved exceptions
            market_code, rule_code, kind_code = point[0], point[1], "changed"
        if rule_code in RULES and kind_code in KINDS and market_code in market_options:
            st.session_state["changes-rule"] = rule_code
            st.session_state["changes-kind"] = kind_code
            st.session_state["changes-market"] = market_code


follow_chart_clicks()
st.markdown("**The orders behind a number**")
left, middle, right = st.columns(3)
with left:
    rule = widgets.drill_choice("Rule", list(RULES), "changes-rule", labels.get)
kind = middle.selectbox("Change", list(KINDS), index=0, key="changes-kind", bind="query-params", format_func=KINDS.get)
market = right.selectbox(
    "Market",
    market_options,
    index=None,
    key="changes-market",
    bind="query-params",
    placeholder="All markets",
    format_func=lambda m: "ALL (markets that reported on both dates)" if m == "ALL" else m,
)
if rule:
    drill = filters.with_drill(rules=(rule,))
    kinds = ["new", "resolved"] if kind == "changed" else [kind]
    in_market = (pl.col("market") == market) if market else pl.lit(True)
    where = pl.col("reported_both") if market == "ALL" else in_market  # ALL: as the ALL totals count
    listed = data.dataset("exception_changes", drill).filter(pl.col("change").is_in(kinds) & where)
    place = {None: "", "ALL": " in the markets that reported on both dates"}.get(market, f" in {plain(market)}")
    st.caption(f"{listed.height:,} {KINDS[kind].lower()} {labels[rule]} exceptions{place}")
    widgets.table(
        listed,
        ["order_id", "market", "rule", "change", "stage_then", "stage_now", "market_then", "mrr", "reported_both"],
    )
    widgets.downloads("exception_changes", drill, listed, key="changes-orders")

# --- backlog then and now ---------------------------------------------------------------------------
st.subheader("Backlog")
backlog = data.dataset("backlog_changes", filters).with_columns(
    pl.col("stage").replace_strict(charts.STAGE_LABELS).alias("stage_label"),
    pl.format("{} → {}", "orders_then", "orders_now").alias("cell"),
)
backlog_total = backlog.filter(pl.col("market") == "ALL")
bars = charts.grouped_bars(
    backlog_total,
    "stage_label",
    {"orders_then": f"On {compare_to}", "orders_now": f"On {as_of}"},
    "Open orders by stage, then and now",
    "Stage",
    "Open orders",
)
st.plotly_chart(bars, key="changes-backlog")
widgets.downloads("backlog_changes", filters, backlog.drop("stage_label", "cell"), bars, key="changes-backlog")
backlog_markets, backlog_rest = charts.top_n(
    backlog.filter(pl.col("market") != "ALL"),
    "market",
    pl.col("orders_change").abs(),
    summed=("orders_then", "orders_now", "orders_change"),
    keys=("stage", "stage_label"),
)
backlog_map = charts.change_heatmap(
    backlog_markets.with_columns(pl.format("{} → {}", "orders_then", "orders_now").alias("cell")),
    "market",
    "stage_label",
    "orders_change",
    "cell",
    "Open orders per stage and market, then → now (colour: change)",
    "Market",
    "Stage",
)
st.plotly_chart(backlog_map, key="changes-backlog-map")
widgets.top_caption(backlog_rest, "change", summed=True, every_market_in="the download and the drill-down")
widgets.downloads("backlog_changes", filters, backlog.drop("stage_label", "cell"), backlog_map, key="changes-map")

left, right = st.columns(2)
with left:
    stage = widgets.drill_choice(
        "Show the open orders in stage", list(OPEN_STAGES), "changes-stage", charts.stage_label
    )
stage_market = right.selectbox(
    "In market",
    reporting["market"].to_list(),
    index=None,
    key="changes-stage-market",
    bind="query-params",
    placeholder="All markets",
)
if stage:
    markets = (stage_market,) if stage_market else None
    for label, day in (("Now", as_of), ("Then", compare_to)):
        shown = filters.with_drill(stages=(stage,), markets=markets)
        shown = replace(shown, as_of=day)
        orders = data.dataset("orders", shown)
        st.caption(f"{label}: {fmt.counted(orders.height, 'order')} in {charts.stage_label(stage)} on {day}")
        widgets.table(orders, ["order_id", "market", "product", "segment", "age_in_stage_days", "mrr", "exceptions"])
        widgets.downloads("orders", shown, orders, key=f"changes-stage-{label}")

# --- moved backwards --------------------------------------------------------------------------------
st.subheader("Moved back in the lifecycle")
backwards = data.dataset("moved_backwards", filters)
if backwards.height:
    st.caption(f"{fmt.counted(backwards.height, 'order')} whose stage on {as_of} is earlier than on {compare_to}")
    widgets.table(
        backwards,
        ["order_id", "market", "stage_then", "stage_now", "stages_back", "market_then", "age_in_stage_days", "mrr"],
    )
    widgets.downloads("moved_backwards", filters, backwards)
else:
    st.caption(f"No order's stage on {as_of} is earlier in the lifecycle than on {compare_to}.")
