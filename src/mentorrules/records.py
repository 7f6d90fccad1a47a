"""CSV/JSON/JSONL/XLSX rows -> typed rows, or a Problem per bad cell. No row is ever dropped.

A file whose name starts with a table name (``payouts.csv``, ``people-2025.json``) holds that
table; a directory holds one file per table (other files are ignored); an XLSX workbook may
hold one sheet per table. A cell that cannot be read (``1,200`` as an amount, ``2025-02-30``
as a date) makes its row an *error row*: it is kept, numbered and reported with the column and
the reason, and no rule is run on it. Problems with a whole file (not UTF-8, not JSON, a
required column missing) stop the run with exit code 2.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from mentorrules.errors import Location, Problem, one_of
from mentorrules.tables import TABLE_ORDER, Table

FORMATS = (".csv", ".json", ".jsonl", ".xlsx")
MAX_CELL = 1_000_000
_INTEGER = re.compile(r"[+-]?\d{1,18}")
_DECIMAL = re.compile(r"[+-]?(\d{1,18}(\.\d{0,12})?|\.\d{1,12})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TRUE = frozenset({"true", "yes", "1", "y", "t"})
_FALSE = frozenset({"false", "no", "0", "n", "f"})
_EXCEL_EPOCH = dt.date(1899, 12, 30)


class CellError(ValueError):
    """A cell that cannot be read as its column's type, with a hint to fix it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class Row:
    """One input row: its 1-based number in its table, its key, typed values, and problems if any.

    On a row with problems, a cell that could not be read keeps its value as written, so that
    reports can show it; no rule ever runs on such a row.
    """

    __slots__ = ("key", "number", "problems", "values")

    def __init__(self, number: int, values: dict[str, Any], problems: tuple[Problem, ...] = (),
                 key: str = "") -> None:
        self.number = number
        self.values = values
        self.problems = problems
        self.key = key

    def __repr__(self) -> str:
        return f"Row({self.number}, {self.values!r}, problems={len(self.problems)})"


@dataclass
class DataSet:
    """Rows per table, where each table came from, and problems that stop the run."""

    tables: dict[str, list[Row]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


# -- cells ---------------------------------------------------------------------------------------
def to_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    raise CellError(f"{_show(value)} is not text")


def to_integer(value: Any) -> int | None:
    if isinstance(value, bool):
        raise CellError(f"{_show(value)} is not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, (float, Decimal)) and value == int(value):
        return int(value)
    text = to_text(value)
    if text is None:
        return None
    if not _INTEGER.fullmatch(text):
        raise CellError(f"{_show(text)} is not a whole number", "write digits only, e.g. 2")
    return int(text)


def to_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        raise CellError(f"{_show(value)} is not a decimal number")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise CellError(f"{_show(value)} is not a number")
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # Spreadsheets and JSON without parse_float store binary floats: take the shortest
        # text that round-trips (what the user typed), never the binary expansion.
        if value != value or value in (float("inf"), float("-inf")):
            raise CellError(f"{_show(value)} is not a number")
        return Decimal(repr(value))
    text = to_text(value)
    if text is None:
        return None
    if _DECIMAL.fullmatch(text):
        return Decimal(text)
    raise CellError(f"{_show(text)} is not a decimal amount", _decimal_hint(text))


def _decimal_hint(text: str) -> str:
    if "," in text:
        return "write amounts without separators and with a dot, e.g. 1200.00"
    if any(symbol in text for symbol in "$€£"):
        return "write amounts without a currency symbol, e.g. 5.00"
    if "e" in text.lower() and any(ch.isdigit() for ch in text):
        return "write the number out, e.g. 1000.00 instead of 1e3"
    return "write a plain decimal number with a dot, e.g. 1000.00"


def to_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        serial = int(value)
        if serial == value and 1 <= serial <= 2_958_465:
            return _EXCEL_EPOCH + dt.timedelta(days=serial)
        raise CellError(f"{_show(value)} is not a date", "write dates as YYYY-MM-DD, e.g. 2025-07-01")
    text = to_text(value)
    if text is None:
        return None
    if not _DATE.fullmatch(text):
        raise CellError(f"{_show(text)} is not a date", "write dates as YYYY-MM-DD, e.g. 2025-07-01")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CellError(f"{_show(text)} is not a real date", "check the month and day") from None


def to_boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = to_text(value)
    if text is None:
        return None
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise CellError(f"{_show(text)} is not true or false", "write true or false (or yes/no, 1/0)")


def to_list(value: Any) -> list[str] | None:
    if isinstance(value, list):
        items = [to_text(item) for item in value]
        return [item for item in items if item is not None]
    text = to_text(value)
    if text is None:
        return None
    return [item.strip() for item in text.split(";") if item.strip()]


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "text": to_text, "integer": to_integer, "decimal": to_decimal, "date": to_date,
    "boolean": to_boolean, "list": to_list,
}


def _show(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _shared(convert: Callable[[Any], Any], limit: int = 200_000) -> Callable[[Any], Any]:
    """``convert`` that returns one shared (immutable) value per distinct cell text."""
    seen: dict[str, Any] = {}

    def shared(raw: Any) -> Any:
        if not isinstance(raw, str):
            return convert(raw)
        try:
            return seen[raw]
        except KeyError:
            value = convert(raw)  # a CellError is not remembered: each bad row reports its own
            if len(seen) < limit:
                seen[raw] = value
            return value

    return shared


# -- rows ----------------------------------------------------------------------------------------
class RowTyper:
    """Types the cells of one table's rows: column name -> converter, checked once per file."""

    def __init__(self, table: Table, path: str) -> None:
        self.table = table
        self.path = path
        # Most cells repeat (roles, programs, school years, dates, amounts, people's ids): one
        # shared value per distinct cell text saves most of a large file's memory. Key columns
        # are unique and lists are mutable, so they are converted afresh.
        self.converters = {name: CONVERTERS[kind] if name in table.key or kind == "list" else _shared(CONVERTERS[kind])
                           for name, kind in table.fields.items()}
        self.empty: dict[str, Any] = dict.fromkeys(table.fields)

    def row(self, number: int, cells: Mapping[str, Any]) -> Row:
        # The hot loop of reading: one pass over the cells, the usual case first.
        values = self.empty.copy()
        problems: list[Problem] | None = None
        converters, patterns = self.converters, self.table.patterns
        for name, raw in cells.items():
            if raw.__class__ is str and (len(raw) > MAX_CELL or "\x00" in raw):
                problem = self._problem(number, name, *(
                    (f"the cell is {len(raw):,} characters long", f"keep cells under {MAX_CELL:,} characters")
                    if len(raw) > MAX_CELL else
                    ("the cell contains a NUL byte", "the file may be binary or badly exported; remove the NUL bytes")))
                problems = [*(problems or ()), problem]
                values[name] = raw
                continue
            try:
                convert: Callable[[Any], Any] = converters.get(name, to_text)
                value = convert(raw)
            except CellError as error:
                problems = [*(problems or ()), self._problem(number, name, str(error), error.hint)]
                values[name] = raw
                continue
            if value is not None and name in patterns and not patterns[name].fullmatch(str(value)):
                expected = self.table.descriptions.get(name) or patterns[name].pattern
                problems = [*(problems or ()), self._problem(number, name, f"{_show(value)} is not valid here",
                                                             expected)]
                values[name] = raw
                continue
            values[name] = value
        return Row(number, values, tuple(problems or ()), self.table.key_of(values))

    def _problem(self, number: int, name: str, message: str, hint: str | None) -> Problem:
        return Problem("MR310", f"column {name!r}: {message}", Location(self.path, row=number, field=name),
                       hint=hint)

    def broken(self, number: int, message: str, hint: str | None = None, code: str = "MR311",
               known: Mapping[str, Any] | None = None) -> Row:
        """A row that could not be split into cells; its key is kept when it can be read."""
        values: dict[str, Any] = dict.fromkeys(self.table.fields)
        for name in self.table.key:
            try:
                values[name] = to_text((known or {}).get(name))
            except CellError:
                continue
        problem = Problem(code, message, Location(self.path, row=number), hint=hint)
        return Row(number, values, (problem,), self.table.key_of(values))


# -- files ---------------------------------------------------------------------------------------
def table_of(path: Path, tables: Mapping[str, Table]) -> str | None:
    """The table a file holds, from its name: ``payouts.csv``, ``payouts-2025.jsonl``."""
    stem = path.name.lower().removesuffix(path.suffix.lower())
    for name in tables:
        if stem == name or re.match(rf"{name}[-_. ]", stem):
            return name
    return None


def read(paths: Sequence[Path], tables: Mapping[str, Table]) -> DataSet:
    """Read directories, table files and workbooks into a :class:`DataSet`."""
    data = DataSet()
    for path in paths:
        if path.is_dir():
            members = sorted(p for p in path.iterdir() if p.suffix.lower() in FORMATS and p.is_file())
            for member in members:
                if member.suffix.lower() == ".xlsx" or table_of(member, tables):
                    _read_file(member, tables, data, explicit=False)
        elif path.exists():
            _read_file(path, tables, data, explicit=True)
        else:
            data.problems.append(Problem("MR300", "no such file or directory", Location(str(path))))
    if "payouts" not in data.tables and not data.problems:
        data.problems.append(Problem(
            "MR301", "no payouts table was found", Location(", ".join(str(p) for p in paths)),
            expected="a file named payouts.csv, payouts.json, payouts.jsonl or a payouts sheet",
            hint="name the payout file after its table, e.g. payouts.csv"))
    data.tables = {name: data.tables[name] for name in sorted(data.tables, key=_table_order)}
    data.sources = {name: data.sources[name] for name in data.tables}
    return data


def _table_order(name: str) -> tuple[int, str]:
    return (TABLE_ORDER.index(name) if name in TABLE_ORDER else len(TABLE_ORDER), name)


def _read_file(path: Path, tables: Mapping[str, Table], data: DataSet, *, explicit: bool) -> None:
    suffix = path.suffix.lower()
    where = Location(str(path))
    if suffix not in FORMATS:
        data.problems.append(Problem("MR300", f"unknown file type {path.suffix!r}", where,
                                     expected="a .csv, .json, .jsonl or .xlsx file"))
        return
    if suffix == ".xlsx":
        from mentorrules.workbooks import read_workbook

        for name, rows, problem in read_workbook(path, tables, table_of(path, tables)):
            if problem is not None:
                data.problems.append(problem)
            else:
                _add(data, tables[name], f"{path}[{name}]", rows)
        return
    table_name = table_of(path, tables)
    if table_name is None:
        if explicit:
            data.problems.append(Problem("MR300", "the file name does not name a table", where,
                                         expected=one_of(tables), hint="rename it, e.g. payouts.csv"))
        return
    try:
        raw = path.read_bytes()
    except OSError as error:
        data.problems.append(Problem("MR300", f"cannot read the file: {error.strerror}", where))
        return
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        data.problems.append(Problem("MR305", f"the file is not UTF-8 (invalid byte at offset {error.start})",
                                     where, hint="save or export the file as UTF-8 (CSV UTF-8 in Excel)"))
        return
    reader = {".csv": _csv_rows, ".json": _json_rows, ".jsonl": _jsonl_rows}[suffix]
    _add(data, tables[table_name], str(path), reader(text, str(path)))


# The cells of a row, or for a row that cannot be read: (problem, hint[, cells that could be read]).
Cells = Mapping[str, Any] | tuple[str, str | None] | tuple[str, str | None, Mapping[str, Any]]


def _add(data: DataSet, table: Table, path: str, cells: Iterable[Cells]) -> None:
    if table.name in data.tables:
        data.problems.append(Problem("MR303", f"a second file for the table {table.name!r}",
                                     Location(path), expected=f"one file per table; the first was "
                                     f"{data.sources[table.name]}"))
        return
    typer = RowTyper(table, path)
    rows: list[Row] = []
    columns: set[str] = set()
    try:
        for number, row_cells in enumerate(cells, start=1):
            if isinstance(row_cells, tuple):
                partial = row_cells[2] if len(row_cells) > 2 else {}
                rows.append(typer.broken(number, row_cells[0], row_cells[1], known=partial))
            else:
                columns.update(row_cells)
                rows.append(typer.row(number, row_cells))
    except _FileProblem as error:
        data.problems.append(Problem(error.code, error.message, Location(path, line=error.line,
                                                                          column=error.column),
                                     expected=error.expected, hint=error.hint))
        return
    missing = [name for name in table.required if name not in columns]
    if missing and columns:
        data.problems.append(Problem(
            "MR302", f"the table {table.name!r} has no column {', '.join(map(repr, missing))}",
            Location(path), expected=f"the columns {', '.join(table.required)}",
            hint="add the column (cells may be empty where a value is unknown)"))
        return
    data.tables[table.name] = rows
    data.sources[table.name] = path


class _FileProblem(Exception):
    def __init__(self, code: str, message: str, line: int | None = None, column: int | None = None,
                 expected: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.line, self.column = code, message, line, column
        self.expected, self.hint = expected, hint


def _csv_rows(text: str, path: str) -> Iterator[Cells]:
    # The csv module refuses fields over 128 KiB; allow larger ones so that our own limit
    # (MAX_CELL) reports them as a located cell problem. This limit is process-wide and only grows.
    csv.field_size_limit(max(csv.field_size_limit(), 4 * MAX_CELL))
    reader = csv.reader(io.StringIO(text, newline=""), strict=False)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as error:
        raise _FileProblem("MR304", f"the header cannot be read: {error}", line=1) from None
    names = [name.strip() for name in header]
    duplicates = sorted({name for name in names if names.count(name) > 1 and name})
    width = len(names)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield (f"the row cannot be read as CSV: {error}", "check the quotes in this row")
            continue
        if not cells or (cells == [""] * len(cells) and len(cells) <= 1):
            continue
        if duplicates or len(cells) != width:
            # What can be read of a row that cannot be trusted, so that the report shows its key.
            known = {name: cell for name, cell in zip(names, cells, strict=False) if name not in duplicates}
            if duplicates:
                yield (f"the header names {', '.join(map(repr, duplicates))} more than once, so this row's "
                       "values are ambiguous", "rename or remove the repeated column", known)
            else:
                yield (f"the row has {len(cells)} cells but the header has {width}",
                       "check for a missing or extra separator, or an unquoted comma in a cell", known)
            continue
        yield dict(zip(names, cells, strict=True))


def _json_rows(text: str, path: str) -> Iterator[Cells]:
    try:
        document = json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise _FileProblem("MR306", f"the file is not valid JSON: {error.msg}", error.lineno,
                           error.colno) from None
    except ValueError as error:
        raise _FileProblem("MR306", f"the file is not valid JSON: {error}") from None
    if isinstance(document, dict) and len(document) == 1 and isinstance(next(iter(document.values())), list):
        document = next(iter(document.values()))
    if not isinstance(document, list):
        raise _FileProblem("MR306", "the file holds no list of rows",
                           expected="a JSON array of objects, one per row: [{\"payout_id\": ...}, ...]")
    for item in document:
        yield item if isinstance(item, dict) else (f"the row is {type(item).__name__}, not an object", None)


def _jsonl_rows(text: str, path: str) -> Iterator[Cells]:
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            item = json.loads(line, parse_float=Decimal, parse_constant=_no_constant)
        except ValueError as error:
            yield (f"the line is not valid JSON: {getattr(error, 'msg', error)}", None)
            continue
        yield item if isinstance(item, dict) else (f"the row is {type(item).__name__}, not an object", None)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def rows_from(table: Table, records: Iterable[Mapping[str, Any]], source: str = "<input>") -> list[Row]:
    """Typed rows from Python mappings, as the library's callers pass them."""
    typer = RowTyper(table, source)
    rows = []
    for number, record in enumerate(records, start=1):
        if isinstance(record, Mapping):
            rows.append(typer.row(number, record))
        else:
            rows.append(typer.broken(number, f"the row is {type(record).__name__}, not a mapping"))
    return rows
