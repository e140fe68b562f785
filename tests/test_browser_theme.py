"""Charts in Chromium follow the theme and keep their legends off their titles, at desktop and phone width.

With the browser set to dark, Streamlit switches to its dark theme; charts used to stay white panels
whose text Streamlit had coloured light (titles, legends and stage names vanished). And a legend that
wrapped onto two lines (long labels, a phone) grew over the chart's title.
"""

from __future__ import annotations

import os

import pytest
from browser_support import CHROMIUM, app_server, launch_browser, new_context, open_page

try:
    from playwright.sync_api import sync_playwright
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright is not installed (pip install -e '.[test]')", allow_module_level=True)

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1500, "height": 1000}

# For each drawn chart: the luminance of its title's colour and of its page behind it, what fills its
# paper, and whether its legend's box meets its title's box.
CHART_FACTS = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')].map(plot => {
    const luminance = (colour) => {
        const [r, g, b] = colour.match(/[\\d.]+/g).map(Number);
        return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
    };
    const title = plot.querySelector('.gtitle');
    const legend = plot.querySelector('.legend');
    const box = (element) => element.getBoundingClientRect();
    const meets = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
    return {
        title: title.textContent,
        title_luminance: luminance(getComputedStyle(title).fill),
        page_luminance: luminance(getComputedStyle(document.querySelector('[data-testid="stApp"]')).backgroundColor),
        paper: plot.querySelector('.main-svg').style.background,
        legend_meets_title: legend ? meets(box(legend), box(title)) : false,
    };
})"""


@pytest.mark.parametrize("scheme", ["dark", "light"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_charts_are_readable_in_the_theme_and_legends_leave_titles_alone(demo_db, scheme, viewport):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing") if os.environ.get("CI") else pytest.skip(f"{CHROMIUM} is missing")
    with app_server(demo_db) as url, sync_playwright() as playwright:
        browser = launch_browser(playwright)
        context = new_context(browser, color_scheme=scheme)
        page = context.new_page()
        page.set_viewport_size(viewport)
        open_page(page, f"{url}/readiness", charts=3, timeout=60_000)
        page.wait_for_timeout(500)  # Plotly redraws once at the column's width
        facts = page.evaluate(CHART_FACTS)
        browser.close()
    assert len(facts) == 3
    for chart in facts:
        contrast = abs(chart["title_luminance"] - chart["page_luminance"])
        assert contrast > 0.5, chart  # dark text on the light page, light text on the dark page
        assert chart["paper"] in ("", "transparent", "rgba(0, 0, 0, 0)"), chart  # the page shows through
        assert not chart["legend_meets_title"], chart
