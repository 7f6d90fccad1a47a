"""Decision tables kept in a spreadsheet (a CSV file or an XLSX sheet) -> dated, checked lookups.

An administrator keeps a table such as the stipend schedule by program and role: one row per
case, input columns that say when the row matches, output columns that say what it gives, and
the dates it holds (``from``, and optionally ``to``, inclusive), as parameters are dated. A
parameter file declares it:

    decision_tables:
      stipend_schedule:
        description: The written stipend schedule per installment.
        file: stipend_schedule.csv           # or a workbook: file: schedule.xlsx, sheet: Stipends
        inputs: [program, role]
        outputs: {amount: decimal}
        hit_policy: unique                   # unique (default), first or collect

and a rule reads it: ``table_lookup("stipend_schedule", program=payout.program, role=payout.role)``,
on the rule's parameter date. An input cell matches a value equal to it (numbers as numbers,
text ignoring case), ``-`` or an empty cell matches anything, ``1..3`` an inclusive range,
``<= 3`` (``<``, ``>=``, ``>``) a bound. With ``unique`` exactly one row in force may match (none,
or several, cannot be checked), ``first`` takes the first in sheet order, ``collect`` gives the
list of every match. Mistakes are located by file and cell (``schedule.xlsx!C7``); ``lint`` finds
overlapping rows and gaps in a unique table. Nothing here runs the spreadsheet's formulas: a
formula whose value was never saved is a mistake.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from mentorrules.errors import Location, Problem, one_of
from mentorrules.loading.expressions import Kind
from mentorrules.loading.parameters import NoValueInForce

HIT_POLICIES = ("unique", "first", "collect")
OUTPUT_KINDS: tuple[Kind, ...] = ("text", "decimal", "integer", "date", "boolean")
MAX_ROWS = 10_000
_BOUNDS = ("<=", ">=", "<", ">")


class NoMatchingRow(NoValueInForce):
    """A lookup found no row, or (unique) several: the rule cannot be checked, and says why."""


@dataclass(frozen=True)
class Condition:
    """One input cell: anything (``-``), a value, a range ``low..high`` or a bound ``<= 3``."""

    text: str
    kind: str  # "any", "equal", "range", "bound"
    value: Any = None
    high: Any = None
    operator: str = ""

    def matches(self, value: Any) -> bool:
        if self.kind == "any":
            return True
        if value is None:
            return False
        number = _number(value)
        if self.kind == "equal":
            if isinstance(self.value, Decimal) and number is not None:
                return number == self.value
            return str(value).strip().casefold() == str(self.value).casefold()
        if number is None:
            return False
        if self.kind == "range":
            return bool(self.value <= number <= self.high)
        return bool({"<=": number <= self.value, ">=": number >= self.value,
                     "<": number < self.value, ">": number > self.value}[self.operator])

    def meets(self, other: Condition) -> bool:
        """Whether some value matches both conditions (for lint's overlaps)."""
        if self.kind == "any" or other.kind == "any":
            return True
        low, high = self.interval()
        other_low, other_high = other.interval()
        if low is None and other_low is None and self.kind == other.kind == "equal":
            return str(self.value).casefold() == str(other.value).casefold()
        if (low is None) != (other_low is None) and "equal" in (self.kind, other.kind):
            return False
        return not ((high is not None and other_low is not None and high < other_low)
                    or (other_high is not None and low is not None and other_high < low))

    def interval(self) -> tuple[Decimal | None, Decimal | None]:
        """The numbers it matches as (low, high) (None: unbounded); (None, None) for text."""
        if self.kind == "equal":
            return (self.value, self.value) if isinstance(self.value, Decimal) else (None, None)
        if self.kind == "range":
            return self.value, self.high
        if self.operator.startswith("<"):
            return Decimal("-Infinity"), self.value
        return self.value, Decimal("Infinity")


@dataclass(frozen=True)
class DecisionRow:
    """One row of a decision table: where it is, when it holds, what it matches and gives."""

    number: int  # its row in the sheet (the header is row 1)
    start: dt.date
    end: dt.date | None
    conditions: tuple[Condition, ...]
    outputs: tuple[Any, ...]

    def in_force(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)

    def shown(self, table: DecisionTable) -> str:
        """The row as a report lists it: ``NM_PILOT/mentor: 1000.00``."""
        inputs = "/".join(condition.text for condition in self.conditions)
        outputs = ", ".join(str(value) for value in self.outputs)
        return f"{inputs}: {outputs}" if inputs else outputs


@dataclass(frozen=True)
class DecisionTable:
    """A loaded decision table; ``lookup(day, values)`` is what ``table_lookup`` compiles to."""

    name: str
    pack: str
    source: str  # the file (and sheet) it was read from, as locations name it
    inputs: tuple[str, ...]
    outputs: tuple[tuple[str, Kind], ...]
    hit_policy: str
    rows: tuple[DecisionRow, ...]
    description: str = ""
    location: Location = field(default_factory=Location)
    illustrative: bool = False  # no public source gives its values: every report lists them
    # (day, values) -> the rows that match, or None when no row is in force that day: a payout
    # file asks the same few questions (program, role, school year) of every row.
    _answers: dict[tuple[Any, ...], tuple[DecisionRow, ...] | None] = field(
        default_factory=dict, compare=False, repr=False)

    @property
    def kind(self) -> Kind:
        """What a lookup gives: the output's kind, a map for several outputs, a list to collect."""
        if self.hit_policy == "collect":
            return "list"
        return self.outputs[0][1] if len(self.outputs) == 1 else "map"

    def __call__(self, day: dt.date, values: Sequence[Any]) -> Any:  # what generated code calls
        return self.lookup(day, values)

    def has(self, day: dt.date, values: Sequence[Any]) -> bool:
        """Whether a row in force on ``day`` matches (``table_has`` in expressions). A table with
        no row in force that day at all (before its first row) has no answer, as a parameter
        has no value before its first date: the rule cannot be checked."""
        found = self._answer(day, values)
        if found is None:
            raise NoMatchingRow(f"{self.name} has no row in force on {day.isoformat()}")
        return bool(found)

    def matching(self, day: dt.date, values: Sequence[Any]) -> list[DecisionRow]:
        return list(self._answer(day, values) or ())

    def _answer(self, day: dt.date, values: Sequence[Any]) -> tuple[DecisionRow, ...] | None:
        key = (day, *values)
        try:
            return self._answers[key]
        except KeyError:
            pass
        except TypeError:  # a value that cannot be a key (a list): asked, not remembered
            return self._match(day, values)
        found = self._match(day, values)
        if len(self._answers) >= 4096:
            self._answers.clear()
        self._answers[key] = found
        return found

    def _match(self, day: dt.date, values: Sequence[Any]) -> tuple[DecisionRow, ...] | None:
        in_force = [row for row in self.rows if row.in_force(day)]
        if not in_force:
            return None
        return tuple(row for row in in_force
                     if all(condition.matches(value) for condition, value in zip(row.conditions, values, strict=True)))

    def lookup(self, day: dt.date, values: Sequence[Any]) -> Any:
        """The output of the row that matches ``values`` (in the order of ``inputs``) on ``day``.

        >>> table = read_rows("t", "core", "t.csv", ["from", "role", "amount"],
        ...     [["2016-07-01", "mentor", "1000.00"], ["2016-07-01", "-", "500.00"]],
        ...     ("role",), (("amount", "decimal"),), "first")[0]
        >>> table.lookup(dt.date(2025, 9, 1), ["mentee"])
        Decimal('500.00')
        """
        return self.result(self.row_for(day, values) if self.hit_policy != "collect"
                           else self.matching(day, values))

    def row_for(self, day: dt.date, values: Sequence[Any]) -> DecisionRow:
        """The row a unique or first lookup uses; raises :class:`NoMatchingRow` when none does."""
        answer = self._answer(day, values)
        if answer is None:
            raise NoMatchingRow(f"{self.name} has no row in force on {day.isoformat()}")
        found = list(answer)
        asked = ", ".join(f"{name}={_plain(value)}" for name, value in zip(self.inputs, values, strict=True))
        if not found:
            raise NoMatchingRow(f"no row of {self.name} matches {asked} on {day.isoformat()}")
        if self.hit_policy == "unique" and len(found) > 1:
            rows = ", ".join(str(row.number) for row in found)
            raise NoMatchingRow(f"rows {rows} of {self.name} all match {asked} on {day.isoformat()} "
                                "(a unique table gives one)")
        return found[0]

    def result(self, found: DecisionRow | list[DecisionRow]) -> Any:
        if isinstance(found, list):
            return [self.result(row) for row in found]
        if len(self.outputs) == 1:
            return found.outputs[0]
        return {name: value for (name, _), value in zip(self.outputs, found.outputs, strict=True)}

    def used(self, day: dt.date, values: Sequence[Any]) -> str:
        """The row a lookup used, as ``explain`` shows it: ``stipend_schedule.csv row 3 (from ...)``."""
        try:
            rows = self.matching(day, values) if self.hit_policy == "collect" else [self.row_for(day, values)]
        except NoMatchingRow as error:
            return str(error)
        return "; ".join(f"{self.source} row {row.number} (from {row.start.isoformat()}"
                         + (f" to {row.end.isoformat()}" if row.end else "") + ")" for row in rows) or "no row"


# -- reading ------------------------------------------------------------------------------------
def load_table(name: str, pack: str, spec: Mapping[str, Any], folder: Path,
               where: Location) -> tuple[DecisionTable | None, list[Problem]]:
    """Read the declared table's file (CSV, or a sheet of a workbook); problems are located by cell."""
    file = folder / str(spec["file"])
    inputs = tuple(str(item) for item in spec.get("inputs", ()))
    outputs = tuple((str(key), value) for key, value in dict(spec.get("outputs", {})).items())
    policy = str(spec.get("hit_policy", "unique"))
    if not file.is_file():
        return None, [Problem("MR160", f"the decision table file {spec['file']!r} does not exist", where,
                              hint=f"put it beside the parameter file, in {folder}")]
    try:
        if file.suffix.lower() == ".csv":
            text = file.read_text(encoding="utf-8-sig")
            lines = list(csv.reader(io.StringIO(text)))
            source = file.name
        elif file.suffix.lower() == ".xlsx":
            lines, source, problem = _sheet(file, spec.get("sheet"), where)
            if problem is not None:
                return None, [problem]
        else:
            return None, [Problem("MR160", f"{file.name!r} is not a CSV file or a workbook", where,
                                  expected="a .csv file, or an .xlsx workbook with sheet:")]
    except (OSError, UnicodeDecodeError, ValueError) as error:
        return None, [Problem("MR160", f"the decision table {file.name!r} cannot be read: "
                              f"{type(error).__name__}", where)]
    if not lines:
        return None, [Problem("MR161", "the decision table has no header row", Location(f"{source}!A1"),
                              expected=f"a first row naming the columns: from, {', '.join(inputs)}, "
                              f"{', '.join(name for name, _ in outputs)}")]
    header = [str(cell).strip() if cell is not None else "" for cell in lines[0]]
    body = [list(line) for line in lines[1:] if any(str(c).strip() for c in line if c is not None)]
    table, problems = read_rows(name, pack, source, header, body, inputs, outputs, policy,
                                description=str(spec.get("description", "")), where=where)
    if table is not None and spec.get("illustrative") is True:
        table = dataclasses.replace(table, illustrative=True)
    return table, problems


def _sheet(file: Path, sheet: Any, where: Location) -> tuple[list[list[Any]], str, Problem | None]:
    import openpyxl

    workbook = openpyxl.load_workbook(file, read_only=True, data_only=True)
    try:
        names = workbook.sheetnames
        if sheet is None or str(sheet) not in names:
            problem = Problem("MR160", f"the workbook {file.name!r} has no sheet {sheet!r}" if sheet is not None
                              else f"the workbook {file.name!r} needs a sheet: naming the table's sheet", where,
                              expected=one_of(names))
            return [], file.name, problem
        rows = [list(row) for row in workbook[str(sheet)].iter_rows(values_only=True)]
    finally:
        workbook.close()
    return rows, f"{file.name}!{sheet}", None


def read_rows(name: str, pack: str, source: str, header: Sequence[str], body: Sequence[Sequence[Any]],
              inputs: Sequence[str], outputs: Sequence[tuple[str, Any]], policy: str, *,
              description: str = "", where: Location | None = None) -> tuple[DecisionTable | None, list[Problem]]:
    """A decision table from its header and rows; every bad cell is a problem at ``file!C7``."""
    where = where or Location(source)
    problems: list[Problem] = []
    base = source.split("!", 1)[0]

    def cell(column: int, row: int) -> Location:
        return Location(f"{base}!{_letters(column)}{row}")

    if policy not in HIT_POLICIES:
        problems.append(Problem("MR162", f"unknown hit policy {policy!r}", where, expected=one_of(HIT_POLICIES)))
    for output, kind in outputs:
        if kind not in OUTPUT_KINDS:
            problems.append(Problem("MR162", f"the output {output!r} has an unknown kind {kind!r}", where,
                                    expected=one_of(OUTPUT_KINDS)))
    positions = {column: index for index, column in enumerate(header) if column}
    wanted = ["from", *inputs, *(output for output, _ in outputs)]
    missing = [column for column in wanted if column not in positions]
    for column in missing:
        problems.append(Problem("MR161", f"the decision table has no column {column!r}", Location(f"{base}!A1"),
                                expected=f"a header row naming: {', '.join(wanted)} (and 'to', if rows end)",
                                hint="the first row of the sheet names the columns"))
    if len(body) > MAX_ROWS:
        problems.append(Problem("MR163", f"the decision table has {len(body)} rows", where,
                                expected=f"at most {MAX_ROWS}"))
    if problems:
        return None, problems
    rows = []
    for offset, line in enumerate(body):
        number = offset + 2

        def value(column: str, line: Sequence[Any] = line) -> Any:
            position = positions[column]
            return line[position] if position < len(line) else None

        start = _date(value("from"))
        if start is None:
            problems.append(Problem("MR163", f"{_shown(value('from'))} is not a date", cell(positions["from"], number),
                                    expected="the date the row holds from, YYYY-MM-DD"))
            continue
        end = _date(value("to")) if "to" in positions and _blank(value("to")) is False else None
        if "to" in positions and _blank(value("to")) is False and end is None:
            problems.append(Problem("MR163", f"{_shown(value('to'))} is not a date", cell(positions["to"], number),
                                    expected="the last date the row holds, YYYY-MM-DD, or empty"))
            continue
        if end is not None and end < start:
            problems.append(Problem("MR163", "the row ends before it starts", cell(positions["to"], number)))
            continue
        conditions = []
        for column in inputs:
            condition = _condition(value(column))
            if condition is None:
                problems.append(Problem("MR163", f"{_shown(value(column))} is not a condition",
                                        cell(positions[column], number),
                                        expected="a value, '-' for any, a range 1..3, or a bound such as <= 3"))
            else:
                conditions.append(condition)
        results = []
        for column, kind in outputs:
            typed, ok = _typed(value(column), kind)
            if not ok:
                problems.append(Problem("MR163", f"{_shown(value(column))} is not {kind}",
                                        cell(positions[column], number), expected=f"{kind} in every row"))
            results.append(typed)
        if len(conditions) == len(inputs):
            rows.append(DecisionRow(number, start, end, tuple(conditions), tuple(results)))
    if problems:
        return None, problems
    return DecisionTable(name, pack, source, tuple(inputs), tuple(outputs), policy, tuple(rows), description,
                         where), []


def _letters(column: int) -> str:
    """A 0-based column index as spreadsheet letters: 0 -> A, 27 -> AB."""
    letters = ""
    column += 1
    while column:
        column, remainder = divmod(column - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _shown(value: Any) -> str:
    return "an empty cell" if _blank(value) else repr(value.isoformat() if isinstance(value, dt.date) else value)


def _plain(value: Any) -> str:
    """A looked-up value as a message shows it: as written, dates ISO, nothing as (missing)."""
    if value is None:
        return "(missing)"
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()) if not _blank(value) else None
    except ValueError:
        return None


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _condition(value: Any) -> Condition | None:
    if _blank(value) or (isinstance(value, str) and value.strip() == "-"):
        return Condition("-", "any")
    text = str(value.isoformat() if isinstance(value, dt.date) else value).strip()
    if ".." in text:
        low, _, high = text.partition("..")
        low_number, high_number = _number(low), _number(high)
        if low_number is None or high_number is None or low_number > high_number:
            return None
        return Condition(text, "range", low_number, high_number)
    for operator in _BOUNDS:
        if text.startswith(operator):
            bound = _number(text[len(operator):])
            return Condition(text, "bound", bound, operator=operator) if bound is not None else None
    number = _number(text)
    return Condition(text, "equal", number if number is not None else text)


def _typed(value: Any, kind: str) -> tuple[Any, bool]:
    if _blank(value):
        return None, True
    if kind == "decimal":
        number = _number(value)
        return number, number is not None
    if kind == "integer":
        number = _number(value)
        return (int(number), True) if number is not None and number == number.to_integral_value() else (None, False)
    if kind == "date":
        day = _date(value)
        return day, day is not None
    if kind == "boolean":
        text = str(value).strip().lower()
        return (text in ("true", "yes", "1")), text in ("true", "yes", "1", "false", "no", "0")
    return str(value).strip(), True


# -- lint ---------------------------------------------------------------------------------------
def overlaps_and_gaps(table: DecisionTable) -> list[Problem]:
    """Rows of a unique table that can both match the same values on the same day, and, for each
    combination of exact input values, periods with no row between its first and last row."""
    if table.hit_policy != "unique":
        return []
    problems = []
    base = table.source.split("!", 1)[0]
    for index, row in enumerate(table.rows):
        for other in table.rows[index + 1:]:
            periods_meet = (other.end is None or row.start <= other.end) and (row.end is None or other.start <= row.end)
            if periods_meet and all(a.meets(b) for a, b in zip(row.conditions, other.conditions, strict=True)):
                problems.append(Problem(
                    "MR164", f"rows {row.number} and {other.number} of the unique table {table.name} can both match "
                    "the same values on the same day", Location(f"{base}!A{other.number}"),
                    hint="make their conditions or their dates exclusive, or use hit_policy: first"))
    combinations: dict[tuple[str, ...], list[DecisionRow]] = {}
    for row in table.rows:
        if all(condition.kind == "equal" for condition in row.conditions):
            combinations.setdefault(tuple(c.text.casefold() for c in row.conditions), []).append(row)
    for combination, rows in combinations.items():
        ordered = sorted(rows, key=lambda row: row.start)
        reach = ordered[0].end
        for row in ordered[1:]:
            if reach is None:
                break
            if row.start > reach + dt.timedelta(days=1):
                values = ", ".join(f"{name}={text}" for name, text in zip(table.inputs, combination, strict=True))
                problems.append(Problem(
                    "MR165", f"the unique table {table.name} has no row for {values} from "
                    f"{(reach + dt.timedelta(days=1)).isoformat()} to {(row.start - dt.timedelta(days=1)).isoformat()}",
                    Location(f"{base}!A{row.number}"), hint="add a row for that period, or end the earlier row later"))
            reach = None if row.end is None else max(reach, row.end)
    return problems
