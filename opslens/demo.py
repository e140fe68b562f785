"""Realistic synthetic lifecycle snapshots, deterministic by seed: the data behind ``opslens demo``.

Every order first lives one simulated life (milestone times drawn for all orders at once with
numpy); each snapshot date then reports every listed order's state as of the end of that day.
Keeping the life apart from its reporting makes the snapshots consistent by construction: a
milestone shows only once it has happened and a terminal order is listed exactly once. The flaws
real extracts have (stage reports that lag, skipped extract days, orders that silently vanish,
stuck fallout) are put in on purpose, so every view of the SPEC has something to find.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from opslens.contract import SNAPSHOT_NAMES, STAGES

DAY = 86_400  # seconds; all simulated times are int32 seconds since the first snapshot date
NEVER = np.iinfo(np.int32).max  # "has not happened", far beyond any window
WARM_UP_DAYS = 90  # orders start this long before the first snapshot, so day one has a backlog
CHUNK_DAYS = 30  # snapshot dates assembled together: bounds memory at the largest sizes

# name, share of premises ready for service (network maturity), relative order volume
MARKET_PROFILES = (
    ("NORTH", 0.93, 1.4),
    ("SOUTH", 0.85, 1.0),
    ("EAST", 0.72, 0.8),
    ("WEST", 0.50, 0.9),
    ("METRO", 0.96, 1.6),
    ("COAST", 0.30, 0.6),
)
PRODUCTS = ("fiber_300m", "fiber_1g", "fiber_2g", "fiber_5g")
LIST_PRICE = np.array([45.0, 65.0, 89.0, 129.0])
SEGMENTS = ("residential", "business")
PRODUCT_MIX = np.array([[0.45, 0.38, 0.12, 0.05], [0.20, 0.45, 0.25, 0.10]])  # per segment
BUSINESS_SHARE, BUSINESS_MARKUP = 0.12, 1.9
INTAKE_FALLOUT = ("ADDR_MISMATCH", "CREDIT_HOLD")
ACTIVATION_FALLOUT = ("PORT_FAIL", "PROV_ERROR")
MAX_MISSES = 2
# Stage reached when each milestone (as the stage report sees it) has passed, latest stage first.
STAGE_MILESTONES = (
    ("cancelled", "cancelled"),
    ("invoiced", "invoiced"),
    ("activated", "activation_reported"),
    ("installed", "install_reported"),
    ("scheduled", "booked"),
    ("awaiting_appointment", "network_done"),
    ("awaiting_network", "intake_done"),
)


@dataclass(frozen=True)
class DemoData:
    """Snapshots (contract columns and order) and the market footprint for the same dates."""

    snapshots: pl.DataFrame
    footprint: pl.DataFrame


def generate(
    *, seed: int = 7, orders: int = 6000, days: int = 120, markets: int = 6, end: date = date(2026, 11, 20)
) -> DemoData:
    """Simulate `orders` orders placed over `days` daily snapshots ending at `end` (plus a warm-up).

    `orders` counts every simulated order; those finished before the first snapshot are not listed.
    """
    if orders < 1 or days < 1 or markets < 1:
        raise ValueError("orders, days and markets must all be at least 1")
    rng = np.random.default_rng(seed)
    start = end - timedelta(days=days - 1)
    names, maturity, volume = _markets(rng, markets)
    ordered = _order_times(rng, orders, days, start)
    market = rng.choice(markets, size=orders, p=volume / volume.sum()).astype(np.int16)
    life = _lifecycle(rng, ordered, maturity[market])
    life["market"] = market
    extract = _extract_days(rng, markets, days)
    life["first"], life["last"] = _listing(rng, life, extract)
    static = _order_frame(rng, life["ordered"], market, names, start)
    chunks = []
    for lo in range(0, days, CHUNK_DAYS):
        rows = _snapshot_rows(life, extract, range(lo, min(lo + CHUNK_DAYS, days)))
        chunks.append(_assemble(rows, static, start))
    premises = np.round(volume / volume.sum() * orders * 30) + 2000
    return DemoData(pl.concat(chunks), _footprint(rng, names, maturity, premises, start, days))


def write_files(data: DemoData, folder: Path, fmt: str = "parquet") -> list[Path]:
    """Write one snapshot file per calendar month plus the footprint, like a monthly extract drop."""
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"fmt must be 'parquet' or 'csv', not {fmt!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    months = data.snapshots.with_columns(_month=pl.col("snapshot_date").dt.strftime("%Y-%m"))
    paths = []
    for (month,), part in sorted(months.partition_by("_month", as_dict=True, include_key=False).items()):
        paths.append(_write(part, folder / f"snapshots_{month}.{fmt}"))
    paths.append(_write(data.footprint, folder / f"footprint.{fmt}"))
    return paths


def _write(frame: pl.DataFrame, path: Path) -> Path:
    """Write Parquet, or CSV in the template format (plain timestamps, ISO dates, empty for null)."""
    if path.suffix == ".parquet":
        frame.write_parquet(path)
    else:
        frame.write_csv(path, datetime_format="%Y-%m-%d %H:%M:%S", date_format="%Y-%m-%d", float_precision=2)
    return path


def _markets(rng: np.random.Generator, count: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Named market profiles first (mature to immature), random ones after for larger demos."""
    profiles = list(MARKET_PROFILES[:count])
    for i in range(len(profiles), count):
        profiles.append((f"M{i + 1:02d}", float(rng.uniform(0.4, 0.95)), float(rng.uniform(0.5, 1.3))))
    return [p[0] for p in profiles], np.array([p[1] for p in profiles]), np.array([p[2] for p in profiles])


def _order_times(rng: np.random.Generator, count: int, days: int, start: date) -> np.ndarray:
    """Order times in days since the first snapshot, sorted so order ids rise with time.

    Weekends sell less and volume grows slowly, as a real sales funnel does.
    """
    day = np.arange(-WARM_UP_DAYS, days)
    weight = np.where((start.weekday() + day) % 7 >= 5, 0.55, 1.0) * (1 + 0.002 * (day + WARM_UP_DAYS))
    picked = rng.choice(day, size=count, p=weight / weight.sum())
    return np.sort(picked + rng.uniform(8 / 24, 20 / 24, count))


def _tail(rng: np.random.Generator, n: int, share: float, low: float, high: float) -> np.ndarray:
    """Extra days for a `share` of orders: the long tail that makes orders stall."""
    return np.where(rng.random(n) < share, rng.uniform(low, high, n), 0.0)


def _lifecycle(rng: np.random.Generator, ordered: np.ndarray, maturity: np.ndarray) -> dict[str, np.ndarray]:
    """One life per order, as int32 seconds since the first snapshot date (NEVER when it does not happen)."""
    # ~30% of orders come from a system that does not report when the stage was entered
    t: dict[str, np.ndarray] = {"ordered": ordered, "reports_entered": rng.random(ordered.size) < 0.7}
    for step in (_intake, _network, _field, _activation_and_billing, _cancellations):
        step(rng, t, maturity)
    life = {}
    for key, value in t.items():
        if value.dtype.kind == "f":
            seconds = np.full(value.shape, NEVER, np.int32)
            finite = np.isfinite(value)
            seconds[finite] = np.round(value[finite] * DAY)
            value = seconds
        life[key] = value
    return life


def _intake(rng: np.random.Generator, t: dict[str, np.ndarray], maturity: np.ndarray) -> None:
    """Intake takes 1-3 days; a few orders linger, and intake fallout (address, credit) holds some for weeks."""
    n = maturity.size
    done = t["ordered"] + rng.uniform(0.3, 2.8, n) + _tail(rng, n, 0.04, 2, 10)
    held = rng.random(n) < 0.05
    t["stuck"] = held & (rng.random(n) < 0.3)
    t["fallout_code"] = np.where(held, rng.integers(0, len(INTAKE_FALLOUT), n), -1).astype(np.int8)
    t["fallout_start"] = np.where(held, t["ordered"] + rng.uniform(0.05, 0.8, n), np.inf)
    t["fallout_end"] = t["fallout_start"] + np.where(t["stuck"], rng.uniform(10, 60, n), rng.uniform(0.5, 5, n))
    t["intake_done"] = np.where(held, np.maximum(done, t["fallout_end"] + 0.1), done)


def _network(rng: np.random.Generator, t: dict[str, np.ndarray], maturity: np.ndarray) -> None:
    """Premises in mature markets are mostly ready when sold; elsewhere the order waits for the build.

    The wait is days to months with a long tail, longer in immature markets. Some not-ready orders
    are booked anyway (scheduled before ready), skipping awaiting_network.
    """
    n = maturity.size
    ready_now = rng.random(n) < maturity
    wait = rng.lognormal(np.log(6 + 45 * (1 - maturity)), 0.7)
    t["ready"] = np.where(ready_now, t["ordered"] - rng.uniform(5, 900, n), t["ordered"] + wait)
    waits = t["ready"] > t["intake_done"]
    t["booked_early"] = waits & (rng.random(n) < 0.12)
    t["network_done"] = np.where(waits & ~t["booked_early"], t["ready"], t["intake_done"])


def _slot(rng: np.random.Generator, earliest: np.ndarray) -> np.ndarray:
    """An appointment slot on the day after `earliest`: field work runs on a daytime grid."""
    return np.ceil(earliest) + rng.choice([8, 10, 12, 14, 16], earliest.size) / 24


def _field(rng: np.random.Generator, t: dict[str, np.ndarray], maturity: np.ndarray) -> None:
    """Booking, appointments, misses and the install visit.

    A missed appointment stays on the order for a few days before it is re-booked (overdue
    appointments); one booked before the network is ready is always missed. Some installs take
    extra truck rolls, and some stage reports trail the install by a day or two.
    """
    n = maturity.size
    t["booked"] = t["network_done"] + rng.uniform(0.2, 4, n) + _tail(rng, n, 0.06, 5, 20)
    appts = np.empty((n, MAX_MISSES + 1))
    rebooks = np.empty((n, MAX_MISSES))
    appts[:, 0] = _slot(rng, t["booked"] + rng.uniform(1.5, 12, n) + _tail(rng, n, 0.05, 14, 35))
    misses = rng.choice(MAX_MISSES + 1, size=n, p=[0.84, 0.12, 0.04])
    t["misses"] = np.where(t["booked_early"] & (appts[:, 0] < t["ready"]), np.maximum(misses, 1), misses)
    for j in range(MAX_MISSES):
        rebooks[:, j] = appts[:, j] + rng.uniform(0.5, 5, n)
        appts[:, j + 1] = _slot(rng, np.maximum(rebooks[:, j] + rng.uniform(1, 10, n), t["ready"]))
    t["appts"], t["rebooks"] = appts, rebooks
    t["rolled"] = rng.random((n, MAX_MISSES)) < 0.6
    t["extra_rolls"] = np.where(rng.random(n) < 0.07, rng.integers(1, 3, n), 0)
    t["installed"] = appts[np.arange(n), t["misses"]] + rng.uniform(1, 4, n) / 24
    t["install_reported"] = t["installed"] + _tail(rng, n, 0.1, 1, 2.5)


def _activation_and_billing(rng: np.random.Generator, t: dict[str, np.ndarray], maturity: np.ndarray) -> None:
    """Activation follows within hours unless provisioning falls out (port failures, some stuck).

    Billing lags the install by 1-10 days mostly, 30-90 days for some, never for a few; a few
    orders are invoiced before they are activated.
    """
    n = maturity.size
    activated = t["installed"] + rng.uniform(0.02, 0.8, n) + _tail(rng, n, 0.05, 3, 12)
    held = (t["fallout_code"] < 0) & (rng.random(n) < 0.04)
    stuck = held & (rng.random(n) < 0.3)
    start = t["installed"] + rng.uniform(0.01, 0.3, n)
    end = start + np.where(stuck, rng.uniform(8, 40, n), rng.uniform(0.5, 4, n))
    t["stuck"] |= stuck
    codes = len(INTAKE_FALLOUT) + rng.integers(0, len(ACTIVATION_FALLOUT), n)
    t["fallout_code"] = np.where(held, codes, t["fallout_code"]).astype(np.int8)
    t["fallout_start"] = np.where(held, start, t["fallout_start"])
    t["fallout_end"] = np.where(held, end, t["fallout_end"])
    activated = np.where(held, np.maximum(activated, end + 0.05), activated)
    u = rng.random(n)
    lag = np.select(
        [u < 0.89, u < 0.95, u < 0.99],
        [np.clip(rng.lognormal(np.log(3), 0.6, n), 1, 10), rng.uniform(10, 30, n), rng.uniform(30, 90, n)],
        np.inf,
    )
    early = rng.random(n) < 0.02
    billed = np.maximum(t["installed"] + lag, activated + 0.1)
    t["invoiced"] = np.where(early, t["installed"] + rng.uniform(0.2, 3, n), billed)
    late = np.where(rng.random(n) < 0.4, np.inf, t["invoiced"] + rng.uniform(1, 8, n))
    t["activated"] = np.where(early, late, activated)
    t["activation_reported"] = np.maximum(t["activated"], t["install_reported"])  # a lagging report lags throughout


def _cancellations(rng: np.random.Generator, t: dict[str, np.ndarray], maturity: np.ndarray) -> None:
    """About 5% of orders are cancelled from whatever open stage they are in, more when stuck.

    Nothing happens to an order after its cancellation, so later milestones are removed.
    """
    n = maturity.size
    stuck = t["stuck"] | (t["network_done"] - t["ordered"] > 60)
    horizon = np.minimum(t["installed"] + 2, t["ordered"] + 150)
    when = t["ordered"] + rng.uniform(0.05, 1, n) * (horizon - t["ordered"])
    t["cancelled"] = np.where((rng.random(n) < np.where(stuck, 0.25, 0.045)) & (when < t["invoiced"]), when, np.inf)
    for key in ("installed", "install_reported", "activated", "activation_reported", "invoiced"):
        t[key] = np.where(t[key] > t["cancelled"], np.inf, t[key])


def _extract_days(rng: np.random.Generator, markets: int, days: int) -> np.ndarray:
    """Which (market, day) extracts exist: the last market's feed skips ~10% of days, always the day
    before the latest, never the latest itself, so `missing_from_snapshot` has gaps to bridge."""
    extract = np.ones((markets, days), dtype=bool)
    if markets >= 2 and days >= 3:
        skipped = rng.choice(days - 2, size=max(0, round(0.1 * days) - 1), replace=False)
        extract[-1, skipped] = False
        extract[-1, days - 2] = False
    return extract


def _listing(
    rng: np.random.Generator, life: dict[str, np.ndarray], extract: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """First and last snapshot index listing each order (last < first: never listed).

    An order is listed from the day it is placed; a terminal one up to its market's first extract on
    or after the terminal event. A handful of open orders of the first market vanish from the latest
    snapshot without a terminal row, like records an extract silently drops.
    """
    days, market = extract.shape[1], life["market"]
    next_extract = np.minimum.accumulate(np.where(extract, np.arange(days), days)[:, ::-1], axis=1)[:, ::-1]
    first = np.maximum(0, life["ordered"] // DAY)
    terminal = np.minimum(life["cancelled"], life["invoiced"]) // DAY
    last = np.where(terminal >= days, days - 1, next_extract[market, np.clip(terminal, 0, days - 1)])
    last = np.where(terminal < 0, -1, last)
    if days >= 2:
        candidates = np.flatnonzero((market == 0) & (first <= days - 2) & (terminal >= days))
        count = min(candidates.size, max(3, min(20, market.size // 1000)))
        last[rng.choice(candidates, size=count, replace=False)] = days - 2
    return first, last


def _seen(times: np.ndarray, cutoff: int) -> np.ndarray:
    """A milestone as a snapshot reports it: only once it has happened by the end of the day."""
    return np.where(times < cutoff, times, NEVER)


def _snapshot_rows(life: dict[str, np.ndarray], extract: np.ndarray, days: range) -> pl.DataFrame:
    """Numeric rows (codes and seconds) of the snapshot dates in `days`, one loop step per date."""
    parts = []
    for day in days:
        idx = np.flatnonzero((life["first"] <= day) & (life["last"] >= day) & extract[life["market"], day])
        o = {key: value[idx] for key, value in life.items()}
        cutoff = (day + 1) * DAY
        reached = [o[key] < cutoff for _, key in STAGE_MILESTONES]
        stage = np.select(reached, [STAGES.index(name) for name, _ in STAGE_MILESTONES], 0)
        entered = np.select(reached, [o[key] for _, key in STAGE_MILESTONES], o["ordered"])
        until = np.minimum(cutoff, o["cancelled"])[:, None]
        owed = np.arange(MAX_MISSES) < o["misses"][:, None]
        missed = owed & (o["appts"][:, :MAX_MISSES] < until)
        current = o["appts"][np.arange(idx.size), (owed & (o["rebooks"] < until)).sum(axis=1)]
        rolls = (missed & o["rolled"]).sum(axis=1) + np.where(o["installed"] < cutoff, 1 + o["extra_rolls"], 0)
        active = (o["fallout_start"] < cutoff) & (o["fallout_end"] >= cutoff)
        parts.append(
            pl.DataFrame(
                {
                    "day": np.full(idx.size, day, np.int32),
                    "order": idx.astype(np.int32),
                    "stage": stage.astype(np.int8),
                    "network_ready_at": _seen(o["ready"], cutoff),
                    "appointment_at": np.where(o["booked"] < cutoff, current, NEVER),
                    "installed_at": _seen(o["installed"], cutoff),
                    "activated_at": _seen(o["activated"], cutoff),
                    "invoiced_at": _seen(o["invoiced"], cutoff),
                    "cancelled_at": _seen(o["cancelled"], cutoff),
                    "stage_entered_at": np.where(o["reports_entered"], entered, NEVER),
                    "missed_appointments": missed.sum(axis=1).astype(np.int32),
                    "truck_rolls": rolls.astype(np.int32),
                    "fallout_code": np.where(active, o["fallout_code"], -1).astype(np.int8),
                }
            )
        )
    return pl.concat(parts)


def _epoch_days(start: date) -> int:
    """Days from the Unix epoch to the first snapshot date: the offset of every simulated time."""
    return (start - date(1970, 1, 1)).days


def _timestamp(column: str, start: date) -> pl.Expr:
    """Seconds since the first snapshot date to a naive timestamp, NEVER to null."""
    origin_us = _epoch_days(start) * DAY * 1_000_000
    col = pl.col(column)
    return pl.when(col != NEVER).then(col.cast(pl.Int64) * 1_000_000 + origin_us).cast(pl.Datetime("us"))


def _order_frame(
    rng: np.random.Generator, ordered: np.ndarray, market: np.ndarray, names: list[str], start: date
) -> pl.DataFrame:
    """What never changes over an order's life: id, market, order time, product, segment, mrr.

    Business orders buy faster products and pay a markup; a fifth of orders carry a 10% promotion.
    """
    n = ordered.size
    segment = (rng.random(n) < BUSINESS_SHARE).astype(np.int8)
    product = (rng.random(n)[:, None] > np.cumsum(PRODUCT_MIX[segment], axis=1)).sum(axis=1)
    product = np.minimum(product, len(PRODUCTS) - 1)
    price = LIST_PRICE[product] * np.where(segment == 1, BUSINESS_MARKUP, 1.0)
    mrr = np.round(price * np.where(rng.random(n) < 0.2, 0.9, 1.0), 2)
    return pl.DataFrame({"n": np.arange(1, n + 1), "ordered": ordered}).select(
        order_id=pl.format("ORD-{}", pl.col("n").cast(pl.String).str.zfill(7)),
        market=pl.Series(names).gather(market),
        ordered_at=_timestamp("ordered", start),
        product=pl.Series(PRODUCTS).gather(product),
        segment=pl.Series(SEGMENTS).gather(segment),
        mrr=pl.Series(mrr),
    )


def _assemble(rows: pl.DataFrame, static: pl.DataFrame, start: date) -> pl.DataFrame:
    """Numeric rows to contract columns: codes to text, seconds to timestamps, contract column order."""
    dynamic = rows.select(
        *[_timestamp(c, start).alias(c) for c in rows.columns if c.endswith("_at")],
        pl.col("missed_appointments", "truck_rolls"),
        snapshot_date=(pl.col("day") + _epoch_days(start)).cast(pl.Date),
        stage=pl.lit(pl.Series(STAGES)).gather(pl.col("stage")),
        fallout_code=pl.col("fallout_code").replace_strict(
            dict(enumerate(INTAKE_FALLOUT + ACTIVATION_FALLOUT)), default=None, return_dtype=pl.String
        ),
    )
    return pl.concat([static[rows["order"]], dynamic], how="horizontal").select(SNAPSHOT_NAMES)


def _footprint(
    rng: np.random.Generator, names: list[str], maturity: np.ndarray, premises: np.ndarray, start: date, days: int
) -> pl.DataFrame:
    """Premises passed grow slowly with the build and the ready share creeps up.

    A market's ready share matches how often its orders find the premises ready, so the footprint
    tells the same maturity story as the order flow.
    """
    growth = rng.poisson(premises[:, None] * rng.uniform(3e-4, 1.5e-3, (len(names), 1)), (len(names), days))
    passed = premises[:, None] + np.cumsum(growth, axis=1)
    ready = np.floor(passed * np.clip(maturity[:, None] - 0.02 + 4e-4 * np.arange(days), 0, 0.99))
    frame = pl.DataFrame(
        {
            "snapshot_date": np.tile(np.arange(days, dtype=np.int32) + _epoch_days(start), len(names)),
            "market": np.repeat(names, days),
            "premises_passed": passed.ravel().astype(np.int64),
            "premises_ready": ready.ravel().astype(np.int64),
        }
    )
    return frame.with_columns(pl.col("snapshot_date").cast(pl.Date)).sort("snapshot_date", "market")
