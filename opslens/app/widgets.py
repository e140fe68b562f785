"""Widgets every page shares: downloads, empty states, tiles, drill-down and the orders table.

Downloads are generated only when clicked (Streamlit runs the callable then), because rendering a
chart to PNG or PDF starts Chromium and takes seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import plotly.graph_objects as go
import polars as pl
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from opslens.access import Access
from opslens.app import auth, data
from opslens.app.fmt import NONE
from opslens.app.state import describe
from opslens.app.text import plain
from opslens.charts import CHART_FORMATS, CHART_MIME, STAGE_LABELS, TOP_MARKETS, chart_bytes
from opslens.export import MIME_TYPES, file_name, table_bytes
from opslens.queries import RULES, Filters

TABLE_DOWNLOADS = ("csv", "xlsx", "parquet")


def _meta(dataset: str, filters: Filters) -> dict[str, str]:
    return {"dataset": dataset, **filters.described()}


def downloads(
    dataset: str,
    filters: Filters,
    frame: pl.DataFrame,
    figure: go.Figure | None = None,
    key: str = "",
    orders: tuple[str, int] | None = None,
) -> None:
    """A 'Download' popover: the chart as PNG/SVG/PDF/HTML and its data as CSV/XLSX/Parquet.

    `orders` (dataset, rows) adds the list of orders behind a summary chart; it is too long to send
    with the page, so it is fetched only when a button is clicked.

    Only users whose role downloads (analyst, admin) see it; each download is recorded in the audit
    log with the dataset, format and filters (the click runs outside the session, so who clicked is
    taken now).
    """
    user = data.user()
    if not user.can_download:
        return
    filters = data.scoped(dataset, filters)
    key = key or dataset
    meta = _meta(dataset, filters)
    caption = f"{dataset} · {describe(filters)}"  # plain text: files keep it as written
    with st.popover("Download", icon=":material/download:"):
        if figure is not None:
            st.caption("Chart")
            columns = st.columns(len(CHART_FORMATS))
            for column, fmt in zip(columns, CHART_FORMATS, strict=True):
                column.download_button(
                    fmt.upper(),
                    data=_recorded(user, dataset, fmt, meta, lambda fmt=fmt: chart_bytes(figure, fmt, caption)),
                    file_name=file_name(dataset, meta, fmt),
                    mime=CHART_MIME[fmt],
                    key=f"{key}-chart-{fmt}",
                    on_click="ignore",
                )
        _table_buttons(f"Data ({frame.height:,} rows)", user, dataset, meta, lambda: frame, f"{key}-table")
        if orders is not None:
            listed, rows = orders
            listed_meta = _meta(listed, data.scoped(listed, filters))
            fetch = data.later(listed, filters)  # run only when a button is clicked
            _table_buttons(f"The orders behind it ({rows:,} rows)", user, listed, listed_meta, fetch, f"{key}-orders")
        st.caption(plain(caption))


def _recorded(
    user: Access, dataset: str, fmt: str, meta: dict[str, str], content: Callable[[], bytes]
) -> Callable[[], bytes]:
    """`content` for a download button, recorded in the audit log once it is made (when clicked)."""

    def make() -> bytes:
        made = content()
        auth.record(user.email, "download", dataset=dataset, format=fmt, filters=meta)
        return made

    return make


def _table_buttons(
    label: str, user: Access, dataset: str, meta: dict[str, str], frame: Callable[[], pl.DataFrame], key: str
) -> None:
    st.caption(label)
    columns = st.columns(len(TABLE_DOWNLOADS))
    for column, fmt in zip(columns, TABLE_DOWNLOADS, strict=True):
        column.download_button(
            fmt.upper(),
            data=_recorded(user, dataset, fmt, meta, lambda fmt=fmt: table_bytes(frame(), fmt, meta)),
            file_name=file_name(dataset, meta, fmt),
            mime=MIME_TYPES[fmt],
            key=f"{key}-{fmt}",
            on_click="ignore",
        )


def empty_state(frame: pl.DataFrame, what: str, filters: Filters) -> bool:
    """Show a helpful note and return True when there is nothing to draw."""
    if frame.height and not (frame.width and _all_zero(frame)):
        return False
    st.info(
        f"No {what} for these filters ({plain(describe(filters))}). Widen the markets, products or segments "
        "in the sidebar, or pick another snapshot.",
        icon=":material/filter_alt_off:",
    )
    return True


def _all_zero(frame: pl.DataFrame) -> bool:
    for name in ("orders", "open_orders", "invoiced_orders"):
        if name in frame.columns:
            return frame[name].sum() == 0
    return False


def top_caption(hidden: int, ranked_by: str, summed: bool, every_market_in: str = "the download") -> None:
    """Under a per-market chart that draws only the top markets (charts.top_n): say which, and where the rest are."""
    if not hidden:
        return
    rest = f"the other {hidden:,} are summed in “Other”" if summed else f"the other {hidden:,} are not drawn"
    st.caption(
        f"Drawn: the {TOP_MARKETS} markets with the most {ranked_by}; {rest}. Every market is in {every_market_in}."
    )


def tile(column, label: str, value: str, change: float | None, delta: str | None, help_text: str) -> None:
    """A headline number with its change since the previous snapshot: red when it grew, grey when flat.

    Every headline measure is one where more is worse (backlog, exceptions, waiting, unbilled).
    """
    flat = not change
    column.metric(
        label,
        value,
        delta,
        delta_color="off" if flat else "inverse",
        delta_arrow="off" if flat else "auto",
        help=help_text,
        border=True,
    )


@dataclass(frozen=True)
class DrillChart:
    """A bar chart that drills: drawn into `slot` (an st.container placed where the chart belongs)
    once the drill box below it has its value; its bars stand for `options`, in order."""

    slot: DeltaGenerator
    figure: go.Figure
    key: str
    options: Sequence[str]


def drill_choice(
    label: str,
    options: Sequence[str],
    key: str,
    format_func: Callable[[str], str] = str,
    charts: Sequence[DrillChart] = (),
) -> str | None:
    """Which item to drill into, chosen in this box or by clicking a bar of one of its `charts`.

    The box is bound to the URL (its key is the query parameter, its value the option as shown), so
    a shared link opens the same order list; a value the box does not offer is dropped by Streamlit.
    With charts there is one selection for all: a click sets the box, and the box's item is the bar
    highlighted. A chart's key carries that item, so after any change the chart starts with no stale
    selection of its own and a click on any bar, also one clicked before, is a new choice.
    """
    for chart in charts:
        index = point_index(new_click(st.session_state.get(f"{chart.key}-drawn")))
        if index is not None and 0 <= index < len(chart.options):
            st.session_state[key] = chart.options[index]
    chosen = st.selectbox(
        label,
        options,
        index=None,
        key=key,
        format_func=format_func,
        placeholder="Choose…",
        filter_mode="contains",
        bind="query-params",
    )
    for chart in charts:
        if chosen in chart.options:
            chart.figure.update_traces(selectedpoints=[list(chart.options).index(chosen)])
        drawn = f"{chart.key}-{chosen or 'none'}"
        st.session_state[f"{chart.key}-drawn"] = drawn
        chart.slot.plotly_chart(chart.figure, key=drawn, on_select="rerun", selection_mode="points")
    return chosen


def new_click(chart_key: str | None) -> dict | None:
    """The point clicked in the chart drawn with this key (its point_index, customdata, ...), if that
    click is new.

    st.plotly_chart keeps a chart's last selection in the session and reports it on every run; only
    a click not seen before counts, so a choice made elsewhere afterwards is not overridden.
    """
    event = st.session_state.get(chart_key) if chart_key else None
    points = getattr(getattr(event, "selection", None), "points", None) or []
    point = points[0] if points else None
    if chart_key is None or point == st.session_state.get(f"{chart_key}-clicked"):
        return None
    st.session_state[f"{chart_key}-clicked"] = point
    return point


def point_index(point: dict | None) -> int | None:
    """A clicked bar's position in its trace (Plotly names it point_index, or point_number)."""
    return None if point is None else point.get("point_index", point.get("point_number"))


ORDER_COLUMNS = {
    "order_id": st.column_config.TextColumn("Order"),
    "market": st.column_config.TextColumn("Market"),
    "stage": st.column_config.TextColumn("Stage"),
    "rule": st.column_config.TextColumn("Rule"),
    "age_in_stage_days": st.column_config.NumberColumn("Days in stage", format="%d d"),
    "age_days": st.column_config.NumberColumn("Days since order", format="%d d"),
    "days_since_install": st.column_config.NumberColumn("Days since install", format="%d d"),
    "mrr": st.column_config.NumberColumn("MRR ($/mo)", format="dollar"),
    "product": st.column_config.TextColumn("Product"),
    "segment": st.column_config.TextColumn("Segment"),
    "ordered_at": st.column_config.DatetimeColumn("Ordered", format="YYYY-MM-DD"),
    "installed_at": st.column_config.DatetimeColumn("Installed", format="YYYY-MM-DD"),
    "activated_at": st.column_config.DatetimeColumn("Activated", format="YYYY-MM-DD"),
    "invoiced_at": st.column_config.DatetimeColumn("Invoiced", format="YYYY-MM-DD"),
    "appointment_at": st.column_config.DatetimeColumn("Appointment", format="YYYY-MM-DD HH:mm"),
    "network_ready_at": st.column_config.DatetimeColumn("Network ready", format="YYYY-MM-DD"),
    "exceptions": st.column_config.ListColumn("Exceptions"),
    # the Changes page
    "change": st.column_config.TextColumn("Change"),
    "stage_then": st.column_config.TextColumn("Stage then"),
    "stage_now": st.column_config.TextColumn("Stage now"),
    "market_then": st.column_config.TextColumn("Market then"),
    "stages_back": st.column_config.NumberColumn("Stages back", format="%d"),
    "reported_both": st.column_config.CheckboxColumn("Market reported on both dates"),
}


def readable(frame: pl.DataFrame) -> pl.DataFrame:
    """Stage and rule names as people read them ("Awaiting network"), for display only.

    Downloads keep the codes (`awaiting_network`) so files join cleanly with other systems.
    """
    labels = {"stage": STAGE_LABELS, "rule": {name: rule.label for name, rule in RULES.items()}}
    labels |= {"stage_then": STAGE_LABELS, "stage_now": STAGE_LABELS}  # the Changes page
    return frame.with_columns(
        pl.col(column).replace(mapping) for column, mapping in labels.items() if column in frame.columns
    )


def dataframe(frame: pl.DataFrame, **options) -> None:
    """`st.dataframe` as every page shows one: no index column, and a missing value shown as "–", as
    the tiles show it (Streamlit's default is "None"). Handed over as an Arrow table: Streamlit serialises
    that as it is, where a Polars frame would be converted through pandas on every run."""
    st.dataframe(frame.to_arrow(), **{"hide_index": True, "placeholder": NONE, **options})


def table(frame: pl.DataFrame, columns: Sequence[str] | None = None, height: int | str = "auto") -> None:
    """A sortable table with readable headers, names and units."""
    shown = frame.select(columns) if columns else frame
    dataframe(readable(shown), column_config=ORDER_COLUMNS, height=height)
