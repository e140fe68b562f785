"""The registries are the one list of each concept: what reads them agrees with them.

Rules: every rule in RULES has its flag column and its place in the rule order exactly as listed,
so the SQL cannot drift from the list the app, the CLI and the docs show. Pages: every page in
the registry has its script, and every script in pages/ is registered.
"""

from __future__ import annotations

import duckdb
import pytest

from opslens.app.registry import PAGES, PAGES_DIR
from opslens.queries import RULES
from opslens.queries.db import connection, macros_sql
from opslens.store import migrate


@pytest.fixture
def con(tmp_path):
    con = duckdb.connect(str(tmp_path / "empty.duckdb"))
    migrate(con)
    yield con
    con.close()


def test_rule_order_macro_is_the_registry_order(con):
    with connection(con) as c:
        rows = c.sql("select rule, rule_index from opslens_rule_order() order by rule_index").fetchall()
    assert rows == [(name, index) for index, name in enumerate(RULES, start=1)]


def test_every_row_rule_has_its_flag_column_and_nothing_else(con):
    with connection(con) as c:
        columns = c.sql("select * from opslens_snap_rules(date '2026-01-01', null, null, null, [1,1,1,1,1,1])").columns
    flags = [c for c in columns if c.startswith("is_") and c != "is_open"]
    assert flags == [rule.flag_column for rule in RULES.values() if rule.flag]
    # missing_from_snapshot is the only rule about an absent row, defined in opslens_exceptions
    assert [r.name for r in RULES.values() if not r.flag] == ["missing_from_snapshot"]
    assert "'missing_from_snapshot' as rule" in macros_sql()


def test_no_rule_marker_is_left_in_the_macros():
    assert "/* RULE_" not in macros_sql()


def test_every_page_script_is_registered_and_every_registered_page_exists():
    scripts = {p.stem for p in PAGES_DIR.glob("*.py") if p.stem != "__init__"}
    assert scripts == {page.name for page in PAGES}
    for page in PAGES:
        assert page.path.exists(), page.path
        assert f'st.title("{page.title}")' in page.path.read_text(encoding="utf-8"), page.name


def test_page_titles_and_url_paths_are_unique():
    assert len({p.title for p in PAGES}) == len({p.url_path for p in PAGES}) == len(PAGES)
    assert PAGES[0].url_path == "/"
