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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import product
from typing import Any

from mentorrules.compiling import CANNOT_CHECK, Mode, Namespace, Renderer, build
from mentorrules.evaluation import Finding, Index, Values, periods_of, school_year_of_record, show
from mentorrules.expressions import Expression
from mentorrules.rulebook import Aggregate, Lookup, Rule, RuleBook
from mentorrules.tables import Table

GROUP_TABLE = "group"


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
        renderer = Renderer(namespace, facts, parameters, book.functions, names=names, date=date)
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
        group_renderer = Renderer(namespace, {} if self.by_group else facts, parameters, book.functions,
                                  names=names, date=date)
        pieces = [f"_show({group_renderer.render(part, Mode.SAFE)})" if isinstance(part, Expression)
                  else repr(part) for part in rule.message]
        lines += [f"def _require({head}):", f"    return {group_renderer.render(rule.require)}",
                  f"def _message({head}):", "    return " + (" + ".join(pieces) or "''")]
        module = build("\n".join(lines) + "\n", namespace, f"<mentorrules {rule.id} batch>")
        self._applies = module["_applies"]
        self._group = module["_group"]
        self._arguments = [module[f"_arg{n}"] for n in range(len(self.batch.aggregates))]
        self._lookups = [_CompiledLookup(lookup, module[f"_lk{n}"], module[f"_lo{n}"],
                                         module.get(f"_lw{n}"), module[f"_la{n}"])
                         for n, lookup in enumerate(self.batch.lookups)]
        self._require = module["_require"]
        self._message = module["_message"]
        self.referenced = _referenced_fields(rule)
        self.optional = _optional_fields(rule)

    def _names(self) -> list[str]:
        batch = self.batch
        return [*(name for name, _ in batch.group_by), *(a.name for a in batch.aggregates),
                *(lookup.name for lookup in batch.lookups)]

    def _lookup_lines(self, number: int, lookup: Lookup, renderer: Renderer, arguments: str) -> list[str]:
        other_renderer = Renderer(renderer.namespace, {lookup.alias: lookup.alias}, renderer.parameters,
                                  renderer.functions, date=renderer.date)
        both = Renderer(renderer.namespace, {**renderer.facts, lookup.alias: lookup.alias},
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
               day: dt.date, state: str | None) -> Member | Unchecked | None:
        """The row as a member, None if the rule does not apply, or a row it cannot check."""
        rule = self.rule
        if rule.jurisdiction is not None and rule.jurisdiction != state:
            return None
        if rule.effective_from is not None and day < rule.effective_from:
            return None
        if rule.effective_to is not None and day > rule.effective_to:
            return None
        school_day = school_year_of_record(values, day)
        try:
            if not self._applies(values, *related, day, school_day):
                return None
        except CANNOT_CHECK:
            return Unchecked(table, row, self.cannot(values, related))
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

    def group_label(self, key: tuple[Any, ...]) -> str:
        """The key of a group record: ``RULE:part/part``."""
        return f"{self.rule.id}:" + "/".join(show(part) for part in key)

    # -- aggregates and findings ---------------------------------------------------------------
    def aggregates(self, members: Sequence[Member]) -> dict[str, Any]:
        values = {}
        for aggregate, argument in zip(self.batch.aggregates, self._arguments, strict=True):
            values[aggregate.name] = aggregate_of(aggregate, [
                argument(m.values, *m.related, m.day, m.school_day) for m in members])
        return values

    def check_rows(self, members: Sequence[Member],
                   names_of: Callable[[Member], dict[str, Any]]) -> dict[int, Finding]:
        """Findings per member row number, for rules with findings on rows."""
        keys = tuple(member.key for member in members) if self.batch.group_by else ()
        findings = {}
        for member in members:
            try:
                names = names_of(member)
                arguments = (member.values, *member.related, member.day, member.school_day, names)
                if not self._require(*arguments):
                    findings[member.row] = Finding(self.rule.id, self.rule.severity, self._message(*arguments),
                                                   self.rule.source, self.parameter_lines(member),
                                                   rows=keys if len(keys) > 1 else ())
            except CANNOT_CHECK as error:
                findings[member.row] = self.cannot(member.values, member.related, error)
        return findings

    def check_group(self, key: tuple[Any, ...], members: Sequence[Member],
                    names: dict[str, Any]) -> GroupFinding | None:
        """The finding of a group, for rules with findings on the group."""
        day = max(member.day for member in members)
        school_day = members[0].school_day
        label = self.group_label(key)
        rows = tuple(member.key for member in members)
        try:
            if self._require(names, day, school_day):
                return None
            message = self._message(names, day, school_day)
        except CANNOT_CHECK:
            message = "cannot check: " + ", ".join(f"{name} = {show(value)}" for name, value in names.items())
        return GroupFinding(label, Finding(self.rule.id, self.rule.severity, message, self.rule.source,
                                           self.parameter_lines(members[-1]), rows=rows))

    def parameter_lines(self, member: Member) -> tuple[str, ...]:
        """``params.cap<2016-07-01> = ...`` for each parameter the rule uses, on the member's date."""
        lines = []
        for pack, name, since in periods_of(self.book, self.rule, member.values, member.day):
            value = self.book.parameters[pack][name].value_on(since)
            lines.append(f"params.{name}<{since.isoformat()}> = {show(value)}")
        return tuple(lines)

    def cannot(self, values: Values, related: Sequence[Any], error: Exception | None = None) -> Finding:
        """A "cannot check" finding naming the empty fields: those of the linked row that
        ``error`` (a :class:`LinkedRowUnchecked`) is about when it has any, else the row's own."""
        where = ""
        empty: list[str] = []
        if isinstance(error, LinkedRowUnchecked):
            alias = error.lookup.alias
            empty = [text for text, (fact, name) in self.referenced.items()
                     if fact == alias and error.other.get(name) is None]
            if empty:
                where = f" in {alias} {self.book.tables[error.lookup.table].key_of(error.other)!r}"
        if not where:
            empty = [text for text, (fact, name) in self.referenced.items()
                     if _value(fact, name, self.table, values, related) is None]
        # A field the rule tests with missing(), present() or either() may be empty: it is
        # named only when no other field is.
        empty = [text for text in empty if text not in self.optional] or empty
        reason = (", ".join(empty) + (" is empty" if len(empty) == 1 else " are empty") + where) if empty \
            else "a value it needs is missing"
        return Finding(self.rule.id, self.rule.severity, f"cannot check: {reason}", self.rule.source)


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


def aggregate_of(aggregate: Aggregate, values: Sequence[Any]) -> Any:
    """The value of an aggregate over argument values (missing values left out, as in SQL).

    >>> from mentorrules.rulebook import Aggregate
    >>> aggregate_of(Aggregate("total", "sum", None, "decimal"), [Decimal("1.10"), None, Decimal("2")])
    Decimal('3.10')
    """
    function = aggregate.function
    if function == "count":
        return len(values)
    present = [value for value in values if value is not None]
    if function == "count_distinct":
        return len(set(present))
    if function == "sum":
        return sum(present, Decimal(0) if aggregate.kind == "decimal" else 0)
    if not present:
        return None
    return min(present) if function == "min" else max(present)


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


@dataclass
class BatchResult:
    """Findings of batch rules: per (table, row number), and group records."""

    rows: dict[tuple[str, int], list[Finding]] = field(default_factory=dict)
    groups: list[GroupFinding] = field(default_factory=list)


def run(rules: Sequence[BatchRule], members_of: Callable[[BatchRule], Iterable[Member | Unchecked]],
        tables: Mapping[str, Sequence[tuple[int, str, Values]]],
        passing: Callable[[str, int, Sequence[str]], bool]) -> BatchResult:
    """Evaluate batch rules over whole tables (the batch path).

    ``members_of`` gives a rule's members (or rows it cannot check); ``tables`` gives every
    table's readable rows as (row, key, values); ``passing(table, row, rule ids)`` says
    whether a row has no error finding of those rules.
    """
    result = BatchResult()

    def passes(table: str, row: int, rule_ids: Sequence[str]) -> bool:
        found = result.rows.get((table, row), ())
        return passing(table, row, rule_ids) and not any(
            finding.rule in rule_ids and finding.severity.value == "error" for finding in found)

    for rule in order(rules):
        members: list[Member] = []
        for item in members_of(rule):
            if isinstance(item, Unchecked):
                result.rows.setdefault((item.table, item.row), []).append(item.finding)
            else:
                members.append(item)
        lookup_names = _lookup_function(rule, tables, passes)
        if rule.batch.group_by:
            groups: dict[tuple[Any, ...], list[Member]] = {}
            for member in members:
                try:
                    key = rule.group_key(member)
                except CANNOT_CHECK:
                    result.rows.setdefault((member.table, member.row), []).append(
                        rule.cannot(member.values, member.related))
                    continue
                groups.setdefault(key, []).append(member)
            for key, group in groups.items():
                names = {**dict(zip((name for name, _ in rule.batch.group_by), key, strict=True)),
                         **rule.aggregates(group)}
                if rule.by_group:
                    # A group's lookups link through group-key fields, the same for every member.
                    found = rule.check_group(key, group, {**names, **lookup_names(group[0])})
                    if found is not None:
                        result.groups.append(found)
                    continue
                def names_of(member: Member, names: dict[str, Any] = names,
                             lookups: Callable[[Member], dict[str, Any]] = lookup_names) -> dict[str, Any]:
                    return {**names, **lookups(member)}

                for row, finding in rule.check_rows(group, names_of).items():
                    result.rows.setdefault((rule.table.name, row), []).append(finding)
        else:
            for row, finding in rule.check_rows(members, lookup_names).items():
                result.rows.setdefault((rule.table.name, row), []).append(finding)
    return result


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
            tables: Mapping[str, Sequence[tuple[int, str, Values]]],
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
    steps += list(_lookup_function(rule, tables, passing)(member).items())
    return steps


def _lookup_function(rule: BatchRule, tables: Mapping[str, Sequence[tuple[int, str, Values]]],
                     passing: Callable[[str, int, Sequence[str]], bool]) -> Callable[[Member], dict[str, Any]]:
    indexes = []
    for number, lookup in enumerate(rule.lookups):
        rows = tables.get(lookup.table, ())
        indexes.append(rule.lookup_index(number, (
            (values, not lookup.only_passing or passing(lookup.table, row, lookup.only_passing))
            for row, _, values in rows)))

    def names(member: Member) -> dict[str, Any]:
        values = {}
        for number, lookup in enumerate(rule.lookups):
            candidates = indexes[number].get(rule.record_key(number, member), [])
            values[lookup.name] = rule.lookup_value(number, member, candidates)
        return values

    return names
