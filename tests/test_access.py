"""Grants, roles and the market scope (SPEC §4), without a browser: opslens.toml's [access] section,
`Access` resolution, the scope in the query door on a hand-made store and on the demo store (every
dataset), and `opslens export --as`.

Hand-made store (expected values by hand): markets WEST, SOUTH, NORTH; ann@example.com is a viewer
of WEST and SOUTH, so NORTH must never show for her, also not in the `ALL` row, the filter choices,
the ingest log or the footprint.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import textwrap
from pathlib import Path

import polars as pl
import pytest
from handmade import by_key, make_store

from opslens import access
from opslens.cli import EXIT_NO_ACCESS, main
from opslens.config import ConfigError
from opslens.queries import DATASETS, Filters, dataset, fetch, filter_options

GRANTS = """
[access]
[access.users."Ann@Example.com"]
role = "viewer"
markets = ["WEST", "SOUTH"]
[access.users."bob@example.com"]
role = "analyst"
markets = ["SOUTH"]
[access.groups."ops-managers"]
role = "analyst"
markets = ["*"]
[access.groups."north-team"]
role = "admin"
markets = ["NORTH"]
"""


def write_config(directory: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = Path(directory) / "opslens.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    monkeypatch.setenv("OPSLENS_CONFIG", str(path))
    return path


# --- grants and roles -----------------------------------------------------------------------------


def test_no_access_section_means_the_local_tool(tmp_path, monkeypatch):
    write_config(tmp_path, "[upload]\nenabled = true\n", monkeypatch)
    assert access.settings() is None
    assert access.LOCAL.markets is None and access.LOCAL.is_admin and access.LOCAL.can_download


def test_email_is_case_insensitive_and_groups_add_up(tmp_path, monkeypatch):
    write_config(tmp_path, GRANTS, monkeypatch)
    ann = access.resolve("ann@EXAMPLE.com")
    assert (ann.role, ann.markets) == ("viewer", ("SOUTH", "WEST"))
    assert not ann.can_download and not ann.is_admin
    # union of markets, highest role: viewer of WEST+SOUTH and admin of NORTH
    both = access.resolve("ann@example.com", ["north-team"])
    assert (both.role, both.markets) == ("admin", ("NORTH", "SOUTH", "WEST"))
    # a "*" grant covers every market, also those added later
    manager = access.resolve("bob@example.com", ["ops-managers", "unknown-group"])
    assert (manager.role, manager.markets) == ("analyst", None)
    # only a group, no user grant
    assert access.resolve("carol@example.com", ["north-team"]).markets == ("NORTH",)


def test_no_grant_means_no_access(tmp_path, monkeypatch):
    write_config(tmp_path, GRANTS, monkeypatch)
    assert access.resolve("mallory@example.com") is None
    assert access.resolve("mallory@example.com", ["Ops-Managers"]) is None  # groups are exact
    assert access.resolve("", ["ops-managers"]) is None  # no e-mail, no identity


def test_admins_see_the_whole_ingest_and_audit_log_but_only_their_markets_elsewhere():
    admin = access.Access("a@x", "admin", ("NORTH",))
    assert admin.scope_for("ingest_log") is None and admin.scope_for("audit") is None
    assert admin.scope_for("backlog") == ("NORTH",)
    analyst = access.Access("b@x", "analyst", ("NORTH",))
    assert analyst.scope_for("ingest_log") == ("NORTH",)


BAD_CONFIGS = [
    ('[access.users."a@x.com"]\nrole = "boss"\nmarkets = ["*"]\n', "role 'boss' is not a role; allowed: viewer"),
    ('[access.users."a@x.com"]\nmarkets = ["*"]\n', '[access.users."a@x.com"] needs a role'),
    ('[access.users."a@x.com"]\nrole = "viewer"\n', '[access.users."a@x.com"] needs markets'),
    ('[access.users."a@x.com"]\nrole = "viewer"\nmarkets = "WEST"\n', "markets must be a non-empty list"),
    ('[access.users."a@x.com"]\nrole = "viewer"\nmarkets = []\n', "markets must be a non-empty list"),
    ('[access.users."a@x.com"]\nrole = "viewer"\nmarkets = ["WEST", 3]\n', "markets must be a non-empty list"),
    ('[access.groups."g"]\nrole = "viewer"\nmarkets = ["*"]\nmarket = ["W"]\n', "has no setting 'market'"),
    ('[access.users."ann"]\nrole = "viewer"\nmarkets = ["*"]\n', "'ann' is not an e-mail address"),
    ("[access]\ngroup_claim = 'roles'\n", "[access] has no setting 'group_claim'"),
    ("[access]\ngroups_claim = ''\n", "groups_claim must be the name of an ID-token claim"),
    ("access = 3\n", "'access' must be a table"),
    (
        '[access.users."A@x.com"]\nrole = "viewer"\nmarkets = ["*"]\n[access.users."a@X.com"]\nrole = "admin"\n'
        'markets = ["*"]\n',
        "names the same user as another grant",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD_CONFIGS, ids=[m for _, m in BAD_CONFIGS])
def test_each_configuration_mistake_is_named(tmp_path, monkeypatch, text, message):
    path = write_config(tmp_path, text, monkeypatch)
    with pytest.raises(ConfigError) as raised:
        access.settings()
    assert message in str(raised.value)
    assert str(path) in str(raised.value)


# --- the scope in the query door, by hand -----------------------------------------------------------

DAY1 = """
snapshot_date | order_id | market | stage     | ordered_at | product  | installed_at | invoiced_at | mrr
2026-03-01    | W1       | WEST   | intake    | 2026-02-27 | fiber_1g |              |             | 40
2026-03-01    | W2       | WEST   | invoiced  | 2026-01-01 | fiber_1g | 2026-02-01   | 2026-02-11  | 50
2026-03-01    | N1       | NORTH  | intake    | 2026-02-28 | copper   |              |             | 70
2026-03-01    | N2       | NORTH  | invoiced  | 2026-01-01 | copper   | 2026-02-01   | 2026-02-21  | 80
"""
DAY1_SOUTH = """
snapshot_date | order_id | market | stage     | ordered_at | product  | installed_at | invoiced_at | mrr
2026-03-01    | S1       | SOUTH  | installed | 2026-02-01 | fiber_1g | 2026-02-25   |             | 30
"""
FOOTPRINT = """
snapshot_date | market | premises_passed | premises_ready
2026-03-01    | WEST   | 100             | 60
2026-03-01    | NORTH  | 500             | 100
"""
SCOPE = ("SOUTH", "WEST")


@pytest.fixture
def store(tmp_path, monkeypatch):
    """Ingest 1: WEST and NORTH and the footprint; ingest 2: SOUTH only; ingest 3: NORTH's footprint only."""
    write_config(tmp_path, GRANTS, monkeypatch)
    db = make_store(tmp_path / "a", DAY1, FOOTPRINT)
    make_store(tmp_path / "b", DAY1_SOUTH, db=db)
    north_only = "snapshot_date | market | premises_passed | premises_ready\n2026-02-28 | NORTH | 400 | 50"
    make_store(tmp_path / "c", north_only, db=db)
    return db


def test_backlog_counts_the_users_markets_only(store):
    backlog = by_key(dataset("backlog", db=store, scope=SCOPE), "stage")
    # open at 2026-03-01 in WEST/SOUTH: W1 intake (40), S1 installed (30); N1, N3 (NORTH) are out
    assert backlog["intake"]["orders"] == 1 and backlog["intake"]["mrr"] == 40
    assert backlog["installed"]["orders"] == 1 and backlog["installed"]["mrr"] == 30
    assert sum(row["orders"] for row in backlog.values()) == 2


def test_install_to_invoice_all_row_covers_the_users_markets(store):
    summary = by_key(dataset("install_to_invoice", db=store, scope=SCOPE), "market")
    assert set(summary) == {"SOUTH", "WEST", "ALL"}
    # ALL: W2 only (10 days); N2's 20 days are NORTH's. Unbilled: S1 (30).
    assert summary["ALL"]["invoiced_orders"] == 1 and summary["ALL"]["days_p50"] == 10.0
    assert summary["ALL"]["installed_not_invoiced"] == 1 and summary["ALL"]["unbilled_mrr"] == 30.0


def test_a_market_filter_outside_the_scope_yields_nothing_of_it(store):
    assert dataset("orders", db=store, scope=SCOPE, markets=["NORTH"]).height == 0
    assert dataset("freshness", db=store, scope=SCOPE, markets=["NORTH"]).height == 0
    assert sum(dataset("backlog", db=store, scope=SCOPE, markets=["NORTH"])["orders"]) == 0
    # within the scope the filter narrows as usual
    assert dataset("orders", db=store, scope=SCOPE, markets=["NORTH", "WEST"])["order_id"].to_list() == ["W1", "W2"]
    described = Filters(markets=("NORTH",), scope=SCOPE).described()
    assert described == {"markets": "none available"}


def test_filter_choices_freshness_footprint_and_rows_are_scoped(store):
    assert filter_options(store, SCOPE) == {"markets": ["SOUTH", "WEST"], "products": ["fiber_1g"], "segments": []}
    assert filter_options(store)["markets"] == ["NORTH", "SOUTH", "WEST"]
    assert dataset("freshness", db=store, scope=SCOPE)["market"].to_list() == ["SOUTH", "WEST"]
    readiness = by_key(dataset("readiness", db=store, scope=SCOPE), "market")
    assert set(readiness) == {"SOUTH", "WEST"} and readiness["WEST"]["premises_passed"] == 100
    assert set(dataset("snapshot_rows", db=store, scope=SCOPE)["market"]) == {"SOUTH", "WEST"}


def test_ingest_log_hides_ingests_that_touch_none_of_the_users_markets(store):
    log = dataset("ingest_log", db=store, scope=SCOPE)
    # ingest 3 (NORTH only) is hidden; ingest 1's counts are WEST's 2 rows and 1 footprint row of its 4 + 2
    assert log.select("ingest_id", "snapshot_rows", "footprint_rows").rows() == [(2, 1, 0), (1, 2, 1)]
    everything = dataset("ingest_log", db=store).select("ingest_id", "snapshot_rows", "footprint_rows")
    assert everything.rows() == [(3, 0, 1), (2, 1, 0), (1, 4, 2)]


def test_headline_compares_the_users_markets_only(store):
    headline = by_key(dataset("headline", db=store, scope=SCOPE), "measure")
    assert headline["open_orders"]["value"] == 2  # W1, S1
    assert headline["backlog_mrr"]["value"] == 70  # 40 + 30


# --- every dataset on the demo store: scoped == filtered to the granted markets -----------------------


@pytest.fixture(scope="module")
def demo_markets(demo_db) -> list[str]:
    return filter_options(demo_db)["markets"]


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_dataset_under_a_scope_equals_the_dataset_filtered_to_the_granted_markets(name, demo_db, demo_markets):
    granted, others = tuple(demo_markets[:2]), set(demo_markets[2:])
    assert others, "the demo store must have markets outside the grant"
    as_of = dt.date(2026, 11, 10)
    scoped = fetch(name, demo_db, Filters(as_of=as_of, scope=granted))
    if name == "ingest_log":  # not a view of markets: its rows are the ingests that brought granted rows
        assert scoped.height == fetch(name, demo_db, Filters()).height
    else:
        assert scoped.equals(fetch(name, demo_db, Filters(as_of=as_of, markets=granted)))
    # Empty here, compared all the same: the demo generator never moves an order back in the lifecycle,
    # and its 60 days are too few for a backtest (56 days of history and 28 ahead)
    assert scoped.height > 0 or name in (
        "ingest_log",
        "moved_backwards",
        "install_forecast_backtest",
        "install_forecast_calibration",
    )
    for column in scoped.columns:
        values = scoped[column]
        if values.dtype == pl.List(pl.String):
            values = values.explode()
        if values.dtype == pl.String:
            assert not others & set(values.drop_nulls()), f"{name}.{column} names a market outside the grant"
    # a market filter naming only other markets shows nothing of them
    outside = fetch(name, demo_db, Filters(as_of=as_of, markets=tuple(others), scope=granted))
    if "market" in outside.columns:
        assert not others & set(outside["market"].drop_nulls())


# --- opslens export --as ------------------------------------------------------------------------------


def _export(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["export", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", ["orders", "install_to_invoice", "ingest_log", "freshness"])
def test_export_as_a_user_equals_that_users_scope(store, capsys, name):
    code, out, _ = _export(capsys, name, "--db", str(store), "--as", "ann@example.com", "--format", "json")
    assert code == 0
    shown = json.loads(out)
    expected = json.loads(pl.DataFrame(dataset(name, db=store, scope=SCOPE)).write_json())
    assert shown["rows"] == expected
    assert shown["meta"]["as_user"] == "ann@example.com"


def test_export_as_a_group_member(store, capsys):
    code, out, _ = _export(capsys, "freshness", "--db", str(store), "--as", "x@example.com", "--group", "north-team")
    assert code == 0
    assert pl.read_csv(io.StringIO(out))["market"].to_list() == ["NORTH"]


def test_export_as_someone_without_a_grant_exits_3(store, capsys):
    code, out, err = _export(capsys, "orders", "--db", str(store), "--as", "mallory@example.com")
    assert code == EXIT_NO_ACCESS == 3
    assert out == ""
    assert "mallory@example.com (no groups) has no access" in err


def test_export_as_names_a_market_outside_the_grant(store, capsys):
    code, out, err = _export(capsys, "orders", "--db", str(store), "--as", "ann@example.com", "--market", "NORTH")
    assert code == 0
    assert "market(s) NORTH not available to ann@example.com" in err
    assert pl.read_csv(io.StringIO(out)).height == 0


def test_export_as_without_an_access_section_is_an_error(store, tmp_path, monkeypatch, capsys):
    write_config(tmp_path, "", monkeypatch)
    code, _, err = _export(capsys, "orders", "--db", str(store), "--as", "ann@example.com")
    assert code == 1 and "has no [access] section" in err


def test_group_without_as_is_an_error(store, capsys):
    code, _, err = _export(capsys, "orders", "--db", str(store), "--group", "north-team")
    assert code == 1 and "--group describes the user of --as" in err
