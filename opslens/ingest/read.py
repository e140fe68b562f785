"""Opening input files as DuckDB relations of raw values, with each row's file and 1-based data row.

Nothing is converted into Polars or Python rows: DuckDB reads the files where they are. CSV (plain or
gzip) is read as text with explicit columns, so ragged rows and invalid UTF-8 are reported with
their line numbers instead of guessed around, into a temporary table (parsing once). Parquet is read
in place through a view; files with the same columns and types are read together as one relation,
so a year of daily files costs one scan, not 365. Nothing here judges values: that is validate.py's.

Paths reach DuckDB only as bound parameters or through its relational API (`read_csv`,
`read_parquet`), never formatted into SQL text.

What one ingest may read is bounded (`Budget`, from `[ingest]` in opslens.toml) before DuckDB reads
it: a CSV's bytes (a `.csv.gz` is inflated once, in chunks, only to count them, so a gzip bomb stops
at the limit instead of filling the disk) and a Parquet file's declared uncompressed size and rows.
"""

from __future__ import annotations

import csv
import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from opslens.config import IngestLimits
from opslens.ingest.problems import Problem, ProblemList

FILE = "__file"  # index of the file (in the order given) a row came from
ROW = "__row"  # the row's 1-based data row number in its file
MB = 1024 * 1024
_INFLATE_CHUNK = 4 * MB


class Budget:
    """What this ingest has read so far (inflated bytes, rows) against its limits.

    `over` is set, with a Problem naming the setting, as soon as one is exceeded; no more files are
    read then, since the ingest is rejected anyway. `check` is called between chunks of long Python
    work so that a stop request (SIGTERM, the time limit) is noticed there too.
    """

    def __init__(self, limits: IngestLimits, check=lambda: None) -> None:
        self.limits = limits
        self.check = check
        self.inflated = 0
        self.rows = 0
        self.over = False

    def remaining_bytes(self) -> int:
        return self.limits.max_inflated_mb * MB - self.inflated

    def add_bytes(self, name: str, size: int, problems: ProblemList, at_least: bool = False) -> bool:
        """Count a file's (inflated) bytes; False, with a problem added, when the ingest is over its limit."""
        self.inflated += size
        if self.inflated <= self.limits.max_inflated_mb * MB:
            return True
        setting = self.limits.setting("max_inflated_mb")
        this = f"{'at least ' if at_least else ''}{size / MB:,.0f} MB"
        problems.add(
            Problem(
                name,
                f"the files of this ingest hold more than {setting} = {self.limits.max_inflated_mb:,} MB of data"
                f" once decompressed (this file: {this}); nothing was loaded. Load fewer files at a time or"
                f" raise {setting} in opslens.toml",
            )
        )
        self.over = True
        return False

    def add_rows(self, name: str, rows: int, problems: ProblemList) -> bool:
        """Count a file's rows; False, with a problem added, when the ingest is over its limit."""
        self.rows += rows
        if self.rows <= self.limits.max_rows:
            return True
        setting = self.limits.setting("max_rows")
        problems.add(
            Problem(
                name,
                f"the files of this ingest hold more than {setting} = {self.limits.max_rows:,} rows"
                f" (this file: {rows:,}); nothing was loaded. Load fewer files at a time or raise {setting}"
                " in opslens.toml",
            )
        )
        self.over = True
        return False


@dataclass
class Source:
    """Files of one format and layout, readable as one relation: raw columns plus FILE and ROW."""

    relation: str  # a temporary view
    columns: dict[str, str]  # raw column name -> DuckDB type (VARCHAR for every CSV column)
    files: list[int]  # indexes of the files it holds, in the order given
    text_table: str | None = None  # CSV: the temporary table of parsed text behind the view


class _Unreadable(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def open_sources(
    con: duckdb.DuckDBPyConnection, paths: list[Path], problems: ProblemList, budget: Budget
) -> list[Source]:
    """Every readable file as part of a Source; a file that cannot be read becomes a Problem instead.

    Parquet footers are read first (cheap), so their declared size and rows count before any CSV is read.
    """
    con.sql("create or replace temp table source_files (file_index INTEGER, path VARCHAR)")
    sources: list[Source] = []
    parquet: list[int] = []
    csv_files: list[int] = []
    for index, path in enumerate(paths):
        try:
            _check_exists(path)
            (parquet if path.suffix.lower() == ".parquet" else csv_files).append(index)
        except _Unreadable as error:
            problems.add(error.problem)
    groups: dict[object, list[int]] = {}  # files with identical columns and types are read together
    for index, layout in zip(parquet, _parquet_layouts(con, [paths[i] for i in parquet]), strict=True):
        if isinstance(layout, Problem):
            problems.add(layout)
            continue
        key, size, rows = layout
        if budget.over or not (
            budget.add_bytes(str(paths[index]), size, problems) and budget.add_rows(str(paths[index]), rows, problems)
        ):
            return []
        groups.setdefault(key, []).append(index)
    for index in csv_files:
        path = paths[index]
        try:
            if not _within_budget(path, budget, problems):
                return []
            source = _open_csv(con, path, index)
        except _Unreadable as error:
            problems.add(error.problem)
            continue
        if not budget.add_rows(str(path), _rows(con, source), problems):
            return []
        sources.append(source)
    for number, indexes in enumerate(groups.values()):
        sources.append(_open_parquet_group(con, [paths[i] for i in indexes], indexes, number))
    sources.sort(key=lambda source: source.files[0])
    return sources


def drop_text(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    """Free a CSV source's parsed text once its rows have been typed."""
    if source.text_table:
        con.sql(f"drop view if exists {source.relation}")
        con.sql(f"drop table if exists temp.{source.text_table}")


def _rows(con: duckdb.DuckDBPyConnection, source: Source) -> int:
    return con.sql(f"select count(*) from {source.text_table}").fetchall()[0][0]


def _within_budget(path: Path, budget: Budget, problems: ProblemList) -> bool:
    """Count a CSV's bytes, inflating a .gz one in chunks (never past the limit), before DuckDB reads it."""
    if path.suffix.lower() != ".gz":
        return budget.add_bytes(str(path), path.stat().st_size, problems)
    remaining = budget.remaining_bytes()
    size = 0
    try:
        with gzip.open(path, "rb") as handle:
            while chunk := handle.read(_INFLATE_CHUNK):
                size += len(chunk)
                budget.check()
                if size > remaining:
                    return budget.add_bytes(str(path), size, problems, at_least=True)
    except (OSError, EOFError, zlib.error):
        pass  # a damaged gzip file: reading it reports where (see _read_header and _open_csv)
    return budget.add_bytes(str(path), size, problems)


def _check_exists(path: Path) -> None:
    name = str(path)
    if not path.exists():
        raise _Unreadable(Problem(name, "file not found"))
    if path.is_dir():
        raise _Unreadable(Problem(name, "is a folder, not a file"))
    if not path.is_file():
        raise _Unreadable(Problem(name, "is not a regular file (a pipe, socket or device); give a file"))
    if path.stat().st_size == 0:
        raise _Unreadable(Problem(name, "empty file (no header, no rows)"))


def _parquet_layouts(con: duckdb.DuckDBPyConnection, paths: list[Path]) -> list[object]:
    """Per file, (a key of its columns and types, its uncompressed bytes, its rows) or the Problem reading it.

    Equal keys are read together. The footers of all files are read in one query; only if one is
    damaged are they read one by one, to name it. Sizes and rows are what the footer declares.
    """
    if not paths:
        return []
    files = [str(p) for p in paths]
    try:
        schema = dict(
            con.sql(
                "select file_name, list((name, type, converted_type, logical_type, scale, precision) order by name)"
                " from parquet_schema($files) group by 1",
                params={"files": files},
            ).fetchall()
        )
        rows = dict(
            con.sql("select file_name, num_rows from parquet_file_metadata($files)", params={"files": files}).fetchall()
        )
        sizes = dict(
            con.sql(
                "select file_name, coalesce(sum(total_uncompressed_size), 0) from parquet_metadata($files) group by 1",
                params={"files": files},
            ).fetchall()
        )
        empty = "empty file: a header but no data rows"
        return [(str(schema[f]), sizes.get(f, 0), rows[f]) if rows[f] else Problem(f, empty) for f in files]
    except duckdb.InterruptException:
        raise  # stopped (time limit, cancel, SIGTERM): not a property of the file
    except (duckdb.Error, KeyError):
        return [_parquet_layout(con, path) for path in paths]


def _parquet_layout(con: duckdb.DuckDBPyConnection, path: Path) -> object:
    """One file's (columns and types, uncompressed bytes, rows), or the Problem reading it."""
    try:
        relation = con.read_parquet(str(path))
        layout = str(list(zip(relation.columns, [str(t) for t in relation.types], strict=True)))
        rows = con.sql("select num_rows from parquet_file_metadata($f)", params={"f": str(path)}).fetchall()[0][0]
        size = con.sql(
            "select coalesce(sum(total_uncompressed_size), 0) from parquet_metadata($f)", params={"f": str(path)}
        ).fetchall()[0][0]
    except duckdb.InterruptException:
        raise
    except duckdb.Error as error:
        return Problem(str(path), f"not a readable Parquet file ({_first_line(error)})")
    if not rows:
        return Problem(str(path), "empty file: a header but no data rows")
    return layout, size, rows


def _open_parquet_group(con: duckdb.DuckDBPyConnection, paths: list[Path], indexes: list[int], number: int) -> Source:
    for index, path in zip(indexes, paths, strict=True):
        con.sql("insert into source_files values ($index, $path)", params={"index": index, "path": str(path)})
    scan = f"parquet_scan_{number}"
    files = con.read_parquet([str(p) for p in paths], filename=True, file_row_number=True)
    files.create_view(scan, replace=True)
    columns = dict(zip(files.columns, [str(t) for t in files.types], strict=True))
    columns.pop("filename"), columns.pop("file_row_number")
    relation = f"parquet_source_{number}"
    con.sql(
        f"""
        create or replace temp view {relation} as
        select r.* exclude (filename, file_row_number), f.file_index as {FILE}, r.file_row_number + 1 as {ROW}
        from {scan} r join source_files f on f.path = r.filename
        """
    )
    return Source(relation, columns, indexes)


def _open_csv(con: duckdb.DuckDBPyConnection, path: Path, index: int) -> Source:
    """The file as text columns in a temporary table; structural errors become Problems with their rows."""
    columns = {name: "VARCHAR" for name in _read_header(path)}
    relation = f"csv_source_{index}"
    try:
        rows = con.read_csv(
            str(path),
            header=True,
            columns=columns,
            delimiter=",",
            quotechar='"',
            escapechar='"',
            auto_detect=False,
            store_rejects=True,
            encoding="utf-8",
        )
        rows.create_view(f"{relation}_scan", replace=True)
        # rowid follows the file's order (insertion order is preserved), so it gives the data row
        con.sql(f"create or replace temp table {relation} as select * from {relation}_scan")
    except duckdb.InterruptException:
        raise
    except duckdb.Error as error:
        raise _Unreadable(Problem(str(path), f"not a readable CSV file ({_first_line(error)})")) from None
    finally:
        con.sql(f"drop view if exists {relation}_scan")
    rejects = con.sql("select line, error_type, csv_line from reject_errors order by line limit 1").fetchall()
    con.sql("delete from reject_errors")  # the reject tables keep every scan's rows: start clean for the next file
    if rejects:
        con.sql(f"drop table {relation}")
        line, error_type, csv_line = rejects[0]
        raise _Unreadable(Problem(str(path), _describe_reject(error_type, csv_line), line - 1, None, None))
    if not con.sql(f"select count(*) from {relation}").fetchall()[0][0]:
        con.sql(f"drop table {relation}")
        raise _Unreadable(Problem(str(path), "empty file: a header but no data rows"))
    con.sql(
        f"create or replace temp view {relation}_rows as"
        f" select *, {index} as {FILE}, rowid + 1 as {ROW} from {relation}"
    )
    return Source(f"{relation}_rows", columns, [index], text_table=relation)


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


def _describe_reject(error_type: str, csv_line: str | None) -> str:
    if error_type == "INVALID ENCODING":
        return "text is not valid UTF-8; save the file as UTF-8"
    if error_type in ("TOO MANY COLUMNS", "MISSING COLUMNS"):
        fewer_more = "more" if error_type == "TOO MANY COLUMNS" else "fewer"
        return f"the row has {fewer_more} fields than the header: {csv_line!r}"
    return f"cannot be parsed as CSV ({error_type.lower()}): {csv_line!r}"


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
