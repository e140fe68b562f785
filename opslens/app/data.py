"""Cached access to the datasets for the pages, within the signed-in user's markets.

Results are kept per (dataset, filters) (`SharedResults`) and keyed by the store file's identity and by the
settings that change numbers (stall limits in opslens.toml), so an ingest or an edited config
shows new numbers on the next interaction without anyone clearing a cache or restarting. Every dataset and
filter choice the app shows comes through here, and here the user's scope (SPEC §4) is set on
the filters, whatever a page or a link put in them; the query layer applies it.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
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


class SharedResults:
    """The dataset results of this app process, one frame per (dataset, store version, settings, filters),
    shared by every session; the least recently used are dropped past `max_bytes` or `max_entries`.

    Not `st.cache_data`, which pickles each result to keep it and unpickles it for every reader: for
    a list of 48,000 exceptions that is 20 ms to keep and 4 ms per view, besides hashing the key its
    own way. The pages never change a frame in place (Polars frames are changed by making new ones),
    so one frame serves every session.
    """

    def __init__(self, max_bytes: int, max_entries: int) -> None:
        self.max_bytes, self.max_entries = max_bytes, max_entries
        self._lock = threading.Lock()
        self._frames: OrderedDict[Hashable, tuple[pl.DataFrame, int]] = OrderedDict()
        self._bytes = 0

    def get(self, key: Hashable, compute: Callable[[], pl.DataFrame]) -> pl.DataFrame:
        with self._lock:
            kept = self._frames.get(key)
            if kept is not None:
                self._frames.move_to_end(key)
                return kept[0]
        frame = compute()  # outside the lock: other sessions' queries go on meanwhile
        size = frame.estimated_size()
        with self._lock:
            if key not in self._frames and size <= self.max_bytes:
                self._frames[key] = (frame, size)
                self._bytes += size
                while self._bytes > self.max_bytes or len(self._frames) > self.max_entries:
                    _, (_, dropped) = self._frames.popitem(last=False)
                    self._bytes -= dropped
        return frame

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()
            self._bytes = 0


RESULTS = SharedResults(max_bytes=512 * 2**20, max_entries=512)


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
    key = (name, str(path), store_version(path), config.fingerprint(), filters)
    return RESULTS.get(key, lambda: fetch(name, str(path), filters))


def choices() -> tuple[list[dt.date], dict[str, list[str]]]:
    """Snapshot dates (newest first) and the distinct markets, products and segments the user may pick."""
    path = store_path()
    return _choices(str(path), store_version(path), user().markets)
