"""The digest as a PDF: A4 landscape, the as-of date and the markets in every page's header.

Laid out with ReportLab's platypus (flowing sections, tables that repeat their header row across
pages, cells that wrap long text); charts are the app's own Plotly figures exported by Kaleido
through Debian's Chromium (`opslens.charts.chart_bytes`), so they look exactly like the app's.
Numbers are formatted by the app's formatters (`opslens.app.fmt`), so they read the same as on screen.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

import kaleido
import polars as pl
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    Image,
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
from queries import RULES

PAGE = landscape(A4)
MARGIN = 14 * mm
WIDTH = PAGE[0] - 2 * MARGIN
INK, MUTED, RULE_LINE = colors.HexColor("#1F2933"), colors.HexColor("#5F6B7A"), colors.HexColor("#D5DCE4")
STRIPE, HEAD = colors.HexColor("#F4F7FA"), colors.HexColor("#E8EEF4")
WORSE, BETTER = colors.HexColor(charts.WARNING), colors.HexColor("#007A5A")
CHART_PIXELS = 720  # CSS pixels across a chart: at about 15 cm wide its 13 px text prints near 8 pt
NOTE_FILL, NOTE_EDGE = colors.HexColor("#FFF4E5"), colors.HexColor("#E69F00")

_BASE = ParagraphStyle("base", fontName="Helvetica", fontSize=9, leading=11.5, textColor=INK)
STYLES = {
    "title": ParagraphStyle("title", _BASE, fontName="Helvetica-Bold", fontSize=20, leading=24),
    "subtitle": ParagraphStyle("subtitle", _BASE, fontSize=10.5, leading=14, textColor=MUTED),
    "h2": ParagraphStyle("h2", _BASE, fontName="Helvetica-Bold", fontSize=13, leading=16, spaceBefore=10, spaceAfter=2),
    "caption": ParagraphStyle("caption", _BASE, fontSize=8.5, leading=11, textColor=MUTED, spaceAfter=4),
    "cell": ParagraphStyle("cell", _BASE, fontSize=8.5, leading=10.5),
    "cell_right": ParagraphStyle("cell_right", _BASE, fontSize=8.5, leading=10.5, alignment=TA_RIGHT),
    "head": ParagraphStyle("head", _BASE, fontName="Helvetica-Bold", fontSize=8, leading=10, textColor=MUTED),
    "head_right": ParagraphStyle(
        "head_right", _BASE, fontName="Helvetica-Bold", fontSize=8, leading=10, textColor=MUTED, alignment=TA_RIGHT
    ),
    "note": ParagraphStyle("note", _BASE, fontSize=9, leading=12),
    "tile_label": ParagraphStyle("tile_label", _BASE, fontSize=8.5, leading=10.5, textColor=MUTED),
    "tile_value": ParagraphStyle("tile_value", _BASE, fontName="Helvetica-Bold", fontSize=17, leading=21),
    "tile_change": ParagraphStyle("tile_change", _BASE, fontSize=8.5, leading=10.5),
}


@dataclass(frozen=True)
class Column:
    """A table column: header, the frame column, how its value is written, its share of the width."""

    header: str
    key: str
    text: Callable[[object], str] = str
    weight: float = 1.0
    right: bool = True


def _text(value: object) -> str:
    return fmt.NONE if value is None else str(value)


def _dollars(value: float | None) -> str:
    """Whole dollars in tables ($11,559): a column read down keeps one precision (tiles stay compact)."""
    return fmt.NONE if value is None else f"${value:,.0f}"


def _rule_label(rule: object) -> str:
    return RULES[rule].label if rule in RULES else _text(rule)


@contextlib.contextmanager
def chart_server() -> Iterator[None]:
    """Keep one Kaleido browser running while several digests are rendered (each export then takes
    a fraction of a second instead of starting Chromium again)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The kopts argument is ignored", category=UserWarning)
        kaleido.start_sync_server(silence_warnings=True)
        try:
            yield
        finally:
            kaleido.stop_sync_server(silence_warnings=True)


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
    header = _page_decoration(digest, generated_at)
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=header)])
    doc.build(_story(digest, link), canvasmaker=_NumberedCanvas)
    return buffer.getvalue()


def _story(digest: Digest, link: str | None) -> list[Flowable]:
    story: list[Flowable] = [*_title(digest, link), _tiles(digest), Spacer(1, 4 * mm), *_health(digest)]
    story += _backlog(digest)
    story += _attention(digest)
    story += _readiness(digest)
    story += _install_to_invoice(digest)
    return story


def _title(digest: Digest, link: str | None) -> list[Flowable]:
    for_whom = f"For {escape(digest.recipient)} · " if digest.recipient else ""
    compared = (
        f"Changes on the tiles are since the previous snapshot, {_day(digest.previous_as_of)}"
        if digest.previous_as_of
        else "This is the store's first snapshot: there is nothing to compare with yet."
    )
    if digest.previous_as_of:
        count, total = len(digest.compared_markets), len(digest.store_markets)
        compared += f", over {count} of {total} markets (see Data health)." if count < total else "."
    lines = [
        Paragraph(f"Ops Lens digest · {_day(digest.as_of)}", STYLES["title"]),
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
        Column("MRR ($/mo)", "mrr", _dollars),
        Column("Median days in stage", "median_age_days", fmt.days, 1.2),
        Column("Stalled", "stalled", fmt.count),
    ]
    chart_width = WIDTH * 0.56
    table = _table(backlog, columns, WIDTH - chart_width - 6 * mm)
    figure = charts.backlog_bars(backlog)  # the app's chart; the heading above says what it is
    figure.update_layout(title_text=None, yaxis_title_text=None, margin_t=10)
    image = _chart(figure, chart_width)
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
        Column("Market", "market", _text, 1.0, right=False),
        Column("Orders", "orders", fmt.count),
        Column("With exceptions", "exception_orders", fmt.count),
        Column("Share", "exception_share", fmt.share, 0.8),
        Column("MRR at risk ($/mo)", "mrr_at_risk", _dollars),
        Column("Most common exception", "top_rule", _rule_label, 1.8, right=False),
        Column("Orders breaking it", "top_rule_orders", fmt.count, 0.9),
    ]
    return _section(
        "Markets that need attention",
        "Markets ranked by the share of their orders with at least one exception, with the rule behind most of"
        " them. Orders: the market's orders in the snapshot plus those missing from it.",
        attention,
        columns,
        "markets with orders",
    )


def _readiness(digest: Digest) -> list[Flowable]:
    columns = [
        Column("Market", "market", _text, 1.1, right=False),
        Column("Open orders", "open_orders", fmt.count),
        Column("Awaiting network", "awaiting_network", fmt.count),
        Column("Share of open", "awaiting_network_share", fmt.share),
        Column("Awaiting MRR ($/mo)", "awaiting_network_mrr", _dollars),
        Column("Waiting P50", "wait_days_p50", fmt.days),
        Column("Waiting P85", "wait_days_p85", fmt.days),
        Column("Booked before ready", "scheduled_before_ready", fmt.count),
        Column("Order to ready P50", "order_to_ready_days_p50", fmt.days),
        Column("Premises passed", "premises_passed", fmt.count),
        Column("Premises ready", "premises_ready", fmt.count),
        Column("Ready share", "ready_share", fmt.share),
    ]
    return _section(
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
        Column("Market", "market", _text, 1.2, right=False),
        Column("Invoiced orders", "invoiced_orders", fmt.count),
        Column("P50", "days_p50", fmt.days, 0.8),
        Column("P85", "days_p85", fmt.days, 0.8),
        Column("P95", "days_p95", fmt.days, 0.8),
        Column("Mean", "days_mean", fmt.days, 0.8),
        Column("Installed, not invoiced", "installed_not_invoiced", fmt.count, 1.2),
        Column("Unbilled MRR ($/mo)", "unbilled_mrr", _dollars, 1.2),
    ]
    return _section(
        "Install to invoice",
        "Days from install to the first invoice, over orders invoiced by the snapshot; installed orders still"
        " waiting for their first invoice and the monthly revenue not billed yet.",
        frame,
        columns,
        "invoiced or installed orders",
        total_last=True,
    )


def _section(
    title: str, caption: str, frame: pl.DataFrame, columns: Sequence[Column], what: str, total_last: bool = False
) -> list[Flowable]:
    """A heading, what the numbers mean, and the table (or a sentence when there is nothing to show)."""
    head = [Paragraph(escape(title), STYLES["h2"]), Paragraph(escape(caption), STYLES["caption"])]
    if frame.is_empty():
        return [KeepTogether([*head, Paragraph(f"No {escape(what)} in scope at this snapshot.", STYLES["cell"])])]
    table = _table(frame, columns, WIDTH, total_last=total_last)
    return [KeepTogether([*head, table])] if frame.height <= 12 else [*head, table]


def _table(frame: pl.DataFrame, columns: Sequence[Column], width: float, total_last: bool = False) -> Table:
    """A table that fits the width: wrapped header and cells, striped rows, header repeated on each page."""
    total_weight = sum(c.weight for c in columns)
    widths = [width * c.weight / total_weight for c in columns]
    header = [Paragraph(escape(c.header), STYLES["head_right" if c.right else "head"]) for c in columns]
    body = [
        [Paragraph(escape(c.text(row[c.key])), STYLES["cell_right" if c.right else "cell"]) for c in columns]
        for row in frame.iter_rows(named=True)
    ]
    if total_last:  # the total row in bold, under a rule
        body[-1] = [Paragraph(f"<b>{p.text}</b>", p.style) for p in body[-1]]
    table = Table([header, *body], colWidths=widths, repeatRows=1)
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), HEAD),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, RULE_LINE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    style += [("BACKGROUND", (0, i), (-1, i), STRIPE) for i in range(2, len(body) + 1, 2)]
    if total_last:
        style.append(("LINEABOVE", (0, -1), (-1, -1), 0.8, INK))
    table.setStyle(TableStyle(style))
    return table


def _chart(figure, width: float) -> Image:
    """A Plotly figure exported by Kaleido (PNG), scaled to the width."""
    png = charts.chart_bytes(figure, "png", width=CHART_PIXELS, scale=2)
    image = Image(io.BytesIO(png))
    image.drawHeight = width * image.imageHeight / image.imageWidth
    image.drawWidth = width
    return image


def _day(day: dt.date | None) -> str:
    """'Mon 30 Nov 2026': a manager reads the weekday; the ISO date is in the header."""
    return fmt.NONE if day is None else day.strftime("%a %-d %b %Y")


def _page_decoration(digest: Digest, generated_at: dt.datetime) -> Callable[[Canvas, BaseDocTemplate], None]:
    """Header (digest, as-of date, markets) and footer (when made, for whom) on every page."""
    scope = f"As of {digest.as_of} · Markets: {digest.scope_text(limit=10)}"
    made = f"Generated {generated_at:%Y-%m-%d %H:%M} UTC by Ops Lens"
    if digest.recipient:
        made += f" for {digest.recipient}"

    def decorate(canvas: Canvas, doc: BaseDocTemplate) -> None:
        canvas.saveState()
        top = PAGE[1] - MARGIN
        canvas.setFont("Helvetica-Bold", 9)
        canvas.setFillColor(INK)
        canvas.drawString(MARGIN, top, "Ops Lens digest")
        canvas.setFont("Helvetica", 9)
        canvas.drawRightString(PAGE[0] - MARGIN, top, scope)
        canvas.setStrokeColor(RULE_LINE)
        canvas.line(MARGIN, top - 2.5 * mm, PAGE[0] - MARGIN, top - 2.5 * mm)
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(MUTED)
        canvas.drawString(MARGIN, MARGIN - 2 * mm, made)
        canvas.restoreState()

    return decorate


class _NumberedCanvas(Canvas):
    """Writes 'Page N of M' in each footer: pages are kept until the count is known."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []

    def showPage(self) -> None:  # ReportLab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for page in self._pages:
            self.__dict__.update(page)
            self.setFont("Helvetica", 7.5)
            self.setFillColor(MUTED)
            self.drawRightString(PAGE[0] - MARGIN, MARGIN - 2 * mm, f"Page {self._pageNumber} of {total}")
            super().showPage()
        super().save()
