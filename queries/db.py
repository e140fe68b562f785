"""The one guarded door to the store: every dataset query goes through `run`.

It opens the store read-only when given a path (so viewers never hold the write lock), attached to
a fresh in-memory database: DuckDB caches open databases by path, so a plain `connect(path)` made
while another query still has the store open would return the file as it was before the last
ingest swapped in a new one (see opslens/writer.py). It installs the shared macros once per
connection, binds user values as parameters (never formatted into SQL) and logs how long each
query took.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl

from opslens.store import SCHEMA_VERSION, StoreError, schema_version

SQL_DIR = Path(__file__).parent / "sql"
_PARAMETER = re.compile(r"\$([a-z_]+)")
log = logging.getLogger("opslens.queries")

Database = str | Path | duckdb.DuckDBPyConnection


def sql_text(name: str) -> str:
    """The SQL of a dataset or building block, from queries/sql/NAME.sql."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


@contextlib.contextmanager
def connection(db: Database) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection with the macros installed: the caller's own, or a read-only one we open and close."""
    if isinstance(db, duckdb.DuckDBPyConnection):
        _install_macros(db)
        yield db
        return
    path = Path(db)
    if not path.exists():
        raise StoreError(f"no store at {path}: run `opslens demo` or `opslens ingest FILE...` first")
    con = duckdb.connect(":memory:")
    try:
        try:
            con.sql("attach $path as store (read_only)", params={"path": str(path)})
            con.sql("use store")
        except duckdb.Error as error:
            raise StoreError(f"cannot open the store {path}: {error}") from None
        version = schema_version(con)
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"the store {path} has schema version {version}, this Ops Lens expects {SCHEMA_VERSION}:"
                " run `opslens migrate` (or any ingest) to upgrade it"
            )
        _install_macros(con)
        yield con
    finally:
        con.close()


def _install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create the shared macros unless this connection has them (probing one is far cheaper than listing)."""
    try:
        con.sql("select opslens_passes(null, null, null, 'm', 'p', 's')").fetchall()
    except duckdb.CatalogException:
        con.sql(sql_text("_macros"))  # a script of several statements


def run(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object], label: str) -> pl.DataFrame:
    """Run SQL with exactly the parameters it names bound, and log its duration."""
    wanted = set(_PARAMETER.findall(sql))
    started = time.perf_counter()
    frame = con.sql(sql, params={k: v for k, v in params.items() if k in wanted}).pl()
    log.info("%s: %d rows in %.1f ms", label, frame.height, (time.perf_counter() - started) * 1000)
    return frame
