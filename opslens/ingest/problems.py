"""How a rejected ingest explains itself: one line per problem, naming file, row, column and value."""

from __future__ import annotations

from dataclasses import dataclass

from opslens.text import printable

# Enough examples to fix a file, without flooding the terminal when a whole column is wrong.
MAX_ROWS_PER_PROBLEM = 5
MAX_PROBLEMS = 40


@dataclass(frozen=True)
class Problem:
    """One reason to reject: where it is (file, 1-based data row, column), the value, and what is wrong."""

    file: str
    message: str
    row: int | None = None
    column: str | None = None
    value: str | None = None

    def __str__(self) -> str:
        place = [self.file]
        if self.row is not None:
            place.append(f"row {self.row}")
        if self.column is not None:
            place.append(f"column '{self.column}'")
        value = "" if self.value is None else f"value '{self.value}' "
        # Values and file names come from the input: never let them drive the terminal (ANSI escapes, NUL).
        return printable(f"{', '.join(place)}: {value}{self.message}")


class IngestRejected(Exception):
    """The ingest was refused and the store left exactly as it was; str() is the message for people."""

    def __init__(self, problems: list[Problem], more: int = 0) -> None:
        self.problems = problems
        self.more = more
        lines = [f"ingest rejected, nothing was loaded ({len(problems) + more} problem(s)):"]
        lines += [f"  - {p}" for p in problems]
        if more:
            lines.append(f"  ... and {more} more")
        super().__init__("\n".join(lines))


class IngestCancelled(IngestRejected):
    """The ingest was cancelled (the app's Cancel button) before it finished; nothing was loaded."""


class ProblemList:
    """Collects problems with a cap, so validation can keep going and report the first few of each kind."""

    def __init__(self) -> None:
        self.items: list[Problem] = []
        self.more = 0

    def add(self, problem: Problem) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(problem)
        else:
            self.more += 1

    def add_rows(self, file: str, rows: list[tuple[int, object]], column: str, message: str, total: int) -> None:
        """Add up to MAX_ROWS_PER_PROBLEM example rows of one problem, then a count of the rest."""
        for row, value in rows[:MAX_ROWS_PER_PROBLEM]:
            self.add(Problem(file, message, row, column, None if value is None else str(value)))
        if total > MAX_ROWS_PER_PROBLEM:
            self.add(Problem(file, f"{total - MAX_ROWS_PER_PROBLEM} more row(s) with the same problem", None, column))

    def raise_if_any(self) -> None:
        if self.items:
            raise IngestRejected(self.items, self.more)
