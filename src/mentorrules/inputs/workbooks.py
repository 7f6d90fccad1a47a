"""XLSX workbooks -> cells of rows, one sheet per table (openpyxl, read-only, values not formulas).

A sheet named after a table (``payouts``, ``People``) holds that table; other sheets are
ignored. A workbook whose file name names a table (``payouts.xlsx``) may instead hold the table
in its first sheet. Excel stores dates as datetimes or serial numbers and amounts as binary
floats; the cell converters in :mod:`mentorrules.inputs.reading` turn both into dates and Decimals.

What a spreadsheet shows is what is read:

- a number in a decimal column (an amount) keeps at least two places, or as many as the cell's
  number format shows (``2000`` typed in a cell is ``2000.00``; ``3500.1`` is ``3500.10``);
- a formula whose value was never computed and saved (a file written by a program, not saved
  from a spreadsheet) would read as an empty cell: its row is an error row naming the formula;
- a workbook written by mentorrules itself (a report, marked by its ``keywords`` document
  property) is not input: it is skipped in a data folder, so that a report saved there is not
  read back on the next run, and refused when it is named on its own.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from mentorrules.errors import Location, MentorRulesError, Problem
from mentorrules.inputs.headers import TITLE_LINES, missing_columns
from mentorrules.loading.tables import Table

# The cells of a row, or for a row that cannot be read: (problem, hint[, cells that could be read]).
Cells = Mapping[str, Any] | tuple[str, str | None] | tuple[str, str | None, Mapping[str, Any]]

# What openpyxl raises for a damaged workbook, when it is opened or part-way through a sheet:
# a broken zip, XML that does not parse (ParseError is a SyntaxError), a part that is missing
# or holds a value of the wrong kind ('nan' where a number is stored).
DAMAGED = (OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError, IndexError, ValueError, TypeError,
           AttributeError, SyntaxError)
REPORT_MARK = "mentorrules report"  # the keywords property of the workbooks mentorrules writes
MONEY_PLACES = 2
MAX_PLACES = 12  # places a number format may show that are kept (a format of 30 places is cut to 12)
MAX_INFLATED = 1 << 30  # bytes a workbook may inflate to
MAX_PARTS = 10_000  # parts (files) in a workbook's zip
NO_TABLE_SHEET = "the workbook has no sheet named after a table"
MAX_HEADER_SEARCH = 1_000  # columns of a title row searched for the header below it
_PLACES = re.compile(r"\.([0#?]+)")


def read_workbook(path: Path, tables: Mapping[str, Table], file_table: str | None,
                  explicit: bool = False) -> Iterator[tuple[str, Iterator[Cells], Problem | None]]:
    """Yield ``(table, cells of its rows, None)`` per table sheet, or a problem for the file.

    A workbook mentorrules wrote (a report) yields nothing when it is found in a data folder;
    named on its own (``explicit``), it is a problem (MR308): its sheets hold findings, not input.
    """
    from openpyxl import load_workbook  # slow import, only when a workbook is read

    problem = _inflated_problem(path)
    if problem is not None:
        yield "", iter(()), problem
        return
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
        formulas = load_workbook(path, read_only=True, data_only=False)
    except DAMAGED as error:
        yield "", iter(()), _damaged(path, "opened", error)
        return
    if workbook.properties.keywords == REPORT_MARK:
        inputs = _report_inputs(workbook) if explicit else []
        workbook.close()
        formulas.close()
        if explicit:
            yield "", iter(()), Problem(
                "MR308", "this is a mentorrules report, not input data", Location(str(path)),
                expected="the input files: payouts.csv (or .json, .jsonl, .xlsx) and the other tables",
                hint="validate the input files it was made from" + (
                    f": {', '.join(inputs)}" if inputs else " (its Summary sheet lists them)"))
        return
    found = False
    for index, (sheet, formula_sheet) in enumerate(zip(workbook.worksheets, formulas.worksheets, strict=True)):
        name = sheet.title.strip().lower()
        if name not in tables and index == 0 and file_table is not None:
            name = file_table
        if name not in tables:
            continue
        found = True
        yield name, Numbered(_readable(_sheet_rows(sheet, formula_sheet, tables[name], f"{path}[{sheet.title}]"),
                                       path)), None
    if not found:
        yield "", iter(()), Problem("MR307", NO_TABLE_SHEET, Location(str(path)), expected=", ".join(sorted(tables)))
    workbook.close()
    formulas.close()


def _inflated_problem(path: Path) -> Problem | None:
    """A workbook is a zip file: refuse one that would inflate past :data:`MAX_INFLATED` bytes
    (a 1 MiB file can hold a 1 GiB sheet). The sizes the zip declares bound what is read: Python's
    zipfile never inflates an entry past its declared size."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except DAMAGED as error:
        return _damaged(path, "opened", error)
    inflated = sum(entry.file_size for entry in entries)
    if len(entries) > MAX_PARTS or inflated > MAX_INFLATED:
        return Problem("MR307", f"the workbook inflates to {inflated:,} bytes in {len(entries):,} parts",
                       Location(str(path)),
                       expected=f"at most {MAX_INFLATED:,} bytes in at most {MAX_PARTS:,} parts",
                       hint="split the data over several files, or save it as CSV")
    return None


def _report_inputs(workbook: Any) -> list[str]:
    """The input files a report names on its Summary sheet (``input payouts | data/payouts.csv``)."""
    try:
        rows = workbook["Summary"].iter_rows(max_row=40, max_col=2, values_only=True)
        return list(dict.fromkeys(re.sub(r"\[\w+\]$", "", str(value)) for label, value in rows
                                  if isinstance(label, str) and label.startswith("input ") and value))
    except DAMAGED:
        return []


def _damaged(path: Path, doing: str, error: BaseException) -> Problem:
    return Problem("MR307", f"the workbook cannot be {doing}: it is damaged ({type(error).__name__})",
                   Location(str(path)), hint="open it in a spreadsheet program and save it again as .xlsx")


class Numbered(Iterator[Cells]):
    """The cells of a table's rows; ``line`` is the line (a sheet's row number) of the row last
    given, or None where the input has no lines."""

    def __init__(self, rows: Iterator[tuple[int | None, Cells]]) -> None:
        self._rows = rows
        self.line: int | None = None

    def __next__(self) -> Cells:
        self.line, cells = next(self._rows)
        return cells

    def __iter__(self) -> Numbered:
        return self


def _readable(rows: Iterator[tuple[int | None, Cells]], path: Path) -> Iterator[tuple[int | None, Cells]]:
    """The rows of a sheet; a sheet that fails part-way is a problem with the whole file (raised
    as :class:`MentorRulesError`), since the rows after the damage cannot be counted."""
    try:
        yield from rows
    except DAMAGED as error:
        raise MentorRulesError([_damaged(path, "read", error)]) from None


def _sheet_rows(sheet: Any, formula_sheet: Any, table: Table, where: str) -> Iterator[tuple[int | None, Cells]]:
    """The rows of a table's sheet under its header; a sheet without a header, or whose header
    lacks a required column, is a problem with the file (as for a CSV file), rows or not."""
    # The <dimension> a file declares (A1:XFD6000) is not trusted: rows are as long as their cells,
    # and data rows are read no wider than the header and one column more (to see extra values).
    for each in (sheet, formula_sheet):
        each.reset_dimensions()
    header = next(sheet.iter_rows(max_row=1), None)
    names = [] if header is None else ["" if cell.value is None else str(cell.value).strip() for cell in header]
    while names and not names[-1]:
        names.pop()
    width = len(names) + 1
    rows = zip(sheet.iter_rows(min_row=2, max_col=width), formula_sheet.iter_rows(min_row=2, max_col=width,
                                                                                 values_only=True), strict=False)
    if not names and table.required:  # a blank first row, the header below it?
        below = sheet.iter_rows(min_row=2, max_row=TITLE_LINES + 1, max_col=MAX_HEADER_SEARCH, values_only=True)
        problem = missing_columns(table, Location(where), names, below)
        if problem is not None and "title" in problem.message:
            raise MentorRulesError([problem])
    if not names:
        raise MentorRulesError([Problem(
            "MR302", "the sheet is empty: it has no header row", Location(where),
            expected=f"a first row naming the columns: {', '.join(table.required)}",
            hint="give the sheet its header row, or delete the sheet if the table is not given")])
    if not all(name in names for name in table.required):
        below = sheet.iter_rows(min_row=2, max_row=TITLE_LINES + 1, max_col=MAX_HEADER_SEARCH, values_only=True)
        problem = missing_columns(table, Location(where), names, below)
        if problem is not None:
            raise MentorRulesError([problem])
    repeated = repeated_names(names)
    for line, (cells, written) in enumerate(rows, start=2):  # the header is row 1
        header = [*names, *[""] * (len(cells) - len(names))]
        values = [_value(cell, table.fields.get(name)) for cell, name in zip(cells, header, strict=False)]
        if all(value is None or value == "" for value in values):
            continue
        extra = [value for value in values[len(names):] if value not in (None, "")]
        if extra:
            yield line, (f"the row has {len(names) + len(extra)} cells but the header has {len(names)}",
                   "remove the values right of the last named column")
            continue
        values += [None] * (len(names) - len(values))
        if repeated:  # as for a CSV file: which of the two cells is the value?
            yield line, (f"the header names {', '.join(map(repr, repeated))} more than once, so this row's values "
                   "are ambiguous", "rename or remove the repeated column",
                   {name: value for name, value in zip(names, values, strict=False) if name not in repeated})
            continue
        row = {name: value for name, value in zip(names, values, strict=False) if name}
        uncomputed = [(name, formula) for name, value, formula in zip(names, values, written, strict=False)
                      if name and value is None and isinstance(formula, str) and formula.startswith("=")]
        if uncomputed:
            shown = "; ".join(f"{name!r} ({_cut(formula)})" for name, formula in uncomputed)
            yield line, (f"the formula in {shown} has no saved value",
                   "open the workbook in a spreadsheet program and save it, so that formula values are "
                   "stored, or paste the values", {name: value for name, value in row.items() if value is not None})
            continue
        yield line, row


def repeated_names(names: Iterable[str]) -> list[str]:
    """The non-empty names given more than once, sorted, counted in one pass.

    >>> repeated_names(["a", "b", "a", "", ""])
    ['a']
    """
    counts = Counter(names)
    return sorted(name for name, count in counts.items() if count > 1 and name)


def _value(cell: Any, kind: str | None) -> Any:
    """A cell's value as the spreadsheet shows it: amounts with their places."""
    value = cell.value
    if kind != "decimal" or isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return value  # records reports it
    exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    places = min(max(MONEY_PLACES, _format_places(getattr(cell, "number_format", None))), MAX_PLACES)
    exponent = exact.as_tuple().exponent
    if isinstance(exponent, int) and -exponent < places:
        exact = exact.quantize(Decimal(1).scaleb(-places))
    return exact


def _format_places(number_format: str | None) -> int:
    """Decimal places a number format shows (``#,##0.00`` -> 2; General -> 0).

    >>> _format_places('"$"#,##0.000_);("$"#,##0.000)'), _format_places("General")
    (3, 0)
    """
    match = _PLACES.search((number_format or "").split(";")[0])
    return len(match.group(1)) if match else 0


def _cut(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."

