"""Plotly figures for the pages, with one colour and one label per stage everywhere.

Colours are the Okabe-Ito palette, distinguishable with the common colour-vision deficiencies;
every figure has a title, axis titles with units and a readable legend. Builders take the dataset
frames as they come from `queries`, so a chart shows exactly what its table export contains.

Building figures is most of a page's work in the server, so builders hand Plotly NumPy arrays
(validated in one step, where lists are checked value by value) and style the figure with a few
layout properties instead of a full named template (which Plotly copies into every figure).
"""

from __future__ import annotations

import html

import plotly.graph_objects as go
import polars as pl

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


GRID = "#E5ECF6"
_AXIS = {"gridcolor": GRID, "zerolinecolor": GRID, "linecolor": GRID, "automargin": True}
PALETTE = [ACCENT, "#E69F00", "#009E73", "#CC79A7", "#56B4E9"]


def _figure(
    traces: list, title: str, x_title: str, y_title: str, height: int = 380, reversed_y: bool = False, **layout
) -> go.Figure:
    """A figure with its title, axis titles, size and the light style every chart shares.

    The layout is given when the figure is made: setting it afterwards (update_layout) costs Plotly
    ten times as much. Plotly's own "download plot as PNG" button is removed: charts leave the app
    through the Download button beside them, which records the filters in the file, is offered
    only to roles that download and is written to the audit log (SPEC §4).
    """
    return go.Figure(
        data=traces,
        layout={
            "title": {"text": title, "x": 0, "xanchor": "left"},
            "xaxis": {**_AXIS, "title": x_title},
            "yaxis": {**_AXIS, "title": y_title, **({"autorange": "reversed"} if reversed_y else {})},
            "height": height,
            "margin": {"l": 60, "r": 20, "t": 60, "b": 50},
            "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0, "title": None},
            "template": "none",
            "paper_bgcolor": "white",
            "plot_bgcolor": "white",
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


def stage_area(trend: pl.DataFrame, title: str = "Open orders over time (cumulative flow)") -> go.Figure:
    """Stacked areas per open stage over snapshot dates: where the backlog grows or drains."""
    traces = []
    for stage in OPEN_STAGES:
        rows = trend.filter(pl.col("stage") == stage)
        traces.append(
            go.Scatter(
                x=rows["snapshot_date"].to_numpy(),
                y=rows["orders"].to_numpy(),
                name=stage_label(stage),
                stackgroup="backlog",
                mode="lines",
                line={"width": 0.5, "color": STAGE_COLORS[stage]},
                fillcolor=STAGE_COLORS[stage],
                hovertemplate="%{x|%Y-%m-%d} " + stage_label(stage) + ": %{y:,} orders<extra></extra>",
            )
        )
    return _figure(traces, title, "Snapshot date", "Open orders")


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


def heatmap(frame: pl.DataFrame, x: str, y: str, value: str, title: str, x_title: str, y_title: str) -> go.Figure:
    """A count heatmap (e.g. exceptions per rule and market) with the numbers written in the cells."""
    xs = sorted(frame[x].unique().to_list())
    ys = frame[y].unique(maintain_order=True).to_list()  # callers pass rows in their meaningful order
    grid = frame.pivot(on=x, index=y, values=value, aggregate_function="sum")
    z = pl.DataFrame({y: ys}).join(grid, on=y, how="left").select(xs).fill_null(0).to_numpy()
    labelled = len(xs) * len(ys) <= 150  # numbers in the cells only while they stay readable
    cells = go.Heatmap(
        x=as_text(xs),
        y=as_text(ys),
        z=z,
        colorscale="Blues",
        text=z if labelled else None,
        texttemplate="%{text}" if labelled else "",
        hovertemplate=f"%{{y}} in %{{x}}: %{{z}} {value}<extra></extra>",
        colorbar={"title": value},
    )
    return _figure([cells], title, x_title, y_title, height=max(320, 60 + 36 * len(ys)), reversed_y=True)


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
                "bgcolor": "rgba(255,255,255,0.85)",
                "font": {"color": WARNING},
            }
        )
    return _figure([bars], title, x_title, "Orders", bargap=0.05, shapes=shapes, annotations=annotations)


def lines(frame: pl.DataFrame, x: str, series: dict[str, str], title: str, x_title: str, y_title: str) -> go.Figure:
    """One line per column ({column: legend label}) over x."""
    traces = [
        go.Scatter(
            x=frame[x].to_numpy(),
            y=frame[column].to_numpy(),
            name=label,
            mode="lines+markers",
            line={"color": color},
        )
        for (column, label), color in zip(series.items(), PALETTE, strict=False)
    ]
    return _figure(traces, title, x_title, y_title)


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

    With `key` (the column of codes behind the `y` labels) the cells can be clicked: Plotly cannot
    select heatmap cells, so an invisible marker sits on each cell, its customdata [x value, key].
    """
    xs = sorted(frame[x].unique().to_list())
    ys = frame[y].unique(maintain_order=True).to_list()  # callers pass rows in their meaningful order
    index = {(row[x], row[y]): row for row in frame.iter_rows(named=True)}
    z = [[index[(a, b)][value] if (a, b) in index else 0 for a in xs] for b in ys]
    labels = [[index[(a, b)][text] if (a, b) in index else "" for a in xs] for b in ys]
    largest = max([abs(v) for row in z for v in row] + [1])
    hover = "%{y} in %{x}: %{text}<extra></extra>"
    cells = go.Heatmap(
        x=xs,
        y=ys,
        z=z,
        text=labels,
        texttemplate="%{text}",
        zmin=-largest,
        zmax=largest,
        colorscale=[[0, "#009E73"], [0.5, "#FFFFFF"], [1, WARNING]],
        hovertemplate=hover,
        hoverinfo="skip" if key else None,
        colorbar={"title": "change"},
    )
    traces = [cells]
    if key:
        codes = dict(zip(frame[y], frame[key], strict=False))
        traces.append(
            go.Scatter(
                x=xs * len(ys),
                y=[b for b in ys for _ in xs],
                mode="markers",
                marker={"symbol": "square", "size": 30, "opacity": 0},
                text=[cell for row in labels for cell in row],
                customdata=[[a, codes[b]] for b in ys for a in xs],
                hovertemplate=hover,
                showlegend=False,
            )
        )
    return _figure(traces, title, x_title, y_title, height=max(320, 60 + 36 * len(ys)), reversed_y=True)


SLE_BANDS = {  # ageing_orders.sle_band -> dot colour, from calm to about to breach
    "within P50": "#A9CCE6",
    "P50 to P85": ACCENT,
    "P85 to P95": "#E69F00",
    "beyond P95": WARNING,
    None: "#7F7F7F",
}


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
                customdata=ageing.filter(pl.Series(chosen)).select("order_id", "market").to_numpy(),
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


def chart_bytes(figure: go.Figure, fmt: str, caption: str = "", width: int = 1200, scale: float = 1) -> bytes:
    """The figure as PNG, SVG or PDF (Kaleido, through the system Chromium) or standalone HTML.

    The caption (dataset, as-of date, filters) is written under the title so a file keeps its context.
    `width` is in CSS pixels (the text keeps its size, so a narrower chart reads larger when printed);
    `scale` multiplies the pixels of a PNG (2 for print).
    """
    figure = go.Figure(figure)
    if caption:
        title = figure.layout.title.text or ""
        figure.update_layout(title_text=f"{title}<br><sup>{html.escape(caption, quote=False)}</sup>", margin_t=80)
    if fmt == "html":
        return figure.to_html(include_plotlyjs=True, full_html=True).encode("utf-8")
    if fmt in ("png", "svg", "pdf"):
        return figure.to_image(format=fmt, width=width, height=int(figure.layout.height or 500), scale=scale)
    raise ValueError(f"unknown chart format '{fmt}'; choose one of {', '.join(CHART_FORMATS)}")
