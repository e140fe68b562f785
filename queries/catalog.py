"""What each dataset and exception rule is, in words: for the CLI help, the app and the README."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset's grain and purpose; internal_columns serve ordering and are dropped from results."""

    name: str
    grain: str
    description: str
    internal_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleInfo:
    """An exception rule: its code, the label and reason a planner reads, and its SQL flag.

    `flag` is the SQL condition on a row of snap(S) (the columns of `opslens_snap` in
    queries/sql/_macros.sql, plus `as_of` and `stall_limits`) under which the row breaks the rule;
    a NULL counts as false. None for a rule about a row that is absent (missing_from_snapshot),
    defined in the `opslens_exceptions` macro. The order of RULES is the rule order everywhere:
    the flag columns, each row's `rules` list, exception sorting and ties between rules.
    """

    name: str
    label: str
    explanation: str
    flag: str | None

    @property
    def flag_column(self) -> str:
        """The boolean column of `opslens_snap_rules` that holds this rule's flag."""
        return f"is_{self.name}"


_DATASETS = [
    # The SPEC §3 datasets.
    DatasetInfo(
        "backlog",
        "one row per open stage",
        "orders, MRR, median age in stage and stalled orders per open stage at the snapshot",
        ("stage_index",),
    ),
    DatasetInfo(
        "backlog_trend",
        "one row per snapshot date and open stage",
        "orders and MRR per open stage for each snapshot date in the range",
        ("stage_index",),
    ),
    DatasetInfo(
        "exceptions",
        "one row per order and rule",
        "orders breaking an exception rule at the snapshot, with age in stage and MRR at risk",
        ("rule_index",),
    ),
    DatasetInfo(
        "readiness",
        "one row per market",
        "demand waiting for the network, waiting times, bookings before readiness and footprint per market",
    ),
    DatasetInfo(
        "install_to_invoice",
        "one row per market, then ALL",
        "days from install to first invoice (percentiles, mean) and installed-but-unbilled orders per market",
        ("is_total",),
    ),
    DatasetInfo(
        "orders",
        "one row per order in the snapshot",
        "the orders behind every number: contract columns, ages and the exception rules each breaks",
    ),
    DatasetInfo(
        "freshness",
        "one row per market",
        "each market's latest snapshot, its rows, days behind the as-of date and the last ingest; then its open"
        " orders at the snapshot and how many (and what share) have a stage behind their milestones"
        " (stage_mismatch: the systems are out of sync); market filter only",
    ),
    # Datasets behind the pages' further charts.
    DatasetInfo(
        "headline",
        "one row per headline measure",
        "the Overview tiles: each measure at the snapshot and at the previous snapshot, with the change",
    ),
    DatasetInfo(
        "market_attention",
        "one row per market, ranked",
        "markets ranked by the share of their orders with exceptions (rows of the snapshot plus orders missing"
        " from it), with the rule behind most of them",
    ),
    DatasetInfo(
        "exception_counts",
        "one row per rule and market with exceptions",
        "orders breaking each rule per market and their MRR, in rule order (the Exceptions heatmap)",
        ("rule_index",),
    ),
    DatasetInfo(
        "exception_summary",
        "one row",
        "exception rows, orders with exceptions and their MRR, and the rule broken by most orders (Exceptions tiles)",
    ),
    DatasetInfo(
        "backlog_ageing",
        "one row per open stage and age bucket",
        "open orders per stage by days in stage (0-2, 3-7, 8-14, 15-30, 31-60, over 60)",
        ("stage_index", "bucket_index"),
    ),
    DatasetInfo(
        "backlog_flow",
        "one row per snapshot date and open stage",
        "orders entering and leaving each stage since each order's previous snapshot row",
        ("stage_index",),
    ),
    DatasetInfo(
        "install_to_invoice_orders",
        "one row per invoiced order",
        "the install-to-invoice population with each order's segment durations, slowest first",
    ),
    DatasetInfo(
        "install_to_invoice_distribution",
        "one row per number of days",
        "how many orders of the install-to-invoice population took each number of days: the histogram",
    ),
    DatasetInfo(
        "install_to_invoice_weekly",
        "one row per install week",
        "install-to-invoice percentiles and segment medians by the week of install, with the week's sample"
        " and whether it is complete (begun in the history, at least 95% invoiced)",
    ),
    DatasetInfo(
        "unbilled_orders",
        "one row per installed, not invoiced order",
        "orders installed but not yet invoiced at the snapshot, with days since install and MRR",
    ),
    DatasetInfo(
        "snapshot_rows",
        "one row per snapshot date and market",
        "rows each market's extract delivered per snapshot date, 0 where it is missing",
    ),
    DatasetInfo(
        "ingest_log",
        "one row per ingest, newest first",
        "every ingest: when, files, rows loaded, outcome and the reason for a rejection",
    ),
    # Flow and forecasts (SPEC §6; docs/forecasts.md): --horizon and --history set their windows.
    DatasetInfo(
        "install_forecast",
        "one row per market, then ALL",
        "installs expected in (S, S + horizon] at 50/85/95% confidence, by Monte Carlo over the daily installs"
        " of the history window",
    ),
    DatasetInfo(
        "install_forecast_backtest",
        "one row per past snapshot date and market, then ALL",
        "the install forecast replayed at every past snapshot with a full history, against the installs realised",
    ),
    DatasetInfo(
        "install_forecast_calibration",
        "one row per market, then ALL",
        "how often the realised installs reached the forecast's P50, 85% and 95% levels in the backtest",
    ),
    DatasetInfo(
        "backlog_clearance",
        "one row per market (then ALL) and open stage",
        "the dates by which the orders open in a stage at S will have left it, at 50/85/95% confidence",
    ),
    DatasetInfo(
        "service_levels",
        "one row per market (then ALL) and open stage",
        "days in stage within which 50/85/95% of the orders that left the stage in the history window had left",
        ("is_total", "stage_index"),
    ),
    DatasetInfo(
        "ageing_orders",
        "one row per open order in the snapshot",
        "open orders with their age in stage against the stage's service level expectation, oldest first",
        ("stage_index",),
    ),
]
# What changed between the comparison date C and S (SPEC §5): these datasets take `compare_to`.
_COMPARISONS = [
    DatasetInfo(
        "exception_changes",
        "one row per order and rule in exceptions at S or at C",
        "each exception as new (at S only), resolved (at C only) or persisting, with the order's stage at each"
        " date, its market then and now, MRR and whether its market reported on both dates",
        ("change_index", "rule_index"),
    ),
    DatasetInfo(
        "changes",
        "one row per market and rule, then ALL per rule",
        "new, resolved and persisting exceptions since the comparison date and the net change; ALL sums the"
        " markets that reported on both dates",
        ("is_total", "rule_index"),
    ),
    DatasetInfo(
        "backlog_changes",
        "one row per market and open stage, then ALL per stage",
        "open orders and MRR at the comparison date and at the snapshot, and the change; ALL sums the markets"
        " that reported on both dates",
        ("is_total", "stage_index"),
    ),
    DatasetInfo(
        "moved_backwards",
        "one row per order whose stage went back",
        "orders whose stage at the snapshot is earlier in the lifecycle than at the comparison date, with both"
        " stages and the days between the dates",
    ),
    DatasetInfo(
        "compared_markets",
        "one row per market",
        "each market's extract rows at the comparison date and at the snapshot, and whether it reported on"
        " both; market filter only",
    ),
]
_DATASETS += _COMPARISONS
COMPARISONS: tuple[str, ...] = tuple(d.name for d in _COMPARISONS)
DATASETS: dict[str, DatasetInfo] = {d.name: d for d in _DATASETS}

_RULES = [
    RuleInfo(
        "stalled",
        "Stalled",
        "open longer in its stage than the stage's limit",
        "is_open and age_in_stage_days > stall_limits[stage_index]",
    ),
    RuleInfo(
        "overdue_appointment",
        "Overdue appointment",
        "scheduled, but the appointment date has passed",
        "stage = 'scheduled' and appointment_at::date < as_of",
    ),
    RuleInfo(
        "missed_appointment",
        "Missed appointment",
        "open with at least one missed install appointment",
        "is_open and missed_appointments >= 1",
    ),
    RuleInfo("repeat_visit", "Repeat visit", "two or more truck rolls", "truck_rolls >= 2"),
    RuleInfo(
        "scheduled_before_ready",
        "Booked before network ready",
        "an appointment is booked but the network is not ready by then",
        "is_open and appointment_at is not null and (network_ready_at is null or network_ready_at > appointment_at)",
    ),
    RuleInfo(
        "invoiced_before_activation",
        "Invoiced before activation",
        "invoiced while service was not (yet) activated",
        "invoiced_at is not null and (activated_at is null or activated_at > invoiced_at)",
    ),
    RuleInfo(
        "stage_mismatch",
        "Stage behind milestones",
        "the reported stage is earlier than the milestones say: the systems disagree",
        # the lifecycle position the milestones imply: invoiced (7) > activated (6) > installed (5)
        "is_open and stage_index < case when invoiced_at is not null then 7 when activated_at is not null then 6"
        " when installed_at is not null then 5 else 0 end",
    ),
    RuleInfo(
        "fallout",
        "Order fallout",
        "open with a fallout code raised by a source system",
        "is_open and fallout_code is not null",
    ),
    RuleInfo(
        "missing_from_snapshot",
        "Missing from snapshot",
        "open in the market's previous snapshot, absent now, though the market reported",
        None,
    ),
]
RULES: dict[str, RuleInfo] = {r.name: r for r in _RULES}
