"""Sign-in, roles and scope in the app, with Streamlit's AppTest (SPEC §4).

The signed-in user is set by replacing `opslens.app.auth.current_user` (the app's one read of
`st.user`). The store is a copy of the demo store (6 markets) with [access] granting:
a viewer of WEST and SOUTH, an analyst of NORTH, an admin of every market, and nobody else.
Every page is run for every role; what a page shows is compared with the dataset for the user's
markets, and no other market may appear anywhere in the page's tables or charts.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
import streamlit as st
from apptest_harness import PAGES, assert_no_exception, page_app, rerun, shown, sidebar_warnings, table
from streamlit.testing.v1 import AppTest

from opslens import audit
from opslens.access import Access
from opslens.app import auth, widgets
from opslens.queries import dataset, filter_options

CONFIG = """
[access]
groups_claim = "roles"
[access.users."viewer@example.com"]
role = "viewer"
markets = ["WEST", "SOUTH"]
[access.users."analyst@example.com"]
role = "analyst"
markets = ["NORTH"]
[access.groups."ops-admins"]
role = "admin"
markets = ["*"]
"""
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "not-a-secret-for-tests",
    "client_id": "opslens",
    "client_secret": "opslens-secret",
    "server_metadata_url": "http://localhost:9/.well-known/openid-configuration",
}
USERS = {
    "viewer": ({"email": "viewer@example.com"}, ("SOUTH", "WEST")),
    "analyst": ({"email": "Analyst@Example.com", "roles": ["staff"]}, ("NORTH",)),
    "admin": ({"email": "root@example.com", "roles": ["ops-admins"]}, None),
}


@pytest.fixture(autouse=True)
def builtin_downloads_off(monkeypatch):
    """As after the process's first sign-in page: the app turns Streamlit's table download off then
    and reruns once (which AppTest does not follow), see test_the_sign_in_page_turns_table_downloads_off."""
    st.set_option("client.disableDataExport", True)
    yield
    st.set_option("client.disableDataExport", False)


@pytest.fixture(scope="module")
def store(demo_db, tmp_path_factory) -> Path:
    """A copy of the demo store, so the audit log beside it is this module's own."""
    path = tmp_path_factory.mktemp("access") / "store.duckdb"
    shutil.copy(demo_db, path)
    (path.parent / "opslens.toml").write_text(CONFIG, encoding="utf-8")
    return path


def app(page: str, store: Path, monkeypatch, claims: dict | None, query=None, secrets=True, config=None):
    """A not-yet-run AppTest of the page in its frame, signed in with these claims (None: signed out)."""
    at = page_app(page, store, monkeypatch, query)
    monkeypatch.setenv("OPSLENS_CONFIG", str(config or store.parent / "opslens.toml"))
    monkeypatch.setattr(auth, "current_user", lambda: claims)
    if secrets:
        at.secrets["auth"] = dict(AUTH)
    return at


def shown_strings(at) -> set[str]:
    """Every text value in the page's tables and chart data (to look for markets it must not show)."""
    values: set[str] = set()
    for frame in at.main.dataframe:
        for column in frame.value.columns:
            for value in frame.value[column].tolist():
                if isinstance(value, str):
                    values.add(value)
                elif isinstance(value, list | tuple):
                    values.update(v for v in value if isinstance(v, str))
    for chart in at.main.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        for trace in spec.get("data", []):
            for axis in ("x", "y", "text", "customdata", "name"):
                value = trace.get(axis)
                items = value if isinstance(value, list) else [value]
                for item in items:
                    if isinstance(item, str):
                        values.add(item)
                    elif isinstance(item, list):
                        values.update(v for v in item if isinstance(v, str))
    return values


def download_buttons(at) -> list:
    return list(at.get("download_button"))


@pytest.fixture(scope="module")
def markets(demo_db) -> list[str]:
    return filter_options(demo_db)["markets"]


# --- before sign-in, without a grant, with a broken configuration ------------------------------------


def nothing_shown(at) -> None:
    assert not at.main.dataframe and not at.main.metric and not list(at.main.get("plotly_chart"))
    assert not at.sidebar.multiselect and not at.sidebar.selectbox


@pytest.mark.parametrize("page", list(PAGES))
def test_before_sign_in_only_the_sign_in_button_is_shown(page, store, monkeypatch):
    at = rerun(app(page, store, monkeypatch, None))
    nothing_shown(at)
    assert [b.label for b in at.button] == ["Sign in"]


def test_the_sign_in_page_turns_table_downloads_off(store, monkeypatch):
    st.set_option("client.disableDataExport", False)
    rerun(app("overview", store, monkeypatch, None))
    assert st.get_option("client.disableDataExport") is True


def test_without_access_the_table_download_stays(store, monkeypatch, tmp_path):
    st.set_option("client.disableDataExport", False)
    (tmp_path / "opslens.toml").write_text("", encoding="utf-8")
    at = rerun(app("overview", store, monkeypatch, None, config=tmp_path / "opslens.toml"))
    assert at.main.title[0].value == "Overview"
    assert st.get_option("client.disableDataExport") is False


def test_a_user_without_a_grant_sees_a_no_access_page_naming_the_email(store, monkeypatch):
    at = rerun(app("overview", store, monkeypatch, {"email": "mallory@example.com", "roles": ["staff"]}))
    nothing_shown(at)
    [warning] = at.main.warning
    assert "signed in as **mallory@example.com**" in warning.value and "no grant" in warning.value
    assert [b.label for b in at.button] == ["Sign out"]
    events = audit.read(store).events.filter(pl.col("user") == "mallory@example.com")
    assert events.select("event", "outcome").rows()[0] == ("sign_in", "no access")


def test_an_unverified_email_does_not_identify_anyone(store, monkeypatch):
    claims = {"email": "viewer@example.com", "email_verified": False}
    at = rerun(app("overview", store, monkeypatch, claims))
    nothing_shown(at)
    assert "no verified e-mail address" in at.main.warning[0].value


BAD = [
    ('[access]\n[access.users."a@x.com"]\nrole = "boss"\nmarkets = ["*"]\n', "role 'boss' is not a role"),
    ('[access]\n[access.users."a@x.com"]\nrole = "viewer"\nmarkets = "WEST"\n', "markets must be a non-empty"),
    ("[access]\ngroups_claim = 7\n", "groups_claim must be the name of an ID-token claim"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[m for _, m in BAD])
def test_a_configuration_mistake_stops_the_app_naming_the_setting(store, monkeypatch, tmp_path, text, message):
    config = tmp_path / "opslens.toml"
    config.write_text(text, encoding="utf-8")
    at = rerun(app("overview", store, monkeypatch, USERS["admin"][0], config=config))
    nothing_shown(at)
    [error] = at.main.error
    assert "configuration has a mistake" in error.value and message in error.value and str(config) in error.value


def test_access_without_streamlit_auth_secrets_stops_the_app(store, monkeypatch):
    at = rerun(app("overview", store, monkeypatch, USERS["admin"][0], secrets=False))
    nothing_shown(at)
    [error] = at.main.error
    assert "sign-in is not configured" in error.value and "no [auth] section" in error.value


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {**AUTH, "cookie_secret": ""},
            "[auth] in Streamlit's secrets (.streamlit/secrets.toml or --secrets.files) needs cookie_secret",
        ),
        ({k: v for k, v in AUTH.items() if k != "client_secret"}, "needs client_secret"),
        ({"redirect_uri": "x", "cookie_secret": "y"}, "must configure one OpenID Connect provider, found 0"),
    ],
)
def test_incomplete_auth_secrets_are_named(section, message):
    assert message in auth.auth_problem(section)


def test_a_named_provider_is_the_one_st_login_uses():
    section = {"redirect_uri": "x", "cookie_secret": "y", "corp": {k: AUTH[k] for k in auth._PROVIDER_KEYS}}
    assert auth.auth_problem(section) is None and auth.login_provider(section) == "corp"


# --- every page for every role ------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(USERS))
@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_shows_the_users_markets_only(page, role, store, monkeypatch, markets):
    claims, scope = USERS[role]
    at = rerun(app(page, store, monkeypatch, claims))
    assert at.main.title[0].value == PAGES[page]
    others = set(markets) - set(scope or markets)
    assert not others & shown_strings(at), f"{page} shows a market outside {role}'s grant"
    assert at.sidebar.multiselect(key="market").options == sorted(scope or markets)
    # who is signed in, with what role
    assert any(f"Signed in as **{claims['email']}** · {role}" in c.value for c in at.sidebar.caption)
    # viewers get no downloads at all; analysts and admins do
    assert bool(download_buttons(at)) == (role != "viewer")
    # only admins load files
    assert bool(at.main.file_uploader) == (page == "data_health" and role == "admin")


@pytest.mark.parametrize("role", ["viewer", "analyst"])
def test_a_link_naming_another_market_shows_nothing_of_it_and_says_so(role, store, monkeypatch, markets):
    claims, scope = USERS[role]
    other = next(m for m in markets if m not in scope)
    at = rerun(app("readiness", store, monkeypatch, claims, {"market": other}))
    [warning] = [w for w in sidebar_warnings(at) if other in w]
    assert "not available to you" in warning and "store does not have" not in warning
    assert at.sidebar.multiselect(key="market").value == []  # the default: all of the user's markets
    assert other not in shown_strings(at)
    expected = dataset("readiness", db=store, markets=list(scope))
    assert [row["market"] for row in table(at)] == expected["market"].to_list()


def test_results_kept_for_one_user_are_never_served_to_another(store, monkeypatch, markets):
    """The app keeps each result for every session of the process (opslens/app/data.py); the same link
    opened by an admin first and then by a viewer still gives the viewer only their markets."""
    link = {"market": list(markets)}
    admin = rerun(app("readiness", store, monkeypatch, USERS["admin"][0], link))
    assert [row["market"] for row in table(admin)] == sorted(markets)
    claims, scope = USERS["viewer"]
    viewer = rerun(app("readiness", store, monkeypatch, claims, link))
    assert [row["market"] for row in table(viewer)] == sorted(scope)
    assert not (set(markets) - set(scope)) & shown_strings(viewer)


def test_the_admin_sees_the_whole_ingest_log_and_the_audit_log(store, monkeypatch):
    at = rerun(app("data_health", store, monkeypatch, USERS["admin"][0]))
    subheaders = [s.value for s in at.main.subheader]
    assert "Audit log" in subheaders
    audit_table = table(at, len(at.main.dataframe) - 1, ["user", "event"])
    assert {"user": "root@example.com", "event": "sign_in"} in audit_table


@pytest.mark.parametrize("role", ["viewer", "analyst"])
def test_others_see_no_audit_log(role, store, monkeypatch):
    at = rerun(app("data_health", store, monkeypatch, USERS[role][0]))
    assert "Audit log" not in [s.value for s in at.main.subheader]
    assert any(c.value == "Loading files is for Ops Lens admins." for c in at.main.caption)


def test_the_page_caption_names_the_users_markets(store, monkeypatch):
    at = rerun(app("backlog", store, monkeypatch, USERS["viewer"][0]))
    assert "your markets: SOUTH, WEST" in shown(at.main.caption[0].value)


def test_sign_in_is_recorded_once_per_session(store, monkeypatch):
    def signed_in():
        return audit.read(store).events.filter(
            (pl.col("user") == "Analyst@Example.com") & (pl.col("event") == "sign_in")
        )

    before = signed_in().height
    at = rerun(app("overview", store, monkeypatch, USERS["analyst"][0]))
    rerun(at)
    events = signed_in()
    assert events.height == before + 1
    assert events["detail"][0] == "analyst · NORTH"
    assert_no_exception(at)


def test_a_download_is_recorded_with_dataset_format_and_filters(store, monkeypatch):
    monkeypatch.setenv("OPSLENS_DB", str(store))
    user = Access("analyst@example.com", "analyst", ("NORTH",))
    make = widgets._recorded(user, "backlog", "csv", {"dataset": "backlog", "markets": "NORTH"}, lambda: b"a,b\n")
    assert make() == b"a,b\n"
    [latest] = audit.read(store).events.head(1).rows(named=True)
    assert (latest["user"], latest["event"], latest["dataset"], latest["format"]) == (
        "analyst@example.com",
        "download",
        "backlog",
        "csv",
    )
    assert latest["filters"] == "dataset=backlog; markets=NORTH"


def _unscoped_page() -> None:
    """A page that builds its own Filters, naming every market: the data door must still scope it."""
    import streamlit as st

    from opslens.app import data
    from opslens.queries import Filters

    every = Filters(markets=("NORTH", "SOUTH", "WEST", "EAST", "CENTRAL", "COAST", "METRO", "VALLEY"))
    st.text(",".join(data.dataset("freshness", every)["market"].to_list()))
    st.text(",".join(data.dataset("freshness", Filters())["market"].to_list()))
    st.text(",".join(data.later("orders", Filters())()["market"].unique().sort().to_list()))


def test_the_data_door_scopes_filters_a_page_built_itself(store, monkeypatch):
    at = AppTest.from_function(_unscoped_page, default_timeout=60)
    monkeypatch.setenv("OPSLENS_DB", str(store))
    monkeypatch.setenv("OPSLENS_CONFIG", str(store.parent / "opslens.toml"))
    monkeypatch.setattr(auth, "current_user", lambda: USERS["viewer"][0])
    rerun(at)
    assert [t.value for t in at.text] == ["SOUTH,WEST", "SOUTH,WEST", "SOUTH,WEST"]


def test_the_data_door_refuses_without_a_user(store, monkeypatch):
    at = AppTest.from_function(_unscoped_page, default_timeout=60)
    monkeypatch.setenv("OPSLENS_DB", str(store))
    monkeypatch.setenv("OPSLENS_CONFIG", str(store.parent / "opslens.toml"))
    monkeypatch.setattr(auth, "current_user", lambda: None)
    at.run()
    assert not at.text
    assert "not signed in, or no access" in str(at.exception[0].value)
