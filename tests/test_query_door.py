"""The guarded query door: a time limit on every dataset query, and cached results that follow the
settings that change numbers (opslens.toml), in the layers where users meet them."""

from __future__ import annotations

import duckdb
import pytest
from apptest_harness import page_app, rerun, shown, table

import opslens.queries as queries
from opslens.app import data
from opslens.cli import main
from opslens.queries import dataset
from opslens.queries.db import QueryTimeout, run

SLOW = "select count(*) from range(1000000000000) a"  # runs for hours unless stopped


def test_a_query_past_its_limit_is_stopped_with_a_clear_error():
    con = duckdb.connect()
    with pytest.raises(QueryTimeout, match=r"the dataset 'slow' took longer than 0.2 s and was stopped"):
        run(con, SLOW, {}, "slow", timeout=0.2)
    assert run(con, "select 1 as x", {}, "after").to_dicts() == [{"x": 1}]  # the connection still works


def _config(tmp_path, monkeypatch, text: str):
    path = tmp_path / "opslens.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("OPSLENS_CONFIG", str(path))
    return path


def _slow(monkeypatch, name: str) -> None:
    """Make dataset `name` a query that runs for hours unless stopped (so a test never races it)."""
    original = queries.sql_text
    monkeypatch.setattr(queries, "sql_text", lambda wanted: SLOW if wanted == name else original(wanted))


def test_the_limit_comes_from_the_config_and_the_cli_explains_it(demo_db, tmp_path, monkeypatch, capsys):
    _config(tmp_path, monkeypatch, "[query]\ntimeout_seconds = 0.3\n")
    _slow(monkeypatch, "orders")
    assert main(["export", "orders", "--db", str(demo_db)]) == 1
    error = capsys.readouterr().err
    assert "opslens export: the dataset 'orders' took longer than 0.3 s and was stopped" in error
    assert "timeout_seconds" in error and "Traceback" not in error


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[query]\ntimeout_seconds = 0\n", "timeout_seconds must be a number of seconds > 0, got 0"),
        ("[query]\ntimeout_seconds = 'soon'\n", "got 'soon'"),
        ("[query]\nlimit = 3\n", "[query] has no setting 'limit'; allowed: timeout_seconds, threads"),
    ],
)
def test_bad_query_settings_are_explained(demo_db, tmp_path, monkeypatch, capsys, text, message):
    _config(tmp_path, monkeypatch, text)
    assert main(["export", "backlog", "--db", str(demo_db)]) == 1
    assert message in capsys.readouterr().err


def test_a_page_whose_query_is_stopped_says_so_without_a_traceback(demo_db, monkeypatch, tmp_path):
    at = page_app("exceptions", demo_db, monkeypatch)
    _config(tmp_path, monkeypatch, "[query]\ntimeout_seconds = 0.3\n")  # after page_app, which sets its own
    _slow(monkeypatch, "exception_summary")
    data.RESULTS.clear()  # earlier tests may have kept this very view
    at.run()
    assert not at.exception
    errors = [shown(e.value) for e in at.main.error]
    assert any("This view took too long" in e and "timeout_seconds" in e for e in errors)


def test_an_edited_config_shows_new_numbers_without_a_restart(demo_db, monkeypatch, tmp_path):
    at = page_app("backlog", demo_db, monkeypatch)
    config = _config(tmp_path, monkeypatch, "")
    before = {row["stage"]: row["stalled"] for row in table(rerun(at), -1)}
    limits = "\n".join(f"{stage} = 0" for stage in ("intake", "awaiting_network", "scheduled"))
    config.write_text(f"[stalled_after_days]\n{limits}\n", encoding="utf-8")
    after = {row["stage"]: row["stalled"] for row in table(rerun(at), -1)}
    expected = dataset("backlog", db=demo_db)  # computed with the edited file
    assert after == {r["stage"]: r["stalled"] for r in expected.pipe(_readable).to_dicts()}
    assert after != before and after["Intake"] > before["Intake"]


def _readable(frame):
    from opslens.app.widgets import readable

    return readable(frame)
