"""Cached access to the datasets for the pages, within the signed-in user's markets.

Results are cached per (dataset, filters) and keyed by the store file's identity and by the
settings that change numbers (stall limits in opslens.toml), so an ingest or an edited config
shows new numbers on the next interaction without anyone clearing a cache or restarting. Every dataset and
filter choice the app shows comes through here, and here the user's scope (SPEC §4) is set on
the filters, whatever a page or a link put in them; the query layer applies it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import polars as pl
import streamlit as st

from opslens import config
from opslens.access import Access
from opslens.app import auth
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
def _choices(
    db: str, version: tuple[int, int, int], scope: tuple[str, ...] | None
) -> tuple[list[dt.date], dict[str, list[str]]]:
    return snapshot_dates(db), filter_options(db, scope)


def user() -> Access:
    """The signed-in user's access; refuses (rather than show everything) when there is none."""
    who = auth.current_access()
    if who is None:
        raise PermissionError("not signed in, or no access: nothing may be shown")
    return who


def scoped(name: str, filters: Filters) -> Filters:
    """The filters within the markets the user may see in this dataset."""
    return replace(filters, scope=user().scope_for(name))


def dataset(name: str, filters: Filters) -> pl.DataFrame:
    """The named dataset for these filters and this user, from the cache when the store has not changed."""
    return _fetch(name, scoped(name, filters))


def later(name: str, filters: Filters) -> Callable[[], pl.DataFrame]:
    """The dataset fetched when called (a download click), scoped now: the click runs outside the session."""
    scoped_filters = scoped(name, filters)
    return lambda: _fetch(name, scoped_filters)


def _fetch(name: str, filters: Filters) -> pl.DataFrame:
    path = store_path()
    return _dataset(name, str(path), store_version(path), config.fingerprint(), filters)


def choices() -> tuple[list[dt.date], dict[str, list[str]]]:
    """Snapshot dates (newest first) and the distinct markets, products and segments the user may pick."""
    path = store_path()
    return _choices(str(path), store_version(path), user().markets)
