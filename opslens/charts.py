"""Plotly figures for the pages, with one colour and one label per stage everywhere.

Colours are the Okabe-Ito palette, distinguishable with the common colour-vision deficiencies;
every figure has a title, axis titles with units and a readable legend. Builders take the dataset
frames as they come from `queries`, so a chart shows exactly what its table export contains.

Building figures is most of a page's work in the server, so builders hand Plotly NumPy arrays
(validated in one step, where lists are checked value by value) and style the figure with a few
layout properties instead of a full named template (which Plotly copies into every figure).
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re

import plotly.graph_objects as go
import polars as pl
import pypdf

from opslens.contract import OPEN_STAGES, STAGES

STAGE_COLORS: dict[str, str] = {
    "intake": "#56B4E9",  # sky blue
    "awaiting_network": "#E69F00",  # orange
    "awaiting_appointment": "#F0E442",  # yellow
    "scheduled": "#0072B2",  # blue
    "installed": "#009E73",  # bluish green
    "activated": "#CC79A7",  # reddish purple
    "invoiced": "#7F7F7F",  # grey
    "cancelled": "#D55E00",  # vermillion
}
STAGE_LABELS: dict[str, str] = {stage: stage.replace("_", " ").capitalize() for stage in STAGES}
ACCENT = "#0072B2"
WARNING = "#D55E00"
CHART_FORMATS = ("png", "svg", "pdf", "html")
CHART_MIME = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf", "html": "text/html"}


def stage_label(stage: str) -> str:
    return STAGE_LABELS.get(stage, stage)


def as_text(values) -> list[str]:
    """Labels from data (market names, ...) as Plotly text: its labels understand a few HTML tags
    (<a href>, <b>, <span style>), so a market named `<a href=...>` would become a link; escaped, it
    is shown exactly as written."""
    return [html.escape(str(v), quote=False) for v in values]


def escaped(column: str) -> pl.Expr:
    """`as_text` for a whole column at once (html.escape without quotes: &, < and >)."""
    text = pl.col(column).cast(pl.String)
    return (
        text.str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
    )


# Per-market charts draw at most this many markets: beyond it bars and cells get too thin to read or
# click, and a page with 10,000 markets would send megabytes of chart. The rest are summed into one
# "Other (K markets)" bar where the measure adds up, and are always in the table and the download.
TOP_MARKETS = 20
OTHER_PREFIX = "Other ("


def top_n(
    frame: pl.DataFrame,
    category: str,
    by: str | pl.Expr,
    n: int = TOP_MARKETS,
    summed: tuple[str, ...] = (),
    keys: tuple[str, ...] = (),
    noun: str = "markets",
) -> tuple[pl.DataFrame, int]:
    """The rows of the `n` categories with the largest total `by` (ties by name), and how many were left out.

    The kept rows stay in the frame's order. With `summed` columns, the left-out categories become
    one row per `keys` value, named "Other (K markets)", holding their sums, so a chart of counts
    still adds up to the total. Percentiles and shares do not add: pass no `summed` and say in the
    caption that only the top ones are drawn.
    """
    names = frame[category].n_unique()
    if names <= n:
        return frame, 0
    score = (pl.col(by) if isinstance(by, str) else by).sum().alias("_score")
    ranked = frame.group_by(category).agg(score).sort(["_score", category], descending=[True, False])
    kept = ranked[category].head(n).to_list()
    top = frame.filter(pl.col(category).is_in(kept))
    hidden = names - n
    if not summed:
        return top, hidden
    rest = frame.filter(~pl.col(category).is_in(kept))
    sums = [pl.col(column).sum() for column in summed]
    others = rest.group_by(keys, maintain_order=True).agg(sums) if keys else rest.select(sums)
    label = f"{OTHER_PREFIX}{hidden:,} {noun})"
    return pl.concat([top, others.with_columns(pl.lit(label).alias(category))], how="diagonal_relaxed"), hidden


def _other_last(value: object) -> tuple[bool, str]:
    """Sort key: names in order, the "Other (K markets)" row of `top_n` after them."""
    return str(value).startswith(OTHER_PREFIX), str(value)


GRID = "rgba(128, 128, 128, 0.25)"  # a light grey on white, a dark grey on Streamlit's dark theme
_AXIS = {"gridcolor": GRID, "zerolinecolor": GRID, "linecolor": GRID, "automargin": True}
PALETTE = [ACCENT, "#E69F00", "#009E73", "#CC79A7", "#56B4E9"]


def _figure(
    traces: list, title: str, x_title: str, y_title: str, height: int = 380, reversed_y: bool = False, **layout
) -> go.Figure:
    """A figure with its title, axis titles, size and the plain style every chart shares.

    The layout is given when the figure is made: setting it afterwards (update_layout) costs Plotly
    ten times as much. Plotly's own "download plot as PNG" button is removed: charts leave the app
    through the Download button beside them, which records the filters in the file, is offered
    only to roles that download and is written to the audit log (SPEC §4).
    """
    return go.Figure(
        data=traces,
        layout={
            # the title at the top of the figure and the legend at its bottom, each pushing the plot
            # area as far as it needs: a legend that wraps (long labels, a phone) never covers the title
            "title": {
                "text": title,
                "x": 0,
                "xanchor": "left",
                "yref": "container",
                "y": 1,
                "yanchor": "top",
                "pad": {"t": 10},
                "automargin": True,
            },
            "xaxis": {**_AXIS, "title": x_title},
            "yaxis": {**_AXIS, "title": y_title, **({"autorange": "reversed"} if reversed_y else {})},
            "height": height,
            "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
            "legend": {"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0, "x": 0, "title": None},
            "template": "none",
            # transparent, with no font colour: in the app Streamlit's theme (light or dark) colours the
            # text and the page shows through; files get white paper and dark text (chart_bytes)
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "font": {"size": 13, "family": "Arial, sans-serif"},
            "modebar": {"remove": ["toImage"]},
            **layout,
        },
    )


def backlog_bars(backlog: pl.DataFrame, value: str = "orders", title: str = "Open orders by stage") -> go.Figure:
    """Horizontal bars per open stage, lifecycle order top to bottom; clicking a bar drills down."""
    unit, axis = ("orders", "Open orders") if value == "orders" else ("$/month", "MRR ($/month)")
    bars = go.Bar(
        y=[stage_label(s) for s in backlog["stage"]],
        x=backlog[value].to_numpy(),
        orientation="h",
        marker_color=[STAGE_COLORS[s] for s in backlog["stage"]],
        customdata=backlog["stage"].to_list(),
        text=[f"{v:,.0f}" for v in backlog[value]],
        textposition="auto",
        hovertemplate="%{y}: %{x:,.0f} " + unit + "<extra></extra>",
    )
    return _figure([bars], title, axis, "Stage", reversed_y=True)


def stage_area(
    trend: pl.DataFrame, title: str = "Open orders over time (cumulative flow)", gaps: pl.DataFrame | None = None
) -> go.Figure:
    """Stacked areas per open stage over snapshot dates: where the backlog grows or drains.

    `gaps` (snapshot_date, market) are the dates a market in view sent no extract: their totals lack
    that market, so they are not drawn (the areas run straight across) and a grey band names who is
    missing, instead of a plunge that reads as a real drop. When most dates miss some market (a store
    of many markets with a few late every day) leaving them out would leave no chart: they are drawn,
    still banded.
    """
    missing = {} if gaps is None else dict(gaps.group_by("snapshot_date").agg("market").iter_rows())
    hidden = list(missing) if len(missing) <= trend["snapshot_date"].n_unique() / 2 else []
    traces = []
    for stage in OPEN_STAGES:
        rows = trend.filter(pl.col("stage") == stage)
        orders = rows["orders"].cast(pl.Float64).to_numpy().copy()  # writable
        orders[rows["snapshot_date"].is_in(hidden).to_numpy()] = float("nan")
        traces.append(
            go.Scatter(
                x=rows["snapshot_date"].to_numpy(),
                y=orders,
                name=stage_label(stage),
                stackgroup="backlog",
                mode="lines",
                line={"width": 0.5, "color": STAGE_COLORS[stage]},
                fillcolor=STAGE_COLORS[stage],
                hovertemplate="%{x|%Y-%m-%d} " + stage_label(stage) + ": %{y:,} orders<extra></extra>",
                stackgaps="interpolate",
            )
        )
    half_day = dt.timedelta(hours=12)
    midnights = [dt.datetime.combine(date, dt.time()) for date in missing]  # (a date minus 12 hours is the date)
    bands = [
        {"type": "rect", "xref": "x", "yref": "paper", "x0": at - half_day, "x1": at + half_day, "y0": 0, "y1": 1,
         "fillcolor": "rgba(128,128,128,0.3)", "line": {"width": 0}, "layer": "above"}
        for at in midnights
    ]  # fmt: skip
    hover = go.Scatter(  # a hover label per band: who did not report
        x=list(missing),
        y=[0] * len(missing),
        mode="markers",
        marker={"symbol": "line-ns", "size": 12, "line": {"width": 3, "color": "rgba(128,128,128,0.8)"}},
        name="Extract missing",
        text=[html.escape(", ".join(sorted(markets)), quote=False) for markets in missing.values()],
        hovertemplate="%{x|%Y-%m-%d}: no extract from %{text}<extra></extra>",
    )
    return _figure([*traces, hover] if missing else traces, title, "Snapshot date", "Open orders", shapes=bands)


def ageing_bars(ageing: pl.DataFrame, title: str = "Days in stage, by stage") -> go.Figure:
    """Stacked bars: for each stage, how many orders sit in each age bucket."""
    buckets = ageing["bucket"].unique(maintain_order=True).to_list()
    shades = ["#DCEAF5", "#A9CCE6", "#6FA8D2", "#3A7FB8", "#1F5A8E", "#0B2E4F"]
    traces = []
    for bucket, shade in zip(buckets, shades, strict=False):
        rows = ageing.filter(pl.col("bucket") == bucket)
        traces.append(
            go.Bar(
                x=[stage_label(s) for s in rows["stage"]],
                y=rows["orders"].to_numpy(),
                name=bucket,
                marker_color=shade,
                hovertemplate="%{x}, " + bucket + ": %{y:,} orders<extra></extra>",
            )
        )
    return _figure(traces, title, "Stage", "Open orders", barmode="stack")


def flow_bars(flow: pl.DataFrame, title: str = "Orders entering and leaving each stage") -> go.Figure:
    """Inflow above and outflow below zero, per stage, summed over the date range."""
    totals = flow.group_by("stage", maintain_order=True).agg(pl.col("inflow").sum(), pl.col("outflow").sum())
    labels = [stage_label(s) for s in totals["stage"]]
    traces = [
        go.Bar(x=labels, y=totals["inflow"].to_numpy(), name="Entered", marker_color=ACCENT),
        go.Bar(x=labels, y=(-totals["outflow"]).to_numpy(), name="Left", marker_color=WARNING),
    ]
    return _figure(traces, title, "Stage", "Orders (entered +, left −)", barmode="relative")


def heatmap(
    frame: pl.DataFrame,
    x: str,
    y: str,
    value: str,
    title: str,
    x_title: str,
    y_title: str,
    y_order: list[str] | None = None,
    key: str | None = None,
) -> go.Figure:
    """A count heatmap (e.g. exceptions per rule and market) with the numbers written in the cells.

    Rows follow `y_order` (e.g. the rules' order), else the frame's; columns are sorted, "Other" last.
    With `key` (the column of codes behind the `y` labels) the cells can be clicked (`clickable_cells`).
    """
    xs = sorted(frame[x].unique().to_list(), key=_other_last)
    ys = frame[y].unique(maintain_order=True).to_list()
    if y_order is not None:
        present = set(ys)
        ys = [label for label in y_order if label in present]
    grid = frame.pivot(on=x, index=y, values=value, aggregate_function="sum")
    rows = pl.DataFrame({y: ys}, schema={y: frame.schema[y]})  # typed even when empty
    z = rows.join(grid, on=y, how="left").select(xs).fill_null(0).to_numpy()
    labelled = len(xs) * len(ys) <= 150  # numbers in the cells only while they stay readable
    cells = go.Heatmap(
        x=as_text(xs),
        y=as_text(ys),
        z=z,
        colorscale="Blues",
        text=z if labelled else None,
        texttemplate="%{text}" if labelled else "",
        hovertemplate=f"%{{y}} in %{{x}}: %{{z}} {value}<extra></extra>",
        hoverinfo="skip" if key else None,
        colorbar=_colorbar(value),
    )
    traces = [cells]
    if key:
        codes = dict(zip(frame[y], frame[key], strict=False))
        text = [f"{count:,}" for row in z.tolist() for count in row]
        hover = f"%{{y}} in %{{x}}: %{{text}} {value}<extra></extra>"
        traces.append(clickable_cells(xs, ys, codes, text, hover))
    return _figure(traces, title, x_title, y_title, height=max(320, 60 + 36 * len(ys)), reversed_y=True)


def _colorbar(title: str) -> dict:
    """A heatmap's colour scale as a short bar under the plot, not a column beside it: on a phone
    the cells keep the width."""
    return {
        "title": {"text": title, "side": "right"},
        "orientation": "h",
        "yref": "container",
        "y": 0,
        "yanchor": "bottom",
        "x": 0,
        "xanchor": "left",
        "lenmode": "pixels",
        "len": 160,
        "thickness": 10,
    }


def clickable_cells(xs: list, ys: list, codes: dict, text: list[str], hover: str) -> go.Scatter:
    """Invisible markers over a heatmap's cells, so a click selects one: Plotly cannot select heatmap
    cells. Each marker's customdata is [x value, the code behind its y label]."""
    return go.Scatter(
        x=as_text(xs) * len(ys),
        y=[label for label in as_text(ys) for _ in xs],
        mode="markers",
        marker={"symbol": "square", "size": 30, "opacity": 0},
        text=text,
        customdata=[[a, codes[b]] for b in ys for a in xs],
        hovertemplate=hover,
        showlegend=False,
    )


def grouped_bars(
    frame: pl.DataFrame, category: str, series: dict[str, str], title: str, x_title: str, y_title: str
) -> go.Figure:
    """Side-by-side bars per category, one colour per series ({column: legend label})."""
    traces = [
        go.Bar(x=as_text(frame[category]), y=frame[column].to_numpy(), name=label, marker_color=color)
        for (column, label), color in zip(series.items(), PALETTE, strict=False)
    ]
    return _figure(traces, title, x_title, y_title, barmode="group")


def histogram_with_percentiles(
    distribution: pl.DataFrame, marks: dict[str, float | None], title: str, x_title: str
) -> go.Figure:
    """Orders per day count (columns days, orders), as bars one day wide, with lines at the percentiles.

    The counts come from the database, so the chart carries one bar per day count, not every order.
    """
    bars = go.Bar(
        x=distribution["days"].to_numpy(),
        y=distribution["orders"].to_numpy(),
        marker_color=ACCENT,
        name="orders",
        hovertemplate="%{x} days: %{y:,} orders<extra></extra>",
    )
    shapes, annotations = [], []
    for level, ((label, position), dash) in enumerate(zip(marks.items(), ["solid", "dash", "dot"], strict=False)):
        if position is None:
            continue
        line = {"color": WARNING, "dash": dash}
        shapes.append({"type": "line", "x0": position, "x1": position, "yref": "paper", "y0": 0, "y1": 1, "line": line})
        annotations.append(
            {
                "x": position,
                "y": 1 - 0.09 * level,
                "yref": "paper",
                "text": f"{label} {position:.1f} d",
                "showarrow": False,
                "xanchor": "left",
                "xshift": 4,
                "bgcolor": "rgba(128,128,128,0.15)",
                "font": {"color": WARNING},
            }
        )
    return _figure([bars], title, x_title, "Orders", bargap=0.05, shapes=shapes, annotations=annotations)


def install_week_lines(weekly: pl.DataFrame, series: dict[str, str], title: str, y_title: str) -> go.Figure:
    """One line per column ({column: legend label}) over install weeks, with each week's sample size.

    Only complete weeks (`complete`: see install_to_invoice_weekly) are joined by the lines; an
    incomplete one (installed before the history began, or with slow orders still to be invoiced) is
    an open circle off the line. Grey bars in a strip below count each week's invoiced orders.
    """
    weeks = weekly["install_week"].to_numpy()
    complete = weekly["complete"].to_numpy().astype(bool)
    traces = [
        go.Bar(
            x=weeks,
            y=weekly["invoiced_orders"].to_numpy(),
            name="Invoiced orders",
            marker_color="#9E9E9E",
            yaxis="y2",
            hovertemplate="week of %{x|%Y-%m-%d}: %{y:,} invoiced orders<extra></extra>",
        )
    ]
    for (column, label), color in zip(series.items(), PALETTE, strict=False):
        values = weekly[column].cast(pl.Float64).to_numpy()
        solid, hollow = values.copy(), values.copy()
        solid[~complete], hollow[complete] = float("nan"), float("nan")
        common = {"x": weeks, "legendgroup": column, "line": {"color": color}}
        traces.append(go.Scatter(y=solid, name=label, mode="lines+markers", connectgaps=False, **common))
        traces.append(
            go.Scatter(
                y=hollow,
                name=f"{label}, incomplete week",
                mode="markers",
                marker={"symbol": "circle-open", "color": color, "size": 8},
                showlegend=False,
                **common,
            )
        )
    return _figure(
        traces,
        title,
        "Week of install (Monday)",
        y_title,
        height=440,
        xaxis={**_AXIS, "title": "Week of install (Monday)", "anchor": "y2"},
        yaxis={**_AXIS, "title": y_title, "domain": [0.32, 1], "rangemode": "tozero"},
        yaxis2={**_AXIS, "title": "Orders", "domain": [0, 0.22], "rangemode": "tozero", "tickformat": ",d"},
    )


CHANGE_COLORS = {"new": WARNING, "persisting": "#BBBBBB", "resolved": "#009E73"}  # vermillion, grey, green


def change_bars(
    changes: pl.DataFrame, label: str, title: str, y_title: str = "Rule", key: str | None = None
) -> go.Figure:
    """Per row (e.g. rule): resolved to the left of zero, persisting then new to the right.

    Read in a glance: a long red tail is what appeared since the comparison date, green what was
    cleared, grey what is still open. Numbers are written on the bars. Each bar's customdata is
    [count, the row's `key` (default: its label), change], so a click names what to drill into.
    """
    labels = changes[label].to_list()
    keys = changes[key or label].to_list()
    traces = []
    for column, name, sign in (("resolved", "Resolved", -1), ("persisting", "Persisting", 1), ("new", "New", 1)):
        values = changes[column].to_numpy()
        traces.append(
            go.Bar(
                y=labels,
                x=sign * values,
                name=name,
                orientation="h",
                marker_color=CHANGE_COLORS[column],
                text=[f"{v:,}" if v else "" for v in values],
                textposition="inside",
                customdata=[[int(v), k, column] for v, k in zip(values, keys, strict=True)],
                hovertemplate="%{y}: %{customdata[0]:,} " + name.lower() + "<extra></extra>",
            )
        )
    height = max(320, 90 + 34 * len(labels))
    return _figure(
        traces,
        title,
        "Exceptions (resolved −, persisting and new +)",
        y_title,
        height,
        reversed_y=True,
        barmode="relative",
    )


def change_heatmap(
    frame: pl.DataFrame,
    x: str,
    y: str,
    value: str,
    text: str,
    title: str,
    x_title: str,
    y_title: str,
    key: str | None = None,
) -> go.Figure:
    """A diverging heatmap of a change (red grew, green shrank, white unchanged), labelled by `text`.

    With `key` (the column of codes behind the `y` labels) the cells can be clicked (`clickable_cells`).
    """
    xs = sorted(frame[x].unique().to_list(), key=_other_last)
    ys = frame[y].unique(maintain_order=True).to_list()  # callers pass rows in their meaningful order
    index = {(row[x], row[y]): row for row in frame.iter_rows(named=True)}
    z = [[index[(a, b)][value] if (a, b) in index else 0 for a in xs] for b in ys]
    labels = [[index[(a, b)][text] if (a, b) in index else "" for a in xs] for b in ys]
    largest = max([abs(v) for row in z for v in row] + [1])
    hover = "%{y} in %{x}: %{text}<extra></extra>"
    shown_x, shown_y = as_text(xs), as_text(ys)  # market names from data: shown as written, never as markup
    cells = go.Heatmap(
        x=shown_x,
        y=shown_y,
        z=z,
        text=labels,
        texttemplate="%{text}",
        zmin=-largest,
        zmax=largest,
        colorscale=[[0, "#009E73"], [0.5, "#FFFFFF"], [1, WARNING]],
        hovertemplate=hover,
        hoverinfo="skip" if key else None,
        colorbar=_colorbar("change"),
    )
    traces = [cells]
    if key:
        codes = dict(zip(frame[y], frame[key], strict=False))
        traces.append(clickable_cells(xs, ys, codes, [cell for row in labels for cell in row], hover))
    return _figure(traces, title, x_title, y_title, height=max(320, 60 + 36 * len(ys)), reversed_y=True)


SLE_BANDS = {  # ageing_orders.sle_band -> dot colour, from calm to about to breach
    "within P50": "#A9CCE6",
    "P50 to P85": ACCENT,
    "P85 to P95": "#E69F00",
    "beyond P95": WARNING,
    None: "#7F7F7F",
}


# The ageing chart draws at most this many dots: beyond it they merge into a blob that tells nothing
# more, and each view would send megabytes (88,000 open orders on the year store: 3.3 MB, 0.5 s of CPU).
MAX_DOTS = 5000


def dots_drawn(ageing: pl.DataFrame, limit: int | None = None) -> pl.DataFrame:
    """The open orders `ageing_dots` draws: all of them up to `limit` (default MAX_DOTS), else an even
    sample (every k-th row), so each stage and band keeps its share and the picture its shape."""
    limit = limit or MAX_DOTS
    return ageing if ageing.height <= limit else ageing.gather_every(-(-ageing.height // limit))


def ageing_dots(
    ageing: pl.DataFrame, title: str = "Open orders by age in stage, against the service levels"
) -> go.Figure:
    """One dot per open order: its stage (spread sideways so dots do not hide each other) and age in stage.

    Short lines across each stage mark its SLE: the days within which 50%, 85% and 95% of the orders
    that recently left the stage had left. Dots above the 85% line are the orders about to breach.
    """
    position = {stage: i for i, stage in enumerate(OPEN_STAGES)}
    ages = ageing["age_in_stage_days"].to_numpy()
    # a fixed spread per row (golden-ratio steps): the same data always draws the same picture
    spread = ((pl.int_range(0, ageing.height, eager=True).to_numpy() * 0.618034) % 1 - 0.5) * 0.7
    x_all = ageing["stage"].replace_strict(position, default=None).to_numpy() + spread
    hover = ageing.select(escaped("order_id"), escaped("market")).to_numpy()  # one array: Plotly checks it at once
    traces = []
    for band, color in SLE_BANDS.items():
        chosen = (ageing["sle_band"].is_null() if band is None else ageing["sle_band"] == band).to_numpy()
        if not chosen.any():
            continue
        traces.append(
            go.Scatter(
                x=x_all[chosen],
                y=ages[chosen],
                mode="markers",
                name=band or "no SLE (nobody left the stage)",
                marker={"color": color, "size": 6, "opacity": 0.75},
                customdata=hover[chosen],
                hovertemplate="%{customdata[0]} (%{customdata[1]}): %{y} days in stage<extra></extra>",
            )
        )
    shapes, annotations = [], []
    lines_per_stage = ageing.group_by("stage").agg(pl.col("sle_p50_days", "sle_p85_days", "sle_p95_days").first())
    for row in lines_per_stage.iter_rows(named=True):
        centre = position[row["stage"]]
        for label, column, dash in (
            ("50%", "sle_p50_days", "dot"),
            ("85%", "sle_p85_days", "dash"),
            ("95%", "sle_p95_days", "solid"),
        ):
            if row[column] is None:
                continue
            shapes.append(
                {
                    "type": "line",
                    "x0": centre - 0.42,
                    "x1": centre + 0.42,
                    "y0": row[column],
                    "y1": row[column],
                    "line": {"color": WARNING, "dash": dash, "width": 1.5},
                }
            )
            annotations.append(
                {"x": centre + 0.42, "y": row[column], "text": label, "showarrow": False, "xanchor": "left",
                 "font": {"size": 10, "color": WARNING}}
            )  # fmt: skip
    return _figure(
        traces,
        title,
        "Stage",
        "Days in stage",
        height=460,
        shapes=shapes,
        annotations=annotations,
        xaxis={
            **_AXIS,
            "title": "Stage",
            "tickvals": list(range(len(OPEN_STAGES))),
            "ticktext": [stage_label(s) for s in OPEN_STAGES],
            "range": [-0.6, len(OPEN_STAGES) - 0.4],
        },
    )


# "(click a bar to list its orders)": how to use a chart in the app, not part of its title in a file.
_INTERACTION_HINT = re.compile(r"\s*\((?:click|tap|select|hover)\b[^()]*\)", re.IGNORECASE)
EXPORT_TEXT = "#262730"  # Streamlit's light-theme text colour: files are always light
_EXPORT_STANDOFF = 14  # px between an axis title and its tick labels ("Stage" and "Awaiting appointment")
_PDF_BOTTOM_SLACK = 24  # px: Chromium's print of the figure runs a little past the page at the bottom


def _export_title(figure: go.Figure) -> str:
    """The figure's title as a file shows it: without the app's interaction hint."""
    return _INTERACTION_HINT.sub("", figure.layout.title.text or "").strip()


def _plain_title(title: str) -> str:
    """A Plotly title (which may hold <br>, <b>, entities) as plain text, for a document title."""
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", title)).split()) or "Ops Lens chart"


def _pdf_titled(pdf: bytes, title: str) -> bytes:
    """The PDF with `title` as its document title instead of "Kaleido-fier" (the <title> of the page
    Kaleido prints through Chromium)."""
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(pdf)))
    writer.add_metadata({"/Title": title, "/Creator": "Ops Lens"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _export_figure(figure: go.Figure, caption: str) -> tuple[go.Figure, str]:
    """A copy of the figure as files show it, and its title as plain text (the document title)."""
    figure = go.Figure(figure)
    title = _export_title(figure)
    shown = f"{title}<br><sup>{html.escape(caption, quote=False)}</sup>" if caption else title
    figure.update_layout(
        title_text=shown,
        paper_bgcolor="white",
        plot_bgcolor="white",
        font_color=EXPORT_TEXT,
        title_pad={"t": 30 if caption else 10, "l": 10},  # a title of two lines anchors by its first
        **({"margin_t": 80} if caption else {}),
    )
    figure.update_xaxes(title_standoff=_EXPORT_STANDOFF)
    figure.update_yaxes(title_standoff=_EXPORT_STANDOFF)
    return figure, _plain_title(title)


def chart_bytes(figure: go.Figure, fmt: str, caption: str = "", width: int = 1200, scale: float = 1) -> bytes:
    """The figure as PNG, SVG or PDF (Kaleido, through the system Chromium) or standalone HTML.

    The caption (dataset, as-of date, filters) is written under the title so a file keeps its context.
    `width` is in CSS pixels (the text keeps its size, so a narrower chart reads larger when printed);
    `scale` multiplies the pixels of a PNG (2 for print).

    A file's title is the chart's without the app's interaction hint ("click a bar ..."); axis titles
    stand clear of the tick labels; the PDF and the HTML page carry the title as their document title.
    The HTML holds plotly.js inline (about 4.8 MB): the file opens offline, mailed or archived, with
    no request to a CDN.
    """
    figure, document_title = _export_figure(figure, caption)
    height = int(figure.layout.height or 500)
    if fmt == "html":
        page = figure.to_html(include_plotlyjs=True, full_html=True)
        return page.replace("<head>", f"<head><title>{html.escape(document_title)}</title>", 1).encode("utf-8")
    if fmt == "pdf":
        bottom = figure.layout.margin.b if figure.layout.margin.b is not None else 80
        figure.update_layout(margin_b=bottom + _PDF_BOTTOM_SLACK)
        pdf = figure.to_image(format="pdf", width=width, height=height + _PDF_BOTTOM_SLACK, scale=scale)
        return _pdf_titled(pdf, document_title)
    if fmt in ("png", "svg"):
        return figure.to_image(format=fmt, width=width, height=height, scale=scale)
    raise ValueError(f"unknown chart format '{fmt}'; choose one of {', '.join(CHART_FORMATS)}")
