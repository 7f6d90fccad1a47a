"""A CSV file -> typed Polars columns with the same values, problems, keys and lines as the
reference reader (:func:`mentorrules.inputs.reading._csv_typed`), in about a quarter of its time.

Meant for the columnar backend: once the data set has been checked as today (UTF-8, header,
required columns: ``read()``), call :func:`csv_columns` for a CSV table instead of reading its
rows. When it returns None the file is not plain enough to be sure of the split (a quoted cell
over several lines, a lone carriage return, a NUL byte, a repeated header name, a line longer
than the ``csv`` module takes, ...): read it with the reference reader instead. Rows that
cannot be read are made by the reference :class:`~mentorrules.inputs.reading.RowTyper` itself,
so their problems are the reference's word for word; :meth:`TableColumns.rows` gives the
reference's :class:`~mentorrules.inputs.reading.Rows` for a table that must also be held as
rows.

Why it is the same by construction:

- The split. Without a lone ``\\r`` or a NUL byte, each line of a file is one record of the
  ``csv`` module unless a quoted cell runs on past it (then the file is declined). A line
  without a quote character is split at every comma, as Polars splits it without quoting: a
  chunk goes to Polars' multi-column reader only when it has no quote, holds exactly
  ``width - 1`` commas per line in total, and Polars (reading the last column) refuses a line
  with more fields than the header, so none has fewer and none is blank. Other chunks are read
  line by line: lines without quotes and with the header's commas are split at them; lines
  whose cells are plain or plainly quoted (``"a, ""b"" c"``) are split by Polars with quotes
  and must come out with the header's width; any other line is split by the ``csv`` module.
- The typing. A text cell is stripped of exactly the characters Python's ``str.strip`` removes
  (checked against ``str.isspace`` by the tests) and empty becomes null; every other cell goes
  through the reference converter once per distinct text (``CONVERTERS``), and the result is
  mapped back onto the column. A pattern is checked on ``str(value)`` once per distinct value,
  as ``_Column`` does.
- The numbering. A row's number counts the records that are not blank (``[]`` or ``['']``);
  its line is its physical line (header = 1), the ``csv`` module's record count for such a file.

>>> import tempfile
>>> from mentorrules.loading.tables import contract
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "people.csv").write_text("person_id,career_year\\nT-1, 2\\n\\nT-2,two\\n")
>>> read = csv_columns(folder / "people.csv", contract()["people"], "people.csv", kept={"career_year"})
>>> read.count, read.frame.rows(), read.keys.to_list(), read.lines.to_list()
(2, [(1, 'T-1', 2)], ['T-1', 'T-2'], [2, 4])
>>> read.unreadable[2].problems[0].message
"column 'career_year': 'two' is not a whole number"
"""

from __future__ import annotations

import csv
import gc
import sys
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import chain, islice, repeat
from pathlib import Path
from typing import Any, BinaryIO, overload

import polars as pl

from mentorrules.inputs.reading import (
    CONVERTERS,
    MAX_CELL,
    MAX_COLUMNS,
    CellError,
    Lines,
    Row,
    Rows,
    RowTyper,
    _csv_reader,
)
from mentorrules.inputs.workbooks import repeated_names
from mentorrules.loading.tables import Record, Table

# Every character for which str.isspace() is true: what str.strip() removes (tests check it).
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
              "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
CHUNK = 1 << 22  # bytes handed to Polars at a time: the raw text of one chunk, not the file, is held
_BOM = b"\xef\xbb\xbf"
_QUOTED_CELL = r'"(?:[^"]|"")*"'  # a cell quoted plainly: quotes around it, and doubled inside
_QUOTED_LINE = rf'^(?:[^",]*|{_QUOTED_CELL})(?:,(?:[^",]*|{_QUOTED_CELL}))*$'  # cells plain or plainly quoted
_SENTINEL = "\x01end"  # a line after a line, to see whether the csv module ends the record with it
_FIELD_LIMIT = 4 * MAX_CELL  # characters in a field the csv module takes (reading._csv_reader)
_WIDEST = 12  # decimal places a cell may write (reading._DECIMAL)
_TYPES: dict[str, Any] = {"text": pl.String, "integer": pl.Int64, "date": pl.Date, "boolean": pl.Boolean,
                          "list": pl.List(pl.String), "decimal": pl.Decimal(38, _WIDEST)}
_BAD = object()  # a cell text its converter refuses
_SLICE = 65_536  # rows made into records at a time by TableColumns.rows()
_REMEMBERED = 200_000  # distinct cell texts remembered per column (as _Column.LIMIT)
_ODD_SPACES = (b"\x1c", b"\x1d", b"\x1e", b"\x1f")  # what str.strip() removes and Unicode does not call space


class _NotPlain(Exception):
    """The file is not plain enough to be sure the split is the ``csv`` module's."""


@dataclass
class TableColumns:
    """One CSV table read into columns.

    ``frame`` holds the readable rows in input order: ``__row`` (the row number, Int64), then one
    column per kept field, typed as the columnar backend's frames are (text ``String``, integer
    ``Int64``, decimal ``Decimal(38, s)`` plus ``<field>.__text`` with ``str()`` of the exact
    value, date ``Date``, boolean ``Boolean``, list ``List(String)``). ``keys`` and ``lines`` have
    one entry per row, readable or not (row ``n`` at index ``n - 1``); ``unreadable`` holds the
    rows with problems as the reference reader makes them.
    """

    table: Table
    count: int
    frame: pl.DataFrame
    keys: pl.Series
    lines: pl.Series
    unreadable: dict[int, Row] = field(default_factory=dict)
    interned: Collection[str] = ()  # text columns whose values rows() interns, as the reference does

    def lazy_rows(self) -> Rows:
        """The same :class:`Rows` as :meth:`rows`, whose records are made from the columns when
        they are asked for (:class:`ColumnRecords`): what the columnar backend holds."""
        rows = Rows(self.table)
        rows.records = ColumnRecords(self, self._makers())
        rows.problems = {number: row.problems for number, row in sorted(self.unreadable.items())}
        rows.lines = self.line_runs()
        return rows

    def _makers(self) -> list[Callable[[int, int], Iterable[Any]]]:
        """Per field, a function of (offset, length) giving the values of a slice of readable rows."""
        table, frame = self.table, self.frame
        columns: list[Callable[[int, int], Iterable[Any]]] = []
        for name, kind in table.fields.items():
            if name not in frame.columns:
                columns.append(lambda offset, length: repeat(None, length))
            elif kind == "decimal":
                columns.append(_values(frame[f"{name}.__text"], Decimal, share=True))
            else:  # a key never repeats; lists are made afresh for each row, as the reference does
                columns.append(_values(frame[name], sys.intern if kind == "text" and name in self.interned else None,
                                       share=kind in ("text", "date") and name not in table.key))
        return columns

    def rows(self) -> Rows:
        """The reference's :class:`Rows` (records, problems, lines) of this table, for a table
        held in memory; columns not kept are empty (None), as the reference leaves them."""
        table, frame = self.table, self.frame
        columns = self._makers()
        make = table.record_type
        rows = Rows(table)
        collecting = gc.isenabled()
        gc.disable()  # a million new tuples would set off collections that find nothing to free
        try:
            # In slices, so that a column's Python values are never all listed at once.
            readable: Iterator[Record] = chain.from_iterable(
                map(make, zip(*(column(offset, min(_SLICE, frame.height - offset)) for column in columns),
                              strict=True))
                for offset in range(0, frame.height, _SLICE))
            records: list[Record] = []
            for number, row in sorted(self.unreadable.items()):  # the readable rows before it, then it
                records.extend(islice(readable, number - 1 - len(records)))
                records.append(row.values)
                rows.problems[number] = row.problems
            records.extend(readable)
            rows.records = records
        finally:
            if collecting:
                gc.enable()
        rows.lines = self.line_runs()
        return rows

    def line_runs(self) -> Lines:
        """The lines as :class:`Lines` keeps them: the few places where line - row changes."""
        offsets = pl.DataFrame({"start": pl.int_range(1, self.count + 1, eager=True, dtype=pl.Int64),
                                "offset": self.lines - pl.int_range(1, self.count + 1, eager=True, dtype=pl.Int64)})
        changes = offsets.filter(pl.col("offset") != pl.col("offset").shift(1).fill_null(-1))
        lines = Lines()
        lines.starts = changes["start"].to_list()
        lines.offsets = changes["offset"].to_list()
        return lines


class ColumnRecords(Sequence[Record]):
    """A held table's records (row ``n`` at index ``n - 1``, unreadable rows included) made from
    its columns when they are asked for, a slice at a time, the last few slices kept: the rows of
    a large table never all sit in memory as Python objects. Equal, record by record, to the
    records :meth:`TableColumns.rows` makes."""

    SLICE = 256  # records made at once: rows are looked up scattered (a payout's payee)
    KEPT = 2_048  # slices kept (about 520,000 records)

    def __init__(self, columns: TableColumns, makers: list[Callable[[int, int], Iterable[Any]]]) -> None:
        self.columns = columns
        self._makers = makers
        self._unreadable = sorted(columns.unreadable)
        self._values = {number: row.values for number, row in columns.unreadable.items()}
        self._slices: OrderedDict[int, list[Record]] = OrderedDict()

    def __len__(self) -> int:
        return self.columns.count

    def _slice(self, start: int) -> list[Record]:
        length = min(self.SLICE, self.columns.frame.height - start)
        return list(map(self.columns.table.record_type,
                        zip(*(make(start, length) for make in self._makers), strict=True)))

    @overload
    def __getitem__(self, index: int) -> Record: ...
    @overload
    def __getitem__(self, index: slice) -> list[Record]: ...
    def __getitem__(self, index: int | slice) -> Record | list[Record]:
        if isinstance(index, slice):
            return [self[position] for position in range(*index.indices(len(self)))]
        number = range(1, len(self) + 1)[index]  # IndexError as a list gives it
        if number in self._values:
            return self._values[number]
        position = number - 1 - bisect_left(self._unreadable, number)  # in the frame of readable rows
        start = position - position % self.SLICE
        records = self._slices.get(start)
        if records is None:
            records = self._slices[start] = self._slice(start)
            if len(self._slices) > self.KEPT:
                self._slices.popitem(last=False)
        else:
            self._slices.move_to_end(start)
        return records[position - start]

    def __iter__(self) -> Iterator[Record]:
        number, values = 1, self._values
        for start in range(0, self.columns.frame.height, self.SLICE):
            for record in self._slices.get(start) or self._slice(start):
                while number in values:
                    yield values[number]
                    number += 1
                yield record
                number += 1
        while number <= len(self):
            yield values[number]
            number += 1

    def first_numbers(self) -> tuple[dict[Any, int], list[int]]:
        """The index of a unique-keyed table, as the reference builds it over the readable rows:
        each key's first row number, and the later rows whose key repeats."""
        key = list(self.columns.table.key)
        frame = self.columns.frame.select("__row", *key)
        first = (pl.struct(key) if len(key) > 1 else pl.col(key[0])).is_first_distinct()
        firsts = frame.filter(first)
        keys: Iterable[Any] = firsts[key[0]].to_list() if len(key) == 1 else \
            zip(*(firsts[name].to_list() for name in key), strict=True)
        index = dict(zip(keys, firsts["__row"].to_list(), strict=True))
        return index, frame.filter(~first)["__row"].to_list()


def held_columns(path: Path, table: Table, source: str, kept: Collection[str] | None,
                 interned: Collection[str]) -> tuple[Rows, TableColumns] | None:
    """A held table's rows and its columns, or None (a :data:`~mentorrules.inputs.reading.ColumnReader`
    for :func:`~mentorrules.inputs.reading.read`: the columnar backend reads held tables so)."""
    found = csv_columns(path, table, source, kept, interned)
    return None if found is None else (found.lazy_rows(), found)


def csv_columns(path: Path, table: Table, source: str, kept: Collection[str] | None = None,
                interned: Collection[str] = ()) -> TableColumns | None:
    """The table of a CSV file as typed columns, or None when the file is not plain enough to be
    sure (the caller then uses the reference reader). ``source`` names the file in problems;
    ``kept`` and ``interned`` are as for :class:`RowTyper` (cells of columns not kept are
    checked, not kept; interning is a memory detail of row objects and changes no value)."""
    try:
        return _Reader(path, table, source, kept, interned).read()
    except (_NotPlain, OSError, UnicodeDecodeError, pl.exceptions.PolarsError):
        return None


class _Field:
    """How one declared column present in the header is typed, with what was learnt of its
    distinct cell texts so far (each is converted once per file)."""

    def __init__(self, name: str, kind: str, index: int, typer: RowTyper, kept: bool) -> None:
        self.name, self.kind, self.index, self.kept = name, kind, index, kept
        self.convert = CONVERTERS[kind]
        self.pattern = typer.table.patterns.get(name)
        self.known: dict[str | None, Any] = {}  # cell text (or stripped text) -> value or _BAD

    def value(self, raw: str) -> Any:
        """The value of a cell text as ``_Column`` takes it, or _BAD."""
        try:
            value = self.convert(raw)
        except CellError:
            return _BAD
        if value is not None and self.pattern is not None and not self.pattern.fullmatch(str(value)):
            return _BAD
        return value

    def typed(self, raw: pl.Series, odd_spaces: bool) -> tuple[list[pl.Series], pl.Series | None]:
        """The typed column(s) of a chunk's cells, and where a cell cannot be read (or None)."""
        if self.kind == "text":
            # Polars' own strip removes the Unicode White_Space characters: str.strip()'s but
            # the four information separators, which the chunk is checked for.
            stripped = raw.str.strip_chars(WHITESPACE if odd_spaces else None)
            value = stripped.set(stripped.str.len_bytes() == 0, None).alias(self.name)
            if self.pattern is None:
                return [value], None
            known = self.known
            distinct = value.unique().drop_nulls().to_list()
            if len(known) + len(distinct) > _REMEMBERED:
                known.clear()
            for text in distinct:
                if text not in known:
                    known[text] = self.pattern.fullmatch(text) is not None
            refused = [text for text in distinct if not known[text]]
            return [value], (value.is_in(refused).fill_null(False) if refused else None)
        known = self.known
        texts = raw.unique().drop_nulls()
        distinct = texts.to_list()
        if len(known) + len(distinct) > _REMEMBERED:
            known.clear()  # a column of (nearly) unique cells: remembering them would only cost memory
        for text in distinct:
            if text not in known:
                known[text] = self.value(text)
        results = [known[text] for text in distinct]
        refused = [text for text, result in zip(distinct, results, strict=True) if result is _BAD]
        values = [None if result is _BAD else result for result in results]
        where = raw.cast(pl.Enum(texts)).to_physical()  # the index of each cell's text in distinct
        typed = pl.Series(self.name, values, dtype=_TYPES[self.kind]).gather(where).alias(self.name)
        columns = [typed]
        if self.kind == "decimal":
            texts = pl.Series([None if v is None else str(v) for v in values], dtype=pl.String)
            columns.append(texts.gather(where).alias(f"{self.name}.__text"))
        return columns, (raw.is_in(refused).fill_null(False) if refused else None)


class _Reader:
    def __init__(self, path: Path, table: Table, source: str, kept: Collection[str] | None,
                 interned: Collection[str]) -> None:
        if any(table.fields[name] != "text" for name in table.key):
            raise _NotPlain  # keys are text in every contract; str() of other values is not vectorised here
        self.path, self.table = path, table
        self.typer = RowTyper(table, source, kept, interned)
        self.interned = interned
        self.kept = kept
        self.number = 0  # rows so far
        self.line = 1  # the physical line before the chunk's first (the header's, at first)
        self.parts: list[pl.DataFrame] = []
        self.indexes: list[pl.DataFrame] = []  # number, key, line of every row
        self.unreadable: dict[int, Row] = {}

    # -- the file ------------------------------------------------------------------------------
    def read(self) -> TableColumns:
        with self.path.open("rb") as handle:
            position = len(_BOM) if handle.read(len(_BOM)) == _BOM else 0  # utf-8-sig removes one
            first = self.text(handle, position)
            if first is None:
                raise _NotPlain  # no header: the reference reads no row, the caller reports the file
            header = first[:first.find(b"\n") + 1] or first
            self.header(header)
            position += len(header)
            while (raw := self.text(handle, position)) is not None:
                self.chunk(raw)
                position += len(raw)
        return self.columns()

    @staticmethod
    def text(handle: BinaryIO, position: int) -> bytes | None:
        """The whole lines from ``position`` on, about CHUNK bytes of them (more for a long line)."""
        size = CHUNK
        while True:
            handle.seek(position)
            raw = handle.read(size)
            if len(raw) < size:  # the end of the file
                return raw or None
            cut = raw.rfind(b"\n") + 1
            if cut:
                return raw if cut == len(raw) else raw[:cut]
            size *= 2

    def header(self, raw: bytes) -> None:
        _plain(raw)
        cells = _cells(raw.decode("utf-8").removesuffix("\n").removesuffix("\r"))
        names = [name.strip() for name in cells]
        if not any(names) or len(names) > MAX_COLUMNS or repeated_names(names):
            raise _NotPlain  # no header, too wide, or every row broken: the reference's business
        self.width = len(names)
        self.names = names
        fields = self.table.fields
        present = {name: index for index, name in enumerate(names) if name in fields}
        if not present:
            raise _NotPlain
        self.fields = [_Field(name, fields[name], index, self.typer,
                              kept=self.kept is None or name in self.kept or name in self.table.key)
                       for name, index in sorted(present.items(), key=lambda item: item[1])]
        self.schema = {f"c{index}": pl.String for index in range(self.width)}
        # The last column is always read: Polars refuses a line with too many fields only when it
        # parses the line to its end, which it does not past the last column asked for.
        self.read_columns = sorted({f.index for f in self.fields} | {self.width - 1})

    def chunk(self, raw: bytes) -> None:
        _plain(raw)
        lines = raw.count(b"\n") + (not raw.endswith(b"\n"))
        quoted = b'"' in raw
        # Every line has width - 1 commas when they add up and none has more (Polars refuses a
        # line with more fields than the header); so no line is blank either, unless width is 1.
        blank = self.width == 1 and (raw.startswith((b"\n", b"\r\n")) or b"\n\n" in raw or b"\n\r\n" in raw)
        cells: pl.DataFrame | None = None
        self.odd_spaces = any(space in raw for space in _ODD_SPACES)
        if not blank and not quoted and raw.count(b",") == (self.width - 1) * lines:
            framed, skip = self.framed(raw)
            try:
                cells = pl.read_csv(framed, has_header=False, quote_char=None, schema=self.schema,
                                    columns=self.read_columns, empty_string_is_null=False,
                                    truncate_ragged_lines=False, raise_if_empty=False)[skip:]
            except pl.exceptions.PolarsError:
                cells = None
            if cells is not None and cells.height != lines:
                raise _NotPlain
        if cells is not None:
            first = self.line + 1
            numbers = pl.int_range(self.number + 1, self.number + lines + 1, eager=True, dtype=pl.Int64)
            at = pl.int_range(first, first + lines, eager=True, dtype=pl.Int64)
            self.typed(self.named(cells), numbers, at)
            self.number += lines
        else:
            self.careful(raw, lines)
        self.line += lines

    def named(self, cells: pl.DataFrame) -> pl.DataFrame:
        """The columns Polars read, named after the fields (a column read only for its end dropped)."""
        return cells.select([pl.col(f"c{f.index}").alias(f.name) for f in self.fields])

    def framed(self, raw: bytes) -> tuple[bytes, int]:
        """The bytes to give Polars, and how many rows to drop: Polars takes bytes that start as a
        compressed stream does (``x^``, ``(``, ``\\x1f``) for one, so a line of empty cells goes first."""
        if raw.startswith((b"x", b"(", b"\x1f")):
            return b"," * (self.width - 1) + b"\n" + raw, 1
        return raw, 0

    def careful(self, raw: bytes, count: int) -> None:
        """A chunk with blank, ragged or quoted lines, read line by line. A line without quotes
        and with the header's commas is split at them; a line whose quoted cells are all plainly
        quoted (a quote starts the cell and ends it, a quote inside is doubled: ``"a, ""b"" c"``)
        is split by Polars with quotes; any other line by the ``csv`` module itself."""
        framed, skip = self.framed(raw)
        lines = pl.read_csv(framed, has_header=False, separator="\x00", quote_char=None, schema={"line": pl.String},
                            raise_if_empty=False)["line"][skip:]
        if lines.len() != count:
            raise _NotPlain
        _short(lines)
        text = pl.col("line")
        commas_right = text.str.count_matches(",", literal=True) == self.width - 1
        if b'"' in raw:
            quoted = text.str.contains('"', literal=True)
            way = pl.when(~quoted & commas_right).then(0).when(
                quoted & (self.width > 1) & text.str.contains(_QUOTED_LINE)).then(1).otherwise(2)
        else:
            way = pl.when(commas_right).then(0).otherwise(2)
        frame = pl.DataFrame({"line": lines}).with_columns(
            at=pl.int_range(self.line + 1, self.line + 1 + count, dtype=pl.Int64), way=way).filter(text.is_not_null())
        quoted_cells = self.quoted(frame.filter(pl.col("way") == 1)["line"])
        if quoted_cells is None:  # some have not the header's cells: the csv module splits them
            frame = frame.with_columns(way=pl.col("way").replace(1, 2))
        where = (frame["way"] == 2).arg_true()
        split = [_cells(line) for line in frame["line"].gather(where).to_list()]
        blank = [not cells or (len(cells) == 1 and not cells[0]) for cells in split]  # as _csv_typed skips
        if any(blank):
            frame = frame.filter(pl.Series([True] * frame.height).scatter(where, [not b for b in blank]))
            split = [cells for cells, skipped in zip(split, blank, strict=True) if not skipped]
            where = (frame["way"] == 2).arg_true()
        frame = frame.with_columns(number=pl.int_range(self.number + 1, self.number + 1 + frame.height,
                                                       dtype=pl.Int64))
        self.number += frame.height
        parts: list[pl.DataFrame] = []
        plain = frame.filter(pl.col("way") == 0)
        if plain.height:  # these lines, on their own, are a chunk for the multi-column reader
            pieces = raw.split(b"\n")
            chosen = (plain["at"] - (self.line + 1)).to_list()
            framed, skip = self.framed(b"\n".join(map(pieces.__getitem__, chosen)) + b"\n")
            cells = pl.read_csv(framed, has_header=False, quote_char=None, schema=self.schema,
                                columns=self.read_columns, empty_string_is_null=False,
                                truncate_ragged_lines=False, raise_if_empty=False)[skip:]
            if cells.height != plain.height:
                raise _NotPlain
            parts.append(self.named(cells).with_columns(__n=plain["number"], __at=plain["at"]))
        if quoted_cells is not None and quoted_cells.height:
            simple = frame.filter(pl.col("way") == 1)
            parts.append(quoted_cells.with_columns(__n=simple["number"], __at=simple["at"]))
        other = frame[where]
        whole = [index for index, row in enumerate(split) if len(row) == self.width]
        if whole:
            parts.append(pl.DataFrame({f.name: [split[index][f.index] for index in whole] for f in self.fields},
                                      schema={f.name: pl.String for f in self.fields})
                         .with_columns(__n=other["number"][whole], __at=other["at"][whole]))
        if parts:
            rows = pl.concat(parts)
            if len(parts) > 1:
                rows = rows.sort("__n")
            self.typed(rows.drop("__n", "__at"), rows["__n"], rows["__at"])
        keys: list[str] = []
        odd = [index for index, row in enumerate(split) if len(row) != self.width]
        numbers, lines_at = other["number"].to_list(), other["at"].to_list()
        for index in odd:
            number, line = numbers[index], lines_at[index]
            row = self.broken(number, split[index])
            row.line = line
            self.unreadable[number] = row
            keys.append(row.key)
        if keys:
            self.indexes.append(pl.DataFrame({"number": other["number"][odd], "key": pl.Series(keys, dtype=pl.String),
                                              "line": other["at"][odd]}))

    def quoted(self, lines: pl.Series) -> pl.DataFrame | None:
        """The cells of plainly quoted lines, split by Polars; None unless each has the header's
        cells (a last cell is added to each line: it comes out last only on a line of the
        header's width, and Polars refuses a line with more)."""
        if lines.len() == 0:
            return pl.DataFrame(schema={f.name: pl.String for f in self.fields})
        framed, skip = self.framed((lines.str.join(f",{_SENTINEL}\n")[0] + f",{_SENTINEL}\n").encode())
        schema = {**self.schema, f"c{self.width}": pl.String}
        try:
            cells = pl.read_csv(framed, has_header=False, quote_char='"', schema=schema,
                                columns=[*self.read_columns, self.width], empty_string_is_null=False,
                                truncate_ragged_lines=False, raise_if_empty=False)[skip:]
        except pl.exceptions.PolarsError:
            return None
        if cells.height != lines.len():
            raise _NotPlain
        if not (cells[f"c{self.width}"] == _SENTINEL).all():
            return None
        return self.named(cells)

    def broken(self, number: int, cells: list[str]) -> Row:
        """A line whose cells are not as many as the header's, as ``_csv_typed`` reports it."""
        known = dict(zip(self.names, cells, strict=False))  # no name repeats (the header was checked)
        return self.typer.broken(number, f"the row has {len(cells)} cells but the header has {self.width}",
                                 "check for a missing or extra separator, or an unquoted comma in a cell",
                                 known=known)

    # -- the cells -----------------------------------------------------------------------------
    def typed(self, cells: pl.DataFrame, numbers: pl.Series, lines: pl.Series) -> None:
        """Type the rows of a chunk whose lines split into the header's cells."""
        if cells.height == 0:
            return
        typed: list[pl.Series] = []
        refused: pl.Series | None = None
        for column in self.fields:
            _short(cells[column.name])
            if column.kind == "text" and column.pattern is None and not column.kept:
                continue  # any text is valid text: nothing to check, nothing to keep
            series, bad = column.typed(cells[column.name], self.odd_spaces)
            if column.kept:
                typed += series
            if bad is not None:
                refused = bad if refused is None else refused | bad
        frame = pl.DataFrame([numbers.alias("__row"), *typed])
        keys = self.keys_of(frame).alias("key")
        if refused is not None and refused.any():
            where = refused.arg_true()
            texts = cells.filter(refused)
            names = texts.columns
            fixed: list[str] = []
            for number, line, values in zip(numbers.gather(where).to_list(), lines.gather(where).to_list(),
                                            texts.iter_rows(), strict=True):
                row = self.typer.row(number, dict(zip(names, values, strict=True)))
                if not row.problems:
                    raise _NotPlain  # cannot happen: a refused cell is a problem of its row
                row.line = line
                self.unreadable[number] = row
                fixed.append(row.key)
            keys = keys.scatter(where, fixed)
            frame = frame.filter(~refused)
        self.parts.append(frame)
        self.indexes.append(pl.DataFrame({"number": numbers, "key": keys, "line": lines}))

    def keys_of(self, frame: pl.DataFrame) -> pl.Series:
        parts = [frame[name].fill_null("") if name in frame.columns else pl.repeat("", frame.height, eager=True)
                 for name in self.table.key]
        if len(parts) == 1:
            return parts[0].cast(pl.String)
        return pl.DataFrame(parts).select(pl.concat_str(parts, separator="/"))[:, 0]

    def columns(self) -> TableColumns:
        table = self.table
        index = pl.concat(self.indexes) if self.indexes else pl.DataFrame(
            {"number": [], "key": [], "line": []}, schema={"number": pl.Int64, "key": pl.String, "line": pl.Int64})
        if not index["number"].is_sorted():
            index = index.sort("number")
        if index.height != self.number:
            raise _NotPlain
        frame = pl.concat(self.parts, rechunk=False) if self.parts else None  # chunked columns, not copied
        present = {column.name for column in self.fields}
        columns: list[pl.Series] = [frame["__row"] if frame is not None else pl.Series("__row", [], pl.Int64)]
        height = 0 if frame is None else frame.height
        for name, kind in table.fields.items():
            keep = name in table.key or self.kept is None or name in self.kept
            if not keep:
                continue
            if frame is None or name not in present:
                dtype = pl.Decimal(38, 0) if kind == "decimal" else _TYPES[kind]
                columns.append(pl.Series(name, [None] * height, dtype=dtype))
                if kind == "decimal":
                    columns.append(pl.Series(f"{name}.__text", [None] * height, dtype=pl.String))
                continue
            if kind == "decimal":
                texts = frame[f"{name}.__text"]
                scale = max((_scale(text) for text in texts.unique().drop_nulls().to_list()), default=0)
                columns += [frame[name].cast(pl.Decimal(38, scale)), texts]
            else:
                columns.append(frame[name])
        return TableColumns(table, self.number, pl.DataFrame(columns), index["key"].alias("key"),
                            index["line"].alias("line"), dict(sorted(self.unreadable.items())), self.interned)


def _values(column: pl.Series, make: Callable[[Any], Any] | None, *,
            share: bool) -> Callable[[int, int], Iterable[Any]]:
    """The values of a slice of a column as Python objects, each made by ``make`` when given;
    when shared, one object per distinct value (as the reference shares the value of a
    repeated cell text)."""
    distinct = column.unique().drop_nulls() if share else None
    if distinct is None or distinct.len() * 4 > column.len():  # (nearly) all distinct: nothing to share
        if make is None:
            return lambda offset, length: column.slice(offset, length).to_list()
        return lambda offset, length: [None if value is None else make(value)
                                       for value in column.slice(offset, length).to_list()]
    objects = distinct.to_list()
    if make is not None:
        objects = [make(value) for value in objects]
    objects.append(None)
    if column.dtype == pl.String:
        codes = column.cast(pl.Enum(distinct)).to_physical()
    else:
        codes = column.to_frame("value").join(
            distinct.to_frame("value").with_row_index("code"), on="value", how="left", maintain_order="left")["code"]
    codes = codes.fill_null(len(objects) - 1)
    return lambda offset, length: map(objects.__getitem__, codes.slice(offset, length).to_list())


def _scale(text: str) -> int:
    exponent = Decimal(text).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _cells(text: str) -> list[str]:
    """The cells of one line as the ``csv`` module splits it; :class:`_NotPlain` when a quoted
    cell runs on past the line (a record of several lines) or the module refuses the line.

    >>> _cells('a,"b,""c"" d",e'), _cells('""')
    (['a', 'b,"c" d', 'e'], [''])
    """
    try:
        reader = _csv_reader([text, _SENTINEL])
        cells = next(reader)
        if next(reader, None) != [_SENTINEL] or next(reader, None) is not None:
            raise _NotPlain
    except csv.Error:
        raise _NotPlain from None
    return cells


def _plain(raw: bytes) -> None:
    """Refuse bytes the ``csv`` module could split into records otherwise than at line ends (and
    a chunk that starts with a byte-order mark, which Polars would drop)."""
    if b"\x00" in raw or raw.startswith(_BOM) or (
            b"\r" in raw and raw.count(b"\r") != raw.count(b"\r\n")):
        raise _NotPlain
    if _long_line(raw, _FIELD_LIMIT):
        raise _NotPlain  # the csv module refuses a field this long: a broken row of the reference's


def _long_line(raw: bytes, limit: int) -> bool:
    """Whether a line of ``raw`` is longer than ``limit`` bytes; a line that long holds a whole
    window of ``limit // 2`` bytes (of those that start at its multiples) without a line end.

    >>> _long_line(b"ab\\ncdefgh\\nij", 5), _long_line(b"ab\\ncdefg\\nij", 5)
    (True, False)
    """
    half = max(limit // 2, 1)
    for start in range(0, len(raw) - half + 1, half):
        if raw.find(b"\n", start, start + half) < 0:
            return max(map(len, raw.split(b"\n"))) > limit
    return False


def _short(texts: pl.Series) -> None:
    """Refuse a cell (or a line) that may be longer than a cell may be: the reference reports it."""
    longest = texts.str.len_bytes().max()
    if isinstance(longest, int) and longest > MAX_CELL:
        raise _NotPlain

