"""Plotly figures for the pages, with one colour and one label per stage everywhere.

Colours are the Okabe-Ito palette, distinguishable with the common colour-vision deficiencies;
every figure has a title, axis titles with units and a readable legend. Builders take the dataset
frames as they come from `queries`, so a chart shows exactly what its table export contains.
"""

from __future__ import annotations

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


def _layout(figure: go.Figure, title: str, x_title: str, y_title: str, height: int = 380) -> go.Figure:
    figure.update_layout(
        title={"text": title, "x": 0, "xanchor": "left"},
        xaxis_title=x_title,
        yaxis_title=y_title,
        height=height,
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0, "title": None},
        template="plotly_white",
        font={"size": 13},
    )
    return figure


def backlog_bars(backlog: pl.DataFrame, value: str = "orders", title: str = "Open orders by stage") -> go.Figure:
    """Horizontal bars per open stage, lifecycle order top to bottom; clicking a bar drills down."""
    unit, axis = ("orders", "Open orders") if value == "orders" else ("$/month", "MRR ($/month)")
    figure = go.Figure(
        go.Bar(
            y=[stage_label(s) for s in backlog["stage"]],
            x=backlog[value].to_list(),
            orientation="h",
            marker_color=[STAGE_COLORS[s] for s in backlog["stage"]],
            customdata=backlog["stage"].to_list(),
            text=[f"{v:,.0f}" for v in backlog[value]],
            textposition="auto",
            hovertemplate="%{y}: %{x:,.0f} " + unit + "<extra></extra>",
        )
    )
    figure.update_yaxes(autorange="reversed")
    return _layout(figure, title, axis, "Stage")


def stage_area(trend: pl.DataFrame, title: str = "Open orders over time (cumulative flow)") -> go.Figure:
    """Stacked areas per open stage over snapshot dates: where the backlog grows or drains."""
    figure = go.Figure()
    for stage in OPEN_STAGES:
        rows = trend.filter(pl.col("stage") == stage)
        figure.add_trace(
            go.Scatter(
                x=rows["snapshot_date"].to_list(),
                y=rows["orders"].to_list(),
                name=stage_label(stage),
                stackgroup="backlog",
                mode="lines",
                line={"width": 0.5, "color": STAGE_COLORS[stage]},
                fillcolor=STAGE_COLORS[stage],
                hovertemplate="%{x|%Y-%m-%d} " + stage_label(stage) + ": %{y:,} orders<extra></extra>",
            )
        )
    return _layout(figure, title, "Snapshot date", "Open orders")


def ageing_bars(ageing: pl.DataFrame, title: str = "Days in stage, by stage") -> go.Figure:
    """Stacked bars: for each stage, how many orders sit in each age bucket."""
    buckets = ageing["bucket"].unique(maintain_order=True).to_list()
    shades = ["#DCEAF5", "#A9CCE6", "#6FA8D2", "#3A7FB8", "#1F5A8E", "#0B2E4F"]
    figure = go.Figure()
    for bucket, shade in zip(buckets, shades, strict=False):
        rows = ageing.filter(pl.col("bucket") == bucket)
        figure.add_trace(
            go.Bar(
                x=[stage_label(s) for s in rows["stage"]],
                y=rows["orders"].to_list(),
                name=bucket,
                marker_color=shade,
                hovertemplate="%{x}, " + bucket + ": %{y:,} orders<extra></extra>",
            )
        )
    figure.update_layout(barmode="stack")
    return _layout(figure, title, "Stage", "Open orders")


def flow_bars(flow: pl.DataFrame, title: str = "Orders entering and leaving each stage") -> go.Figure:
    """Inflow above and outflow below zero, per stage, summed over the date range."""
    totals = flow.group_by("stage", maintain_order=True).agg(pl.col("inflow").sum(), pl.col("outflow").sum())
    labels = [stage_label(s) for s in totals["stage"]]
    figure = go.Figure(
        [
            go.Bar(x=labels, y=totals["inflow"].to_list(), name="Entered", marker_color=ACCENT),
            go.Bar(x=labels, y=(-totals["outflow"]).to_list(), name="Left", marker_color=WARNING),
        ]
    )
    figure.update_layout(barmode="relative")
    return _layout(figure, title, "Stage", "Orders (entered +, left −)")


def heatmap(frame: pl.DataFrame, x: str, y: str, value: str, title: str, x_title: str, y_title: str) -> go.Figure:
    """A count heatmap (e.g. exceptions per rule and market) with the numbers written in the cells."""
    xs = sorted(frame[x].unique().to_list())
    ys = frame[y].unique(maintain_order=True).to_list()  # callers pass rows in their meaningful order
    lookup = {(r[x], r[y]): r[value] for r in frame.iter_rows(named=True)}
    z = [[lookup.get((cx, cy), 0) for cx in xs] for cy in ys]
    figure = go.Figure(
        go.Heatmap(
            x=xs,
            y=ys,
            z=z,
            colorscale="Blues",
            text=z,
            texttemplate="%{text}" if len(xs) * len(ys) <= 150 else "",
            hovertemplate=f"%{{y}} in %{{x}}: %{{z}} {value}<extra></extra>",
            colorbar={"title": value},
        )
    )
    figure.update_yaxes(autorange="reversed")
    return _layout(figure, title, x_title, y_title, height=max(320, 60 + 36 * len(ys)))


def grouped_bars(
    frame: pl.DataFrame, category: str, series: dict[str, str], title: str, x_title: str, y_title: str
) -> go.Figure:
    """Side-by-side bars per category, one colour per series ({column: legend label})."""
    palette = [ACCENT, "#E69F00", "#009E73", "#CC79A7"]
    figure = go.Figure(
        [
            go.Bar(x=frame[category].to_list(), y=frame[column].to_list(), name=label, marker_color=color)
            for (column, label), color in zip(series.items(), palette, strict=False)
        ]
    )
    figure.update_layout(barmode="group")
    return _layout(figure, title, x_title, y_title)


def histogram_with_percentiles(
    distribution: pl.DataFrame, marks: dict[str, float | None], title: str, x_title: str
) -> go.Figure:
    """Orders per day count (columns days, orders), as bars one day wide, with lines at the percentiles.

    The counts come from the database, so the chart carries one bar per day count, not every order.
    """
    figure = go.Figure(
        go.Bar(
            x=distribution["days"].to_list(),
            y=distribution["orders"].to_list(),
            marker_color=ACCENT,
            name="orders",
            hovertemplate="%{x} days: %{y:,} orders<extra></extra>",
        )
    )
    figure.update_layout(bargap=0.05)
    for level, ((label, position), dash) in enumerate(zip(marks.items(), ["solid", "dash", "dot"], strict=False)):
        if position is not None:
            figure.add_vline(x=position, line_dash=dash, line_color=WARNING)
            figure.add_annotation(
                x=position,
                y=1 - 0.09 * level,
                yref="paper",
                text=f"{label} {position:.1f} d",
                showarrow=False,
                xanchor="left",
                xshift=4,
                bgcolor="rgba(255,255,255,0.85)",
                font={"color": WARNING},
            )
    return _layout(figure, title, x_title, "Orders")


def lines(frame: pl.DataFrame, x: str, series: dict[str, str], title: str, x_title: str, y_title: str) -> go.Figure:
    """One line per column ({column: legend label}) over x."""
    palette = [ACCENT, "#E69F00", "#009E73", "#CC79A7", "#56B4E9"]
    figure = go.Figure(
        [
            go.Scatter(
                x=frame[x].to_list(),
                y=frame[column].to_list(),
                name=label,
                mode="lines+markers",
                line={"color": color},
            )
            for (column, label), color in zip(series.items(), palette, strict=False)
        ]
    )
    return _layout(figure, title, x_title, y_title)


def chart_bytes(figure: go.Figure, fmt: str, caption: str = "") -> bytes:
    """The figure as PNG, SVG or PDF (Kaleido, through the system Chromium) or standalone HTML.

    The caption (dataset, as-of date, filters) is written under the title so a file keeps its context.
    """
    figure = go.Figure(figure)
    if caption:
        title = figure.layout.title.text or ""
        figure.update_layout(title_text=f"{title}<br><sup>{caption}</sup>", margin_t=80)
    if fmt == "html":
        return figure.to_html(include_plotlyjs=True, full_html=True).encode("utf-8")
    if fmt in ("png", "svg", "pdf"):
        return figure.to_image(format=fmt, width=1200, height=int(figure.layout.height or 500), scale=1)
    raise ValueError(f"unknown chart format '{fmt}'; choose one of {', '.join(CHART_FORMATS)}")
