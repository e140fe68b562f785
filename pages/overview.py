"""Overview: the headline numbers with their change, the backlog at a glance, markets needing attention."""

import polars as pl
import streamlit as st

from opslens import charts
from opslens.app import data, fmt, state, widgets
from opslens.app.registry import PAGES_BY_NAME
from opslens.app.text import LIST_LIMIT, listed, plain, plain_list
from opslens.queries import RULES

filters = state.current_filters()
st.title("Overview")
st.caption(f"Service delivery at a glance · {plain(state.describe(filters))}")

headline = data.dataset("headline", filters)
previous = headline["previous_as_of"][0]
current = headline["as_of"][0]
# markets without an extract on the previous or the current snapshot (one query for the warning and the table)
missing = data.dataset("snapshot_rows", filters.with_dates(previous or current, current)).filter(pl.col("rows") == 0)
if previous and missing.height:
    st.warning(
        "Missing extracts: "
        + listed(missing.iter_rows(named=True), shown=lambda r: f"{plain(r['market'])} on {r['snapshot_date']}")
        + f". The changes compare only markets that reported on both {previous} and {current}. See Data health.",
        icon=":material/warning:",
    )
tiles = [column for _ in range(2) for column in st.columns(3)]
for column, row in zip(tiles, headline.iter_rows(named=True), strict=True):
    formatter = fmt.FORMATTERS.get(row["unit"], fmt.count)
    widgets.tile(
        column,
        row["label"],
        formatter(row["value"]),
        row["change"],
        fmt.change(row["change"], row["unit"]),
        f"{row['label']}; the change is since the snapshot of {previous}, over markets that reported on both dates"
        if previous
        else row["label"],
    )

backlog = data.dataset("backlog", filters)
# One above the other, each the page's width: the attention table's reasons need the room (side by
# side, "MRR at risk" was cut at 1500 px and "Why" was off screen).
st.subheader("Backlog by stage")
if not widgets.empty_state(backlog, "open orders", filters):
    figure = charts.backlog_bars(backlog, title="Open orders by stage (click a bar to list its orders)")
    # keyed by the drills made so far: back on this page the chart has no old click, so any bar works again
    drills = st.session_state.get("overview-drills", 0)
    st.plotly_chart(figure, key=f"overview-backlog-{drills}", on_select="rerun", selection_mode="points")
    clicked = widgets.point_index(widgets.new_click(f"overview-backlog-{drills}"))
    if clicked is not None and 0 <= clicked < backlog.height:  # its orders are listed on the Backlog page
        st.session_state["overview-drills"] = drills + 1
        # the sidebar's filters go along by themselves: they are bound to the link on every page
        drill = {"backlog-drill": charts.stage_label(backlog["stage"][clicked])}
        st.switch_page(PAGES_BY_NAME["backlog"].path, query_params=drill)
    widgets.downloads("backlog", filters, backlog, figure, key="overview-backlog")

st.subheader("Markets that need attention")
attention = data.dataset("market_attention", filters)
if not widgets.empty_state(attention, "markets with open orders", filters):
    why = attention.with_columns(
        pl.format(
            "{} of {} orders; most: {} ({})",  # short enough to read whole on a phone
            "exception_orders",
            "orders",
            pl.col("top_rule").replace_strict({name: rule.label for name, rule in RULES.items()}, default="none"),
            "top_rule_orders",
        ).alias("why")
    )
    widgets.dataframe(
        # the reason right after the market, so a phone shows it first; sorted by rank
        why.select("market", "why", "exception_share", "mrr_at_risk", "attention_rank"),
        column_config={
            "attention_rank": st.column_config.NumberColumn("Rank", width="small"),
            "market": st.column_config.TextColumn("Market", pinned=True),
            "exception_share": st.column_config.ProgressColumn(
                "Orders with exceptions", format="percent", min_value=0, max_value=1
            ),
            "mrr_at_risk": st.column_config.NumberColumn("MRR at risk ($/mo)", format="dollar"),
            "why": st.column_config.TextColumn(
                "Why: orders with exceptions, top rule",
                width="large",
                help="Open orders with at least one exception, of the market's open orders; the rule most broken",
            ),
        },
    )
    widgets.downloads("market_attention", filters, attention)
# A market without an extract at S has no open orders there, so no row: say so rather than let it vanish.
silent = missing.filter(pl.col("snapshot_date") == current)
if silent.height:
    st.caption(
        f"Not ranked: {plain_list(silent['market'], LIST_LIMIT)}, with no extract on {current} (see Data health)."
    )
