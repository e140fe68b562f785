"""The datasets about what changed between the comparison date C and S (SPEC §5), on hand-made snapshots.

Expected values are worked out by hand from tests/handmade_changes.py (its docstring lists what each
order does). Changes are exceptions evaluated at each date under the same filters, paired by order
and rule.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from handmade import assert_float, assert_integer, dataset, expect, make_store, no_config_file
from handmade_changes import D1, D3, ROWS, C, S

from opslens.cli import main
from opslens.queries import ComparisonDateError

RULES = (
    "stalled",
    "overdue_appointment",
    "missed_appointment",
    "repeat_visit",
    "scheduled_before_ready",
    "invoiced_before_activation",
    "stage_mismatch",
    "fallout",
    "missing_from_snapshot",
)
OPEN_STAGES = ("intake", "awaiting_network", "awaiting_appointment", "scheduled", "installed", "activated")
AN = "awaiting_network"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_store(tmp_path_factory.mktemp("changes"), ROWS)


@pytest.fixture(autouse=True)
def _defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_config_file(monkeypatch, tmp_path)


def _row(order, market, rule, change, then, now, market_then, market_now, mrr, reported_both=True) -> dict:
    return {
        "order_id": order,
        "market": market,
        "rule": rule,
        "change": change,
        "stage_then": then,
        "stage_now": now,
        "market_then": market_then,
        "market_now": market_now,
        "mrr": mrr,
        "reported_both": reported_both,
    }


# --- exception_changes ------------------------------------------------------------------------------


def test_exception_changes_pairs_every_exception_at_c_and_s(db):
    frame = dataset("exception_changes", db)
    assert frame.columns[:6] == ["order_id", "market", "rule", "change", "stage_then", "stage_now"]
    expect(
        frame,
        [
            # new, by rule order then market and order
            _row("S2", "SOUTH", "repeat_visit", "new", None, AN, "SOUTH", "SOUTH", 400.0),
            _row("N3", "NORTH", "fallout", "new", None, AN, "NORTH", "NORTH", 30.0),
            # WEST sent no extract at C: its exception looks new, and the row says why
            _row("W1", "WEST", "fallout", "new", None, AN, None, "WEST", 1000.0, reported_both=False),
            # N7 is absent at S while NORTH reported: missing_from_snapshot, with its stage on 03-10
            _row("N7", "NORTH", "missing_from_snapshot", "new", None, AN, "NORTH", "NORTH", 70.0),
            # resolved: cleared (N2), cancelled (N6, still at S), absent at S (N7, N8: market from C)
            _row("N2", "NORTH", "fallout", "resolved", AN, None, "NORTH", "NORTH", 20.0),
            _row("N6", "NORTH", "fallout", "resolved", AN, None, "NORTH", "NORTH", 60.0),
            _row("N7", "NORTH", "fallout", "resolved", AN, None, "NORTH", None, 70.0),
            _row("N8", "NORTH", "fallout", "resolved", AN, None, "NORTH", None, 80.0),
            # persisting: repeat_visit holds for the cancelled row too; N4 was off in between; M1 moved
            _row("N6", "NORTH", "repeat_visit", "persisting", AN, "cancelled", "NORTH", "NORTH", 60.0),
            _row("N1", "NORTH", "fallout", "persisting", AN, AN, "NORTH", "NORTH", 10.0),
            _row("N4", "NORTH", "fallout", "persisting", AN, AN, "NORTH", "NORTH", 40.0),
            _row("M1", "SOUTH", "fallout", "persisting", AN, AN, "NORTH", "SOUTH", 100.0),
            _row("S1", "SOUTH", "fallout", "persisting", AN, AN, "SOUTH", "SOUTH", 300.0),
        ],
    )
    assert "N5" not in frame["order_id"].to_list()  # on only between C and S


def test_a_market_filter_is_applied_at_each_date(db):
    north = dataset("exception_changes", db, markets=["NORTH"])
    # M1 was in NORTH at C and is in SOUTH at S: under NORTH it is resolved, reported where it is now
    m1 = north.filter(order_id="M1").to_dicts()
    assert m1 == [_row("M1", "SOUTH", "fallout", "resolved", AN, None, "NORTH", "SOUTH", 100.0)]
    assert sorted(north.filter(change="persisting")["order_id"]) == ["N1", "N4", "N6"]
    assert "S1" not in north["order_id"].to_list() and "W1" not in north["order_id"].to_list()

    south = dataset("exception_changes", db, markets=["SOUTH"])
    expect(
        south,
        [
            _row("S2", "SOUTH", "repeat_visit", "new", None, AN, "SOUTH", "SOUTH", 400.0),
            _row("M1", "SOUTH", "fallout", "new", None, AN, "NORTH", "SOUTH", 100.0),
            _row("S1", "SOUTH", "fallout", "persisting", AN, AN, "SOUTH", "SOUTH", 300.0),
        ],
    )


def test_rule_drill_down_lists_only_that_rule(db):
    frame = dataset("exception_changes", db, rules=["repeat_visit"])
    assert frame.select("order_id", "change").rows() == [("S2", "new"), ("N6", "persisting")]


# --- changes ------------------------------------------------------------------------------------------


def _counts(frame, market):
    rows = frame.filter(market=market)
    assert rows["rule"].to_list() == list(RULES)  # every rule, zeros included, in SPEC order
    return {
        r["rule"]: (r["new"], r["resolved"], r["persisting"])
        for r in rows.to_dicts()
        if any((r["new"], r["resolved"], r["persisting"]))
    }


def test_changes_per_market_and_rule_and_all(db):
    frame = dataset("changes", db)
    assert frame.columns[:5] == ["market", "rule", "new", "resolved", "persisting"]
    assert_integer(frame, "new", "resolved", "persisting", "net_change")
    assert frame["market"].unique(maintain_order=True).to_list() == ["NORTH", "SOUTH", "WEST", "ALL"]
    assert _counts(frame, "NORTH") == {
        "repeat_visit": (0, 0, 1),
        "fallout": (1, 4, 2),
        "missing_from_snapshot": (1, 0, 0),
    }
    assert _counts(frame, "SOUTH") == {"repeat_visit": (1, 0, 0), "fallout": (0, 0, 2)}
    assert _counts(frame, "WEST") == {"fallout": (1, 0, 0)}
    # ALL covers NORTH and SOUTH, the markets that reported on both dates: not WEST's one 'new'
    assert _counts(frame, "ALL") == {
        "repeat_visit": (1, 0, 1),
        "fallout": (1, 4, 4),
        "missing_from_snapshot": (1, 0, 0),
    }
    reported = dict(frame.filter(rule="fallout").select("market", "reported_both").rows())
    assert reported == {"NORTH": True, "SOUTH": True, "WEST": False, "ALL": False}
    fallout = {r["market"]: r["net_change"] for r in frame.filter(rule="fallout").to_dicts()}
    assert fallout == {"NORTH": -3, "SOUTH": 0, "WEST": 1, "ALL": -3}


def test_changes_under_a_market_filter_list_where_moved_orders_are_now(db):
    frame = dataset("changes", db, markets=["NORTH"])
    assert frame["market"].unique(maintain_order=True).to_list() == ["NORTH", "SOUTH", "ALL"]
    assert _counts(frame, "SOUTH") == {"fallout": (0, 1, 0)}  # M1 left NORTH for SOUTH
    assert _counts(frame, "ALL") == {
        "repeat_visit": (0, 0, 1),
        "fallout": (1, 5, 2),
        "missing_from_snapshot": (1, 0, 0),
    }
    assert frame.filter(market="ALL")["reported_both"].all()


# --- backlog_changes ----------------------------------------------------------------------------------


def test_backlog_changes_per_stage_and_market(db):
    frame = dataset("backlog_changes", db)
    assert_integer(frame, "orders_then", "orders_now", "orders_change")
    assert_float(frame, "mrr_then", "mrr_now", "mrr_change")
    assert frame["market"].unique(maintain_order=True).to_list() == ["NORTH", "SOUTH", "WEST", "ALL"]
    for market in ("NORTH", "SOUTH", "WEST", "ALL"):
        assert frame.filter(market=market)["stage"].to_list() == list(OPEN_STAGES)
    nonzero = {
        (r["market"], r["stage"]): (r["orders_then"], r["orders_now"], r["orders_change"], r["mrr_then"], r["mrr_now"])
        for r in frame.to_dicts()
        if r["orders_then"] or r["orders_now"]
    }
    assert nonzero == {
        # C: N1-N8 and M1 awaiting network (10+...+80+100 = 460), B1 scheduled (200)
        # S: N1-N5 and B1 (10+20+30+40+50+200 = 350); N6 cancelled, N7 and N8 gone, M1 in SOUTH
        ("NORTH", AN): (9, 6, -3, 460.0, 350.0),
        ("NORTH", "scheduled"): (1, 0, -1, 200.0, 0.0),
        ("SOUTH", AN): (2, 3, 1, 700.0, 800.0),
        ("WEST", AN): (0, 1, 1, 0.0, 1000.0),  # no extract at C
        ("ALL", AN): (11, 9, -2, 1160.0, 1150.0),  # NORTH and SOUTH only
        ("ALL", "scheduled"): (1, 0, -1, 200.0, 0.0),
    }
    assert dict(frame.filter(stage=AN).select("market", "reported_both").rows()) == {
        "NORTH": True,
        "SOUTH": True,
        "WEST": False,
        "ALL": False,
    }
    assert frame.filter(market="NORTH", stage=AN)["mrr_change"].item() == pytest.approx(-110.0)


def test_backlog_changes_market_filter(db):
    frame = dataset("backlog_changes", db, markets=["SOUTH"])
    assert frame["market"].unique(maintain_order=True).to_list() == ["SOUTH", "ALL"]
    assert frame.filter(stage=AN).select("market", "orders_then", "orders_now").rows() == [
        ("SOUTH", 2, 3),
        ("ALL", 2, 3),
    ]


# --- moved_backwards ----------------------------------------------------------------------------------


def test_moved_backwards_lists_orders_whose_stage_went_back(db):
    frame = dataset("moved_backwards", db)
    assert frame.columns[:5] == ["order_id", "market", "stage_then", "stage_now", "days_between"]
    expect(
        frame,
        [
            {
                "order_id": "B1",
                "market": "NORTH",
                "stage_then": "scheduled",
                "stage_now": AN,
                "days_between": 10,
                "stages_back": 2,
                "market_then": "NORTH",
                "mrr": 200.0,
                "compare_to": C,
                "as_of": S,
            }
        ],
    )
    assert dataset("moved_backwards", db, markets=["SOUTH"]).height == 0
    # compared with 03-10, when B1 was already awaiting network, nothing went back
    assert dataset("moved_backwards", db, compare_to=D3).height == 0


# --- compared_markets ---------------------------------------------------------------------------------


def test_compared_markets_say_which_markets_reported_on_both_dates(db):
    expect(
        dataset("compared_markets", db),
        [
            {"market": "NORTH", "compare_to": C, "as_of": S, "rows_then": 10, "rows_now": 7, "reported_both": True},
            {"market": "SOUTH", "compare_to": C, "as_of": S, "rows_then": 2, "rows_now": 3, "reported_both": True},
            {"market": "WEST", "compare_to": C, "as_of": S, "rows_then": 0, "rows_now": 1, "reported_both": False},
        ],
    )
    # compared with 03-01, when only WEST reported, NORTH and SOUTH are the ones missing
    assert dataset("compared_markets", db, compare_to=D1).select("market", "reported_both").rows() == [
        ("NORTH", False),
        ("SOUTH", False),
        ("WEST", True),
    ]
    assert dataset("compared_markets", db, markets=["WEST"])["market"].to_list() == ["WEST"]


# --- the comparison date ------------------------------------------------------------------------------

COMPARISONS = ("exception_changes", "changes", "backlog_changes", "moved_backwards", "compared_markets")


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (S, C),  # S - 7 = 03-05 falls in the gap: the latest snapshot before it is 03-02
        (D3, C),  # S - 7 = 03-03: again 03-02
        (C, D1),  # nothing a week before 03-02: the earliest snapshot
    ],
)
def test_default_comparison_date(db, as_of, expected):
    assert dataset("compared_markets", db, as_of=as_of)["compare_to"].unique().to_list() == [expected]


def test_default_comparison_date_across_the_gap_gives_the_explicit_results(db):
    for name in COMPARISONS:
        assert dataset(name, db).equals(dataset(name, db, compare_to=C)), name
    assert not dataset("changes", db).equals(dataset("changes", db, compare_to=D3))


@pytest.mark.parametrize("name", COMPARISONS)
def test_no_earlier_snapshot_gives_empty_datasets(db, name):
    frame = dataset(name, db, as_of=D1)
    assert frame.height == 0
    assert frame.width == dataset(name, db).width  # the same columns, for an empty export


@pytest.mark.parametrize(
    ("compare_to", "message"),
    [
        (S, "compare_to 2026-03-12 is not before the as-of date 2026-03-12"),
        (dt.date(2026, 3, 20), "compare_to 2026-03-20 is not before the as-of date 2026-03-12"),
        (
            dt.date(2026, 3, 5),
            "not a snapshot date of the store; the nearest snapshot dates before 2026-03-12 are"
            " 2026-03-02 and 2026-03-10",
        ),
    ],
)
def test_invalid_comparison_dates_are_refused(db, compare_to, message):
    for name in COMPARISONS:
        with pytest.raises(ComparisonDateError, match=message):
            dataset(name, db, compare_to=compare_to)
    assert issubclass(ComparisonDateError, ValueError)
    dataset("backlog", db, compare_to=compare_to)  # datasets without a comparison ignore it


def test_cli_compare_to(db, capsys):
    assert main(["export", "changes", "--db", str(db), "--compare-to", "2026-03-10", "--market", "SOUTH"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "market,rule,new,resolved,persisting,net_change,reported_both"
    # compared with 03-10: S2's truck rolls are new, M1 and S1 persist
    assert "SOUTH,repeat_visit,1,0,0,1,true" in lines and "SOUTH,fallout,0,0,2,0,true" in lines

    assert main(["export", "exception_changes", "--db", str(db), "--compare-to", "2026-03-05"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("opslens export: compare_to 2026-03-05 is not a snapshot date")
    assert "Traceback" not in error
