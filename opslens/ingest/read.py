"""Reading one input file into a frame of raw values with its 1-based data row numbers.

CSV (plain or gzip) goes through DuckDB's reader, which reports ragged rows and invalid UTF-8 with
their line numbers instead of guessing; Parquet through Polars. Nothing here judges values: that is
validate.py's job.
"""

from __future__ import annotations

import csv
import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from opslens.ingest.problems import Problem

ROW = "__row"  # the 1-based data row number carried alongside the values


@dataclass
class RawFile:
    """A file's columns as read (strings for CSV, native types for Parquet) plus the ROW column."""

    path: Path
    frame: pl.DataFrame


def read_file(path: Path) -> RawFile | Problem:
    """Read a file, or say precisely why it cannot be read."""
    name = str(path)
    if not path.exists():
        return Problem(name, "file not found")
    if path.is_dir():
        return Problem(name, "is a folder, not a file")
    if path.stat().st_size == 0:
        return Problem(name, "empty file (no header, no rows)")
    suffixes = [s.lower() for s in path.suffixes]
    try:
        frame = _read_parquet(path) if suffixes[-1:] == [".parquet"] else _read_csv(path)
    except _Unreadable as error:
        return error.problem
    if frame.height == 0:
        return Problem(name, "empty file: a header but no data rows")
    return RawFile(path, frame.with_row_index(ROW, offset=1))


class _Unreadable(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path)
    except Exception as error:  # Polars raises several kinds for a damaged file
        raise _Unreadable(Problem(str(path), f"not a readable Parquet file ({_first_line(error)})")) from None


def _read_header(path: Path) -> list[str]:
    """The header row, read by Python's csv module so column names are never guessed."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            first_line = handle.readline(1 << 20)
        header = next(csv.reader([first_line.decode("utf-8-sig")]), [])
    except (OSError, EOFError, zlib.error) as error:
        raise _Unreadable(Problem(str(path), f"not a readable gzip file ({_first_line(error)})")) from None
    except UnicodeDecodeError:
        raise _Unreadable(Problem(str(path), "the header is not valid UTF-8; save the file as UTF-8")) from None
    except csv.Error as error:
        raise _Unreadable(Problem(str(path), f"the header is not valid CSV ({error})")) from None
    names = [name.strip() for name in header]
    if not any(names):
        raise _Unreadable(Problem(str(path), "empty file (no header, no rows)"))
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise _Unreadable(Problem(str(path), f"the header repeats column(s): {', '.join(repeated)}"))
    return names


def _read_csv(path: Path) -> pl.DataFrame:
    """All columns as text; structural errors (ragged rows, bad encoding) become Problems with rows."""
    columns = {name: "VARCHAR" for name in _read_header(path)}
    con = duckdb.connect()
    try:
        try:
            relation = con.sql(
                "select * from read_csv($path, header = true, columns = $columns, delim = ',', quote = '\"',"
                " escape = '\"', auto_detect = false, store_rejects = true, encoding = 'utf-8')",
                params={"path": str(path), "columns": columns},
            )
            frame = relation.pl()
        except duckdb.Error as error:
            raise _Unreadable(Problem(str(path), f"not a readable CSV file ({_first_line(error)})")) from None
        rejects = con.sql(
            "select line, column_name, error_type, csv_line from reject_errors order by line limit 1"
        ).fetchall()
    finally:
        con.close()
    if rejects:
        line, _column, error_type, csv_line = rejects[0]
        raise _Unreadable(Problem(str(path), _describe_reject(error_type, csv_line), line - 1, None, None))
    return frame


def _describe_reject(error_type: str, csv_line: str | None) -> str:
    if error_type == "INVALID ENCODING":
        return "text is not valid UTF-8; save the file as UTF-8"
    if error_type in ("TOO MANY COLUMNS", "MISSING COLUMNS"):
        fewer_more = "more" if error_type == "TOO MANY COLUMNS" else "fewer"
        return f"the row has {fewer_more} fields than the header: {csv_line!r}"
    return f"cannot be parsed as CSV ({error_type.lower()}): {csv_line!r}"


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
