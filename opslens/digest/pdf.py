"""The digest as a PDF: A4 landscape, the as-of date and the markets in every page's header.

Laid out with ReportLab's platypus (flowing sections, tables that repeat their header row across
pages, cells that wrap long text); charts are the app's own Plotly figures exported by Kaleido
through Debian's Chromium (`opslens.charts.chart_bytes`), so they look exactly like the app's.
Numbers are formatted by the app's formatters (`opslens.app.fmt`), so they read the same as on screen.
"""

from __future__ import annotations

import datetime as dt
import io
from xml.sax.saxutils import escape

import polars as pl
from reportlab.lib.units import mm
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from opslens import charts
from opslens.app import fmt
from opslens.digest.content import Digest
from opslens.digest.layout import (
    BETTER,
    MARGIN,
    NOTE_EDGE,
    NOTE_FILL,
    PAGE,
    RULE_LINE,
    STRIPE,
    STYLES,
    WIDTH,
    WORSE,
    Column,
    NumberedCanvas,
    chart_image,
    data_table,
    dollars,
    long_day,
    page_decoration,
    plain,
    section,
)
from opslens.queries import RULES


def _rule_label(rule: object) -> str:
    return RULES[rule].label if rule in RULES else plain(rule)


def render(digest: Digest, link: str | None = None, generated_at: dt.datetime | None = None) -> bytes:
    """The digest as PDF bytes; `link` (the app view) is printed on the first page when given."""
    generated_at = generated_at or dt.datetime.now(dt.UTC).replace(microsecond=0)
    buffer = io.BytesIO()
    doc = BaseDocTemplate(
        buffer,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN + 8 * mm,
        bottomMargin=MARGIN + 4 * mm,
        title=f"Ops Lens digest as of {digest.as_of}",
        author="Ops Lens",
        subject=f"Markets: {digest.scope_text()}",
    )
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body", leftPadding=0, rightPadding=0)
    made = f"Generated {generated_at:%Y-%m-%d %H:%M} UTC by Ops Lens" + (
        f" for {digest.recipient}" if digest.recipient else ""
    )
    header = page_decoration(f"As of {digest.as_of} · Markets: {digest.scope_text(limit=10)}", made)
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=header)])
    doc.build(_story(digest, link), canvasmaker=NumberedCanvas)
    return buffer.getvalue()


def _story(digest: Digest, link: str | None) -> list[Flowable]:
    story: list[Flowable] = [*_title(digest, link), _tiles(digest), Spacer(1, 4 * mm), *_health(digest)]
    story += _backlog(digest)
    story += _attention(digest)
    story += _changes(digest)
    story += _readiness(digest)
    story += _install_to_invoice(digest)
    return story


def _title(digest: Digest, link: str | None) -> list[Flowable]:
    for_whom = f"For {escape(digest.recipient)} · " if digest.recipient else ""
    compared = (
        f"Changes on the tiles are since the previous snapshot, {long_day(digest.previous_as_of)}"
        if digest.previous_as_of
        else "This is the store's first snapshot: there is nothing to compare with yet."
    )
    if digest.previous_as_of:
        count, total = len(digest.compared_markets), len(digest.store_markets)
        compared += f", over {count} of {total} markets (see Data health)." if count < total else "."
    lines = [
        Paragraph(f"Ops Lens digest · {long_day(digest.as_of)}", STYLES["title"]),
        Paragraph(f"{for_whom}Markets: {escape(digest.scope_text())} · {compared}", STYLES["subtitle"]),
    ]
    if link:
        lines.append(
            Paragraph(
                f'Open this view in Ops Lens: <a href="{escape(link)}" color="#0072B2">{escape(link)}</a>',
                STYLES["subtitle"],
            )
        )
    return [*lines, Spacer(1, 4 * mm)]


def _tiles(digest: Digest) -> Table:
    """The six headline measures side by side: label, value, change (red when it grew: more is worse)."""
    cells = []
    for row in digest.frames["headline"].iter_rows(named=True):
        formatter = fmt.FORMATTERS.get(row["unit"], fmt.count)
        change = fmt.change(row["change"], row["unit"])
        if change is None:  # no previous snapshot, or no value on one of the two dates
            change_text = "no earlier snapshot" if digest.previous_as_of is None else "no change to show"
        elif not row["change"]:
            change_text = f'<font color="#5F6B7A">{escape(change)} (unchanged)</font>'
        else:
            colour = WORSE.hexval()[2:] if row["change"] > 0 else BETTER.hexval()[2:]
            change_text = f'<font color="#{colour}">{escape(change)}</font> <font color="#5F6B7A">since previous</font>'
        cells.append(
            [
                Paragraph(escape(row["label"]), STYLES["tile_label"]),
                Paragraph(escape(formatter(row["value"])), STYLES["tile_value"]),
                Paragraph(change_text, STYLES["tile_change"]),
            ]
        )
    gap = 3 * mm
    width = (WIDTH - gap * (len(cells) - 1)) / max(len(cells), 1)
    row, widths = [], []
    for index, cell in enumerate(cells):
        if index:
            row.append("")
            widths.append(gap)
        row.append(cell)
        widths.append(width)
    table = Table([row], colWidths=widths)
    style = [("VALIGN", (0, 0), (-1, -1), "TOP"), ("TOPPADDING", (0, 0), (-1, -1), 5)]
    for index in range(0, len(row), 2):
        style += [("BOX", (index, 0), (index, 0), 0.6, RULE_LINE), ("BACKGROUND", (index, 0), (index, 0), STRIPE)]
    table.setStyle(TableStyle(style))
    return table


def _health(digest: Digest) -> list[Flowable]:
    """Data-health notices first, so a manager knows which numbers are incomplete before reading them."""
    if not digest.warnings:
        text = f"Every market in scope reported on {digest.as_of}; no extract is missing since {digest.previous_as_of}."
        if not digest.previous_as_of:
            text = f"Every market in scope reported on {digest.as_of}."
        return [Paragraph(f"<b>Data health:</b> {escape(text)}", STYLES["caption"])]
    items = "".join(f"<br/>• {escape(note)}" for note in digest.warnings)
    box = Table([[Paragraph(f"<b>Data health: read with care</b>{items}", STYLES["note"])]], colWidths=[WIDTH])
    box.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), NOTE_FILL),
                ("LINEBEFORE", (0, 0), (0, -1), 3, NOTE_EDGE),
                ("LEFTPADDING", (0, 0), (-1, -1), 8),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    return [box]


def _backlog(digest: Digest) -> list[Flowable]:
    backlog = digest.frames["backlog"]
    columns = [
        Column("Stage", "stage", charts.stage_label, 1.8, right=False),
        Column("Orders", "orders", fmt.count),
        Column("MRR ($/mo)", "mrr", dollars),
        Column("Median days in stage", "median_age_days", fmt.days, 1.2),
        Column("Stalled", "stalled", fmt.count),
    ]
    chart_width = WIDTH * 0.56
    table = data_table(backlog, columns, WIDTH - chart_width - 6 * mm)
    figure = charts.backlog_bars(backlog)  # the app's chart; the heading above says what it is
    figure.update_layout(title_text=None, yaxis_title_text=None, margin_t=10)
    image = chart_image(figure, chart_width)
    pair = Table([[image, "", table]], colWidths=[chart_width, 6 * mm, WIDTH - chart_width - 6 * mm])
    pair.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return [
        KeepTogether(
            [
                Paragraph("Backlog by stage", STYLES["h2"]),
                Paragraph(
                    "Open orders in each stage at the snapshot, their monthly revenue waiting, how long they have"
                    " been in the stage (median) and how many are stalled (longer than the stage's limit).",
                    STYLES["caption"],
                ),
                pair,
            ]
        )
    ]


def _attention(digest: Digest) -> list[Flowable]:
    attention = digest.frames["market_attention"]
    columns = [
        Column("Rank", "attention_rank", fmt.count, 0.5),
        Column("Market", "market", plain, 1.0, right=False),
        Column("Orders", "orders", fmt.count),
        Column("With exceptions", "exception_orders", fmt.count),
        Column("Share", "exception_share", fmt.share, 0.8),
        Column("MRR at risk ($/mo)", "mrr_at_risk", dollars),
        Column("Most common exception", "top_rule", _rule_label, 1.8, right=False),
        Column("Orders breaking it", "top_rule_orders", fmt.count, 0.9),
    ]
    return section(
        "Markets that need attention",
        "Markets ranked by the share of their orders with at least one exception, with the rule behind most of"
        " them. Orders: the market's orders in the snapshot plus those missing from it.",
        attention,
        columns,
        "markets with orders",
    )


LISTED_CHANGES = 10  # new and resolved exceptions listed (largest MRR first); the app lists them all


def _changes(digest: Digest) -> list[Flowable]:
    """New, resolved and persisting exceptions since C (SPEC §5): per rule, then the largest of each."""
    title = "New and resolved exceptions"
    if digest.compare_to is None:
        caption = "The store has no snapshot before this one: there is nothing to compare with yet."
        return [KeepTogether([Paragraph(title, STYLES["h2"]), Paragraph(caption, STYLES["caption"])])]
    title += f" since {long_day(digest.compare_to)}"
    caption = (
        f"Exceptions at {digest.as_of} compared with {digest.compare_to}, {(digest.as_of - digest.compare_to).days}"
        " days earlier: new ones are there only now, resolved ones only then, persisting ones on both dates."
        " The totals cover the markets that reported on both dates."
    )
    by_rule = digest.frames["changes"].filter(pl.col("market") == "ALL")
    rule_columns = [
        Column("Exception", "rule", _rule_label, 2.2, right=False),
        Column("New", "new", fmt.count),
        Column("Resolved", "resolved", fmt.count),
        Column("Persisting", "persisting", fmt.count),
        Column("Net change", "net_change", _signed),
    ]
    rules = data_table(by_rule, rule_columns, WIDTH * 0.55)
    changed = digest.frames["exception_changes"]
    half = (WIDTH - 6 * mm) / 2
    lists = Table(
        [[_largest(changed, "new", "stage_now", half), "", _largest(changed, "resolved", "stage_then", half)]],
        colWidths=[half, 6 * mm, half],
    )
    lists.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    subtitle = f"The largest new and resolved exceptions since {long_day(digest.compare_to)}, by MRR"
    return [
        KeepTogether([Paragraph(escape(title), STYLES["h2"]), Paragraph(escape(caption), STYLES["caption"]), rules]),
        KeepTogether([Paragraph(escape(subtitle), STYLES["h3"]), lists]),  # titled: it may start a page
    ]


def _largest(changed: pl.DataFrame, change: str, stage: str, width: float) -> list[Flowable]:
    """The exceptions of one kind with the most MRR at stake, and how many there are in all."""
    rows = changed.filter(pl.col("change") == change)
    shown = rows.sort(["mrr", "order_id"], descending=[True, False], nulls_last=True).head(LISTED_CHANGES)
    kind = {"new": "New", "resolved": "Resolved"}[change]
    if rows.is_empty():
        return [Paragraph(f"<b>{kind}:</b> none.", STYLES["cell"])]
    head = f"<b>{kind}</b>: the {shown.height} with the most MRR of {rows.height} {change} (order, exception) pairs"
    columns = [
        Column("Order", "order_id", plain, 1.3, right=False),
        Column("Market", "market", plain, 1.0, right=False),
        Column("Exception", "rule", _rule_label, 1.9, right=False),
        Column("Stage now" if stage == "stage_now" else "Stage then", stage, _stage, 1.5, right=False),
        Column("MRR ($/mo)", "mrr", dollars, 0.9),
    ]
    return [Paragraph(head, STYLES["cell"]), Spacer(1, 1.5 * mm), data_table(shown, columns, width)]


def _stage(stage: object) -> str:
    return fmt.NONE if stage is None else charts.stage_label(str(stage))


def _signed(value: object) -> str:
    return fmt.NONE if value is None else f"{value:+,}"


def _readiness(digest: Digest) -> list[Flowable]:
    columns = [
        Column("Market", "market", plain, 1.1, right=False),
        Column("Open orders", "open_orders", fmt.count),
        Column("Awaiting network", "awaiting_network", fmt.count),
        Column("Share of open", "awaiting_network_share", fmt.share),
        Column("Awaiting MRR ($/mo)", "awaiting_network_mrr", dollars),
        Column("Waiting P50", "wait_days_p50", fmt.days),
        Column("Waiting P85", "wait_days_p85", fmt.days),
        Column("Booked before ready", "scheduled_before_ready", fmt.count),
        Column("Order to ready P50", "order_to_ready_days_p50", fmt.days),
        Column("Premises passed", "premises_passed", fmt.count),
        Column("Premises ready", "premises_ready", fmt.count),
        Column("Ready share", "ready_share", fmt.share),
    ]
    return section(
        "Readiness gaps",
        "Demand sold where the network is not ready yet: orders awaiting network and how long they have waited"
        " since the order (P50, P85), appointments booked before the network was ready, and the footprint.",
        digest.frames["readiness"],
        columns,
        "markets with open orders",
    )


def _install_to_invoice(digest: Digest) -> list[Flowable]:
    frame = digest.frames["install_to_invoice"].with_columns(
        pl.when(pl.col("market") == "ALL").then(pl.lit("All in scope")).otherwise(pl.col("market")).alias("market")
    )
    columns = [
        Column("Market", "market", plain, 1.2, right=False),
        Column("Invoiced orders", "invoiced_orders", fmt.count),
        Column("P50", "days_p50", fmt.days, 0.8),
        Column("P85", "days_p85", fmt.days, 0.8),
        Column("P95", "days_p95", fmt.days, 0.8),
        Column("Mean", "days_mean", fmt.days, 0.8),
        Column("Installed, not invoiced", "installed_not_invoiced", fmt.count, 1.2),
        Column("Unbilled MRR ($/mo)", "unbilled_mrr", dollars, 1.2),
    ]
    return section(
        "Install to invoice",
        "Days from install to the first invoice, over orders invoiced by the snapshot; installed orders still"
        " waiting for their first invoice and the monthly revenue not billed yet.",
        frame,
        columns,
        "invoiced or installed orders",
        total_last=True,
    )
