"""CSV/JSON/JSONL/XLSX rows -> typed rows, or a Problem per bad cell. No row is ever dropped.

A file whose name starts with a table name (``payouts.csv``, ``people-2025.json``) holds that
table; a directory holds one file per table (other files are ignored); an XLSX workbook may
hold one sheet per table. A cell that cannot be read (``1,200`` as an amount, ``2025-02-30``
as a date) makes its row an *error row*: it is kept, numbered and reported with the column and
the reason, and no rule is run on it. Problems with a whole file (not UTF-8, not JSON, a
required column missing) stop the run with exit code 2.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import json
import math
import re
import sys
from bisect import bisect_right
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Protocol, TextIO, overload, runtime_checkable

from mentorrules.errors import Location, MentorRulesError, Problem, one_of
from mentorrules.generated import define
from mentorrules.inputs.headers import TITLE_LINES, missing_columns
from mentorrules.inputs.workbooks import NO_TABLE_SHEET, Cells, Numbered, repeated_names
from mentorrules.loading.tables import TABLE_ORDER, Record, Table

FORMATS = (".csv", ".json", ".jsonl", ".xlsx")
MAX_CELL = 1_000_000  # characters in one cell
MAX_COLUMNS = 16_384  # columns in a header (a spreadsheet's limit)
_INTEGER = re.compile(r"[+-]?\d{1,18}", re.ASCII)  # ASCII: int() also reads full-width digits
_DECIMAL = re.compile(r"[+-]?(\d{1,18}(\.\d{0,12})?|\.\d{1,12})", re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_TRUE = frozenset({"true", "yes", "1", "y", "t"})
_FALSE = frozenset({"false", "no", "0", "n", "f"})
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_MISSING = object()


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

    __slots__ = ("key", "line", "number", "problems", "values")

    def __init__(self, number: int, values: Record, problems: tuple[Problem, ...] = (),
                 key: str = "", line: int | None = None) -> None:
        self.number = number
        self.values = values
        self.problems = problems
        self.key = key
        # The row as a spreadsheet numbers it (the header is line 1); None where the input has
        # no lines (a JSON array, rows given by a program).
        self.line = line

    def __repr__(self) -> str:
        return f"Row({self.number}, {self.values!r}, problems={len(self.problems)})"


@runtime_checkable
class KeyedRecords(Protocol):
    """Records held as columns (inputs/columns.ColumnRecords) that find a unique-keyed table's
    index themselves: each key's first row number, and the later rows whose key repeats."""

    def __len__(self) -> int: ...
    def __getitem__(self, index: int) -> Record: ...
    def first_numbers(self) -> tuple[dict[Any, int], list[int]]: ...


class Rows(Sequence[Row]):
    """A table's rows held in memory: one record per row, and the problems of the few rows
    that could not be read. :class:`Row` objects are made as rows are visited, not kept."""

    __slots__ = ("lines", "problems", "records", "table")

    def __init__(self, table: Table, rows: Iterable[Row] = ()) -> None:
        self.table = table
        # A list, or records made from columns when asked (inputs/columns.ColumnRecords).
        self.records: list[Record] | Sequence[Record] = []
        self.problems: dict[int, tuple[Problem, ...]] = {}
        self.lines = Lines()
        for row in rows:
            self.append(row)

    def append(self, row: Row) -> None:
        assert isinstance(self.records, list)
        self.records.append(row.values)
        self.lines.add(len(self.records), row.line)
        if row.problems:
            self.problems[len(self.records)] = row.problems

    def mark(self, number: int, problems: Sequence[Problem]) -> None:
        """Make row ``number`` an error row (a problem found after reading, e.g. a repeated key)."""
        self.problems[number] = (*self.problems.get(number, ()), *problems)

    def __len__(self) -> int:
        return len(self.records)

    @overload
    def __getitem__(self, index: int) -> Row: ...
    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...
    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        number = range(1, len(self.records) + 1)[index]
        record = self.records[number - 1]
        return Row(number, record, self.problems.get(number, ()), self.table.key_of(record), self.lines.of(number))

    def __iter__(self) -> Iterator[Row]:
        problems, key_of, line_of = self.problems, self.table.key_of, self.lines.of
        for number, record in enumerate(self.records, start=1):
            yield Row(number, record, problems.get(number, ()), key_of(record), line_of(number))


class Lines:
    """The line of each row of a table, kept as the few places where line - row changes (a
    blank line skipped in a CSV file), not one number per row.

    >>> lines = Lines()
    >>> for row, line in [(1, 2), (2, 3), (3, 5), (4, 6)]:
    ...     lines.add(row, line)
    >>> [lines.of(row) for row in (1, 2, 3, 4)], lines.of(9)
    ([2, 3, 5, 6], 11)
    """

    __slots__ = ("offsets", "starts")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.offsets: list[int | None] = []

    def add(self, row: int, line: int | None) -> None:
        offset = None if line is None else line - row
        if not self.offsets or self.offsets[-1] != offset:
            self.starts.append(row)
            self.offsets.append(offset)

    def of(self, row: int) -> int | None:
        index = bisect_right(self.starts, row) - 1
        offset = self.offsets[index] if index >= 0 else None
        return None if offset is None else row + offset

    def upto(self, count: int) -> list[int | None]:
        """The lines of rows 1 to ``count``, as a list.

        >>> lines = Lines()
        >>> for row, line in [(1, 2), (2, 3), (3, 5)]:
        ...     lines.add(row, line)
        >>> lines.upto(4)
        [2, 3, 5, 6]
        """
        found: list[int | None] = [None] * min(count, self.starts[0] - 1 if self.starts else count)
        ends = [*self.starts[1:], count + 1][:len(self.starts)]
        for start, end, offset in zip(self.starts, ends, self.offsets, strict=True):
            end = min(end, count + 1)
            if start < end:
                found += [None] * (end - start) if offset is None else range(start + offset, end + offset)
        return found


class StreamedRows(Sequence[Row]):
    """A CSV table that is read again each time it is iterated, so that it never sits in memory.

    Used for the tables no rule looks rows up in (payouts), whose file was checked when the data
    set was read (UTF-8, header). Indexing reads the whole table into memory once.
    """

    def __init__(self, table: Table, path: Path, source: str, interned: Collection[str] = ()) -> None:
        self.table = table
        self.path = path
        self.source = source
        self.interned = interned
        self._length: int | None = None
        self._held: Rows | None = None

    def __iter__(self) -> Iterator[Row]:
        number = 0
        try:
            with self.path.open(encoding="utf-8-sig", newline="") as handle:
                for row in _csv_typed(RowTyper(self.table, self.source, interned=self.interned), handle):
                    number = row.number
                    yield row
        except (OSError, UnicodeDecodeError, _FileProblem) as error:  # the file changed since it was checked
            raise MentorRulesError([Problem("MR300", f"the file cannot be read again: {error}", Location(self.source),
                                            hint="do not change input files while they are checked")]) from None
        self._length = number

    def __len__(self) -> int:
        if self._length is None:
            self._length = sum(1 for _ in self)
        return self._length

    @overload
    def __getitem__(self, index: int) -> Row: ...
    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...
    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        if self._held is None:
            self._held = Rows(self.table, self)
        return self._held[index]


@dataclass
class DataSet:
    """Rows per table, where each table came from, and problems that stop the run."""

    tables: dict[str, Sequence[Row]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    ignored: dict[str, str] = field(default_factory=dict)  # files of a folder not read, and why
    # The tables also read into typed columns (inputs/columns.TableColumns), for the columnar backend.
    columns: dict[str, Any] = field(default_factory=dict)


# Reads a held CSV table into columns (path, contract, source, kept, interned): its rows and the
# columns, or None to leave the file to the reference reader (see inputs/columns.py).
ColumnReader = Callable[[Path, Table, str, Collection[str] | None, Collection[str]], tuple[Rows, Any] | None]


# -- cells ---------------------------------------------------------------------------------------
def to_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value.isascii():
            _unicode(value)
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


def _unicode(text: str) -> None:
    """Refuse text that no encoding can write: a lone surrogate (``"\\ud800"`` in a JSON file)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise CellError(f"the cell holds {text[error.start]!a}, which is not a character (a lone surrogate)",
                        "the file was made by a program that split a character; write the text again") from None


def shown_as_written(raw: Any) -> Any:
    """A refused cell as a report shows it: text that cannot be written has its surrogates escaped."""
    if raw.__class__ is str and not raw.isascii():
        return raw.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw


def to_integer(value: Any) -> int | None:
    if isinstance(value, bool):
        raise CellError(f"{_show(value)} is not a whole number")
    if isinstance(value, (int, float, Decimal)):
        _check_size(value)
        if value == int(value):
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
        _check_size(value)
        return value
    if isinstance(value, int):
        _check_size(value)
        return Decimal(value)
    if isinstance(value, float):
        # Spreadsheets and JSON without parse_float store binary floats: take the shortest
        # text that round-trips (what the user typed), never the binary expansion.
        _check_size(value)
        return Decimal(repr(value))
    text = to_text(value)
    if text is None:
        return None
    if _DECIMAL.fullmatch(text):
        return Decimal(text)
    raise CellError(f"{_show(text)} is not a decimal amount", _decimal_hint(text))


# A number given as a number (JSON, a workbook) has no text for the patterns above to bound:
# it must be finite and smaller than the 18 digits a cell may write, or converting it (int() of
# 1e999999999) would take minutes and its digits could not be shown.
_LARGEST = 10**18


def _finite(value: int | float | Decimal) -> bool:
    return value.is_finite() if isinstance(value, Decimal) else isinstance(value, int) or math.isfinite(value)


def _check_size(value: int | float | Decimal) -> None:
    if not _finite(value):
        raise CellError(f"{_show(value)} is not a number")
    if not -_LARGEST < value < _LARGEST:  # compared, not abs(): abs() rounds a Decimal to the context
        raise CellError(f"{_show(value)} is too large", "numbers have at most 18 digits")
    if value.__class__ is Decimal:  # 1e-999999999 from JSON: no sum or rounding could take it
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and (exponent < -12 or len(value.as_tuple().digits) > 30):
            raise CellError(f"{_show(value)} has too many digits", "numbers have at most 12 decimal places")


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
        if _finite(value) and 1 <= value <= 2_958_465 and value == int(value):
            return _EXCEL_EPOCH + dt.timedelta(days=int(value))
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
    text = str(Decimal(value) if value.__class__ is int else value)  # str() refuses ints of 4,300+ digits
    return repr(text if len(text) <= 40 else text[:37] + "...")


class _Slow(Exception):
    """A cell the fast path of :class:`RowTyper` leaves to the careful one (to locate its problem)."""


class _Column:
    """How one column's cells become values: the converter, the pattern the value must match,
    and, for columns whose cells repeat, one shared value per distinct cell text (which saves
    most of a large file's memory and most of the converting)."""

    __slots__ = ("convert", "interned", "kept", "pattern", "position", "seen")
    LIMIT = 200_000  # distinct texts remembered per column

    def __init__(self, position: int, convert: Callable[[Any], Any], pattern: re.Pattern[str] | None,
                 shared: bool, kept: bool = True, interned: bool = False) -> None:
        self.position = position
        self.convert = convert
        self.pattern = pattern
        self.seen: dict[str, Any] | None = {} if shared and kept else None
        self.kept = kept  # a column no rule reads is checked, then not kept (None)
        # Ids that several tables hold (a person's id in people, pairings, payouts) become one
        # string object, not one per table.
        self.interned = interned

    def __call__(self, raw: Any) -> Any:
        """The value of a cell; raises :class:`CellError`, or :class:`_Slow` for a cell too long,
        with a NUL byte or not matching the column's pattern."""
        seen = self.seen
        text = raw.__class__ is str
        if text:
            if seen is not None and raw in seen:
                return seen[raw]
            if len(raw) > MAX_CELL or "\x00" in raw:
                raise _Slow
        value = self.convert(raw)  # a CellError is not remembered: each bad row reports its own
        if value is not None and self.pattern is not None and not self.pattern.fullmatch(str(value)):
            raise _Slow
        if self.interned and value.__class__ is str:
            value = sys.intern(value)
        if text and seen is not None and len(seen) < self.LIMIT:
            seen[raw] = value
        return value if self.kept else None


# -- rows ----------------------------------------------------------------------------------------
class RowTyper:
    """Types the cells of one table's rows into records, checked once per distinct cell text.

    Columns the table does not declare are ignored: no rule can name them. The cells of columns
    not ``kept`` (no rule reads them: names, emails) are checked but not kept. A CSV file's rows go
    through code generated for its header (:meth:`listed`); a row with a bad cell then takes
    the careful path (:meth:`row`), which locates every problem of the row.
    """

    def __init__(self, table: Table, path: str, kept: Collection[str] | None = None,
                 interned: Collection[str] = ()) -> None:
        self.table = table
        self.path = path
        # Unique key columns never repeat, and lists are mutable: those are converted afresh.
        unique = set(table.key) if len(table.key) == 1 else set()
        self.columns = {name: _Column(position, CONVERTERS[kind], table.patterns.get(name),
                                      shared=name not in unique and kind != "list",
                                      kept=kept is None or name in kept or name in table.key,
                                      interned=kind == "text" and name in interned)
                        for position, (name, kind) in enumerate(table.fields.items())}
        self.empty: list[Any] = [None] * len(table.fields)
        self._fast: dict[tuple[str, ...], Callable[[list[str]], Record]] = {}

    def row(self, number: int, cells: Mapping[str, Any]) -> Row:
        """The row of a mapping of column name to cell, with a located problem per bad cell."""
        values = self.empty.copy()
        problems: list[Problem] | None = None
        for name, raw in cells.items():
            column = self.columns.get(name)
            if column is None:
                continue
            try:
                values[column.position] = column(raw)
            except CellError as error:
                problems = [*(problems or ()), self._problem(number, name, str(error), error.hint)]
            except _Slow:
                problems = [*(problems or ()), self._unusual(number, name, column, raw)]
            else:
                continue
            values[column.position] = shown_as_written(raw)  # an error row shows the cell as it was written
        record = self.table.record_type(values)
        return Row(number, record, tuple(problems or ()), self.table.key_of(record))

    def _unusual(self, number: int, name: str, column: _Column, raw: Any) -> Problem:
        """The problem of a cell the column refused: too long, a NUL byte, or not its pattern."""
        if raw.__class__ is str and len(raw) > MAX_CELL:
            return self._problem(number, name, f"the cell is {len(raw):,} characters long",
                                 f"keep cells under {MAX_CELL:,} characters")
        if raw.__class__ is str and "\x00" in raw:
            return self._problem(number, name, "the cell contains a NUL byte",
                                 "the file may be binary or badly exported; remove the NUL bytes")
        value = column.convert(raw)
        expected = self.table.descriptions.get(name) or (column.pattern.pattern if column.pattern else None)
        return self._problem(number, name, f"{_show(value)} is not valid here", expected)

    def listed(self, number: int, names: Sequence[str], cells: list[str]) -> Row:
        """The row of a CSV line's cells under the file's header ``names`` (as wide as the header)."""
        header = tuple(names)
        fast = self._fast.get(header)
        if fast is None:
            fast = self._fast[header] = self._compile(header)
        try:
            record = fast(cells)
        except (CellError, _Slow):
            return self.row(number, dict(zip(names, cells, strict=True)))
        return Row(number, record, (), self.table.key_of(record))

    def _compile(self, names: tuple[str, ...]) -> Callable[[list[str]], Record]:
        """A function from a header's cells to a record: one expression per column, no loop.

        A repeated cell text is found in its column's shared values without a call; anything
        else goes through the column's converter, which raises for a cell it cannot take.
        """
        first = {name: index for index, name in reversed(list(enumerate(names)))}
        namespace: dict[str, Any] = {"__builtins__": {}, "_R": self.table.record_type, "_M": _MISSING}
        parts = []
        for name, column in self.columns.items():
            index = first.get(name)
            if index is None:
                parts.append("None")
                continue
            namespace[f"_c{column.position}"] = column
            if column.seen is None:
                parts.append(f"_c{column.position}(c{index})")
            else:
                namespace[f"_s{column.position}"] = column.seen
                parts.append(f"(_v if (_v := _s{column.position}.get(c{index}, _M)) is not _M "
                             f"else _c{column.position}(c{index}))")
        # Only the declared columns are named: a header of thousands of columns costs nothing more.
        used = sorted({first[name] for name in self.columns if name in first})
        cells = "".join(f"    c{index} = _cells[{index}]\n" for index in used)
        source = f"def _fast(_cells):\n{cells}    return _R(({', '.join(parts)},))\n"
        fast: Callable[[list[str]], Record] = define(
            source, namespace, f"<mentorrules {self.table.name} reader>")["_fast"]
        return fast

    def cells(self, number: int, cells: Cells) -> Row:
        """The row of a reader's cells, or an error row for a row the reader could not split."""
        if isinstance(cells, tuple):
            return self.broken(number, cells[0], cells[1], known=cells[2] if len(cells) > 2 else None)
        return self.row(number, cells)

    def _problem(self, number: int, name: str, message: str, hint: str | None) -> Problem:
        return Problem("MR310", f"column {name!r}: {message}", Location(self.path, row=number, field=name),
                       hint=hint)

    def broken(self, number: int, message: str, hint: str | None = None, code: str = "MR311",
               known: Mapping[str, Any] | None = None) -> Row:
        """A row that could not be split into cells; its key is kept when it can be read."""
        values: dict[str, Any] = {}
        for name in self.table.key:
            try:
                values[name] = to_text((known or {}).get(name))
            except CellError:
                continue
        record = self.table.record_of(values)
        problem = Problem(code, message, Location(self.path, row=number), hint=hint)
        return Row(number, record, (problem,), self.table.key_of(record))


# -- files ---------------------------------------------------------------------------------------


def table_of(path: Path, tables: Mapping[str, Table]) -> str | None:
    """The table a file holds, from its name: ``payouts.csv``, ``payouts-2025.jsonl``."""
    stem = path.name.lower().removesuffix(path.suffix.lower())
    for name in tables:
        if stem == name or re.match(rf"{name}[-_. ]", stem):
            return name
    return None


def read(paths: Sequence[Path], tables: Mapping[str, Table], streamed: Collection[str] = (),
         kept: Mapping[str, Collection[str]] | None = None,
         interned: Mapping[str, Collection[str]] | None = None, columns: ColumnReader | None = None) -> DataSet:
    """Read directories, table files and workbooks into a :class:`DataSet`.

    CSV files of the ``streamed`` tables are checked (UTF-8, header) but not held: their rows
    are read again each time they are visited (:class:`StreamedRows`). When ``kept`` names the
    columns to keep of a table, its other cells are checked but not kept. The text of the
    ``interned`` columns (ids that link tables: a person's id in people, pairings and payouts)
    becomes one string object per id, not one per table.
    """
    data = DataSet()
    reading = _Reading(tables, data, streamed, kept or {}, interned or {}, columns)
    candidates: list[tuple[Path, bool]] = []
    for path in paths:
        if path.is_dir():
            for member in sorted(path.iterdir()):
                if member.suffix.lower() not in FORMATS or not member.is_file():
                    continue
                if member.suffix.lower() == ".xlsx" or table_of(member, tables):
                    candidates.append((member, False))
                else:
                    data.ignored[str(member)] = _ignored_because(member, tables)
        elif path.is_file():
            candidates.append((path, True))
        elif path.exists():  # a pipe or a device would block or never end (/dev/zero)
            data.problems.append(Problem("MR300", "not a regular file (a pipe, a socket or a device)",
                                         Location(str(path)), expected="a data file or a folder of them",
                                         hint="save the data to a file and give its path"))
        else:
            data.problems.append(Problem("MR300", "no such file or directory", Location(str(path))))
    # Two files for one table: every one of them is named, and none is read.
    by_table: dict[str, list[Path]] = {}
    for path, _ in candidates:
        name = table_of(path, tables)
        if name is not None:
            by_table.setdefault(name, []).append(path)
    for name, found in by_table.items():
        if len(found) > 1:
            data.problems.append(Problem(
                "MR303", f"{len(found)} files hold the table {name!r}: {', '.join(map(str, found))}",
                Location(str(found[0])), expected="one file per table",
                hint="keep one of them, or move the others out of the folder"))
    doubled = {path for found in by_table.values() if len(found) > 1 for path in found}
    for path, explicit in candidates:
        if path not in doubled:
            reading.file(path, explicit=explicit)
    if "payouts" not in data.tables and not data.problems:
        data.problems.append(Problem(
            "MR301", "no payouts table was found", Location(", ".join(str(p) for p in paths)),
            expected="a file named payouts.csv, payouts.json, payouts.jsonl or a payouts sheet",
            hint="name the payout file after its table, e.g. payouts.csv"))
    data.tables = {name: data.tables[name] for name in sorted(data.tables, key=_table_order)}
    data.sources = {name: data.sources[name] for name in data.tables}
    return data


def _ignored_because(path: Path, tables: Mapping[str, Table]) -> str:
    """Why a file of a data folder is not read, with the table its name nearly names.

    >>> from mentorrules.loading.tables import contract
    >>> _ignored_because(Path("pairing.csv"), {"pairings": contract()["pairings"]})
    "its name names no table: did you mean 'pairings.csv'?"
    """
    stem = path.name.lower().removesuffix(path.suffix.lower())
    close = get_close_matches(stem, list(tables), n=1, cutoff=0.75)
    if close:
        return f"its name names no table: did you mean {close[0] + path.suffix.lower()!r}?"
    return "its name names no table"


def _table_order(name: str) -> tuple[int, str]:
    return (TABLE_ORDER.index(name) if name in TABLE_ORDER else len(TABLE_ORDER), name)


@dataclass
class _Reading:
    """What reading a data set needs at each file: the contract, where rows go, what to stream and keep."""

    tables: Mapping[str, Table]
    data: DataSet
    streamed: Collection[str]
    kept: Mapping[str, Collection[str]]
    interned: Mapping[str, Collection[str]]
    columns: ColumnReader | None = None

    def typer(self, table: Table, path: str) -> RowTyper:
        return RowTyper(table, path, self.kept.get(table.name), self.interned.get(table.name, ()))

    def file(self, path: Path, *, explicit: bool) -> None:
        tables, data = self.tables, self.data
        suffix = path.suffix.lower()
        where = Location(str(path))
        if suffix not in FORMATS:
            data.problems.append(Problem("MR300", f"unknown file type {path.suffix!r}", where,
                                         expected="a .csv, .json, .jsonl or .xlsx file"))
            return
        if suffix == ".xlsx":
            from mentorrules.inputs.workbooks import read_workbook

            for name, cells, problem in read_workbook(path, tables, table_of(path, tables), explicit):
                if problem is not None and not explicit and problem.message == NO_TABLE_SHEET \
                        and table_of(path, tables) is None:  # december budget.xlsx, not payouts.xlsx
                    data.ignored[str(path)] = f"{NO_TABLE_SHEET} (sheets are named after tables, e.g. payouts)"
                elif problem is not None:
                    data.problems.append(problem)
                else:
                    source = f"{path}[{name}]"
                    _add_cells(data, self.typer(tables[name], source), source, cells)
            return
        table_name = table_of(path, tables)
        if table_name is None:
            if explicit:
                data.problems.append(Problem("MR300", "the file name does not name a table", where,
                                             expected=one_of(tables), hint="rename it, e.g. payouts.csv"))
            return
        table = tables[table_name]
        if table_name in data.tables:
            data.problems.append(_second_file(table, str(path), data))
            return
        problem = _utf8_problem(path)
        if problem is not None:
            data.problems.append(problem)
            return
        typer = self.typer(table, str(path))
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                if suffix == ".csv":
                    header = _csv_header(handle, table, str(path))
                    if header is not None:
                        data.problems.append(header)
                    elif table_name in self.streamed:
                        data.tables[table_name] = StreamedRows(table, path, str(path),
                                                               self.interned.get(table_name, ()))
                        data.sources[table_name] = str(path)
                    elif not self._in_columns(table, path):
                        handle.seek(0)
                        _add(data, table, str(path), _csv_typed(typer, handle))
                elif suffix == ".jsonl":
                    _add_cells(data, typer, str(path), _jsonl_rows(handle))
                else:
                    _add_cells(data, typer, str(path), _json_rows(handle.read()))
        except OSError as error:
            data.problems.append(Problem("MR300", f"cannot read the file: {error.strerror}", where))


    def _in_columns(self, table: Table, path: Path) -> bool:
        """Whether the column reader took the table (the same rows as the reference's)."""
        if self.columns is None:
            return False
        found = self.columns(path, table, str(path), self.kept.get(table.name), self.interned.get(table.name, ()))
        if found is None:
            return False
        self.data.tables[table.name], self.data.columns[table.name] = found
        self.data.sources[table.name] = str(path)
        return True


def _utf8_problem(path: Path) -> Problem | None:
    """A problem if the file cannot be read or is not UTF-8, checked in chunks (big files fit)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0  # bytes given to the decoder so far
    try:
        with path.open("rb") as handle:
            while True:
                chunk = handle.read(1 << 20)
                pending = len(decoder.getstate()[0])  # an incomplete character from the last chunk
                try:
                    decoder.decode(chunk, final=not chunk)
                except UnicodeDecodeError as error:
                    return _not_utf8(path, offset - pending + error.start)
                if not chunk:
                    return None
                offset += len(chunk)
    except OSError as error:
        return Problem("MR300", f"cannot read the file: {error.strerror}", Location(str(path)))


def _not_utf8(path: Path, offset: int) -> Problem:
    return Problem("MR305", f"the file is not UTF-8 (invalid byte at offset {max(offset, 0)})", Location(str(path)),
                   hint="save or export the file as UTF-8 (CSV UTF-8 in Excel)")


def _second_file(table: Table, path: str, data: DataSet) -> Problem:
    return Problem("MR303", f"a second file for the table {table.name!r}", Location(path),
                   expected=f"one file per table; the first was {data.sources[table.name]}")


def _missing_columns(table: Table, path: str, columns: Collection[str]) -> Problem | None:
    return missing_columns(table, Location(path), list(columns))


def _add_cells(data: DataSet, typer: RowTyper, path: str, cells: Iterable[Cells]) -> None:
    """Add a table given as mappings of column to cell (JSON, JSONL, a workbook's sheet)."""
    columns: set[str] = set()

    def rows() -> Iterator[Row]:
        for number, row_cells in enumerate(cells, start=1):
            if not isinstance(row_cells, tuple):
                columns.update(row_cells)
            row = typer.cells(number, row_cells)
            row.line = getattr(cells, "line", None)  # a sheet's row, a JSONL file's line
            yield row

    _add(data, typer.table, path, rows(), lambda: columns)


def _add(data: DataSet, table: Table, path: str, rows: Iterable[Row],
         columns: Callable[[], Collection[str]] | None = None) -> None:
    """Add a table read into memory; ``columns`` (when the header was not checked before) gives
    the columns seen, checked for the required ones once the rows are read."""
    if table.name in data.tables:
        data.problems.append(_second_file(table, path, data))
        return
    held = Rows(table)
    try:
        for row in rows:
            held.append(row)
    except _FileProblem as error:
        data.problems.append(Problem(error.code, error.message, Location(path, line=error.line,
                                                                          column=error.column),
                                     expected=error.expected, hint=error.hint))
        return
    except MentorRulesError as error:  # a workbook damaged part-way through a sheet
        data.problems.extend(error.problems)
        return
    seen = columns() if columns is not None else ()
    problem = _missing_columns(table, path, seen) if seen else None
    if problem is not None:
        data.problems.append(problem)
        return
    data.tables[table.name] = held
    data.sources[table.name] = path


class _FileProblem(Exception):
    def __init__(self, code: str, message: str, line: int | None = None, column: int | None = None,
                 expected: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.line, self.column = code, message, line, column
        self.expected, self.hint = expected, hint


def _csv_reader(lines: Iterable[str]) -> Iterator[list[str]]:
    # The csv module refuses fields over 128 KiB; allow larger ones so that our own limit
    # (MAX_CELL) reports them as a located cell problem. This limit is process-wide and only grows.
    csv.field_size_limit(max(csv.field_size_limit(), 4 * MAX_CELL))
    return csv.reader(lines, strict=False)


def _csv_header(handle: TextIO, table: Table, path: str) -> Problem | None:
    """A problem with a CSV file's header: none at all (an empty file), or required columns missing."""
    try:
        header = next(_csv_reader(handle), None)
    except csv.Error as error:
        return Problem("MR304", f"the header cannot be read: {error}", Location(path, line=1))
    if header is not None and len(header) > MAX_COLUMNS:
        return Problem("MR304", f"the header has {len(header):,} columns", Location(path, line=1),
                       expected=f"at most {MAX_COLUMNS:,} columns (a spreadsheet's limit)")
    if header is not None and not any(name.strip() for name in header) and table.required:
        try:  # a blank first line, the header below it?
            below = [row for _, row in zip(range(TITLE_LINES), _csv_reader(handle), strict=False)]
        except csv.Error:
            below = []
        problem = missing_columns(table, Location(path), [], below)
        if problem is not None and "title" in problem.message:
            return problem
    if header is None or not any(name.strip() for name in header):
        return Problem("MR302", "the file is empty: it has no header row", Location(path),
                       expected=f"a first line naming the columns, with at least {', '.join(table.required)}"
                       if table.required else "a first line naming the columns",
                       hint="export the table again with its header")
    names = [name.strip() for name in header]
    if all(name in names for name in table.required):
        return None
    try:  # the rows below, where the header may be (under title lines)
        below = [row for _, row in zip(range(TITLE_LINES), _csv_reader(handle), strict=False)]
    except csv.Error:
        below = []
    return missing_columns(table, Location(path), names, below)


def _csv_typed(typer: RowTyper, lines: Iterable[str]) -> Iterator[Row]:
    """The typed rows of a CSV file; blank lines are skipped, a line that cannot be split into
    the header's cells is an error row that keeps what can be read of it (its key)."""
    reader = _csv_reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as error:
        raise _FileProblem("MR304", f"the header cannot be read: {error}", line=1) from None
    names = [name.strip() for name in header]
    if len(names) > MAX_COLUMNS:
        raise _FileProblem("MR304", f"the header has {len(names):,} columns", line=1,
                           expected=f"at most {MAX_COLUMNS:,} columns (a spreadsheet's limit)")
    duplicates = repeated_names(names)
    width = len(names)
    repeated = set(duplicates)
    number = 0
    line = 1  # the header's; a spreadsheet numbers every record, blank ones too
    while True:
        line += 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            number += 1
            row = typer.broken(number, f"the row cannot be read as CSV: {error}", "check the quotes in this row")
            row.line = line
            yield row
            continue
        if not cells or (len(cells) == 1 and not cells[0]):
            continue
        number += 1
        if not duplicates and len(cells) == width:
            row = typer.listed(number, names, cells)
            row.line = line
            yield row
            continue
        # What can be read of a row that cannot be trusted, so that the report shows its key.
        known = {name: cell for name, cell in zip(names, cells, strict=False) if name not in repeated}
        if duplicates:
            row = typer.broken(number, f"the header names {', '.join(map(repr, duplicates))} more than once, so "
                               "this row's values are ambiguous", "rename or remove the repeated column", known=known)
        else:
            row = typer.broken(number, f"the row has {len(cells)} cells but the header has {width}",
                               "check for a missing or extra separator, or an unquoted comma in a cell", known=known)
        row.line = line
        yield row


def _json_rows(text: str) -> Iterator[Cells]:
    try:
        document = json.loads(text, parse_float=Decimal, parse_constant=_no_constant, object_pairs_hook=_object)
    except RecursionError:
        raise _FileProblem("MR306", "the JSON is nested too deeply",
                           expected="a list of objects whose values are plain values") from None
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
        yield _json_row(item)


def _jsonl_rows(lines: Iterable[str]) -> Numbered:
    return Numbered(_numbered_jsonl_rows(lines))


def _numbered_jsonl_rows(lines: Iterable[str]) -> Iterator[tuple[int | None, Cells]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line, parse_float=Decimal, parse_constant=_no_constant, object_pairs_hook=_object)
        except RecursionError:
            yield number, ("the line is JSON nested too deeply", "give each row as an object of plain values")
            continue
        except ValueError as error:
            yield number, (f"the line is not valid JSON: {getattr(error, 'msg', error)}", None)
            continue
        yield number, _json_row(item)


class _Repeated(dict[str, Any]):
    """A JSON object that names a key more than once (``json`` would keep the last value silently)."""

    repeated: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    row = dict(pairs)
    if len(row) < len(pairs):
        row = _Repeated(row)
        row.repeated = tuple(repeated_names(name for name, _ in pairs))
    return row



def _json_row(item: Any) -> Cells:
    if isinstance(item, _Repeated):  # as for a CSV header naming a column twice
        return (f"the row names {', '.join(map(repr, item.repeated))} more than once, so its value is ambiguous",
                "remove or rename the repeated key",
                {name: value for name, value in item.items() if name not in item.repeated})
    return item if isinstance(item, dict) else (f"the row is {type(item).__name__}, not an object", None)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def rows_from(table: Table, records: Iterable[Mapping[str, Any]], source: str = "<input>") -> Rows:
    """Typed rows from Python mappings, as the library's callers pass them."""
    typer = RowTyper(table, source)
    rows = Rows(table)
    for number, record in enumerate(records, start=1):
        if isinstance(record, Mapping):
            rows.append(typer.row(number, record))
        else:
            rows.append(typer.broken(number, f"the row is {type(record).__name__}, not a mapping"))
    return rows
