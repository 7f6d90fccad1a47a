"""The cell problems of a table -> one line per column and kind of mistake, before any row.

A file exported by hand repeats one mistake down a column: US dates (``12/31/2025``), amounts
in Excel's currency format (``$1,000.00``). Three hundred error rows saying the same thing hide
what to do; one line says it, with an example and what the cell should hold::

    pay_date: 113 cells are written M/D/YYYY, e.g. line 90 '12/31/2025' -> 2025-12-31

Nothing is converted: the rows stay error rows until the file is fixed ("refuse rather than
guess"). A column the rules need whose every cell is unreadable is a problem with the file
(:func:`unreadable_columns`, exit code 2), told in that one line.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

from mentorrules.errors import Location, Problem
from mentorrules.loading.tables import Table

__all__ = ["ColumnNote", "column_notes", "unreadable_columns"]

_CELL = re.compile(r"column '[^']*': ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")")
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_MONEY = re.compile(r"\(?-?[$€£]?\s*-?\d{1,3}(,\d{3})*(\.\d+)?\)?|\(?-?[$€£]\s*-?\d+(\.\d+)?\)?")


@dataclass(frozen=True)
class ColumnNote:
    """One kind of mistake in one column: how many cells, an example (line, text, fix)."""

    table: str
    column: str
    count: int
    how: str  # "written M/D/YYYY"
    line: int | None
    example: str
    fixed: str | None  # what the example should be, when it can be said

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "for example"
        fix = f" -> {self.fixed}" if self.fixed else ""
        if self.how.startswith("written"):
            cells = f"1 cell is {self.how}" if self.count == 1 else f"{self.count:,} cells are {self.how}"
        else:
            cells = f"1 cell {self.how}" if self.count == 1 else f"{self.count:,} cells {self.how}"
        return f"{self.table}.{self.column}: {cells}, e.g. {where} {self.example!r}{fix}"


def _written(problem: Problem) -> str | None:
    match = _CELL.match(problem.message)
    if match is None:
        return None
    try:
        text = ast.literal_eval(match.group(1))
    except (ValueError, SyntaxError):
        return None
    return text if isinstance(text, str) else None


def _kind_of_mistake(kind: str, text: str) -> tuple[str, str | None]:
    """How a cell is written wrong, and the cell as it should be (when it can be said).

    >>> _kind_of_mistake("date", "12/31/2025"), _kind_of_mistake("decimal", "$1,000.00")
    (('written M/D/YYYY', '2025-12-31'), ('written with a currency sign or separators', '1000.00'))
    """
    if kind == "date":
        match = _US_DATE.fullmatch(text)
        if match:
            first, second, year = (int(part) for part in match.groups())
            month, day, how = (second, first, "written D/M/YYYY") if first > 12 else (first, second,
                                                                                      "written M/D/YYYY")
            try:
                return how, dt.date(year, month, day).isoformat()
            except ValueError:
                return how, None
    if kind == "decimal" and _MONEY.fullmatch(text) and any(mark in text for mark in "$€£,()"):
        negative = text.startswith("(") or "-" in text
        digits = re.sub(r"[^\d.]", "", text)
        return "written with a currency sign or separators", ("-" if negative else "") + digits
    return "cannot be read", None


def column_notes(table: Table, problems: Mapping[int, Iterable[Problem]],
                 line_of: Callable[[int], int | None]) -> list[ColumnNote]:
    """The repeated cell problems of a table, one note per column and kind of mistake (two or
    more cells), in column order, each with its first example."""
    found: dict[tuple[str, str], list[tuple[int, str, str | None]]] = {}
    for number in sorted(problems):
        for problem in problems[number]:
            column = problem.location.field
            text = _written(problem) if problem.code == "MR310" and column else None
            if column is None or text is None:
                continue
            how, fixed = _kind_of_mistake(table.fields.get(column, "text"), text)
            found.setdefault((column, how), []).append((number, text, fixed))
    order = {name: index for index, name in enumerate(table.fields)}
    notes = []
    for (column, how), cells in sorted(found.items(), key=lambda item: (order.get(item[0][0], 0), item[0][1])):
        if len(cells) < 2:
            continue
        number, text, fixed = cells[0]
        notes.append(ColumnNote(table.name, column, len(cells), how, line_of(number), text, fixed))
    return notes


def unreadable_columns(table: Table, rows: int, problems: Mapping[int, Iterable[Problem]],
                       line_of: Callable[[int], int | None], needed: Collection[str], where: str) -> list[Problem]:
    """A problem (MR314) for each column the rules need whose every cell could not be read: the
    rows would all be error rows, and the run would say little else."""
    if rows < 2 or len(problems) < rows:  # one bad row is an error row, not a bad file
        return []
    per_column: dict[str, int] = {}
    for found in problems.values():
        for column in {problem.location.field for problem in found if problem.code == "MR310"}:
            if column:
                per_column[column] = per_column.get(column, 0) + 1
    notes = {note.column: note for note in column_notes(table, problems, line_of)}
    result = []
    for column, count in per_column.items():
        if count == rows and column in needed:
            note = notes.get(column)
            message = str(note) if note is not None else f"{table.name}.{column}: no cell can be read"
            result.append(Problem("MR314", f"every cell of a column the rules need is unreadable: {message}",
                                  Location(where, field=column),
                                  hint="fix the column in the file (or export it again) and run again"))
    return result
