"""The hostile-input corpus: what a careless or hostile user feeds Ops Lens, generated on the fly.

Every entry is small and built in milliseconds, so tests/test_hostile_input.py runs it on every CI:
markup and HTML as market names (must load as plain text), control and invisible characters,
a gzip bomb, impossible dates, non-contract Parquet types, absurd MRR and damaged store files.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
from ingest_rows import csv_text, order

# Text that a Markdown or HTML renderer would act on; as data it is just a market's name.
MARKUP_MARKETS = [
    '<a href="http://evil.example/p">x</a>',
    "<b>bold</b><script>alert(1)</script>",
    '<span style="color:red">RED</span>',
    "[Session expired - sign in again](http://evil.example/login)",
    "![pixel](http://evil.example/p.png)",
    "**EAST**",
    ":red[WEST]",
    "$x^2$",
    "http://evil.example/auto-link",
    "=HYPERLINK(\"http://evil.example\")",
]

# Control characters (rejected in text keys), keyed by what they are.
CONTROL_VALUES = {
    "nul": "EA\x00ST",
    "newline": "EA\nST",
    "tab": "EA\tST",
    "ansi": "\x1b[31mEAST\x1b[0m",
    "bell": "EAST\x07",
    "c1": "EAST\x85",
    "del": "EAST\x7f",
}

# Invisible characters (warned about, loaded): the value looks like another one but is not equal to it.
INVISIBLE_VALUES = {
    "zero-width space": "EAST\u200b",
    "zero-width joiner": "EA\u200dST",
    "byte order mark inside": "EAST\ufeff",
    "right-to-left mark": "\u200fEAST",
}

# Impossible dates: (column, value, what the message must say).
IMPOSSIBLE_DATES = [
    ("snapshot_date", "9999-12-31", "outside the years 1990 to 2100"),
    ("ordered_at", "9999-12-31", "outside the years 1990 to 2100"),
    ("ordered_at", "1899-01-01", "outside the years 1990 to 2100"),
    ("appointment_at", "2200-01-01 10:00:00", "outside the years 1990 to 2100"),
    ("ordered_at", "2026-03-04", "later than the end of the row's snapshot_date"),
    ("ordered_at", "2026-03-10 09:00:00", "later than the end of the row's snapshot_date"),
]

# Dates and timestamps not in the documented shape (YYYY-MM-DD, HH:MM[:SS[.ffffff]]).
MISSHAPEN_TIMES = [
    ("snapshot_date", "2026-3-3"),
    ("ordered_at", "2026-1-5"),
    ("ordered_at", "2026-01-5"),
    ("installed_at", "2026-03-03 9:00"),
]


def bomb_rows(rows: int, snapshot_date: str = "2026-03-03") -> list[dict]:
    """Valid rows, `rows` of them, that compress to almost nothing (a gzip bomb when there are many)."""
    return [order(snapshot_date, f"B{i:08d}", "BOMB", "intake", "2026-03-01") for i in range(rows)]


def gzip_bomb(path: Path, inflated_mb: int) -> Path:
    """A .csv.gz of valid rows that inflates to about `inflated_mb` MB from a few hundred KB."""
    header, line = csv_text(bomb_rows(1)).splitlines()
    repeated = (line + "\n").encode()
    with gzip.open(path, "wb", compresslevel=9) as handle:
        handle.write((header + "\n").encode())
        block = repeated * (1024 * 1024 // len(repeated))
        for _ in range(inflated_mb):
            handle.write(block)
    return path


def parquet_with(path: Path, rows: list[dict], column: str, values: list, dtype) -> Path:
    """The rows as a Parquet file with text columns, except `column`, which holds `values` of `dtype`."""
    text = {name: [r[name] or None for r in rows] for name in rows[0]}
    frame = pl.DataFrame(text, schema=dict.fromkeys(rows[0], pl.String))
    frame = frame.with_columns(pl.Series(column, values, dtype=dtype))
    frame.write_parquet(path)
    return path


def truncated_copy(store: Path, target: Path) -> Path:
    """The store cut at half its size, like `head -c` on an interrupted copy."""
    data = store.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    return target


def overwritten_copy(store: Path, target: Path, size: int = 200 * 1024) -> Path:
    """The store with `size` bytes in its middle overwritten (a bad disk, a stray write): checksums fail."""
    data = bytearray(store.read_bytes())
    middle = len(data) // 2
    data[middle : middle + size] = bytes((i * 7 + 13) % 256 for i in range(size))  # deterministic noise
    target.write_bytes(bytes(data))
    return target
