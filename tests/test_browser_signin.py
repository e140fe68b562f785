"""The whole sign-in in a real Chromium against a real local OpenID Connect provider (SPEC §4).

The test starts `oidc-provider-mock` (a real OIDC provider: discovery, authorize, token, JWKS) in a
thread with four users whose ID tokens carry `email` and `groups` claims, writes Streamlit's [auth]
secrets into a file passed with `--secrets.files` and an [access] section into the opslens.toml the
app reads, and starts the app. Each user signs in by clicking "Sign in", picking their account on
the provider's page and coming back through /oauth2callback, as a person would:

- a viewer of WEST and SOUTH: every page, only those markets, no download anywhere (neither the
  Download buttons nor Streamlit's table toolbar), a link naming NORTH says it is not available;
- an analyst of NORTH: downloads a table, which holds NORTH only and is in the audit log;
- an admin (by group): loads a (bad) file, sees the rejection, the full ingest log and the audit log;
- a user with no grant: a page naming their e-mail, nothing else; then signs out.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
from pathlib import Path

import polars as pl
import pytest
from browser_support import (
    CHROMIUM,
    EXCEPTION,
    PAGES,
    app_server,
    free_port,
    launch_browser,
    live,
    new_context,
    open_page,
    wait_for_app,
)

from opslens import audit

try:
    from oidc_provider_mock import User, run_server_in_thread
    from playwright.sync_api import expect, sync_playwright
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright or oidc-provider-mock is not installed (pip install -e '.[test]')", allow_module_level=True)

expect.set_options(timeout=20_000)
pytestmark = pytest.mark.browser

MARKETS = ("COAST", "EAST", "METRO", "NORTH", "SOUTH", "WEST")
USERS = {
    "viewer": User(sub="viewer", claims={"email": "Vera.Viewer@example.com", "email_verified": True}),
    "analyst": User(sub="analyst", claims={"email": "ana@example.com", "groups": ["staff"]}),
    "admin": User(sub="admin", claims={"email": "root@example.com", "groups": ["ops-admins", "staff"]}),
    "stranger": User(sub="stranger", claims={"email": "stranger@example.com", "groups": ["staff"]}),
}
CONFIG = """
[access]
[access.users."vera.viewer@example.com"]
role = "viewer"
markets = ["WEST", "SOUTH"]
[access.users."ana@example.com"]
role = "analyst"
markets = ["NORTH"]
[access.groups."ops-admins"]
role = "admin"
markets = ["*"]
"""


@pytest.fixture(scope="module")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: the browser tests need Debian's chromium package (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="module")
def provider():
    """The OpenID Connect provider, on localhost in a thread of this process."""
    with run_server_in_thread(user_claims=list(USERS.values())) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def store(demo_db, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("signin") / "store.duckdb"
    shutil.copy(demo_db, path)
    return path


@pytest.fixture(scope="module")
def base_url(store: Path, provider: str, chromium_path: Path):
    port = free_port()
    secrets = store.parent / "secrets.toml"
    secrets.write_text(
        f"""
[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "a-long-random-string-for-the-test-only"
client_id = "opslens"
client_secret = "opslens-secret"
server_metadata_url = "{provider}/.well-known/openid-configuration"
""",
        encoding="utf-8",
    )
    config = store.parent / "opslens.toml"
    config.write_text(CONFIG, encoding="utf-8")
    with app_server(
        store, port=port, env={"OPSLENS_CONFIG": str(config)}, extra_args=["--secrets.files", str(secrets)]
    ) as url:
        yield url


@pytest.fixture(scope="module")
def browser(chromium_path: Path):
    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, base_url: str, provider: str):
    context = new_context(browser, also_allow=(provider,), base_url=base_url)
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()


def sign_in(page, user: str) -> None:
    """From the sign-in page through the provider's account picker back to the app."""
    open_page(page, "/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"http://localhost:\d+/oauth2/authorize"))
    page.get_by_role("button", name=USERS[user].sub, exact=True).click()
    page.wait_for_url(re.compile(r"http://127\.0\.0\.1:\d+/"))
    wait_for_app(page, 45_000)


def markets_shown(page, where: str = '[data-testid="stApp"]') -> set[str]:
    """Market codes written anywhere on the page (text, chart axes and labels, the sidebar)."""
    text = page.locator(where).inner_text()
    return {m for m in MARKETS if re.search(rf"\b{m}\b", text)}


def sidebar_market_options(page) -> list[str]:
    combobox = page.get_by_role("combobox", name="Markets", exact=True)
    combobox.focus()
    page.keyboard.press("ArrowDown")
    options = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    return sorted(o for o in options if o != "Select all")


def table_toolbar_downloads(page) -> int:
    """Streamlit's own "Download as CSV" toolbar buttons, which appear when a table is hovered
    (checked to be found in the local tool, where they stay: test_the_local_tool_keeps_the_table_download)."""
    closed = page.locator('[data-testid="stExpander"] details:not([open]) > summary')
    while closed.count():
        closed.first.click()  # a table inside a closed expander is offered too once it is opened
    tables = page.locator(live('[data-testid="stDataFrame"]'))
    count = 0
    for index in range(tables.count()):
        tables.nth(index).hover()
        page.wait_for_timeout(800)
        count += page.locator('[aria-label="Download as CSV"]').count()
    return count


def test_before_sign_in_nothing_is_shown(page):
    for _name, path, _title, _charts in PAGES:
        open_page(page, path)
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        assert not page.locator('[data-testid="stSidebarNav"]').count()
        assert not page.locator('[data-testid="stDataFrame"]').count()
        assert not markets_shown(page)


def test_a_viewer_sees_their_markets_on_every_page_and_downloads_nothing(page, store):
    sign_in(page, "viewer")
    expect(page.locator('[data-testid="stSidebar"]')).to_contain_text("Signed in as Vera.Viewer@example.com")
    for _name, path, title, charts in PAGES:
        open_page(page, path, charts)
        expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
        assert not page.locator(EXCEPTION).count()
        assert markets_shown(page) <= {"SOUTH", "WEST"}, f"{title} shows another market"
        names = page.get_by_role("button").all_inner_texts()
        assert not page.get_by_role("button", name="Download").count(), f"{title} offers downloads to a viewer: {names}"
        assert table_toolbar_downloads(page) == 0, f"{title}: a viewer can download a table from its toolbar"
        assert not page.get_by_text("Load snapshot files").count()
    assert sidebar_market_options(page) == ["SOUTH", "WEST"]
    # a link naming another market: nothing of it, and the app says it is not available
    open_page(page, "/readiness?market=NORTH", 3)
    expect(page.locator('[data-testid="stSidebar"]')).to_contain_text("'NORTH', which is not available to you")
    assert markets_shown(page, '[data-testid="stMain"]') == {"SOUTH", "WEST"}  # the notice names NORTH, no more
    events = audit.read(store).events
    assert ("Vera.Viewer@example.com", "sign_in", "granted") in events.select("user", "event", "outcome").rows()
    assert not events.filter((pl.col("user") == "Vera.Viewer@example.com") & (pl.col("event") == "download")).height


def test_an_analyst_downloads_their_market_and_the_download_is_audited(page, store):
    sign_in(page, "analyst")
    open_page(page, "/readiness", 3)
    assert markets_shown(page) <= {"NORTH"}
    assert table_toolbar_downloads(page) == 0  # the built-in download is off for everyone signed in
    page.locator('[data-testid="stPopover"]').first.get_by_role("button", name="Download").click()
    body = page.locator('[data-testid="stPopoverBody"]')
    expect(body).to_be_visible()
    with page.expect_download(timeout=60_000) as download:
        body.get_by_role("button", name="CSV", exact=True).first.click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and {row["market"] for row in rows} == {"NORTH"}
    downloads = audit.read(store).events.filter((pl.col("user") == "ana@example.com") & (pl.col("event") == "download"))
    assert downloads.height == 1
    assert (downloads["dataset"][0], downloads["format"][0]) == ("readiness", "csv"), downloads.rows()
    assert "markets=NORTH" in downloads["filters"][0]


def test_an_admin_loads_files_and_reads_the_ingest_and_audit_logs(page, store, tmp_path):
    sign_in(page, "admin")
    open_page(page, "/data_health", 1)
    assert markets_shown(page) >= {"NORTH", "WEST", "COAST"}
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    page.get_by_text("Load snapshot files").click()
    bad = tmp_path / "bad.csv"
    bad.write_text("snapshot_date,order_id\n2026-11-20,X1\n", encoding="utf-8")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(bad))
    load = page.get_by_role("button", name="Load", exact=True)
    expect(load).to_be_enabled()
    load.click()
    expect(page.get_by_text("The files were rejected, nothing was loaded")).to_be_visible()
    loads = audit.read(store).events.filter((pl.col("user") == "root@example.com") & (pl.col("event") == "load"))
    assert loads.select("files", "outcome").rows() == [("bad.csv", "rejected")]


def test_a_user_without_a_grant_sees_only_that_and_can_sign_out(page, store):
    sign_in(page, "stranger")
    expect(page.get_by_text("You are signed in as stranger@example.com, but no grant")).to_be_visible()
    assert not page.locator('[data-testid="stSidebarNav"]').count()
    assert not page.locator('[data-testid="stDataFrame"]').count()
    assert not markets_shown(page)
    open_page(page, "/backlog?market=NORTH")
    assert not markets_shown(page) and not page.locator('[data-testid="stDataFrame"]').count()
    page.get_by_role("button", name="Sign out").click()
    # Streamlit ends the session at the provider too (RP-initiated logout), which sends us back
    page.wait_for_url(re.compile(r"http://localhost:\d+/oauth2/end_session"))
    page.get_by_role("button", name="End session").click()
    page.wait_for_url(re.compile(r"http://127\.0\.0\.1:\d+/"))
    wait_for_app(page, 45_000)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    events = audit.read(store).events.filter(pl.col("user") == "stranger@example.com")
    assert ("sign_in", "no access") in events.select("event", "outcome").rows()
    assert "sign_out" in events["event"].to_list()


def test_the_local_tool_keeps_the_table_download(demo_db, browser):
    """The control for `table_toolbar_downloads`: without [access] the toolbar download is there."""
    with app_server(demo_db, env={"OPSLENS_CONFIG": str(Path(demo_db).parent / "none.toml")}) as url:
        context = new_context(browser, base_url=url)
        page = context.new_page()
        open_page(page, "/readiness", 3)
        assert table_toolbar_downloads(page) >= 1
        context.close()
