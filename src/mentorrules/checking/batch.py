"""Rows of all tables -> findings of batch rules: groups, aggregates and lookups across rows.

A batch rule's rows are those of its table that it applies to (state, effective period,
``when``). With ``group_by`` they form groups with aggregates (``count()``, ``sum(x)``, ...);
with ``lookup`` each row sees an aggregate over linked rows of another table, found through an
index on the link's keys (never by scanning); a group's lookups are those of its first row, so
their links should use the group's key fields. ``require`` is then checked per row, and a
failing row's finding names every row of its group; or, with ``findings_on: group``, once per
group, whose finding goes on a *group record* (table ``group``, key ``RULE:k1/k2``).

Per group only compact state is kept: member row numbers and running aggregates. Sums are
exact ``Decimal``; missing values are left out of sums, minima, maxima and distinct counts, as
in SQL. The same :class:`BatchRule` serves batch validation and streaming sessions.
"""

from __future__ import annotations

import ast
import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from itertools import product
from typing import Any

from mentorrules.checking.codegen import (
    CANNOT_CHECK,
    MASKED,
    Mode,
    Namespace,
    Renderer,
    build,
    columns_read,
    message_code,
)
from mentorrules.checking.evaluation import (
    Index,
    Values,
    carries_state,
    columns_of,
    periods_of,
    school_year_of_record,
    show,
    unknown_state,
)
from mentorrules.generated import define
from mentorrules.loading.expressions import Expression
from mentorrules.loading.rulebook import Aggregate, Lookup, Rule, RuleBook
from mentorrules.loading.tables import Table
from mentorrules.model import Finding, Severity
from mentorrules.packs.functions import Ascending

GROUP_TABLE = "group"


NAMED_ROWS = 20  # rows a finding names; more are counted ("... and 3,980 more rows")


def named_rows(rows: Sequence[tuple[int, str]], *, always: bool = False) -> tuple[str, ...]:
    """The keys of the rows a finding names (when there are several, or ``always``); a key that
    several of them share is told apart by its row number. At most :data:`NAMED_ROWS` are named,
    then how many more there are: a payout repeated 4,000 times gives 4,000 findings of 21
    entries each, not 4,000 lists of 4,000.

    >>> named_rows([(3, "P-1"), (9, "P-2")]), named_rows([(4, "P-7"), (5, "P-7")]), named_rows([(2, "P-1")])
    (('P-1', 'P-2'), ('P-7 (row 4)', 'P-7 (row 5)'), ())
    >>> named_rows([(row, "P-1") for row in range(1, 31)])[-2:]
    ('P-1 (row 20)', '... and 10 more rows')
    """
    if len(rows) < 2 and not always:
        return ()
    repeated = Counter(key for _, key in rows)
    named = tuple(f"{key} (row {row})" if repeated[key] > 1 else key for row, key in rows[:NAMED_ROWS])
    more = len(rows) - NAMED_ROWS
    return (*named, f"... and {more:,} more {'row' if more == 1 else 'rows'}") if more > 0 else named


class Member:
    """A row taking part in a batch rule: its place, values, related facts and date.

    A plain slotted class: batch rules make one per row, and a frozen dataclass costs more.
    """

    __slots__ = ("day", "key", "related", "row", "school_day", "table", "values")

    def __init__(self, table: str, row: int, key: str, values: Values, related: tuple[Values | None, ...],
                 day: dt.date, school_day: dt.date) -> None:
        self.table = table
        self.row = row
        self.key = key
        self.values = values
        self.related = related
        self.day = day
        self.school_day = school_day  # first day of its school year, for parameters_on: school_year_start


@dataclass(frozen=True)
class Unchecked:
    """A row a batch rule applies to but cannot check (a value it needs is missing)."""

    table: str
    row: int
    finding: Finding


@dataclass(frozen=True)
class GroupFinding:
    """A finding about a whole group, shown under a group record."""

    key: str
    finding: Finding


class BatchRule:
    """One compiled batch rule."""

    def __init__(self, book: RuleBook, rule: Rule,
                 relate: Callable[[Values, Mapping[str, Index]], tuple[Any, ...]]) -> None:
        assert rule.batch is not None
        self.rule = rule
        self.book = book
        self.batch = rule.batch
        self.table: Table = book.tables[rule.table]
        self.relate = relate
        self.by_group = rule.batch.findings_on == "group"
        namespace = Namespace()
        namespace.values.update(_show=show)
        table = self.table
        facts = {table.record: table.record, **{name: name for name in table.relations}}
        parameters = book.parameters_for(rule.pack)
        date = "_sy" if rule.parameters_on == "school_year_start" else "_d"
        names = {name: f"_n[{name!r}]" for name in self._names()}
        columns = {**columns_of(book, table),
                   **{lookup.alias: book.tables[lookup.table].positions for lookup in rule.batch.lookups}}
        renderer = Renderer(namespace, facts, columns, parameters, book.functions, names=names, date=date)
        arguments = ", ".join([table.record, *table.relations, "_d", "_sy"])
        lines = [f"def _applies({arguments}):",
                 f"    return {renderer.render(rule.when) if rule.when is not None else 'True'}",
                 f"def _group({arguments}):",
                 "    return (" + "".join(f"{renderer.render(e)}, " for _, e in self.batch.group_by) + ")"]
        for number, aggregate in enumerate(self.batch.aggregates):
            argument = renderer.render(aggregate.argument) if aggregate.argument is not None else "None"
            lines += [f"def _arg{number}({arguments}):", f"    return {argument}"]
        for number, lookup in enumerate(self.batch.lookups):
            lines += self._lookup_lines(number, lookup, renderer, arguments)
        head = "_n, _d, _sy" if self.by_group else f"{arguments}, _n"
        group_renderer = Renderer(namespace, {} if self.by_group else facts, columns, parameters, book.functions,
                                  names=names, date=date)
        self.name_columns = self._name_columns()
        require = group_renderer.render(rule.require)
        lines += self._fast_lines(renderer, arguments, require)
        self.gap_kind, gap = _gap_sides(rule.require)
        if gap is not None:  # a comparison of two amounts: by how much it fails
            lines += [f"def _gap({head}):",
                      f"    return ({group_renderer.render(gap[0])}, {group_renderer.render(gap[1])})"]
        lines += [f"def _require({head}):", f"    return {require}",
                  f"def _message({head}, _masked=None):",
                  f"    return {message_code(rule.message, group_renderer, self.name_columns, rule.rounding)}"]
        module = build("\n".join(lines) + "\n", namespace, f"<mentorrules {rule.id} batch>")
        self._applies = module["_applies"]
        self._group = module["_group"]
        self._arguments = [module[f"_arg{n}"] for n in range(len(self.batch.aggregates))]
        self._lookups = [_CompiledLookup(lookup, module[f"_lk{n}"], module[f"_lo{n}"],
                                         module.get(f"_lw{n}"), module[f"_la{n}"])
                         for n, lookup in enumerate(self.batch.lookups)]
        self._require = module["_require"]
        self._gap: Callable[..., tuple[Any, Any]] | None = module.get("_gap")
        self._message = module["_message"]
        self.fold: Callable[..., None] | None = module.get("_fold")
        self.screen: Callable[..., bool] | None = module.get("_screen")
        self._parameter_keys = self._compile_parameter_keys(renderer, arguments)
        self.carries_state = carries_state(self.table)
        self.referenced = _referenced_fields(rule)
        self.optional = _optional_fields(rule)

    def _fast_lines(self, renderer: Renderer, arguments: str, require: str) -> list[str]:
        """The batch path's fast functions for a rule with groups and findings on rows.

        ``_fold`` adds a row to its group's state in one call (applies, key, arguments, folds);
        ``_screen`` says whether a row may have a finding, so that only those few rows take the
        slow path that builds the finding. Both skip the rule's jurisdiction and effective
        period, which the caller tests (:meth:`in_force`); a row whose ``when`` or key cannot be
        computed is left to the slow path, which reports it.
        """
        batch = self.batch
        if not batch.group_by or self.by_group:
            return []
        when = renderer.render(self.rule.when) if self.rule.when is not None else "True"
        group = "(" + "".join(f"{renderer.render(e)}, " for _, e in batch.group_by) + ")"
        key = "_k[0]" if len(batch.group_by) == 1 else "_k"
        namespace = renderer.namespace
        namespace.values.update(_NEW=_NEW, **{f"_fold{n}": _FOLDS[a.function] for n, a in enumerate(batch.aggregates)},
                                **{f"_start{n}": _START[a.function] for n, a in enumerate(batch.aggregates)})
        lines = [f"def _fold({arguments}, _states):", "    try:", f"        if not {when}:", "            return",
                 f"        _k = {group}", "    except _CANNOT:", "        return", f"    _key = {key}"]
        for number, aggregate in enumerate(batch.aggregates):
            argument = renderer.render(aggregate.argument) if aggregate.argument is not None else "None"
            lines += ["    try:", f"        _a{number} = {argument}",
                      "    except _CANNOT:", f"        _a{number} = None"]
        if len(batch.aggregates) == 1:  # the state is the aggregate's value, bare (see Groups)
            lines += ["    _s = _states.get(_key, _NEW)",
                      "    _states[_key] = _fold0(_start0 if _s is _NEW else _s, _a0)"]
        else:
            starts = ", ".join(f"_start{n}" for n in range(len(batch.aggregates)))
            lines += ["    _s = _states.get(_key)", "    if _s is None:", f"        _s = _states[_key] = [{starts}]"]
            lines += [f"    _s[{n}] = _fold{n}(_s[{n}], _a{n})" for n in range(len(batch.aggregates))]
        if not batch.lookups:
            lines += [f"def _screen({arguments}, _states, _names):", "    try:", f"        if not {when}:",
                      "            return False", f"        _k = {group}", f"        _n = _names(_k, _states[{key}])",
                      f"        return not {require}", "    except _CANNOT:", "        return True"]
        return lines

    def state_unknown(self, state: str | None) -> bool:
        """Whether a row of this state is one the rule cannot place: a state pack's rule on a row
        whose state is not known (see :meth:`member`)."""
        return state is None and self.rule.jurisdiction is not None and self.carries_state

    def in_force(self, state: str | None, day: dt.date) -> bool:
        """Whether the rule applies to a row of this state and date (jurisdiction, effective period)."""
        rule = self.rule
        return ((rule.jurisdiction is None or rule.jurisdiction == state)
                and (rule.effective_from is None or day >= rule.effective_from)
                and (rule.effective_to is None or day <= rule.effective_to))

    def _compile_parameter_keys(self, renderer: Renderer, arguments: str) -> dict[str, list[Callable[..., Any]]]:
        """For each parameter map the rule indexes by a row's values (``params.cap[payout.role]``),
        functions giving the keys a member uses, so that a finding shows the entry it used."""
        rule = self.rule
        parts = [rule.require, *(part for part in rule.message if isinstance(part, Expression))]
        found: dict[str, list[Callable[..., Any]]] = {}
        for expression in parts:
            for node in ast.walk(expression.tree):
                if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute)
                        and isinstance(node.value.value, ast.Name) and node.value.value.id == "params"):
                    continue
                names = {name.id for name in ast.walk(node.slice) if isinstance(name, ast.Name)}
                if not names <= set(renderer.facts):
                    continue  # keyed by a group name or an aggregate: the whole map is shown
                key = replace(expression, text=ast.unparse(node.slice), tree=node.slice)
                code = f"def _key({arguments}):\n    return {renderer.render(key, Mode.SAFE)}\n"
                found.setdefault(node.value.attr, []).append(
                    build(code, renderer.namespace, f"<mentorrules {rule.id} parameter key>")["_key"])
        return found

    def _name_columns(self) -> dict[str, frozenset[str]]:
        """The columns behind each name ``require`` and messages read (for masking)."""
        def read(aggregate: Aggregate) -> frozenset[str]:
            return columns_read(aggregate.argument) if aggregate.argument is not None else frozenset()

        batch = self.batch
        return {**{name: columns_read(expression) for name, expression in batch.group_by},
                **{aggregate.name: read(aggregate) for aggregate in batch.aggregates},
                **{lookup.name: read(lookup.aggregate) for lookup in batch.lookups}}

    def _names(self) -> list[str]:
        batch = self.batch
        return [*(name for name, _ in batch.group_by), *(a.name for a in batch.aggregates),
                *(lookup.name for lookup in batch.lookups)]

    def _lookup_lines(self, number: int, lookup: Lookup, renderer: Renderer, arguments: str) -> list[str]:
        other_renderer = Renderer(renderer.namespace, {lookup.alias: lookup.alias}, renderer.columns,
                                  renderer.parameters, renderer.functions, date=renderer.date)
        both = Renderer(renderer.namespace, {**renderer.facts, lookup.alias: lookup.alias}, renderer.columns,
                        renderer.parameters, renderer.functions, names=renderer.names, date=renderer.date)
        record_key = "(" + "".join(f"{renderer.render(e)}, " for e in lookup.record_keys) + ")"
        other_keys = "(" + "".join("(" + "".join(f"{other_renderer.render(e)}, " for e in keys) + "), "
                                   for keys in lookup.other_keys) + ")"
        argument = lookup.aggregate.argument
        lines = [f"def _lk{number}({arguments}):", f"    return {record_key}",
                 f"def _lo{number}({lookup.alias}):", f"    return {other_keys}",
                 f"def _la{number}({lookup.alias}):",
                 f"    return {other_renderer.render(argument) if argument is not None else 'None'}"]
        if lookup.where is not None:
            lines += [f"def _lw{number}({arguments}, {lookup.alias}):", f"    return {both.render(lookup.where)}"]
        return lines

    # -- membership ---------------------------------------------------------------------------
    def member(self, table: str, row: int, key: str, values: Values, related: Sequence[Values | None],
               day: dt.date, state: str | None, school_day: dt.date | None = None) -> Member | Unchecked | None:
        """The row as a member, None if the rule does not apply, or a row it cannot check.

        ``school_day`` (the first day of the row's school year) is computed when not given.
        """
        unknown = self.state_unknown(state)
        if not (unknown or self.in_force(state, day)) or (unknown and not self.in_force(self.rule.jurisdiction, day)):
            return None
        if school_day is None:
            school_day = school_year_of_record(values, day)
        try:
            if not self._applies(values, *related, day, school_day):
                return None
        except CANNOT_CHECK:
            if not unknown:
                return Unchecked(table, row, self.cannot(values, related))
        if unknown:  # it would apply, were the row's state known: never a silent skip
            return Unchecked(table, row, Finding.unchecked(self.rule.id, self.rule.severity,
                                                           unknown_state(self.table, values, related),
                                                           self.rule.source))
        return Member(table, row, key, values, tuple(related), day, school_day)

    def group_key(self, member: Member) -> tuple[Any, ...]:
        return tuple(self._group(member.values, *member.related, member.day, member.school_day))

    # -- lookups ------------------------------------------------------------------------------
    def lookup_index(self, number: int,
                     rows: Iterable[tuple[Values, bool]]) -> dict[tuple[Any, ...], list[Values]]:
        """Rows of a lookup's table by each of their link keys; rows failing only_passing left out."""
        compiled = self._lookups[number]
        index: dict[tuple[Any, ...], list[Values]] = {}
        for values, passing in rows:
            if not passing:
                continue
            for key in compiled.keys_of(values):
                index.setdefault(key, []).append(values)
        return index

    def lookup_keys(self, number: int, values: Values) -> list[tuple[Any, ...]]:
        """A linked row's keys for a lookup's index (several for ``x in [a, b]``; none when empty)."""
        return self._lookups[number].keys_of(values)

    def lookup_value(self, number: int, member: Member, candidates: Sequence[Values]) -> Any:
        """The lookup's aggregate over the candidates its ``where`` keeps; raises
        :class:`LinkedRowUnchecked` (a "cannot check") when a candidate cannot be tested."""
        compiled = self._lookups[number]
        arguments = []
        for other in candidates:
            try:
                if compiled.where is None or compiled.where(member.values, *member.related, member.day,
                                                            member.school_day, other):
                    arguments.append(compiled.argument(other))
            except CANNOT_CHECK as error:
                raise LinkedRowUnchecked(compiled.lookup, other) from error
        return aggregate_of(compiled.lookup.aggregate, arguments)

    def link_key(self, number: int, values: Values, related: Sequence[Values | None], day: dt.date) -> tuple[Any, ...]:
        """A row's key for a lookup's links, whether or not the rule applies to it (or ())."""
        try:
            return tuple(self._lookups[number].record_key(values, *related, day, school_year_of_record(values, day)))
        except CANNOT_CHECK:
            return ()

    def record_key(self, number: int, member: Member) -> tuple[Any, ...]:
        return tuple(self._lookups[number].record_key(member.values, *member.related, member.day,
                                                      member.school_day))

    @property
    def lookups(self) -> tuple[Lookup, ...]:
        return self.batch.lookups

    def other_alternatives(self, number: int, values: Values) -> tuple[tuple[Any, ...], ...]:
        """Per link part, the other row's key values (several for ``x in [a, b]``)."""
        try:
            return tuple(self._lookups[number].other(values))
        except CANNOT_CHECK:
            return ()

    def group_label(self, key: tuple[Any, ...], masked: frozenset[str] | None = None) -> str:
        """The key of a group record: ``RULE:part/part`` (a part read from a masked column is ``[masked]``)."""
        return f"{self.rule.id}:" + "/".join(
            MASKED if masked and masked & self.name_columns[name] else show(part)
            for (name, _), part in zip(self.batch.group_by, key, strict=True))

    def shown_key(self, key: str, masked: frozenset[str] | None) -> str:
        """A row key of the rule's table as a report shows it (``[masked]`` when a key column is)."""
        return MASKED if masked and masked.intersection(self.table.key) else key

    # -- aggregates and findings ---------------------------------------------------------------
    def argument_values(self, member: Member) -> list[Any]:
        """The member's value of each aggregate's argument; one that cannot be computed is missing."""
        values = []
        for argument in self._arguments:
            try:
                values.append(argument(member.values, *member.related, member.day, member.school_day))
            except CANNOT_CHECK:
                values.append(None)
        return values

    def aggregates(self, members: Sequence[Member]) -> dict[str, Any]:
        columns = list(zip(*(self.argument_values(member) for member in members), strict=True)) \
            or [() for _ in self.batch.aggregates]
        return {aggregate.name: aggregate_of(aggregate, list(column))
                for aggregate, column in zip(self.batch.aggregates, columns, strict=True)}

    def verdict(self, member: Member, names: Mapping[str, Any],
                masked: frozenset[str] | None = None) -> Finding | None:
        """The finding of a rule with findings on rows for one member (without ``rows``), or None."""
        try:
            arguments = (member.values, *member.related, member.day, member.school_day, names)
            if self._require(*arguments):
                return None
            return Finding(self.rule.id, self.rule.severity, self._message(*arguments, masked), self.rule.source,
                           self.parameter_lines(member), gap=self.gap(*arguments), gap_kind=self.gap_kind)
        except CANNOT_CHECK as error:
            return self.cannot(member.values, member.related, error, masked)

    def fails(self, member: Member, names: Mapping[str, Any]) -> bool:
        """Whether ``require`` fails for the member (a member it cannot check does not fail);
        :meth:`verdict` without building the finding."""
        try:
            return not self._require(member.values, *member.related, member.day, member.school_day, names)
        except CANNOT_CHECK:
            return False

    def check_rows(self, members: Sequence[Member], names_of: Callable[[Member], Mapping[str, Any]],
                   masked: frozenset[str] | None = None) -> dict[int, Finding]:
        """Findings per member row number, for rules with findings on rows; a finding names the
        group's failing rows when there are several."""
        findings: dict[int, Finding] = {}
        failing: list[tuple[int, str]] = []
        for member in members:
            try:
                names = names_of(member)
            except CANNOT_CHECK as error:
                findings[member.row] = self.cannot(member.values, member.related, error, masked)
                continue
            found = self.verdict(member, names, masked)
            if found is not None:
                findings[member.row] = found
                if not found.cannot_check:
                    failing.append((member.row, self.shown_key(member.key, masked)))
        rows = named_rows(failing) if self.batch.group_by else ()
        findings = {row: replace(finding, rows=rows) if rows and not finding.cannot_check else finding
                    for row, finding in findings.items()}
        if self.batch.hold == "later" and failing:
            by_row = {member.row: member for member in members}
            failed = [(by_row[row], findings[row]) for row, _ in failing]
            findings.update(self.hold_later(failed, names_of, masked))
        return findings

    def hold_later(self, failing: Sequence[tuple[Member, Finding]],
                   names_of: Callable[[Member], Mapping[str, Any]],
                   masked: frozenset[str] | None = None) -> dict[int, Finding]:
        """For a ``hold: later`` rule, the findings of one group's failing rows: which to hold.

        The rows are taken in order of date (the pay date), then row number, and the rule is
        checked on the rows so far: the first row at which it fails (the second copy of a
        payout, the payout whose running total crosses a cap) and every later row keep the
        rule's finding, with the aggregates of the rows up to them (``total_paid`` is the
        running total); the earlier rows get an ``info`` finding naming the held rows, so that
        nothing is hidden and each dollar is held once. ``names_of`` gives a member's names on
        the whole group (lookups, group keys); the running aggregates replace the group's.
        Should the rule hold on every prefix (a row-specific ``require``), every failing row is
        held, as with ``hold: all``. Linear in the group's size.

        >>> from mentorrules.engine import Engine
        >>> engine = Engine.load(packs=["core"])
        >>> report = engine.validate({"payouts": [
        ...     {"payout_id": "P-9", "payee_id": "T-1", "role": "mentor", "program": "AK_ASMP", "state": "AK",
        ...      "school_year": "2025-26", "pay_date": "2026-06-01", "amount": "500.00"},
        ...     {"payout_id": "P-9", "payee_id": "T-1", "role": "mentor", "program": "AK_ASMP", "state": "AK",
        ...      "school_year": "2025-26", "pay_date": "2025-12-01", "amount": "500.00"}]})
        >>> [[(f.rule, f.severity.value) for f in d.findings if f.rule == "STIPEND-006"]
        ...  for d in report.records_of("payouts")]
        [[('STIPEND-006', 'error')], [('STIPEND-006', 'info')]]
        """
        ordered = sorted(failing, key=lambda pair: (pair[0].day, pair[0].row))
        aggregates = self.batch.aggregates
        states = [_START[aggregate.function] for aggregate in aggregates]
        folds = [_FOLDS[aggregate.function] for aggregate in aggregates]
        found: dict[int, Finding] = {}
        first_held: int | None = None
        for index, (member, finding) in enumerate(ordered):
            states = [fold(state, value) for fold, state, value
                      in zip(folds, states, self.argument_values(member), strict=True)]
            try:
                names = {**names_of(member), **{aggregate.name: _final(aggregate, state)
                                                for aggregate, state in zip(aggregates, states, strict=True)}}
            except CANNOT_CHECK:
                names = None
            running = self.verdict(member, names, masked) if names is not None else finding
            if first_held is None:
                if running is None or running.cannot_check:
                    continue
                first_held = index
            # Once held, a row stays held (the rows before it are paid already), with the finding
            # as the rows so far show it, or the group's when the rows so far pass.
            held = finding if running is None or running.cannot_check else running
            found[member.row] = replace(held, rows=finding.rows)
        if first_held is None:
            return {member.row: finding for member, finding in failing}
        # Named by key and date, not row number: a session numbers facts as they are posted.
        shown = ", ".join(f"{self.shown_key(member.key, masked)} ({member.day.isoformat()})"
                          for member, _ in ordered[first_held:])
        for member, finding in ordered[:first_held]:
            found[member.row] = Finding(
                self.rule.id, Severity.INFO,
                f"not held by this rule: it fails only from the later row(s) {shown} on, which carry "
                "its finding and are held (rows taken by date, then input order)",
                self.rule.source, rows=finding.rows)
        return found

    def check_group(self, key: tuple[Any, ...], members: Sequence[Member], names: dict[str, Any],
                    masked: frozenset[str] | None = None) -> GroupFinding | None:
        """The finding of a group, for rules with findings on the group: checked on the date of
        its latest member, whose parameter values the finding shows."""
        return self.group_finding(key, [(member.row, member.key) for member in members],
                                  max(members, key=lambda member: member.day), names, masked)

    def group_finding(self, key: tuple[Any, ...], rows: Sequence[tuple[int, str]], latest: Member,
                      names: Mapping[str, Any], masked: frozenset[str] | None = None) -> GroupFinding | None:
        label = self.group_label(key, masked)
        rows = [(row, self.shown_key(row_key, masked)) for row, row_key in rows]
        try:
            if self._require(names, latest.day, latest.school_day):
                return None
            message = self._message(names, latest.day, latest.school_day, masked)
        except CANNOT_CHECK:
            reason = ", ".join(
                f"{name} = {MASKED if masked and masked & self.name_columns.get(name, frozenset()) else show(value)}"
                for name, value in names.items())
            unchecked = Finding.unchecked(self.rule.id, self.rule.severity, reason, self.rule.source)
            return GroupFinding(label, replace(unchecked, parameters=self.parameter_lines(latest),
                                               rows=named_rows(rows, always=True)))
        district = latest.values.get("district")
        return GroupFinding(label, Finding(self.rule.id, self.rule.severity, message, self.rule.source,
                                           self.parameter_lines(latest), rows=named_rows(rows, always=True),
                                           gap=self.gap(names, latest.day, latest.school_day),
                                           gap_kind=self.gap_kind,
                                           district=district if isinstance(district, str) and district else None))

    def gap(self, *arguments: Any) -> Decimal | None:
        """By how much a failing comparison of two amounts misses (``total_paid <= cap``: the
        excess; ``match >= required``: the shortfall), or None when the sides are not amounts."""
        if self._gap is None:
            return None
        try:
            left, right = self._gap(*arguments)
        except CANNOT_CHECK:
            return None
        if not (isinstance(left, Decimal) and isinstance(right, Decimal)):
            return None
        return abs(left - right)

    def parameter_lines(self, member: Member) -> tuple[str, ...]:
        """``params.cap<2016-07-01>['mentor'] = 2000.00`` for each parameter value the rule uses
        on the member's date: the entries of a map it indexes by the row's values, else the value."""
        lines = []
        arguments = (member.values, *member.related, member.day, member.school_day)
        for pack, name, since in periods_of(self.book, self.rule, member.values, member.day):
            value = self.book.parameters[pack][name].value_on(since)
            keys = [key(*arguments) for key in self._parameter_keys.get(name, ())]
            if keys and isinstance(value, dict) and None not in keys:
                lines += [f"params.{name}<{since.isoformat()}>[{key!r}] = {show(value.get(key))}" for key in keys]
            else:
                lines.append(f"params.{name}<{since.isoformat()}> = {show(value)}")
        return tuple(dict.fromkeys(lines))

    def cannot(self, values: Values, related: Sequence[Any], error: Exception | None = None,
               masked: frozenset[str] | None = None) -> Finding:
        """A "cannot check" finding naming the empty fields: those of the linked row that
        ``error`` (a :class:`LinkedRowUnchecked`) is about when it has any, else the row's own."""
        where = ""
        empty: list[str] = []
        if isinstance(error, LinkedRowUnchecked):
            alias = error.lookup.alias
            empty = [text for text, (fact, name) in self.referenced.items()
                     if fact == alias and error.other.get(name) is None]
            if empty:
                other = self.book.tables[error.lookup.table]
                shown = MASKED if masked and masked.intersection(other.key) else other.key_of(error.other)
                where = f" in {alias} {shown!r}"
        if not where:
            empty = [text for text, (fact, name) in self.referenced.items()
                     if _value(fact, name, self.table, values, related) is None]
        # A field the rule tests with missing(), present() or either() may be empty: it is
        # named only when no other field is.
        empty = [text for text in empty if text not in self.optional] or empty
        reason = (", ".join(empty) + (" is empty" if len(empty) == 1 else " are empty") + where) if empty \
            else "a value it needs is missing"
        return Finding.unchecked(self.rule.id, self.rule.severity, reason, self.rule.source)


class LinkedRowUnchecked(LookupError):
    """A lookup's ``where`` or argument cannot be evaluated on a linked row (an empty value)."""

    def __init__(self, lookup: Lookup, other: Values) -> None:
        super().__init__(f"cannot check {lookup.alias} of lookup {lookup.name}")
        self.lookup = lookup
        self.other = other


@dataclass(frozen=True)
class _CompiledLookup:
    lookup: Lookup
    record_key: Callable[..., tuple[Any, ...]]
    other: Callable[[Values], tuple[tuple[Any, ...], ...]]
    where: Callable[..., bool] | None
    argument: Callable[[Values], Any]

    def keys_of(self, values: Values) -> list[tuple[Any, ...]]:
        try:
            alternatives = self.other(values)
        except CANNOT_CHECK:
            return []
        return [key for key in product(*alternatives) if None not in key]


def _final(aggregate: Aggregate, state: Any) -> Any:
    """An aggregate's value from its folded state (as :class:`Groups` names it)."""
    function = aggregate.function
    if function == "count_distinct":
        return _count_distinct(state)
    if function == "distinct":
        return _sorted_distinct(state)
    if function == "sum" and state is _EMPTY_SUM:
        return _ZERO_SUM.get(aggregate.kind, 0)
    return state


def aggregate_of(aggregate: Aggregate, values: Sequence[Any]) -> Any:
    """The value of an aggregate over argument values (missing values left out, as in SQL).

    >>> from mentorrules.loading.rulebook import Aggregate
    >>> aggregate_of(Aggregate("total", "sum", None, "decimal"), [Decimal("1.10"), None, Decimal("2")])
    Decimal('3.10')
    """
    function = aggregate.function
    if function == "count":
        return len(values)
    present = [value for value in values if value is not None]
    if function == "count_distinct":
        return len(set(present))
    if function == "distinct":
        return Ascending(sorted(set(present)))
    if function == "sum":
        # As the fold does: the values' own sum; only an empty sum is the kind's zero.
        return sum(present[1:], present[0]) if present else _ZERO_SUM.get(aggregate.kind, 0)
    if not present:
        return None
    return min(present) if function == "min" else max(present)


def _gap_sides(require: Expression) -> tuple[str | None, tuple[Expression, Expression] | None]:
    """Of a ``require`` that compares two values with <, <=, >= or >: which way a failure
    misses ("excess" over an upper limit, "shortfall" under a minimum) and the two sides."""
    tree = require.tree
    if not (isinstance(tree, ast.Compare) and len(tree.ops) == 1):
        return None, None
    operator = tree.ops[0]
    if not isinstance(operator, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)):
        return None, None
    left, right = (replace(require, text=ast.unparse(node), tree=node) for node in (tree.left, tree.comparators[0]))
    return ("excess" if isinstance(operator, (ast.Lt, ast.LtE)) else "shortfall"), (left, right)


def _referenced_fields(rule: Rule) -> dict[str, tuple[str, str]]:
    found = {}
    for expression in rule.expressions:
        for node in ast.walk(expression.tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id != "params"):
                found[f"{node.value.id}.{node.attr}"] = (node.value.id, node.attr)
    return found


def _optional_fields(rule: Rule) -> set[str]:
    """``fact.field`` texts the rule tests with ``missing``, ``present`` or as ``either``'s first value."""
    found = set()
    for expression in rule.expressions:
        for node in ast.walk(expression.tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("missing", "present", "either") and node.args
                    and isinstance(node.args[0], ast.Attribute) and isinstance(node.args[0].value, ast.Name)):
                found.add(f"{node.args[0].value.id}.{node.args[0].attr}")
    return found


def _value(fact: str, name: str, table: Table, values: Values, related: Sequence[Any]) -> Any:
    if fact == table.record:
        return values.get(name, "")
    relations = list(table.relations)
    if fact in relations:
        other = related[relations.index(fact)]
        return None if other is None else other.get(name, "")
    return ""


class Groups:
    """The groups of one batch rule as the batch path gathers them, row by row.

    Only compact state is kept per group, never its rows: the running value of each aggregate
    (a count, an exact sum, the distinct values, a minimum, a maximum) and, for rules with
    findings on the group, the members' row numbers and keys, the first member (whose lookups
    stand for the group's) and the latest (whose date the group is checked on).

    A million single-row groups (duplicate checks) must cost little more than their keys: a
    one-part key is stored bare, not as a 1-tuple; a rule with one aggregate stores its value
    bare, not in a list; distinct values are a small tuple until there are many.
    """

    __slots__ = ("_bare", "_folds", "_named", "_single", "names_of", "rule", "states")

    def __init__(self, rule: BatchRule) -> None:
        self.rule = rule
        self.states: dict[Any, Any] = {}
        self._named: dict[Any, dict[str, Any]] = {}  # names per group key, until the group changes
        self._folds = [_FOLDS[aggregate.function] for aggregate in rule.batch.aggregates]
        self._single = len(rule.batch.group_by) == 1
        self._bare = len(self._folds) == 1 and not rule.by_group
        namer, named = self._namer(), self._named

        def names_of(key: Any, state: Any) -> dict[str, Any]:
            # Once per group, not per row: distinct() sorts its values (read, never changed).
            found = named.get(key)
            if found is None:
                found = named[key] = namer(key, state)
            return found

        self.names_of = names_of

    def _namer(self) -> Callable[[tuple[Any, ...], Any], dict[str, Any]]:
        """A generated function from a group's key and state to the names ``require`` uses."""
        parts = [f"{name!r}: _key[{index}]" for index, (name, _) in enumerate(self.rule.batch.group_by)]
        for index, aggregate in enumerate(self.rule.batch.aggregates):
            value = "_state" if self._bare else f"_state[{index}]"
            shown = {"count_distinct": f"_count_distinct({value})", "distinct": f"_sorted_distinct({value})",
                     "sum": f"(_zero{index} if {value} is _EMPTY else {value})"}.get(aggregate.function, value)
            parts.append(f"{aggregate.name!r}: {shown}")
        namespace: dict[str, Any] = {"__builtins__": {}, "_count_distinct": _count_distinct,
                                     "_sorted_distinct": _sorted_distinct, "_EMPTY": _EMPTY_SUM,
                                     **{f"_zero{index}": _ZERO_SUM.get(aggregate.kind, 0)
                                        for index, aggregate in enumerate(self.rule.batch.aggregates)}}
        source = "def _names(_key, _state):\n    return {" + ", ".join(parts) + "}\n"
        namer: Callable[[tuple[Any, ...], Any], dict[str, Any]] = define(
            source, namespace, f"<mentorrules {self.rule.rule.id} names>")["_names"]
        return namer

    def add(self, member: Member) -> None:
        """Count a member in its group; raises a CANNOT_CHECK error if its group key cannot be computed."""
        rule = self.rule
        key = rule.group_key(member)
        stored = key[0] if self._single else key
        if self._named:
            self._named.pop(key, None)
        values = rule.argument_values(member)
        state = self.states.get(stored, _NEW)
        if self._bare:
            fold = self._folds[0]
            self.states[stored] = fold(_START[rule.batch.aggregates[0].function] if state is _NEW else state,
                                       values[0])
            return
        if state is _NEW:
            state = [_START[aggregate.function] for aggregate in rule.batch.aggregates]
            if rule.by_group:
                state += [[], member, member]
            self.states[stored] = state
        for index, (fold, value) in enumerate(zip(self._folds, values, strict=True)):
            state[index] = fold(state[index], value)
        if rule.by_group:
            size = len(self._folds)
            state[size].append((member.row, member.key))
            if member.day > state[size + 2].day:
                state[size + 2] = member

    def names(self, key: tuple[Any, ...]) -> dict[str, Any]:
        """The group's key parts and aggregates, by the names ``require`` uses (a new dict)."""
        return dict(self.names_of(key, self.states[key[0] if self._single else key]))

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        """The key of each group."""
        for stored in self.states:
            yield (stored,) if self._single else stored

    def members(self, key: tuple[Any, ...]) -> tuple[list[tuple[int, str]], Member, Member]:
        """Of a group of a rule with findings on the group: its rows, first and latest member."""
        state = self.states[key[0] if self._single else key]
        size = len(self._folds)
        return state[size], state[size + 1], state[size + 2]


_NEW = object()
_EMPTY_SUM = object()  # a sum over no values yet: Decimal 0 or 0 by the argument's kind
_ZERO_SUM: dict[str, Any] = {"decimal": Decimal("0.00"), "integer": 0}  # an empty sum of money shows 0.00
_DISTINCT_AS_TUPLE = 16  # up to this many distinct values are kept as a tuple (small), then a set


def _add_distinct(seen: Any, value: Any) -> Any:
    """Distinct values: none ``()``, one kept bare, a few in a tuple, many in a set (column values
    are never tuples or sets, so the kinds cannot be confused)."""
    if value is None:
        return seen
    kind = seen.__class__
    if kind is tuple:
        if not seen:
            return value
        if value in seen:
            return seen
        return (*seen, value) if len(seen) < _DISTINCT_AS_TUPLE else {*seen, value}
    if kind is set:
        seen.add(value)
        return seen
    return seen if seen == value else (seen, value)


def _distinct(seen: Any) -> tuple[Any, ...] | set[Any]:
    return seen if seen.__class__ in (tuple, set) else (seen,)


def _count_distinct(seen: Any) -> int:
    return len(_distinct(seen))


def _sorted_distinct(seen: Any) -> list[Any]:
    return Ascending(sorted(_distinct(seen)))


def _add(total: Any, value: Any) -> Any:
    if value is None:
        return total
    return value if total is _EMPTY_SUM else total + value


_START: dict[str, Any] = {"count": 0, "count_distinct": (), "distinct": (), "sum": _EMPTY_SUM, "min": None,
                          "max": None}
_FOLDS: dict[str, Callable[[Any, Any], Any]] = {
    "count": lambda total, _: total + 1,
    "count_distinct": _add_distinct,
    "distinct": _add_distinct,
    "sum": _add,
    "min": lambda low, value: value if value is not None and (low is None or value < low) else low,
    "max": lambda high, value: value if value is not None and (high is None or value > high) else high,
}


def order(rules: Sequence[BatchRule]) -> list[BatchRule]:
    """Rules named in another rule's ``only_passing`` run before it."""
    remaining = list(rules)
    ordered: list[BatchRule] = []
    while remaining:
        ids = {rule.rule.id for rule in remaining}
        ready = [rule for rule in remaining
                 if not ids & {name for lookup in rule.lookups for name in lookup.only_passing} - {rule.rule.id}]
        ready = ready or remaining[:1]  # a cycle: keep the written order
        ordered += ready
        remaining = [rule for rule in remaining if rule not in ready]
    return ordered


def explain(rule: BatchRule, member: Member, members: Sequence[Member],
            readable: Callable[[str], Iterable[tuple[int, Values]]],
            passing: Callable[[str, int, Sequence[str]], bool]) -> list[tuple[str, Any]]:
    """The names a batch rule's ``require`` saw for one row: group keys, aggregates, lookups,
    and the rows of its group."""
    steps: list[tuple[str, Any]] = []
    if rule.batch.group_by:
        key = rule.group_key(member)
        group = [other for other in members if rule.group_key(other) == key]
        steps += list(zip((name for name, _ in rule.batch.group_by), key, strict=True))
        steps += list(rule.aggregates(group).items())
        steps.append(("rows of the group", [other.key for other in group]))
    steps += list(lookup_names(rule, readable, passing)(member).items())
    return steps


def lookup_names(rule: BatchRule, readable: Callable[[str], Iterable[tuple[int, Values]]],
                 passing: Callable[[str, int, Sequence[str]], bool]) -> Callable[[Member], dict[str, Any]]:
    """The values of a rule's lookups for a member, from indexes built once over the readable
    rows (number, values) of each looked-up table; rows failing ``only_passing`` are left out."""
    indexes = []
    for number, lookup in enumerate(rule.lookups):
        indexes.append(rule.lookup_index(number, (
            (values, not lookup.only_passing or passing(lookup.table, row, lookup.only_passing))
            for row, values in readable(lookup.table))))

    def names(member: Member) -> dict[str, Any]:
        values = {}
        for number, lookup in enumerate(rule.lookups):
            candidates = indexes[number].get(rule.record_key(number, member), [])
            values[lookup.name] = rule.lookup_value(number, member, candidates)
        return values

    return names
