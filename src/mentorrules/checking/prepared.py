"""A prepared context: reference tables typed and indexed once, then one record at a time.

    >>> from mentorrules import Engine
    >>> engine = Engine.load(packs=[])
    >>> context = engine.prepare(people=[{"person_id": "T-1", "career_year": 1}], as_of=dt.date(2025, 9, 15))
    >>> payout = {"payout_id": "P-1", "payee_id": "T-1", "role": "mentor", "program": "NM_PILOT", "state": "NM",
    ...           "school_year": "2025-26", "pay_date": "2025-09-15", "amount": "1000.00", "installment": 1}
    >>> context.evaluate(payout).status.value
    'pass'
    >>> context.upsert("payouts", payout)
    >>> [finding.rule for finding in context.evaluate(payout).findings]   # the same id again: a duplicate
    ['STIPEND-006']

A :class:`Context` holds the rows of every table as typed records, the unique tables (people,
districts, grants) indexed by key, and, per batch rule of the evaluated table, its groups and
the indexes of its lookups, built on first use and then kept up to date row by row. Evaluating
a record asks what ``Engine.validate`` would decide for it were it added as the next row of its
table: single-row rules against the indexes, batch rules (yearly caps, duplicates, installment
counts, lookups) against its group and linked rows only. The cost of one record therefore does
not grow with the reference data. :meth:`Context.evaluate` never changes the context;
:meth:`Context.upsert` and :meth:`Context.remove` do.

A record of a table that other rows' acceptance depends on (a grant, whose contributions count
as match only if they pass rules reading the grant) is decided by a full run over the context,
which gives the same answer at a cost that grows with the data (:attr:`Context.fast_tables`
names the tables decided the fast way; with the installed packs, payouts among them).

Threads: a context may be shared. Every call holds the context's lock while it runs, so an
evaluation sees the context before or after an upsert, never half-way through one.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from mentorrules.checking.batch import BatchRule, Member, Unchecked, named_rows, order
from mentorrules.checking.codegen import CANNOT_CHECK
from mentorrules.checking.evaluation import TableIndex, Values, error_findings, row_problems
from mentorrules.checking.policy import Policy
from mentorrules.checking.validation import Run
from mentorrules.errors import Location, MentorRulesError, Problem, UsageError
from mentorrules.inputs.reading import DataSet, Row, RowTyper
from mentorrules.loading.tables import Table
from mentorrules.model import Decision, Finding, Status, status_of

# Explains one row of a data set (data, table, as-of date, row number): the engine's, handed in
# so that a decision's trace() can say how each rule went.
Tracer = Callable[[DataSet, str, dt.date, int], list[dict[str, Any]]]


def check_date(as_of: object, argument: str = "as_of") -> dt.date | None:
    """``as_of`` as a date: None stays None, a datetime gives its date, anything else is an error.

    >>> try:
    ...     check_date("2025-09-15")
    ... except UsageError as error:
    ...     print(error.code, error.problems[0].message)
    MR420 as_of is a str ('2025-09-15'), not a date
    """
    if as_of is None or (isinstance(as_of, dt.date) and not isinstance(as_of, dt.datetime)):
        return as_of
    if isinstance(as_of, dt.datetime):
        return as_of.date()
    example = "datetime.date(2025, 9, 15)"
    raise UsageError([Problem("MR420", f"{argument} is a {type(as_of).__name__} ({as_of!r:.40}), not a date",
                              Location(field=argument), expected=example)])


def check_record(record: object, table: str) -> Mapping[str, Any]:
    """A record must be a mapping of column names to values."""
    if not isinstance(record, Mapping):
        raise UsageError([Problem("MR420", f"the {table} record is a {type(record).__name__}, not a mapping",
                                  Location(table), expected="a mapping of column names to values, e.g. a dict")])
    return record


def check_rows(name: str, rows: object) -> Iterable[Any]:
    """The rows of a table must be an iterable of rows (a list), not a mapping or a text."""
    if isinstance(rows, (Mapping, str, bytes)) or not isinstance(rows, Iterable):
        raise MentorRulesError([Problem(
            "MR300", f"the rows of {name!r} are a {type(rows).__name__}, not a list of rows", Location(name),
            hint=f"give a list of mappings, e.g. {{{name!r}: [{{...}}, {{...}}]}}")])
    return rows


def _index_key(table: Table, values: Values) -> Any:
    if len(table.key) == 1:
        return values.get(table.key[0])
    return tuple(values.get(name) for name in table.key)


class _RuleState:
    """What one batch rule needs to decide a new row of its table: its groups' members, and
    per lookup the linked table's rows by link key (None: to be built)."""

    __slots__ = ("groups", "lookup_keys", "lookups", "relation_tables", "rule")

    def __init__(self, rule: BatchRule) -> None:
        self.rule = rule
        self.groups: dict[Any, dict[int, Member]] | None = None
        self.lookups: list[dict[tuple[Any, ...], dict[int, Values]] | None] = [None] * len(rule.lookups)
        self.lookup_keys: list[dict[int, list[tuple[Any, ...]]]] = [{} for _ in rule.lookups]
        self.relation_tables = frozenset(relation.table for relation in rule.table.relations.values())


class Context:
    """Reference tables read, typed and indexed once; records decided one at a time.

    Build one with :meth:`mentorrules.Engine.prepare`. Tables not named in ``not_given`` are
    given (empty when no rows are passed); rules that read a table not given are not checked,
    as in ``Engine.validate``.
    """

    def __init__(self, policy: Policy, tables: Mapping[str, Any], *, as_of: dt.date | None = None,
                 not_given: Iterable[str] = (), trace: Tracer | None = None) -> None:
        self._policy = policy
        self._trace = trace
        self._contracts = policy.tables
        self._as_of = check_date(as_of)
        missing = frozenset(self._known(name) for name in check_names(not_given, "not_given"))
        for name in tables:
            self._known(name)
            if name in missing:
                raise UsageError([Problem("MR420", f"the {name} table is both given and named in not_given",
                                          Location(name))])
        self._given = set(self._contracts) - missing
        self._lock = threading.RLock()
        self._typers = {name: RowTyper(contract, name) for name, contract in self._contracts.items()}
        self._rows: dict[str, dict[int, Row]] = {name: {} for name in self._contracts}
        self._numbers: dict[str, dict[str, list[int]]] = {name: {} for name in self._contracts}
        self._counter = dict.fromkeys(self._contracts, 0)
        self._indexes: dict[str, TableIndex] = {name: TableIndex() for name in self._contracts}
        self._first: dict[str, dict[Any, int]] = {name: {} for name in self._contracts}
        for name, rows in tables.items():
            typer = self._typers[name]
            for record in check_rows(name, rows):
                number = self._counter[name] = self._counter[name] + 1
                row = typer.row(number, record) if isinstance(record, Mapping) else \
                    typer.broken(number, f"the row is {type(record).__name__}, not a mapping")
                self._rows[name][number] = row
                self._numbers[name].setdefault(row.key, []).append(number)
        for name, contract in self._contracts.items():
            if contract.unique:
                for key in self._numbers[name]:
                    self._reindex(name, key)
        self._configure()

    # -- public -------------------------------------------------------------------------------
    @property
    def tables(self) -> Mapping[str, int]:
        """The number of rows the context holds per given table."""
        with self._lock:
            return {name: len(self._rows[name]) for name in self._contracts if name in self._given}

    @property
    def fast_tables(self) -> frozenset[str]:
        """Tables whose records are decided from indexes and groups alone (cost independent of
        the data's size); the others by a run over the context."""
        return self._fast

    @property
    def not_checked(self) -> Mapping[str, tuple[str, ...]]:
        """The rules not run, each with the tables it reads that were not given."""
        return self._not_checked

    def evaluate(self, record: Mapping[str, Any], table: str = "payouts", as_of: dt.date | None = None) -> Decision:
        """The decision ``Engine.validate`` would give ``record`` were it the next row of
        ``table`` in the context; the context is not changed.

        ``as_of`` (default: the context's, else today) dates rows without a date of their own;
        the batch rules' groups are kept for one date, so alternating dates rebuilds them.
        """
        self._known(table)
        record = check_record(record, table)
        day = check_date(as_of) or self._as_of or dt.date.today()
        with self._lock:
            number = self._counter[table] + 1
            row = self._typers[table].row(number, record)
            decision = self._decide(table, row, day) if table in self._fast else self._run(table, row, day)
        if self._trace is None:
            return decision
        trace = self._trace
        return replace(decision, tracer=lambda: trace(self._dataset(row, table), table, day, row.number))

    def _dataset(self, row: Row, table: str) -> DataSet:
        """The context as a data set, ``row`` last in ``table``: what a trace explains against
        (the context as it is when the trace is asked for)."""
        with self._lock:
            tables: dict[str, Sequence[Row]] = dict(self._tables(row, table))
            return DataSet(tables, {name: name for name in self._given})

    def upsert(self, table: str, row: Mapping[str, Any]) -> None:
        """Add a row, or replace the rows with its key (the first keeps its row number)."""
        self._known(table)
        record = check_record(row, table)
        with self._lock:
            typed = self._typers[table].row(0, record)
            numbers = list(self._numbers[table].get(typed.key, ()))
            number = numbers[0] if numbers else self._counter[table] + 1
            self._counter[table] = max(self._counter[table], number)
            self._before(table, typed.key, {*numbers, number})
            for other in numbers[1:]:
                del self._rows[table][other]
            self._rows[table][number] = Row(number, typed.values, _renumbered(typed.problems, number), typed.key)
            self._numbers[table][typed.key] = [number]
            self._after(table, typed.key, {*numbers, number})

    def remove(self, table: str, key: str) -> bool:
        """Remove every row with this key; whether there was one."""
        self._known(table)
        if not isinstance(key, str):
            raise UsageError([Problem("MR420", f"the key is a {type(key).__name__}, not a text", Location(table),
                                      expected="the row's key as text, e.g. 'P-1'")])
        with self._lock:
            numbers = self._numbers[table].get(key)
            if not numbers:
                return False
            self._before(table, key, set(numbers))
            for number in numbers:
                del self._rows[table][number]
            del self._numbers[table][key]
            self._after(table, key, set(numbers))
            return True

    # -- configuration ------------------------------------------------------------------------
    def _known(self, name: object) -> str:
        if not isinstance(name, str) or name not in self._contracts:
            raise MentorRulesError([Problem("MR300", f"unknown table {name!r}", Location(),
                                            expected=", ".join(self._contracts))])
        return name

    def _configure(self) -> None:
        """What follows from the tables given: rules not checked, the batch rules of each
        table in order, which tables take the fast path; derived state starts afresh."""
        policy = self._policy
        self._not_checked = {rule.id: tuple(sorted(policy.tables_read[rule.id] - self._given))
                             for rule in policy.book.rules if not policy.tables_read[rule.id] <= self._given}
        skipped = frozenset(self._not_checked)
        self._skipped = skipped
        self._rules = order([rule for rule in policy.batch_rules if rule.rule.id not in skipped])
        self._by_table: dict[str, list[BatchRule]] = {name: [] for name in self._contracts}
        self._on_rows: dict[str, list[BatchRule]] = {name: [] for name in self._contracts}
        for rule in self._rules:
            # A group's finding goes on a group record, never on the row; but a row such a rule
            # cannot check (its state unknown) says so on the row, as validate does.
            self._on_rows[rule.table.name].append(rule)
            if not rule.by_group:
                self._by_table[rule.table.name].append(rule)
        self._fast = frozenset(name for name in self._contracts if self._decidable(name))
        self._states: dict[str, _RuleState] = {}
        self._states_day: dt.date | None = None

    def _decidable(self, table: str) -> bool:
        """Whether a new row of ``table`` is decided by indexes and groups alone: nothing it is
        checked against depends on the table's own rows but its groups."""
        if any(relation.table == table for relation in self._contracts[table].relations.values()):
            return False
        for rule in self._by_table[table]:
            for lookup in rule.lookups:
                if lookup.table == table:
                    return False
                reads = {lookup.table}.union(*(self._policy.tables_read.get(name, frozenset())
                                               for name in lookup.only_passing))
                if lookup.only_passing and table in reads:
                    return False
        return True

    # -- the rows of unique tables --------------------------------------------------------------
    def _reindex(self, table: str, key: str) -> None:
        """Index the rows of one key of a unique table as ``index_tables`` does: the first
        readable row is the one related facts see; an unreadable one is remembered."""
        contract = self._contracts[table]
        index, first = self._indexes[table], self._first[table]
        for number in self._numbers[table].get(key, ()):
            row = self._rows[table][number]
            marker = _index_key(contract, row.values)
            if row.problems:
                index.unreadable.setdefault(marker, number)
            elif marker not in index:
                index[marker] = row.values
                first[marker] = number

    def _unindex(self, table: str, numbers: Iterable[int]) -> None:
        contract = self._contracts[table]
        index, first = self._indexes[table], self._first[table]
        for number in numbers:
            row = self._rows[table].get(number)
            if row is None:
                continue
            marker = _index_key(contract, row.values)
            if index.unreadable.get(marker) == number:
                del index.unreadable[marker]
            if first.get(marker) == number:
                del first[marker], index[marker]

    def _readable(self, table: str, numbers: Iterable[int] | None = None) -> list[Row]:
        """The rows of a table rules run on: readable, and not a repeated key of a unique table."""
        rows = self._rows[table]
        chosen = rows.values() if numbers is None else [rows[number] for number in sorted(numbers) if number in rows]
        if not self._contracts[table].unique:
            return [row for row in chosen if not row.problems]
        contract, first = self._contracts[table], self._first[table]
        return [row for row in chosen if not row.problems and first.get(_index_key(contract, row.values)) == row.number]

    # -- keeping derived state up to date -------------------------------------------------------
    def _before(self, table: str, key: str, numbers: set[int]) -> None:
        """Forget what derived state holds of these rows and of the rows that share their key
        (in a unique table, which of them is the one related facts see may change)."""
        if self._contracts[table].unique:
            numbers = numbers | set(self._numbers[table].get(key, ()))
            self._unindex(table, numbers)
        for state in self._states.values():
            self._forget(state, table, numbers)

    def _after(self, table: str, key: str, numbers: set[int]) -> None:
        """Take the changed rows (and the rows that share their key) into derived state."""
        if self._contracts[table].unique:
            self._reindex(table, key)
            numbers = numbers | set(self._numbers[table].get(key, ()))
        if table not in self._given:  # a table upserted into is given from now on
            self._given.add(table)
            self._configure()
            return
        for state in self._states.values():
            self._learn(state, table, numbers)

    def _forget(self, state: _RuleState, table: str, numbers: set[int]) -> None:
        rule = state.rule
        if state.groups is not None:
            if table == rule.table.name:
                for number in numbers:
                    for members in state.groups.values():
                        members.pop(number, None)
            elif table in state.relation_tables:
                state.groups = None  # members' related rows change: rebuilt on next use
        for index, lookup in enumerate(rule.lookups):
            found = state.lookups[index]
            if found is None:
                continue
            if lookup.only_passing:
                state.lookups[index] = None  # which rows pass may change with any table
            elif lookup.table == table:
                for number in numbers:
                    for link in state.lookup_keys[index].pop(number, ()):
                        found.get(link, {}).pop(number, None)

    def _learn(self, state: _RuleState, table: str, numbers: set[int]) -> None:
        rule = state.rule
        day = self._states_day
        if state.groups is not None and table == rule.table.name and day is not None:
            for row in self._readable(table, numbers):
                self._add_member(state, row, day)
        for index, lookup in enumerate(rule.lookups):
            found = state.lookups[index]
            if found is not None and not lookup.only_passing and lookup.table == table:
                for row in self._readable(table, numbers):
                    self._add_linked(state, index, row)

    def _state(self, rule: BatchRule, day: dt.date) -> _RuleState:
        if self._states_day != day:
            self._states = {}
            self._states_day = day
        state = self._states.get(rule.rule.id)
        if state is None:
            state = self._states[rule.rule.id] = _RuleState(rule)
        if state.groups is None and rule.batch.group_by:
            state.groups = {}
            for row in self._readable(rule.table.name):
                self._add_member(state, row, day)
        for index, lookup in enumerate(rule.lookups):
            if state.lookups[index] is None:
                state.lookups[index] = {}
                state.lookup_keys[index] = {}
                if lookup.only_passing:
                    self._passing_lookup(state, index, day)
                else:
                    for row in self._readable(lookup.table):
                        self._add_linked(state, index, row)
        return state

    def _add_member(self, state: _RuleState, row: Row, day: dt.date) -> None:
        assert state.groups is not None
        member = self._member(state.rule, row, day)
        if isinstance(member, Member):
            try:
                group = state.rule.group_key(member)
            except CANNOT_CHECK:
                return  # a row without a group: its own evaluation says it cannot be checked
            state.groups.setdefault(group, {})[row.number] = member

    def _add_linked(self, state: _RuleState, index: int, row: Row) -> None:
        found = state.lookups[index]
        assert found is not None
        links = state.rule.lookup_keys(index, row.values)
        state.lookup_keys[index][row.number] = links
        for link in links:
            found.setdefault(link, {})[row.number] = row.values

    def _passing_lookup(self, state: _RuleState, index: int, day: dt.date) -> None:
        """A lookup counting only rows that pass other rules: which pass comes from a run over
        the context (rebuilt after any change)."""
        lookup = state.rule.lookups[index]
        run = Run(self._policy.evaluator, self._policy.batch_rules, self._tables(), day, skipped=self._skipped)
        run.decide()
        for row in run.tables.get(lookup.table, ()):
            if not row.problems and run.passes(lookup.table, row.number, lookup.only_passing):
                self._add_linked(state, index, row)

    def _member(self, rule: BatchRule, row: Row, day: dt.date) -> Member | Unchecked | None:
        compiled = self._policy.evaluator.tables[row_table := rule.table.name]
        values = row.values
        related = compiled.relate(values, self._indexes)
        row_day = compiled.day_of(values, day)
        return rule.member(row_table, row.number, row.key, values, related, row_day,
                           compiled.state(values, related), compiled.school_day(values, row_day))

    # -- deciding -------------------------------------------------------------------------------
    def _decide(self, table: str, row: Row, as_of: dt.date) -> Decision:
        """A new row's decision from the indexes and its batch rules' groups and lookups."""
        if row.problems:
            return Decision(table, row.number, row.key, Status.UNREADABLE, error_findings(row.problems),
                            row_problems(row.problems, row.values))
        contract = self._contracts[table]
        values = row.values
        if contract.unique:
            first = self._first[table].get(_index_key(contract, values))
            if first is not None:
                problem = Problem("MR313", f"the key {row.key!r} is repeated (first in row {first})",
                                  Location(table, row=row.number), hint=f"each {contract.record} must appear once")
                return Decision(table, row.number, row.key, Status.UNREADABLE, error_findings([problem]),
                                row_problems([problem], values))
        evaluator = self._policy.evaluator
        compiled = evaluator.tables[table]
        indexes = self._indexes
        related = compiled.relate(values, indexes)
        day = compiled.day_of(values, as_of)
        state = compiled.state(values, related)
        school_day = compiled.school_day(values, day)
        found = evaluator.findings(table, values, day, indexes)
        if found and self._skipped:
            found = [finding for finding in found if finding.rule not in self._skipped]
        for rule in self._on_rows[table]:
            member = rule.member(table, row.number, row.key, values, related, day, state, school_day)
            if member is None or (rule.by_group and not isinstance(member, Unchecked)):
                continue
            finding = member.finding if isinstance(member, Unchecked) else \
                self._verdict(self._state(rule, as_of), member)
            if finding is not None:
                found.append(finding)
        return Decision(table, row.number, row.key, status_of(found), tuple(found))

    def _verdict(self, state: _RuleState, member: Member) -> Finding | None:
        """A batch rule's finding on a new member, as ``validation._Verdicts`` gives it."""
        rule = state.rule
        names: dict[str, Any] = {}
        members = [member]
        try:
            if state.groups is not None:
                group = rule.group_key(member)
                others = state.groups.get(group)
                if others:
                    members = [*sorted(others.values(), key=_row_of), member]
                names.update(zip((name for name, _ in rule.batch.group_by), group, strict=True))
                names.update(rule.aggregates(members))
            if rule.lookups:
                names.update(self._lookup_names(state, member))
        except CANNOT_CHECK as error:
            return rule.cannot(member.values, member.related, error)
        finding = rule.verdict(member, names)
        if finding is None or finding.cannot_check or state.groups is None or len(members) < 2:
            return finding
        if rule.batch.hold == "later":  # which copy to hold depends on the whole group, by date
            def names_of(other: Member) -> dict[str, Any]:
                return {**names, **self._lookup_names(state, other)} if rule.lookups else names

            return rule.check_rows(members, names_of).get(member.row)
        # The finding names every failing row of the group (its own included).
        failing = []
        for other in members:
            if other is not member:
                try:
                    other_names = {**names, **self._lookup_names(state, other)} if rule.lookups else names
                except CANNOT_CHECK:
                    continue
                if not rule.fails(other, other_names):
                    continue
            failing.append((other.row, other.key))
        rows = named_rows(failing)
        return replace(finding, rows=rows) if rows else finding

    def _lookup_names(self, state: _RuleState, member: Member) -> dict[str, Any]:
        rule = state.rule
        names = {}
        for index, lookup in enumerate(rule.lookups):
            linked = state.lookups[index]
            assert linked is not None
            rows = linked.get(rule.record_key(index, member))
            candidates = [rows[number] for number in sorted(rows)] if rows else []
            names[lookup.name] = rule.lookup_value(index, member, candidates)
        return names

    def _tables(self, extra: Row | None = None, table: str | None = None) -> dict[str, list[Row]]:
        """Fresh rows of the given tables (a run marks repeated keys on them), ``extra`` last in
        ``table``."""
        tables = {name: [Row(row.number, row.values, row.problems, row.key) for row in self._rows[name].values()]
                  for name in self._contracts if name in self._given}
        if extra is not None and table is not None:
            tables.setdefault(table, []).append(extra)
        return tables

    def _run(self, table: str, row: Row, as_of: dt.date) -> Decision:
        """A new row's decision from a run over the context with the row added."""
        run = Run(self._policy.evaluator, self._policy.batch_rules, self._tables(row, table), as_of,
                  skipped=self._skipped)
        run.decide()
        for decision in run.decisions():
            if decision.table == table and decision.row == row.number:
                return decision
        raise AssertionError("the run lost the evaluated row")  # pragma: no cover


def _row_of(member: Member) -> int:
    return member.row


def _renumbered(problems: tuple[Problem, ...], number: int) -> tuple[Problem, ...]:
    """A row's problems located at its row number (it was typed before it had one)."""
    return tuple(replace(problem, location=replace(problem.location, row=number)) for problem in problems)


def check_names(value: object, argument: str, what: str = "table names", example: str = "['attendance']",
                kinds: tuple[type, ...] = (str,)) -> list[Any]:
    """A list of names (tables, columns, packs): not one text (which would be read letter by
    letter), not a number.

    >>> try:
    ...     check_names("name", "mask", "column names", "['name']")
    ... except UsageError as error:
    ...     print(error.code, error.problems[0].message)
    MR420 mask is a str, not a list of column names
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable) or isinstance(value, Mapping):
        raise UsageError([Problem("MR420", f"{argument} is a {type(value).__name__}, not a list of {what}",
                                  Location(field=argument), expected=f"e.g. {example}")])
    names = list(value)
    for name in names:
        if not isinstance(name, kinds):
            raise UsageError([Problem("MR420", f"{argument} holds a {type(name).__name__} ({name!r:.40}), "
                                      f"not one of the {what}", Location(field=argument), expected=f"e.g. {example}")])
    return names
