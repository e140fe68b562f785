"""The app's pages and sidebar filters, listed once.

`app.py` builds the navigation from PAGES, the frame draws the filters a page needs, and the tests
(AppTest harness, browser tests), the screenshot script and the docs test read the same lists, so
adding a page is: its script in `pages/`, its datasets, one entry here, its tests.
No Streamlit import here: the lists are plain data.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

PAGES_DIR = Path(str(resources.files("opslens.pages")))  # `pages/` in a clone; inside the package when installed


@dataclass(frozen=True)
class PageInfo:
    """One page: its script `pages/<name>.py` (and URL path), title and icon; `date_range` labels the
    sidebar's date range when the page shows time (None: no range); `charts` is how many charts it
    draws on the demo store (browser tests and screenshots wait for them)."""

    name: str
    title: str
    icon: str
    charts: int
    date_range: str | None = None

    @property
    def path(self) -> Path:
        return PAGES_DIR / f"{self.name}.py"

    @property
    def url_path(self) -> str:
        """The path in the browser: the first page is the app's root."""
        return "/" if self is PAGES[0] else f"/{self.name}"


PAGES: tuple[PageInfo, ...] = (
    PageInfo("overview", "Overview", ":material/dashboard:", charts=1),
    PageInfo("backlog", "Backlog", ":material/stacked_bar_chart:", charts=5, date_range="Trend"),
    PageInfo("exceptions", "Exceptions", ":material/report:", charts=1),
    PageInfo("changes", "Changes", ":material/compare_arrows:", charts=4),
    PageInfo("readiness", "Readiness", ":material/cell_tower:", charts=3),
    PageInfo("install_to_invoice", "Install to invoice", ":material/receipt_long:", charts=4, date_range="Installed"),
    PageInfo("forecast", "Forecast", ":material/online_prediction:", charts=2),
    PageInfo("data_health", "Data health", ":material/health_and_safety:", charts=1, date_range="Snapshots"),
)
PAGES_BY_NAME: dict[str, PageInfo] = {page.name: page for page in PAGES}


@dataclass(frozen=True)
class FilterInfo:
    """A sidebar filter: its widget key, which is also its query-parameter name in a link."""

    key: str
    label: str
    choices: str  # where its choices come from: "dates" (snapshot dates) or a filter_options key


# The filters every page has, in sidebar order, then the date range of pages that show time.
FILTERS: tuple[FilterInfo, ...] = (
    FilterInfo("as_of", "Snapshot (as of)", "dates"),
    FilterInfo("market", "Markets", "markets"),
    FilterInfo("product", "Products", "products"),
    FilterInfo("segment", "Segments", "segments"),
)
RANGE_FILTERS: tuple[FilterInfo, ...] = (
    FilterInfo("from", "from", "dates"),
    FilterInfo("to", "to", "dates"),
)
