"""The README is the user's guide: every page, dataset, rule and command must be in it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from opslens.app.registry import PAGES
from opslens.cli import _parser
from opslens.queries import DATASETS, RULES

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _subcommands() -> dict[str, object]:
    action = next(a for a in _parser()._actions if a.dest == "command")
    return dict(action.choices)


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_page_is_described_and_has_a_screenshot(page):
    assert f"**{page.title}**" in README, page.title
    assert f"docs/screenshots/{page.name}.png" in README, page.name
    assert (ROOT / "docs" / "screenshots" / f"{page.name}.png").exists(), page.name


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_dataset_is_documented(name):
    assert f"| `{name}` |" in README


@pytest.mark.parametrize("name", list(RULES))
def test_every_exception_rule_is_documented(name):
    assert f"`{name}`" in README


@pytest.mark.parametrize("command", list(_subcommands()))
def test_every_command_is_documented_with_an_example(command):
    assert f"`opslens {command}" in README
    assert "Example: opslens " + command in _subcommands()[command].epilog


def test_the_two_commands_exist_and_ci_runs_the_test_command():
    assert "./run" in README and "./test" in README
    assert (ROOT / "run").exists() and (ROOT / "test").exists()
    assert "./test" in (ROOT / ".ci" / "run").read_text()


def _python_examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, re.S)


def test_the_python_example_runs_on_the_demo_store_and_finds_orders(demo_db, monkeypatch, capsys):
    examples = _python_examples()
    assert examples, "the README has a Python example"
    for code in examples:
        assert '"data/opslens.duckdb"' in code
        namespace: dict[str, object] = {}
        exec(compile(code.replace('"data/opslens.duckdb"', repr(str(demo_db))), "README.md", "exec"), namespace)
        df = namespace["df"]
        assert df.height == 6 and df["orders"].sum() > 0, "the example must show real numbers, not zeros"
        assert "awaiting_network" in capsys.readouterr().out
