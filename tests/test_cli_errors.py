"""A mistake in a filter is an error naming the value and the choices, never a frame of zeros.

`opslens export` prints one line on stderr and exits 2 (as for a mistyped option); Python's `dataset`
raises FilterError. Hand-made store: snapshots 2026-03-01 and 2026-03-03 (WEST and SOUTH; NORTH only on
03-01); products fiber_1g (WEST, SOUTH) and copper (NORTH only); segment business (WEST only).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from handmade import make_store, no_config_file

from opslens.cli import EXIT_REJECTED, main
from opslens.queries import FilterError, Filters, dataset, fetch

DAY1 = """
snapshot_date | order_id | market | stage            | ordered_at | product  | segment  | mrr
2026-03-01    | W1       | WEST   | intake           | 2026-02-27 | fiber_1g | business | 40
2026-03-01    | S1       | SOUTH  | awaiting_network | 2026-02-20 | fiber_1g |          | 30
2026-03-01    | N1       | NORTH  | intake           | 2026-02-28 | copper   |          | 70
"""
DAY3 = """
snapshot_date | order_id | market | stage            | ordered_at | product  | segment  | mrr
2026-03-03    | W1       | WEST   | awaiting_network | 2026-02-27 | fiber_1g | business | 40
2026-03-03    | S1       | SOUTH  | awaiting_network | 2026-02-20 | fiber_1g |          | 30
"""
STAGE_LIST = "intake, awaiting_network, awaiting_appointment, scheduled, installed, activated, invoiced, cancelled"


@pytest.fixture
def store(tmp_path, monkeypatch) -> Path:
    no_config_file(monkeypatch, tmp_path)
    return make_store(tmp_path, DAY1, DAY3)


def _export(capsys, store: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["export", "backlog", "--db", str(store), *args])
    out, err = capsys.readouterr()
    return code, out, err


MISTAKES = [
    (["--market", "NOPE"], "opslens export: unknown market 'NOPE'; this store's markets: NORTH, SOUTH, WEST"),
    (
        ["--market", "WEST", "--market", "NOPE", "EAST"],
        "opslens export: unknown markets 'NOPE', 'EAST'; this store's markets: NORTH, SOUTH, WEST",
    ),
    (
        ["--as-of", "1999-01-01"],
        "opslens export: as-of date 1999-01-01 is before the store's first snapshot, 2026-03-01"
        " (snapshots run from 2026-03-01 to 2026-03-03)",
    ),
    (
        ["--as-of", "2026-03-02"],
        "opslens export: as-of date 2026-03-02 is not a snapshot date; the nearest are 2026-03-01 and 2026-03-03"
        " (snapshots run from 2026-03-01 to 2026-03-03)",
    ),
    (
        ["--as-of", "2026-12-31"],
        "opslens export: as-of date 2026-12-31 is after the store's latest snapshot, 2026-03-03"
        " (snapshots run from 2026-03-01 to 2026-03-03)",
    ),
    (["--stage", "shipped"], f"opslens export: unknown stage 'shipped'; stages: {STAGE_LIST}"),
    (["--product", "fibre_1g"], "opslens export: unknown product 'fibre_1g'; this store's products: copper, fiber_1g"),
    (["--segment", "Business"], "opslens export: unknown segment 'Business'; this store's segments: business"),
]


@pytest.mark.parametrize(("args", "message"), MISTAKES, ids=[" ".join(a) for a, _ in MISTAKES])
def test_export_names_the_mistake_on_one_line_and_exits_2(store, capsys, args, message):
    code, out, err = _export(capsys, store, *args)
    assert code == EXIT_REJECTED == 2
    assert out == ""  # no header-only CSV
    assert err == message + "\n"


def test_valid_filters_still_export(store, capsys):
    code, out, err = _export(capsys, store, "--as-of", "2026-03-01", "--market", "WEST", "--stage", "intake")
    assert code == 0 and err == ""
    rows = dict(line.split(",")[:2] for line in out.splitlines()[1:])
    assert rows["intake"] == "1" and rows["awaiting_network"] == "0"  # W1 only, in intake on 03-01


def test_the_installed_command_prints_no_traceback(store):
    command = [sys.executable, "-m", "opslens.cli", "export", "backlog", "--db", str(store), "--market", "NOPE"]
    env = {**os.environ, "OPSLENS_CONFIG": str(store.parent / "no-such-opslens.toml")}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=store.parent, timeout=120)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "opslens export: unknown market 'NOPE'; this store's markets: NORTH, SOUTH, WEST"
    ]


# --- Python ---------------------------------------------------------------------------------------------


def test_a_string_where_a_list_belongs_is_an_error_not_its_letters(store):
    with pytest.raises(FilterError) as raised:
        dataset("backlog", db=store, markets="WEST")
    assert str(raised.value) == (
        "markets must be a list, not the string 'WEST': markets=['WEST']; this store's markets: NORTH, SOUTH, WEST"
    )
    with pytest.raises(FilterError, match=r"stages must be a list, not the string 'intake': stages=\['intake'\]"):
        dataset("orders", db=store, stages="intake")
    with pytest.raises(FilterError, match="markets must be a list of values, not the string 'WEST'"):
        Filters(markets="WEST")  # the app and the CLI build Filters directly
    # the list form works: W1 (40) and nothing of SOUTH
    backlog = dataset("backlog", db=store, markets=["WEST"])
    assert sum(backlog["orders"]) == 1 and sum(backlog["mrr"]) == 40


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"markets": ["NOPE"]}, "unknown market 'NOPE'; this store's markets: NORTH, SOUTH, WEST"),
        ({"as_of": dt.date(1999, 1, 1)}, "as-of date 1999-01-01 is before the store's first snapshot, 2026-03-01"),
        ({"stages": ["shipped"]}, "unknown stage 'shipped'; stages: intake, "),
        ({"rules": ["nope"]}, "unknown rule 'nope'; exception rules: stalled, overdue_appointment, "),
        ({"products": ["fibre"]}, "unknown product 'fibre'; this store's products: copper, fiber_1g"),
    ],
)
def test_dataset_raises_for_each_mistake(store, filters, message):
    with pytest.raises(FilterError) as raised:
        dataset("orders", db=store, **filters)
    assert str(raised.value).startswith(message)
    assert isinstance(raised.value, ValueError)


# --- under a scope a message never tells whether another market exists --------------------------------


def test_a_scoped_user_gets_the_same_answer_for_another_market_and_a_market_nobody_has(store):
    scope = ("SOUTH", "WEST")
    # outside the scope: nothing of it (SPEC §4, "not available"), whether the store has it (NORTH) or not
    for market in ("NORTH", "NOPE"):
        assert dataset("orders", db=store, scope=scope, markets=[market]).height == 0
    # a granted market the store does not have is a mistake, and the choices named are the user's only
    with pytest.raises(FilterError) as raised:
        dataset("orders", db=store, scope=("EAST", "WEST"), markets=["EAST"])
    assert str(raised.value) == "unknown market 'EAST'; your markets in this store: WEST"
    # copper is sold in NORTH only: for a WEST/SOUTH user it is as unknown as a product nobody sells
    messages = []
    for product in ("copper", "tin"):
        with pytest.raises(FilterError) as raised:
            fetch("orders", store, Filters(products=(product,), scope=scope))
        messages.append(str(raised.value).replace(product, "X"))
    assert messages == ["unknown product 'X'; products in your markets: fiber_1g"] * 2


def test_export_as_a_user_names_the_choices_of_their_markets_only(store, tmp_path, monkeypatch, capsys):
    config = tmp_path / "opslens.toml"
    config.write_text('[access.users."ann@example.com"]\nrole = "analyst"\nmarkets = ["WEST"]\n', encoding="utf-8")
    monkeypatch.setenv("OPSLENS_CONFIG", str(config))
    code, out, err = _export(capsys, store, "--as", "ann@example.com", "--product", "copper")
    assert (code, out) == (2, "")
    assert err == "opslens export: unknown product 'copper'; products in your markets: fiber_1g\n"
