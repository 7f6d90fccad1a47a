"""A data set -> the decision on every row, in input order, in a few passes over its tables.

Tables that rules look rows up in (people, pairings, attendance, ...) are held in memory, one
compact record per row. A table that nothing looks up (payouts) may be a stream that is read
again at each pass (:class:`~mentorrules.inputs.reading.StreamedRows`), so that a state's year of
payouts never sits in memory. The passes:

1. **gather** — the single-row rules of the held tables (their findings decide which rows the
   ``only_passing`` lookups count), and every batch rule with ``group_by`` folds the rows it
   applies to into compact per-group state (:class:`~mentorrules.checking.batch.Groups`);
2. **decide** — the batch rules of the held tables, in ``only_passing`` order; the group
   findings; then one sweep over each streamed table that runs its single-row rules and its
   batch verdicts;
3. **emit** — a decision per row, in input order (a streamed table is read once more).

Only rows with findings are remembered between passes, so memory grows with the held tables
and the findings, not with the payouts; the summary is known before any row is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import replace
from typing import Any

from mentorrules.checking.batch import (
    GROUP_TABLE,
    BatchRule,
    Groups,
    Member,
    Unchecked,
    lookup_names,
    named_rows,
    order,
)
from mentorrules.checking.codegen import CANNOT_CHECK, MASKED
from mentorrules.checking.evaluation import (
    CompiledTable,
    Evaluator,
    Index,
    TableIndex,
    Values,
    error_findings,
    row_problems,
)
from mentorrules.checking.money import AMOUNT, DIMENSIONS, MONEY_TABLE, MoneyTally
from mentorrules.checking.period import Period, school_year_start
from mentorrules.errors import Location, Problem
from mentorrules.inputs.reading import KeyedRecords, Lines, Row, Rows, StreamedRows
from mentorrules.loading.tables import Record, Table
from mentorrules.model import Decision, Finding, Outcome, Severity, Status, TableBlock, status_of

RowKey = tuple[str, int]  # (table, row number)
_MONEY_COLUMNS = (AMOUNT, *(column for _, column in DIMENSIONS))
_Context = tuple[tuple[Values | None, ...], str | None, dt.date, dt.date]  # related, state, day, school day
Progress = Callable[[str, int], None]  # (pass, rows visited so far)
PROGRESS_EVERY = 10_000


def index_tables(contracts: Mapping[str, Table], tables: Mapping[str, Sequence[Row]]) -> dict[str, Index]:
    """Rows of unique-keyed tables by key, for related-fact lookups.

    A repeated key makes the later row an error row (MR313), since a relation to it would be
    ambiguous; tables that are never looked up are indexed as empty. The keys of rows that
    could not be read are kept apart, for messages that say so.
    """
    indexes: dict[str, Index] = {name: TableIndex() for name in contracts}
    for name, rows in tables.items():
        contract = contracts[name]
        if not contract.unique:
            continue
        if isinstance(rows, Rows) and isinstance(rows.records, KeyedRecords):
            indexes[name] = _column_index(contract, rows, rows.records)
            continue
        index = TableIndex()
        first: dict[Any, int] = {}
        for row in rows:
            if row.problems:
                index.unreadable.setdefault(_index_key(contract, row.values), row.number)
                continue
            key = _index_key(contract, row.values)
            if key in index:
                problem = Problem("MR313", f"the key {contract.key_of(row.values)!r} is repeated "
                                  f"(first in row {first[key]})", Location(name, row=row.number),
                                  hint=f"each {contract.record} must appear once")
                if isinstance(rows, Rows):
                    rows.mark(row.number, [problem])
                else:
                    row.problems = (problem,)
                continue
            index[key] = row.values
            first[key] = row.number
        indexes[name] = index
    return indexes


def _column_index(contract: Table, rows: Rows, records: KeyedRecords) -> ColumnIndex:
    """The index of a table held as columns: the same keys, repeats and unreadable rows as
    :func:`index_tables` finds row by row, the records made only for the keys looked up."""
    unreadable: dict[Any, int] = {}
    for number in sorted(rows.problems):
        unreadable.setdefault(_index_key(contract, records[number - 1]), number)
    numbers, repeated = records.first_numbers()
    index = ColumnIndex(numbers, records)
    index.unreadable = unreadable
    for number in repeated:
        values = records[number - 1]
        first = numbers[_index_key(contract, values)]
        problem = Problem("MR313", f"the key {contract.key_of(values)!r} is repeated (first in row {first})",
                          Location(contract.name, row=number), hint=f"each {contract.record} must appear once")
        rows.mark(number, [problem])
    return index


class ColumnIndex(TableIndex):
    """A :class:`TableIndex` that keeps each key's row number, and makes the row's record only
    when it is looked up (for a table held as columns)."""

    __slots__ = ("_numbers", "_records")

    def __init__(self, numbers: dict[Any, int], records: KeyedRecords) -> None:
        super().__init__()
        self._numbers = numbers
        self._records = records

    def numbers(self) -> list[int]:
        """The row numbers of the rows indexed."""
        return list(self._numbers.values())

    def get(self, key: Any, default: Any = None) -> Any:
        number = self._numbers.get(key)
        return default if number is None else self._records[number - 1]

    def __getitem__(self, key: Any) -> Values:
        return self._records[self._numbers[key] - 1]

    def __contains__(self, key: object) -> bool:
        return key in self._numbers

    def __len__(self) -> int:
        return len(self._numbers)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._numbers)

    def keys(self) -> Any:
        return self._numbers.keys()

    def values(self) -> Any:
        return [self._records[number - 1] for number in self._numbers.values()]

    def items(self) -> Any:
        return [(key, self._records[number - 1]) for key, number in self._numbers.items()]


def _index_key(table: Table, values: Values) -> Any:
    if len(table.key) == 1:
        return values.get(table.key[0])
    return tuple(values.get(name) for name in table.key)


def row_day(table: Table, values: Values, as_of: dt.date) -> dt.date:
    """The date that picks a row's parameter values: its table's date column, else ``as_of``."""
    day = values.get(table.date_field) if table.date_field else None
    return day if isinstance(day, dt.date) else as_of


class Run:
    """One validation of a data set: :meth:`decide` once, then :meth:`decisions` as often as needed."""

    def __init__(self, evaluator: Evaluator, rules: Sequence[BatchRule], tables: Mapping[str, Sequence[Row]],
                 as_of: dt.date, progress: Progress | None = None, masked: frozenset[str] = frozenset(),
                 skipped: frozenset[str] = frozenset(), period: Period | None = None) -> None:
        self.evaluator = evaluator
        # With a period, payouts dated before (or after) it are history: read, folded into the
        # groups of caps and duplicates, never judged. Their row numbers, and what history was seen.
        self.period = period
        self.history: set[int] = set()
        self.history_dates: list[dt.date] = []  # the earliest and latest pay date before the period
        self.skipped = skipped  # rules not run: they read a table that was not given
        self.masked = masked or None  # columns whose values a report must not show
        self.contracts = evaluator.book.tables
        self.tables = tables
        self.as_of = as_of
        self.progress = progress
        self.rules = order([rule for rule in rules if rule.rule.id not in skipped])
        self.rank = {rule.rule.id: number for number, rule in enumerate(self.rules)}
        self.indexes = index_tables(self.contracts, tables)
        self.groups = {rule.rule.id: Groups(rule) for rule in self.rules if rule.batch.group_by}
        # Per table and row number, for the rows with findings: of single-row rules, of batch rules.
        self.findings: dict[str, dict[int, list[Finding]]] = {name: {} for name in tables}
        self.batch: dict[str, dict[int, dict[str, Finding]]] = {name: {} for name in tables}
        self.outcome = Outcome()
        self.money = MoneyTally() if MONEY_TABLE in tables else None
        if period is not None:
            self.outcome.period = period.to_dict()
        self._period_field = self.contracts[MONEY_TABLE].date_field if MONEY_TABLE in self.contracts else None
        # Of a streamed table, what the first pass saw of each row, so that writing needs no
        # third read: its key, and the problems of the rows that could not be read.
        self.keys: dict[str, Sequence[str]] = {}  # a list, or a column the columnar reader gave
        self.problems: dict[str, dict[int, tuple[Problem, ...]]] = {}
        self.unreadable: dict[str, dict[int, Record]] = {}  # a streamed table's unreadable rows, as written
        self.lines: dict[str, Lines] = {}
        self._visited: dict[str, int] = {}  # rows visited per pass, for progress

    def _is_history(self, name: str, row: Row) -> bool:
        """Whether a payout row is outside the period judged (and note the history it gives)."""
        if self.period is None or name != MONEY_TABLE or self._period_field is None or row.problems:
            return False
        day = row.values.get(self._period_field)
        if not isinstance(day, dt.date) or day in self.period:
            return False
        if day < self.period.start:
            dates = self.history_dates
            if not dates:
                dates += [day, day]
            elif day < dates[0]:
                dates[0] = day
            elif day > dates[1]:
                dates[1] = day
        self.history.add(row.number)
        return True

    def history_from(self) -> tuple[dt.date | None, dt.date | None]:
        """The earliest and latest pay date of the payouts given before the period (None, None: none)."""
        return (self.history_dates[0], self.history_dates[1]) if self.history_dates else (None, None)

    def school_year_history(self) -> bool:
        """Whether payouts of the period's school year before the period were given."""
        if self.period is None or not self.history_dates:
            return False
        return self.history_dates[1] >= school_year_start(self.period.start)

    def _checked(self, found: list[Finding]) -> list[Finding]:
        """Single-row findings less those of the rules not run (all rules of a table run together)."""
        if found and self.skipped:
            return [finding for finding in found if finding.rule not in self.skipped]
        return found

    def _context(self, compiled: CompiledTable, row: Row) -> _Context:
        """What every batch rule needs of a row, computed once: related facts, state, dates."""
        values = row.values
        related = compiled.relate(values, self.indexes)
        day = compiled.day_of(values, self.as_of)
        return related, compiled.state(values, related), day, compiled.school_day(values, day)

    # -- passes ---------------------------------------------------------------------------------
    def decide(self) -> Outcome:
        """Run the gather and decide passes; the outcome has every finding and the summary."""
        streamed = [name for name, rows in self.tables.items() if isinstance(rows, StreamedRows)]
        for name, rows in self.tables.items():
            if name not in streamed or any(rule.rule.table == name for rule in self.rules if rule.batch.group_by):
                self._gather(name, rows, held=name not in streamed)
        for rule in self.rules:
            if rule.table.name not in streamed or rule.by_group:
                self._decide_rule(rule)
        for name in streamed:
            self._decide_streamed(name)
        for name, rows in self.tables.items():
            if name not in streamed:
                self._count(name, rows)
        if self.money is not None:
            for group in self.outcome.groups:
                self.money.group(group)
            self.outcome.money = self.money.to_dict()
        return self.outcome

    def decisions(self) -> Iterator[Decision]:
        """The decision on every input row, in input order (after :meth:`decide`)."""
        for name, rows in self.tables.items():
            key_masked = self._key_masked(name)
            for row in self._visit(self._remembered(name) if name in self.keys else rows, "writing"):
                yield self._decision(name, row, key_masked)

    def blocks(self) -> Iterator[Decision | TableBlock]:
        """The decisions, whole tables in bulk where a backend has them as columns (the
        reference has not: one decision per row)."""
        yield from self.decisions()

    def _key_masked(self, name: str) -> bool:
        return bool(self.masked and self.masked.intersection(self.contracts[name].key))

    def _decision(self, name: str, row: Row, key_masked: bool) -> Decision:
        """The decision on one row: history, unreadable, with findings, or passing."""
        masked = self.masked
        key = MASKED if key_masked else row.key
        if name == MONEY_TABLE and row.number in self.history:
            return Decision(name, row.number, key, Status.HISTORY, (), line=row.line)
        if row.problems:
            return Decision(name, row.number, key, Status.UNREADABLE, error_findings(row.problems, masked, key_masked),
                            row_problems(row.problems, row.values, masked), line=row.line)
        if row.number in self.findings[name] or row.number in self.batch[name]:
            found = self._found(name, row.number)
            return Decision(name, row.number, key, status_of(found), tuple(found), line=row.line)
        return Decision(name, row.number, key, Status.PASS, (), line=row.line)

    def _remember(self, name: str, rows: Iterable[Row]) -> Iterator[Row]:
        """The rows of a streamed table's first pass, remembering their keys and problems."""
        if name in self.keys:
            yield from rows
            return
        keys: list[str] = []
        problems: dict[int, tuple[Problem, ...]] = {}
        unreadable: dict[int, Record] = {}
        lines = Lines()
        for row in rows:
            keys.append(row.key)
            lines.add(row.number, row.line)
            if row.problems:
                problems[row.number] = row.problems
                unreadable[row.number] = row.values  # its problems quote the cells
            yield row
        self.keys[name], self.problems[name] = keys, problems
        self.unreadable[name], self.lines[name] = unreadable, lines

    def _remembered(self, name: str) -> Iterator[Row]:
        """A streamed table's rows as the first pass remembered them: numbers, keys, problems, lines
        (writing a decision needs no values, but an unreadable row's problems quote its cells)."""
        problems, unreadable, line_of = self.problems[name], self.unreadable[name], self.lines[name].of
        empty = self.contracts[name].record_of({})
        for number, key in enumerate(self.keys[name], start=1):
            yield Row(number, unreadable.get(number, empty), problems.get(number, ()), key, line_of(number))

    def _gather(self, name: str, rows: Sequence[Row], *, held: bool) -> None:
        compiled = self.evaluator.tables[name]
        grouping = [rule for rule in self.rules if rule.table.name == name and rule.batch.group_by]
        findings = self.evaluator.findings
        for row in self._visit(rows if held else self._remember(name, rows), "reading"):
            if row.problems:
                continue
            values = row.values
            if held:
                day = compiled.day_of(values, self.as_of)
                found = self._checked(findings(name, values, day, self.indexes, self.masked))
                if found:
                    self.findings[name][row.number] = found
            if not grouping:
                continue
            context = self._context(compiled, row)
            for rule in grouping:
                self._fold_row(rule, name, row, context)

    def _fold_row(self, rule: BatchRule, name: str, row: Row, context: _Context) -> None:
        """Fold one row into a batch rule's groups (a row it cannot place is reported on the row)."""
        related, state, day, school_day = context
        if rule.fold is not None:
            if rule.in_force(state, day):
                rule.fold(row.values, *related, day, school_day, self.groups[rule.rule.id].states)
            return
        member = rule.member(name, row.number, row.key, row.values, related, day, state, school_day)
        if isinstance(member, Unchecked) and rule.by_group:  # reported on the row: no silent skip
            self.batch[name].setdefault(row.number, {})[rule.rule.id] = member.finding
        if isinstance(member, Member):
            with suppress(*CANNOT_CHECK):  # the decide pass reports it on the row
                self.groups[rule.rule.id].add(member)

    def _decide_rule(self, rule: BatchRule) -> None:
        if rule.by_group:
            self._decide_groups(rule)
            return
        name = rule.table.name
        verdicts = _Verdicts(rule, self.groups.get(rule.rule.id), self._lookups(rule), self.masked)
        compiled = self.evaluator.tables[name]
        for row in self.tables.get(name, ()):
            if not row.problems:
                verdicts.visit(row, self._context(compiled, row))
        self._record(verdicts)

    def _decide_groups(self, rule: BatchRule) -> None:
        groups = self.groups[rule.rule.id]
        lookups = self._lookups(rule)
        for key in groups:
            rows, first, latest = groups.members(key)
            names = groups.names(key)
            try:
                names.update(lookups(first) if lookups is not None else {})
            except CANNOT_CHECK:
                names.update({lookup.name: None for lookup in rule.lookups})
            found = rule.group_finding(key, rows, latest, names, self.masked)
            if found is not None:
                self.outcome.groups.append(Decision(GROUP_TABLE, len(self.outcome.groups) + 1, found.key,
                                                    status_of([found.finding]), (found.finding,)))

    def _decide_streamed(self, name: str) -> None:
        compiled = self.evaluator.tables[name]
        rules = [rule for rule in self.rules if rule.table.name == name and not rule.by_group]
        all_verdicts = [_Verdicts(rule, self.groups.get(rule.rule.id), self._lookups(rule), self.masked)
                        for rule in rules]
        findings = self.evaluator.findings
        readable = 0
        money = self.money
        # Of the rows that may have findings, what the money needs (amount, district, ...): their
        # statuses are known once every row is seen; the other rows pass and are added at once.
        pending: dict[int, dict[str, Any]] = {}
        for row in self._visit(self._remember(name, self.tables[name]), "checking"):
            if row.problems:
                self.outcome.count(Status.UNREADABLE, error_findings(row.problems))
                if money is not None and name == MONEY_TABLE:
                    money.unreadable()
                continue
            readable += 1
            context = self._context(compiled, row)
            if self._is_history(name, row):
                # Visited by the batch rules all the same: which copy is held depends on it.
                for verdicts in all_verdicts:
                    verdicts.visit(row, context)
                if money is not None:
                    money.history(row.values)
                continue
            found = self._checked(findings(name, row.values, context[2], self.indexes, self.masked))
            if found:
                self.findings[name][row.number] = found
            before = sum(len(verdicts.found) for verdicts in all_verdicts)
            for verdicts in all_verdicts:
                verdicts.visit(row, context)
            if money is None:
                continue
            if found or sum(len(verdicts.found) for verdicts in all_verdicts) != before:
                pending[row.number] = {column: row.values.get(column) for column in _MONEY_COLUMNS}
            elif name == MONEY_TABLE:
                money.add(row.values, ())
        for verdicts in all_verdicts:
            self._record(verdicts)
        # The statuses are final now: rows with findings are counted one by one, the rest pass.
        history = self.history if name == MONEY_TABLE else set()
        with_findings = {*self.findings[name], *self.batch[name]} - history
        for number in with_findings:
            found = self._found(name, number)
            self.outcome.count(status_of(found), found)
        for _ in history:
            self.outcome.count(Status.HISTORY, ())
        readable -= len(history)
        if money is not None:
            for number, values in pending.items():
                found = self._found(name, number)
                if name == MONEY_TABLE:
                    money.add(values, found)
                elif found:
                    money.group(Decision(name, number, self.keys[name][number - 1], status_of(found), tuple(found)))
        self.outcome.rows += readable - len(with_findings)
        self.outcome.statuses[Status.PASS] += readable - len(with_findings)

    def _record(self, verdicts: _Verdicts) -> None:
        for (table, number), finding in verdicts.findings():
            self.batch[table].setdefault(number, {})[finding.rule] = finding

    def _lookups(self, rule: BatchRule) -> Callable[[Member], dict[str, Any]] | None:
        if not rule.lookups:
            return None
        return lookup_names(rule, self.readable, self.passes)

    def readable(self, table: str) -> Iterator[tuple[int, Values]]:
        """The rows of a table that could be read, as (row number, values)."""
        for row in self.tables.get(table, ()):
            if not row.problems:
                yield row.number, row.values

    def members(self, rule: BatchRule) -> Iterator[Member | Unchecked]:
        """The rows a batch rule applies to (or cannot check), for ``explain``."""
        name = rule.table.name
        compiled = self.evaluator.tables[name]
        for row in self.tables.get(name, ()):
            if row.problems:
                continue
            related, state, day, school_day = self._context(compiled, row)
            member = rule.member(name, row.number, row.key, row.values, related, day, state, school_day)
            if member is not None:
                yield member

    def passes(self, table: str, number: int, rule_ids: Sequence[str]) -> bool:
        """Whether a row has no error finding of these rules (for ``only_passing``)."""
        found = [*self.findings[table].get(number, ()), *self.batch[table].get(number, {}).values()]
        return not any(finding.rule in rule_ids and finding.severity is Severity.ERROR for finding in found)

    def _count(self, name: str, rows: Sequence[Row]) -> None:
        """Tally a held table's rows (its findings are all known)."""
        money = self.money
        for row in rows:
            if self._is_history(name, row):
                self.outcome.count(Status.HISTORY, ())
                if money is not None:
                    money.history(row.values)
            elif row.problems:
                self.outcome.count(Status.UNREADABLE, error_findings(row.problems))
                if money is not None and name == MONEY_TABLE:
                    money.unreadable()
            else:
                found = self._found(name, row.number)
                self.outcome.count(status_of(found), found)
                if money is None:
                    continue
                if name == MONEY_TABLE:
                    money.add(row.values, found)
                elif found:
                    money.group(Decision(name, row.number, row.key, status_of(found), tuple(found)))

    def _found(self, table: str, number: int) -> list[Finding]:
        """A row's findings: its single-row rules', then its batch rules' in rule order."""
        found = self.findings[table].get(number, [])
        by_rule = self.batch[table].get(number)
        if by_rule:
            found = [*found, *sorted(by_rule.values(), key=lambda finding: self.rank[finding.rule])]
        return found

    def _visit(self, rows: Iterable[Row], stage: str) -> Iterator[Row]:
        if self.progress is None:
            yield from rows
            return
        visited = self._visited.get(stage, 0)
        for row in rows:
            visited += 1
            if visited % PROGRESS_EVERY == 0:
                self.progress(stage, visited)
            yield row
        self._visited[stage] = visited


class _Verdicts:
    """The findings of one batch rule with findings on rows, member by member; a finding names
    the failing rows of its group once all members are seen."""

    def __init__(self, rule: BatchRule, groups: Groups | None,
                 lookups: Callable[[Member], dict[str, Any]] | None, masked: frozenset[str] | None) -> None:
        self.rule = rule
        self.groups = groups
        self.lookups = lookups
        self.masked = masked
        self.screen = rule.screen
        self.found: list[tuple[RowKey, Finding, Any]] = []
        self.failing: dict[Any, list[tuple[int, str]]] = {}
        self.hold = rule.batch.hold == "later" and groups is not None
        self.held: dict[Any, list[Member]] = {}  # of a hold: later rule, the failing members per group

    def visit(self, row: Row, context: _Context) -> None:
        rule = self.rule
        related, state, day, school_day = context
        if self.screen is not None and self.groups is not None and not rule.state_unknown(state) and (
                not rule.in_force(state, day)
                or not self.screen(row.values, *related, day, school_day, self.groups.states, self.groups.names_of)):
            return  # the fast path: no finding is possible, none is built
        member = rule.member(rule.table.name, row.number, row.key, row.values, related, day, state, school_day)
        if member is None:
            return
        if isinstance(member, Unchecked):
            self.found.append(((member.table, member.row), member.finding, None))
            return
        group: Any = None
        names: dict[str, Any] = {}
        try:
            if self.groups is not None:
                group = rule.group_key(member)
                names.update(self.groups.names(group))
            if self.lookups is not None:
                names.update(self.lookups(member))
        except CANNOT_CHECK as error:
            self.found.append(((member.table, member.row),
                               rule.cannot(member.values, member.related, error, self.masked), None))
            return
        finding = rule.verdict(member, names, self.masked)
        if finding is None:
            return
        failed = not finding.cannot_check
        self.found.append(((member.table, member.row), finding, group if failed else None))
        if failed and group is not None:
            self.failing.setdefault(group, []).append((member.row, rule.shown_key(member.key, self.masked)))
            if self.hold:
                self.held.setdefault(group, []).append(member)

    def findings(self) -> Iterator[tuple[RowKey, Finding]]:
        held: dict[int, Finding] = {}
        if self.held:
            full = {row_key[1]: finding for row_key, finding, _ in self.found}
            for group, members in self.held.items():
                failing = named_rows(self.failing[group])
                held.update(self.rule.hold_later(
                    [(member, replace(full[member.row], rows=failing)) for member in members], self._names,
                    self.masked))
        named: dict[Any, tuple[str, ...]] = {}  # once per group, not per row of it
        for row_key, finding, group in self.found:
            if row_key[1] in held and group is not None:
                yield row_key, held[row_key[1]]
                continue
            if group is None:
                rows: tuple[str, ...] = ()
            else:
                rows = named.get(group) or named.setdefault(group, named_rows(self.failing[group]))
            yield row_key, replace(finding, rows=rows) if rows else finding

    def _names(self, member: Member) -> dict[str, Any]:
        """A member's names on its whole group: group keys, aggregates, lookups."""
        assert self.groups is not None
        names = dict(self.groups.names(self.rule.group_key(member)))
        if self.lookups is not None:
            names.update(self.lookups(member))
        return names
