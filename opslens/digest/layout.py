"""Page layout for the digest PDF: A4 landscape, styles, tables that fit the page, Kaleido charts,
and the header and footer (as-of date, markets, page N of M) drawn on every page.

Built on ReportLab's platypus: tables repeat their header row across pages and every cell is a
paragraph, so long text wraps inside its column instead of running off the page.
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
import plotly.graph_objects as go
import polars as pl
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Image,
    KeepTogether,
    Paragraph,
    Table,
    TableStyle,
)

from opslens import charts
from opslens.app import fmt
from opslens.digest.content import DigestError

PAGE = landscape(A4)
MARGIN = 14 * mm
WIDTH = PAGE[0] - 2 * MARGIN
INK, MUTED, RULE_LINE = colors.HexColor("#1F2933"), colors.HexColor("#5F6B7A"), colors.HexColor("#D5DCE4")
STRIPE, HEAD = colors.HexColor("#F4F7FA"), colors.HexColor("#E8EEF4")
WORSE, BETTER = colors.HexColor(charts.WARNING), colors.HexColor("#007A5A")
ROWS_KEPT_TOGETHER = 22  # a table this long fits on a page with its heading
SECTION_START = 55 * mm  # room a long table needs for its heading and first rows, else it starts a page
CHART_PIXELS = 720  # CSS pixels across a chart: at about 15 cm wide its 13 px text prints near 8 pt
NOTE_FILL, NOTE_EDGE = colors.HexColor("#FFF4E5"), colors.HexColor("#E69F00")

_BASE = ParagraphStyle("base", fontName="Helvetica", fontSize=9, leading=11.5, textColor=INK)
STYLES = {
    "title": ParagraphStyle("title", _BASE, fontName="Helvetica-Bold", fontSize=20, leading=24),
    "subtitle": ParagraphStyle("subtitle", _BASE, fontSize=10.5, leading=14, textColor=MUTED),
    "h2": ParagraphStyle("h2", _BASE, fontName="Helvetica-Bold", fontSize=13, leading=16, spaceBefore=10, spaceAfter=2),
    "h3": ParagraphStyle(
        "h3", _BASE, fontName="Helvetica-Bold", fontSize=10.5, leading=13, spaceBefore=8, spaceAfter=4
    ),
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


def plain(value: object) -> str:
    return fmt.NONE if value is None else str(value)


def dollars(value: float | None) -> str:
    """Whole dollars in tables ($11,559): a column read down keeps one precision (tiles stay compact)."""
    return fmt.NONE if value is None else f"${value:,.0f}"


@contextlib.contextmanager
def chart_server() -> Iterator[None]:
    """Keep one Kaleido browser running while several digests are rendered (each export then takes
    a fraction of a second instead of starting Chromium again)."""
    try:  # a shared server whose browser cannot start would hang every export: try one on its own first
        go.Figure().to_image(format="png", width=40, height=40)
    except Exception as error:
        raise DigestError(
            f"cannot draw charts: Kaleido drives Chromium (Debian's chromium package, /usr/bin/chromium): {error}"
        ) from None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The kopts argument is ignored", category=UserWarning)
        kaleido.start_sync_server(silence_warnings=True)
        try:
            yield
        finally:
            kaleido.stop_sync_server(silence_warnings=True)


def section(
    title: str, caption: str, frame: pl.DataFrame, columns: Sequence[Column], what: str, total_last: bool = False
) -> list[Flowable]:
    """A heading, what the numbers mean, and the table (or a sentence when there is nothing to show)."""
    head = [Paragraph(escape(title), STYLES["h2"]), Paragraph(escape(caption), STYLES["caption"])]
    if frame.is_empty():
        return [KeepTogether([*head, Paragraph(f"No {escape(what)} in scope at this snapshot.", STYLES["cell"])])]
    table = data_table(frame, columns, WIDTH, total_last=total_last)
    if frame.height <= ROWS_KEPT_TOGETHER:  # fits a page: start it on the next page rather than split it
        return [KeepTogether([*head, table])]
    return [CondPageBreak(SECTION_START), *head, table]  # a long table splits, but never under an orphan heading


def data_table(frame: pl.DataFrame, columns: Sequence[Column], width: float, total_last: bool = False) -> Table:
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
    table = Table([header, *body], colWidths=widths, repeatRows=1, hAlign="LEFT")
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


def chart_image(figure: go.Figure, width: float) -> Image:
    """A Plotly figure exported by Kaleido (PNG), scaled to the width."""
    try:
        png = charts.chart_bytes(figure, "png", width=CHART_PIXELS, scale=2)
    except Exception as error:  # Kaleido's errors are its own (no browser, a browser that died, ...)
        raise DigestError(
            f"the charts could not be drawn: Kaleido drives Chromium (Debian's /usr/bin/chromium): {error}"
        ) from error
    image = Image(io.BytesIO(png))
    image.drawHeight = width * image.imageHeight / image.imageWidth
    image.drawWidth = width
    return image


def long_day(day: dt.date | None) -> str:
    """'Mon 30 Nov 2026': a manager reads the weekday; the ISO date is in the header."""
    return fmt.NONE if day is None else day.strftime("%a %-d %b %Y")


def page_decoration(scope: str, made: str) -> Callable[[Canvas, BaseDocTemplate], None]:
    """Header ('Ops Lens digest', then the as-of date and markets) and footer (who, when) on every page."""

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


class NumberedCanvas(Canvas):
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
