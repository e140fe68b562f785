"""Cached access to the datasets for the pages.

Results are cached per (dataset, filters) and keyed by the store file's identity and by the
settings that change numbers (stall limits in opslens.toml), so an ingest or an edited config
shows new numbers on the next interaction without anyone clearing a cache or restarting.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import streamlit as st

from opslens import config
from opslens.queries import Filters, fetch, filter_options, snapshot_dates
from opslens.queries.db import identity


def store_path() -> Path:
    return config.db_path()


def store_version(path: Path) -> tuple[int, int, int]:
    """Changes whenever a writer swaps in a new store file (see opslens/writer.py)."""
    return identity(path) or (0, 0, 0)


@st.cache_data(show_spinner=False, max_entries=512)
def _dataset(
    name: str, db: str, version: tuple[int, int, int], settings: tuple[object, ...], filters: Filters
) -> pl.DataFrame:
    return fetch(name, db, filters)


@st.cache_data(show_spinner=False, max_entries=16)
def _choices(db: str, version: tuple[int, int, int]) -> tuple[list[dt.date], dict[str, list[str]]]:
    return snapshot_dates(db), filter_options(db)


def dataset(name: str, filters: Filters) -> pl.DataFrame:
    """The named dataset for these filters, from the cache when the store has not changed."""
    path = store_path()
    return _dataset(name, str(path), store_version(path), config.fingerprint(), filters)


def choices() -> tuple[list[dt.date], dict[str, list[str]]]:
    """Snapshot dates (newest first) and the distinct markets, products and segments."""
    path = store_path()
    return _choices(str(path), store_version(path))
