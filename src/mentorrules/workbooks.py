"""XLSX workbooks -> cells of rows, one sheet per table (openpyxl, read-only, values not formulas).

A sheet named after a table (``payouts``, ``People``) holds that table; other sheets are
ignored. A workbook whose file name names a table (``payouts.xlsx``) may instead hold the table
in its first sheet. Excel stores dates as datetimes or serial numbers and amounts as binary
floats; the cell converters in :mod:`mentorrules.records` turn both into dates and Decimals.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from mentorrules.errors import Location, Problem
from mentorrules.tables import Table

Cells = Mapping[str, Any] | tuple[str, str | None]


def read_workbook(path: Path, tables: Mapping[str, Table],
                  file_table: str | None) -> Iterator[tuple[str, Iterator[Cells], Problem | None]]:
    """Yield ``(table, cells of its rows, None)`` per table sheet, or a problem for the file."""
    from openpyxl import load_workbook  # slow import, only when a workbook is read

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as error:
        yield "", iter(()), Problem("MR307", f"the workbook cannot be opened: {type(error).__name__}",
                                    Location(str(path)), hint="save it again as .xlsx from the spreadsheet")
        return
    found = False
    for index, sheet in enumerate(workbook.worksheets):
        name = sheet.title.strip().lower()
        if name not in tables and index == 0 and file_table is not None:
            name = file_table
        if name not in tables:
            continue
        found = True
        yield name, _sheet_rows(sheet), None
    if not found:
        yield "", iter(()), Problem("MR307", "the workbook has no sheet named after a table",
                                    Location(str(path)), expected=", ".join(sorted(tables)))
    workbook.close()


def _sheet_rows(sheet: Any) -> Iterator[Cells]:
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None:
        return
    names = ["" if cell is None else str(cell).strip() for cell in header]
    while names and not names[-1]:
        names.pop()
    for values in rows:
        cells = list(values)
        if all(cell is None or cell == "" for cell in cells):
            continue
        extra = [cell for cell in cells[len(names):] if cell not in (None, "")]
        if extra:
            yield (f"the row has {len(names) + len(extra)} cells but the header has {len(names)}",
                   "remove the values right of the last named column")
            continue
        cells += [None] * (len(names) - len(cells))
        yield {name: cell for name, cell in zip(names, cells, strict=False) if name}
