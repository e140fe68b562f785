"""Monte Carlo over recent daily counts: how many in the next days, how long until a backlog is done.

Pure NumPy, vectorised over the trials. The unit of simulation is the whole week: the history's
whole weeks ending at S (week j = days S-7j+1 .. S-7j+7, so its days line up with the weekdays of
S+1 .. S+7). Drawing weeks rather than single days keeps the weekday pattern and the way busy and
quiet days cluster. Installs follow the trend of the weekly totals (`trend_totals`): on a growing
business a plain bootstrap of the past lags behind and its "85%" level is reached nearly always
(docs/forecasts.md has the backtest). Backlog clearance draws whole weeks as they were
(`days_to_clear`): projecting a trend a year ahead would be guesswork.
Every simulation has its own generator, seeded from a fixed seed and the counts it simulates from,
so the same store always gives the same answer, whatever else is shown, and the same counts give the
same answer (a market alone in the view and its ALL row agree).
"""

from __future__ import annotations

import math
import zlib

import numpy as np

TRIALS = 10_000
SEED = 615  # SPEC §6: fixed, so the same store gives the same answer
MIN_WEEKS = 4  # whole weeks of history a simulation needs (a trend through fewer weeks is guesswork)
MAX_CLEAR_WEEKS = 52  # a backlog not cleared within a year of simulated weeks counts as not cleared
# "trend" (used for installs): whole weeks around a linear trend refitted per trial; "weekly": whole
# weeks as they were; "daily": independent days, the plain bootstrap (both for comparison).
METHODS = ("trend", "weekly", "daily")


def generator(counts: np.ndarray, *numbers: int) -> np.random.Generator:
    """The generator of one simulation: the fixed seed, the daily counts and any other inputs (horizon, backlog)."""
    data = np.ascontiguousarray(np.concatenate([np.asarray(counts, np.int64), np.asarray(numbers, np.int64)]))
    return np.random.default_rng([SEED, zlib.crc32(data.tobytes())])


def whole_weeks(daily: np.ndarray) -> np.ndarray:
    """The history's whole weeks ending at S as rows of 7 days, oldest days of the window dropped."""
    weeks = daily.size // 7
    return np.asarray(daily[daily.size - 7 * weeks :], dtype=np.int64).reshape(weeks, 7)


def totals(daily: np.ndarray, horizon: int, rng: np.random.Generator, method: str = "trend") -> np.ndarray:
    """Simulated totals over the next `horizon` days, one per trial, from the daily counts (oldest first)."""
    if method == "trend":
        return trend_totals(daily, horizon, rng)
    if method == "daily":
        return np.asarray(daily, dtype=np.int64)[rng.integers(0, daily.size, (TRIALS, horizon))].sum(axis=1)
    blocks = whole_weeks(daily)
    full, rest = divmod(horizon, 7)
    picks = rng.integers(0, len(blocks), (TRIALS, full + (rest > 0)))
    result = blocks.sum(axis=1)[picks[:, :full]].sum(axis=1)
    if rest:
        result += blocks[picks[:, full], :rest].sum(axis=1)
    return result


def trend_totals(daily: np.ndarray, horizon: int, rng: np.random.Generator) -> np.ndarray:
    """Totals over the next `horizon` days from weekly totals around a straight line, refitted per trial.

    The history's whole weeks give weekly totals y_0..y_{k-1} (oldest first); a least-squares line
    fits them and leaves residuals (scaled by sqrt(k / (k - 2)), as fitting two numbers uses up two
    weeks' worth of scatter). Each trial rebuilds a history from the line plus residuals drawn with
    replacement, refits its own line (so the uncertainty of the slope is in the range), and continues
    it: future week j totals its line at week k-1+j plus a drawn residual, never below 0. A last
    partial week of r days takes the share of a week that the history's first r weekdays (those of
    S+1 .. S+r) carried. Constant counts give exactly horizon x count.
    """
    blocks = whole_weeks(daily)
    weeks = len(blocks)
    y = blocks.sum(axis=1).astype(float)
    w = np.arange(weeks, dtype=float)
    centred = w - w.mean()
    spread = (centred**2).sum()
    slope = (centred * (y - y.mean())).sum() / spread
    fitted = y.mean() + slope * centred
    residuals = (y - fitted) * math.sqrt(weeks / max(weeks - 2, 1))
    full, rest = divmod(horizon, 7)
    ahead = full + (rest > 0)
    redrawn = fitted + residuals[rng.integers(0, weeks, (TRIALS, weeks))]
    slopes = (redrawn - redrawn.mean(axis=1, keepdims=True)) @ centred / spread
    levels = redrawn.mean(axis=1, keepdims=True) + slopes[:, None] * (weeks - 1 - w.mean() + np.arange(1, ahead + 1))
    future = np.maximum(levels + residuals[rng.integers(0, weeks, (TRIALS, ahead))], 0.0)
    if rest:
        whole = blocks.sum()
        future[:, -1] *= blocks[:, :rest].sum() / whole if whole else rest / 7
    return future.sum(axis=1)


def at_least(trials: np.ndarray, level: float) -> int:
    """The largest whole count reached or exceeded in at least `level` of the trials."""
    ordered = np.sort(trials)
    return math.floor(round(float(ordered[ordered.size - math.ceil(level * ordered.size)]), 6))


def days_to_clear(daily: np.ndarray, backlog: int, rng: np.random.Generator) -> np.ndarray:
    """Days from S until `backlog` orders have left, one per trial; inf where not within MAX_CLEAR_WEEKS.

    Day 1 is S+1. The trial's weeks are drawn as in `totals`; the week in which the running total
    reaches the backlog is found first, then the day within that week. Trials simulate about twice
    the weeks the average pace needs, and twice as many again (from the start) while some trial has
    not cleared, up to MAX_CLEAR_WEEKS: most stages clear in a few weeks, so most of a year is never drawn.
    """
    if backlog <= 0:
        return np.zeros(TRIALS)
    blocks = whole_weeks(daily)
    weekly = blocks.sum(axis=1)
    if weekly.sum() == 0:  # nobody leaves: it never clears
        return np.full(TRIALS, np.inf)
    weeks = min(MAX_CLEAR_WEEKS, 2 * math.ceil(backlog / weekly.mean()) + 1)
    while True:
        picks = rng.integers(0, len(blocks), (TRIALS, weeks))
        # running totals week by week, a row of all trials per week: cumulating rows is vectorised
        running = np.cumsum(weekly[picks.T], axis=0)
        cleared = running[-1] >= backlog
        if cleared.all() or weeks == MAX_CLEAR_WEEKS:
            break
        weeks = min(MAX_CLEAR_WEEKS, 2 * weeks)
    # the first week whose running total reaches the backlog: totals only grow, so count those below
    week = np.where(cleared, (running < backlog).sum(axis=0), 0)
    trial = np.arange(TRIALS)
    before = np.where(week > 0, running[week - 1, trial], 0)
    within_week = np.cumsum(blocks, axis=1)[picks[trial, week]]
    day = (within_week >= (backlog - before)[:, None]).argmax(axis=1)
    return np.where(cleared, 7 * week + day + 1, np.inf)


def within(days: np.ndarray, level: float) -> float:
    """The number of days within which `level` of the trials had cleared (inf: not within the cap)."""
    ordered = np.sort(days)
    return float(ordered[math.ceil(level * ordered.size) - 1])
