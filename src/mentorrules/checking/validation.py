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
from mentorrules.checking.evaluation import CompiledTable, Evaluator, Index, TableIndex, Values, error_findings
from mentorrules.errors import Location, Problem
from mentorrules.inputs.reading import Lines, Row, Rows, StreamedRows
from mentorrules.loading.tables import Table
from mentorrules.model import Decision, Finding, Outcome, Severity, Status, status_of

RowKey = tuple[str, int]  # (table, row number)
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
                 skipped: frozenset[str] = frozenset()) -> None:
        self.evaluator = evaluator
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
        # Of a streamed table, what the first pass saw of each row, so that writing needs no
        # third read: its key, and the problems of the rows that could not be read.
        self.keys: dict[str, list[str]] = {}
        self.problems: dict[str, dict[int, tuple[Problem, ...]]] = {}
        self.lines: dict[str, Lines] = {}
        self._visited: dict[str, int] = {}  # rows visited per pass, for progress

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
        return self.outcome

    def decisions(self) -> Iterator[Decision]:
        """The decision on every input row, in input order (after :meth:`decide`)."""
        masked = self.masked
        for name, rows in self.tables.items():
            single, batch = self.findings[name], self.batch[name]
            key_masked = bool(masked and masked.intersection(self.contracts[name].key))
            for row in self._visit(self._remembered(name) if name in self.keys else rows, "writing"):
                key = MASKED if key_masked else row.key
                if row.problems:
                    yield Decision(name, row.number, key, Status.ERROR,
                                   error_findings(row.problems, masked, key_masked), row.line)
                elif row.number in single or row.number in batch:
                    found = self._found(name, row.number)
                    yield Decision(name, row.number, key, status_of(found), tuple(found), row.line)
                else:
                    yield Decision(name, row.number, key, Status.PASS, (), row.line)

    def _remember(self, name: str, rows: Iterable[Row]) -> Iterator[Row]:
        """The rows of a streamed table's first pass, remembering their keys and problems."""
        if name in self.keys:
            yield from rows
            return
        keys: list[str] = []
        problems: dict[int, tuple[Problem, ...]] = {}
        lines = Lines()
        for row in rows:
            keys.append(row.key)
            lines.add(row.number, row.line)
            if row.problems:
                problems[row.number] = row.problems
            yield row
        self.keys[name], self.problems[name], self.lines[name] = keys, problems, lines

    def _remembered(self, name: str) -> Iterator[Row]:
        """A streamed table's rows as the first pass remembered them: numbers, keys, problems
        (writing a decision needs no values)."""
        problems, line_of = self.problems[name], self.lines[name].of
        empty = self.contracts[name].record_of({})
        for number, key in enumerate(self.keys[name], start=1):
            yield Row(number, empty, problems.get(number, ()), key, line_of(number))

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
            related, state, day, school_day = self._context(compiled, row)
            for rule in grouping:
                if rule.fold is not None:
                    if rule.in_force(state, day):
                        rule.fold(values, *related, day, school_day, self.groups[rule.rule.id].states)
                    continue
                member = rule.member(name, row.number, row.key, values, related, day, state, school_day)
                if isinstance(member, Member):
                    try:
                        self.groups[rule.rule.id].add(member)
                    except CANNOT_CHECK:
                        continue  # the decide pass reports it on the row

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
        for row in self._visit(self._remember(name, self.tables[name]), "checking"):
            if row.problems:
                self.outcome.count(Status.ERROR, error_findings(row.problems))
                continue
            readable += 1
            context = self._context(compiled, row)
            found = self._checked(findings(name, row.values, context[2], self.indexes, self.masked))
            if found:
                self.findings[name][row.number] = found
            for verdicts in all_verdicts:
                verdicts.visit(row, context)
        for verdicts in all_verdicts:
            self._record(verdicts)
        # The statuses are final now: rows with findings are counted one by one, the rest pass.
        with_findings = {*self.findings[name], *self.batch[name]}
        for number in with_findings:
            found = self._found(name, number)
            self.outcome.count(status_of(found), found)
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
        for row in rows:
            if row.problems:
                self.outcome.count(Status.ERROR, error_findings(row.problems))
            else:
                found = self._found(name, row.number)
                self.outcome.count(status_of(found), found)

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

    def visit(self, row: Row, context: _Context) -> None:
        rule = self.rule
        related, state, day, school_day = context
        if self.screen is not None and self.groups is not None and (
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

    def findings(self) -> Iterator[tuple[RowKey, Finding]]:
        named: dict[Any, tuple[str, ...]] = {}  # once per group, not per row of it
        for row_key, finding, group in self.found:
            if group is None:
                rows: tuple[str, ...] = ()
            else:
                rows = named.get(group) or named.setdefault(group, named_rows(self.failing[group]))
            yield row_key, replace(finding, rows=rows) if rows else finding
