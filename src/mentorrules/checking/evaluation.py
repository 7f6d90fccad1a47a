"""One record + its context -> Decision.

For each table the rules that apply to it (core rules, then each state pack's rules under a
test of the record's state) are compiled into one generated Python function, so a record is
checked by straight-line code with no per-rule dispatch. The function appends the index of
each rule that fails (``i``) or cannot be checked (``~i``); findings and their messages are
built only for those.

A rule "cannot be checked" when a value it needs is missing: a related row that is not there
(payee ``T-99`` is not in people), an empty cell, a parameter with no value on the date. That
is a finding of the rule's own severity saying exactly what is missing, never a crash.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import lru_cache
from itertools import islice
from typing import Any

from mentorrules.checking.codegen import (
    CANNOT_CHECK,
    MASKED,
    FactMissing,
    FunctionRefused,
    Mode,
    Namespace,
    Recorder,
    Renderer,
    build,
    message_code,
)
from mentorrules.errors import Problem
from mentorrules.loading.expressions import Scope, parse
from mentorrules.loading.parameters import NoValueInForce, Parameter
from mentorrules.loading.rulebook import Rule, RuleBook
from mentorrules.loading.tables import Table
from mentorrules.model import Finding, RowProblem, Severity
from mentorrules.packs.functions import school_year_start

Values = Mapping[str, Any]
Index = Mapping[Any, Values]


class TableIndex(dict[Any, Values]):
    """A unique-keyed table's readable rows by key, and the row number of each key whose row
    could not be read (so that a rule can say the row is there but unreadable, not missing)."""

    __slots__ = ("unreadable",)

    def __init__(self) -> None:
        super().__init__()
        self.unreadable: dict[Any, int] = {}


def error_findings(problems: Sequence[Problem], masked: frozenset[str] | None = None,
                   key_masked: bool = False) -> tuple[Finding, ...]:
    """The findings of a row that could not be read: one per bad cell. The cell of a masked
    column is not quoted (nor a masked key, for a repeated key).

    >>> from mentorrules.errors import Location
    >>> problem = Problem("MR310", "column 'email': 'a@b' is not valid here",
    ...                   Location("people.csv", row=2, field="email"))
    >>> error_findings([problem], frozenset({"email"}))[0].message
    "column 'email': the cell cannot be read (its value is masked)"
    """
    found = []
    for problem in problems:
        field = problem.location.field
        if (masked and field in masked) or (key_masked and problem.code == "MR313"):
            message = (f"column {field!r}: the cell cannot be read (its value is masked)" if field
                       else "the key is repeated (its value is masked)")
        else:
            message = problem.message + (f" ({problem.hint})" if problem.hint else "")
        found.append(Finding(problem.code, Severity.ERROR, message))
    return tuple(found)


def row_problems(problems: Sequence[Problem], values: Mapping[str, Any],
                 masked: frozenset[str] | None = None) -> tuple[RowProblem, ...]:
    """The problems of a row that could not be read, cell by cell: column, the cell as written
    (as text; None when empty or masked), code and message (as :func:`error_findings` words it).

    >>> from mentorrules.errors import Location
    >>> problem = Problem("MR310", "column 'amount': '1,200' is not a decimal amount",
    ...                   Location("payouts.csv", row=2, field="amount"))
    >>> row_problems([problem], {"amount": "1,200"})[0].value
    '1,200'
    """
    found = []
    for problem, finding in zip(problems, error_findings(problems, masked), strict=True):
        column = problem.location.field
        raw = values.get(column) if column is not None else None
        hidden = raw is None or (masked is not None and column in masked)
        found.append(RowProblem(column, None if hidden else raw if isinstance(raw, str) else show(raw),
                                problem.code, finding.message))
    return tuple(found)


# -- compiled tables ----------------------------------------------------------------------------
@dataclass(frozen=True)
class RuleCode:
    """A rule's code besides the fast check: its message and its recorded rendering."""

    rule: Rule
    parameters: Mapping[str, Parameter]
    message: Callable[..., str]
    recorded: Callable[..., tuple[bool, bool]]
    nodes: Mapping[str, ast.expr]
    shown: frozenset[str] = frozenset()  # the nodes of `require`, which explain shows
    facts: frozenset[str] = frozenset()  # the related facts the rule reads (payee, district, ...)


@dataclass(frozen=True)
class CompiledTable:
    """The generated checker of one table and what it needs to run and explain."""

    table: Table
    check: Callable[[Values, dt.date, Mapping[str, Index], list[int]], None]
    relate: Callable[[Values, Mapping[str, Index]], tuple[Values | None, ...]]
    relation_keys: Callable[[Values], tuple[Any, ...]]
    rules: tuple[RuleCode, ...]
    source: str
    day_of: Callable[[Values, dt.date], dt.date]  # the row's date column, else the given date
    school_day: Callable[[Values, dt.date], dt.date]  # the first day of the row's school year, else the date
    state: Callable[[Values, Sequence[Values | None]], str | None]  # the row's state, from its related facts


def compile_table(book: RuleBook, table: Table) -> CompiledTable:
    """Generate and compile the checker of ``table`` for the rules of ``book``."""
    rules = [rule for rule in book.rules if rule.table == table.name and rule.batch is None]
    namespace = Namespace()
    namespace.values.update(_show=show, _sy_starts=_school_year_starts)
    facts = {table.record: table.record, **{name: name for name in table.relations}}
    columns = columns_of(book, table)
    relations, keys = _relation_code(book, table, namespace)
    blocks: dict[str | None, list[str]] = {}
    codes = []
    for index, rule in enumerate(rules):
        date = "_sy" if rule.parameters_on == "school_year_start" else "_d"
        renderer = Renderer(namespace, facts, columns, book.parameters_for(rule.pack), book.functions, date=date)
        codes.append(_rule_code(rule, renderer, table))
        indent = "    " if rule.jurisdiction is None else "        "
        blocks.setdefault(rule.jurisdiction, []).extend(_rule_lines(rule, index, renderer, indent))
    record = table.record
    lines = [f"def _check({record}, _d, _ix, _out):", *relations,
             f"    _state = {_state_code(book, table)}",
             f"    _sy = {_school_day_code(table)}", *blocks.get(None, [])]
    states = sorted(state for state in blocks if state is not None)
    for number, state in enumerate(states):
        lines += [f"    {'if' if number == 0 else 'elif'} _state == {state!r}:", *blocks[state]]
    if states and carries_state(table):
        # No silent skips: a row whose state is not known is "cannot check" for every state
        # pack's rule that would otherwise apply to it (its `when` holds or cannot be computed).
        lines.append("    elif _state is None:")
        for index, rule in enumerate(rules):
            if rule.jurisdiction is not None:
                date = "_sy" if rule.parameters_on == "school_year_start" else "_d"
                renderer = Renderer(namespace, facts, columns, book.parameters_for(rule.pack), book.functions,
                                    date=date)
                lines += _rule_lines(rule, index, renderer, "        ", unknown_state=True)
    lines += ["", f"def _relate({table.record}, _ix):", *relations,
              "    return (" + "".join(f"{name}, " for name in table.relations) + ")",
              "", f"def _keys({record}):",
              "    return (" + "".join(f"_key_or_none(lambda: {key}), " for key in keys) + ")",
              "", f"def _day({record}, _as_of):", f"    return {_day_code(table)}",
              "", f"def _school_day({record}, _d):", f"    return {_school_day_code(table)}",
              "", f"def _state_of({record}, _related):",
              ("    " + "".join(f"{name}, " for name in table.relations) + "= _related") if table.relations else "",
              f"    return {_state_code(book, table)}"]
    source = "\n".join(lines) + "\n"
    namespace.values["_key_or_none"] = _key_or_none
    module = build(source, namespace, f"<mentorrules {table.name} rules>")
    return CompiledTable(table, module["_check"], module["_relate"], module["_keys"], tuple(codes), source,
                         module["_day"], module["_school_day"], module["_state_of"])


def columns_of(book: RuleBook, table: Table) -> dict[str, Mapping[str, int]]:
    """The column positions of a table's record and of each fact related to it, by fact name."""
    return {table.record: table.positions,
            **{name: book.tables[relation.table].positions for name, relation in table.relations.items()}}


def _key_or_none(compute: Callable[[], Any]) -> Any:
    try:
        return compute()
    except CANNOT_CHECK:
        return None


def school_year_of_record(record: Values, day: dt.date) -> dt.date:
    """The start of the record's school year, for rules whose parameters go by school year."""
    label = record.get("school_year")
    start = _school_year_starts(label) if isinstance(label, str) else None
    return start or day


@lru_cache(maxsize=256)
def _school_year_starts(label: str) -> dt.date | None:
    try:
        return school_year_start(label)
    except ValueError:
        return None


def _state_code(book: RuleBook, table: Table) -> str:
    """The row's state: its own ``state`` column, else its district's (text, or None)."""
    own = "None"
    if "state" in table.fields:
        state = f"{table.record}._{table.positions['state']}"
        own = f"({state} if {state}.__class__ is _str else None)"
    if "district" in table.relations:
        districts = book.tables[table.relations["district"].table]
        state = f"district._{districts.positions['state']}"
        inferred = f"({state} if district is not None and {state}.__class__ is _str else None)"
        return inferred if own == "None" else f"({own} or {inferred})"
    return own


def carries_state(table: Table) -> bool:
    """Whether a row of ``table`` can say its state (a ``state`` column or a district): a state
    pack's rule on such a row whose state is not known cannot be checked, rather than skipped."""
    return "state" in table.fields or "district" in table.relations


def unknown_state(table: Table, record: Values, related: Sequence[Values | None]) -> str:
    """Why a row's state is not known, in the words of a cannot-check finding.

    >>> from mentorrules.loading.tables import contract
    >>> pairings = contract()["pairings"]
    >>> unknown_state(pairings, {"pairing_id": "PR-1", "district": "Blen"}, (None, None, None))
    "the pairing's state is not known: no state, and district 'Blen' is not in districts"
    """
    what = f"the {table.record}'s state is not known: "
    own = "no state" if "state" in table.fields else ""
    if "district" not in table.relations:
        return what + (own or f"{table.name} rows carry no state")
    district = related[list(table.relations).index("district")]
    fields = [text.split(".", 1)[-1] for text in table.relations["district"].key]
    key = record.get(fields[0]) if len(fields) == 1 else None
    joined = f"{own}, and " if own else ""
    if key is None or key == "":
        return what + joined + f"no district ({', '.join(fields)} is empty)"
    if district is None:
        return what + joined + f"district {show(key)!r} is not in {table.relations['district'].table}"
    return what + joined + f"district {show(key)!r} has no state"


def _day_code(table: Table) -> str:
    if table.date_field is None or table.fields.get(table.date_field) != "date":
        return "_as_of"
    value = f"{table.record}._{table.positions[table.date_field]}"
    return f"(_as_of if {value} is None else {value})"


def _school_day_code(table: Table) -> str:
    if "school_year" not in table.fields:
        return "_d"
    label = f"{table.record}._{table.positions['school_year']}"
    return f"((_sy_starts({label}) or _d) if {label}.__class__ is _str else _d)"


def _relation_code(book: RuleBook, table: Table, namespace: Namespace) -> tuple[list[str], list[str]]:
    """Look up each related fact once per record; a key that cannot be computed finds nothing."""
    scope = Scope(facts={table.record: table.fields}, functions=book.signatures)
    renderer = Renderer(namespace, {table.record: table.record}, {table.record: table.positions}, {}, book.functions)
    lines, keys = [], []
    for relation in table.relations.values():
        parts = [renderer.render(parse(text, scope)) for text in relation.key]
        key = parts[0] if len(parts) == 1 else "(" + ", ".join(parts) + ",)"
        keys.append(key)
        lines += ["    try:",
                  f"        {relation.name} = _ix[{relation.table!r}].get({key})",
                  "    except _CANNOT:",
                  f"        {relation.name} = None"]
    return lines, keys


def _rule_lines(rule: Rule, index: int, renderer: Renderer, indent: str, unknown_state: bool = False) -> list[str]:
    """The lines checking one rule; with ``unknown_state``, those marking it "cannot check"
    whenever it would apply (the row's state, which picks a state pack's rules, is not known)."""
    conditions = []
    namespace = renderer.namespace
    for operator, day in ((">=", rule.effective_from), ("<=", rule.effective_to)):
        if day is not None:
            conditions.append(f"_d {operator} {namespace.add('k', day, ('date', day.isoformat()))}")
    if rule.when is not None:
        conditions.append(renderer.render(rule.when))
    if not unknown_state:
        conditions.append(f"not {renderer.render(rule.require)}")
    elif not conditions:
        conditions.append("True")
    # The place is shown with repr(): a file name may hold a line break, and what followed it
    # would be code (a rules folder holding "x\n    <any Python>.yaml" ran that Python).
    place = f"{rule.id} ({rule.location.path}:{rule.location.line})"
    return [f"{indent}# {place!r}",
            f"{indent}try:",
            f"{indent}    if {' and '.join(conditions)}:",
            f"{indent}        _out.append({~index if unknown_state else index})",
            f"{indent}except _CANNOT:",
            f"{indent}    _out.append({~index})"]


def _rule_code(rule: Rule, renderer: Renderer, table: Table) -> RuleCode:
    arguments = ", ".join([table.record, *table.relations, "_d", "_sy"])
    shown = message_code(rule.message, renderer, rounding=rule.rounding)
    message = build(f"def _message({arguments}, _masked=None):\n    return {shown}\n",
                    renderer.namespace, f"<mentorrules {rule.id} message>")["_message"]
    recording = Renderer(Namespace(), renderer.facts, renderer.columns, renderer.parameters, renderer.functions,
                         date=renderer.date)
    when = recording.render(rule.when, Mode.RECORD) if rule.when is not None else "True"
    before = set(recording.namespace.values)
    require = recording.render(rule.require, Mode.RECORD)
    source = (f"def _recorded({arguments}, _r, _field, _param):\n"
              f"    _w = {when}\n"
              f"    return _w, (not _w) or {require}\n")
    recorded = build(source, recording.namespace, f"<mentorrules {rule.id} explain>")["_recorded"]
    nodes = {name: value for name, value in recording.namespace.values.items() if isinstance(value, ast.expr)}
    # explain shows the values of the condition that failed: the nodes of `require`.
    facts = frozenset(node.id for expression in rule.expressions for node in ast.walk(expression.tree)
                      if isinstance(node, ast.Name) and node.id in table.relations)
    return RuleCode(rule, renderer.parameters, message, recorded, nodes, frozenset(nodes) - before, facts)


SHOWN_ENTRIES = 20  # entries of a list or map a message shows, then how many there are in all


def show(value: Any) -> str:
    """A value as a message shows it: dates ISO, amounts as written, lists joined (the first
    :data:`SHOWN_ENTRIES`, then their number: a finding on each of 3,000 rows does not quote a
    50,000-entry parameter list 3,000 times).

    >>> show([1, 2]), show(list(range(25)))[-31:]
    ('1, 2', '18, 19, ... (25 entries in all)')
    """
    if value is None:
        return "(missing)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        shown = ", ".join(show(item) for item in value[:SHOWN_ENTRIES])
        return shown + (f", ... ({len(value):,} entries in all)" if len(value) > SHOWN_ENTRIES else "")
    if isinstance(value, dict):
        shown = ", ".join(f"{key}: {show(item)}" for key, item in islice(value.items(), SHOWN_ENTRIES))
        return shown + (f", ... ({len(value):,} entries in all)" if len(value) > SHOWN_ENTRIES else "")
    if value.__class__ is int and not -10**18 < value < 10**18:
        return f"{Decimal(value):.6e}"  # str() refuses ints of 4,300+ digits, and no one reads them
    return str(value)


# -- evaluation ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One sub-expression of a rule and the value it had."""

    text: str
    value: Any


@dataclass(frozen=True)
class Explanation:
    """How one rule went for one record: applied or not, held or not, and why."""

    rule: Rule
    applies: bool
    holds: bool | None
    steps: tuple[Step, ...]
    parameters: tuple[str, ...]
    finding: Finding | None
    periods: tuple[tuple[str, str, dt.date], ...] = ()  # (pack, parameter, start of the value used)
    not_given: tuple[str, ...] = ()  # the rule was not run: it reads these tables, not given
    why: str | None = None  # why a rule that does not apply does not (another state, its period, its `when`)


def periods_of(book: RuleBook, rule: Rule, record: Values, day: dt.date) -> tuple[tuple[str, str, dt.date], ...]:
    """The dated parameter values a rule uses for a record: which period of each is in force."""
    on = school_year_of_record(record, day) if rule.parameters_on == "school_year_start" else day
    own = book.parameters.get(rule.pack, {})
    found = []
    for name in sorted(rule.parameters):
        parameter = book.parameters_for(rule.pack)[name]
        try:
            found.append((rule.pack if name in own else "core", name, parameter.in_force_since(on)))
        except NoValueInForce:
            continue
    return tuple(found)


class Evaluator:
    """Runs the compiled checkers. Immutable after construction: safe to share across threads."""

    def __init__(self, book: RuleBook) -> None:
        self.book = book
        self.tables = {name: compile_table(book, table) for name, table in book.tables.items()}

    def findings(self, table: str, record: Values, day: dt.date,
                 indexes: Mapping[str, Index], masked: frozenset[str] | None = None) -> list[Finding]:
        """The findings of the rules of ``table`` on one typed record; messages show ``[masked]``
        for any value read from a ``masked`` column."""
        compiled = self.tables[table]
        failed: list[int] = []
        compiled.check(record, day, indexes, failed)
        if not failed:
            return []
        return [self._finding(compiled, index, record, day, indexes, masked) for index in failed]

    def _finding(self, compiled: CompiledTable, index: int, record: Values, day: dt.date,
                 indexes: Mapping[str, Index], masked: frozenset[str] | None = None) -> Finding:
        code = compiled.rules[index if index >= 0 else ~index]
        related = compiled.relate(record, indexes)
        school_day = school_year_of_record(record, day)
        recorder = Recorder(code.parameters)
        arguments = (record, *related, day, school_day)
        rule = code.rule
        if rule.jurisdiction is not None and compiled.state(record, related) is None:
            return self._cannot(rule, unknown_state(compiled.table, record, related))
        try:
            code.recorded(*arguments, recorder.record, recorder.field, recorder.parameter)
        except FactMissing as missing:
            return self._cannot(rule, self._missing_fact(compiled, missing.fact, record, indexes, masked))
        except FunctionRefused as error:
            return self._cannot(rule, error.reason(masked))
        except NoValueInForce as error:
            return self._cannot(rule, str(error))
        except CANNOT_CHECK:
            return self._cannot(rule, _missing_values(code, recorder))
        if index < 0:  # failed fast but not when recorded: cannot happen for pure functions
            return self._cannot(rule, "the rule could not be evaluated")
        for fact in code.facts:
            # A related row that is there but could not be read is not a missing one: the rule
            # cannot be checked (it would otherwise say "payee T-1 is not in people").
            position = list(compiled.table.relations).index(fact)
            if related[position] is None and self._unreadable(compiled, fact, record, indexes) is not None:
                return self._cannot(rule, self._missing_fact(compiled, fact, record, indexes, masked))
        return Finding(rule.id, rule.severity, code.message(*arguments, masked), rule.source,
                       _parameter_lines(code, recorder), check=rule.check)

    def _cannot(self, rule: Rule, reason: str) -> Finding:
        finding = Finding.unchecked(rule.id, rule.severity, reason, rule.source)
        return replace(finding, check=rule.check) if rule.check else finding

    def _missing_fact(self, compiled: CompiledTable, fact: str, record: Values, indexes: Mapping[str, Index],
                      masked: frozenset[str] | None = None) -> str:
        relation = compiled.table.relations.get(fact)
        if relation is None:
            return f"{fact} is missing"
        key = compiled.relation_keys(record)[list(compiled.table.relations).index(fact)]
        if key is None or key == "" or (isinstance(key, tuple) and None in key):
            fields = ", ".join(text.split(".", 1)[-1] for text in relation.key)
            return f"no {fact}: {fields} is empty"
        shown = "/".join(map(show, key)) if isinstance(key, tuple) else show(key)
        if masked and masked & set(re.findall(r"\.(\w+)", " ".join(relation.key))):
            shown = MASKED
        unreadable = getattr(indexes.get(relation.table), "unreadable", {}).get(key)
        if unreadable is not None:
            return f"{fact} {shown!r} is in {relation.table} row {unreadable}, which could not be read"
        return f"{fact} {shown!r} is not in {relation.table}"

    @staticmethod
    def _unreadable(compiled: CompiledTable, fact: str, record: Values, indexes: Mapping[str, Index]) -> int | None:
        """The row number of the unreadable row a relation's key points to, if it does."""
        relation = compiled.table.relations[fact]
        key = compiled.relation_keys(record)[list(compiled.table.relations).index(fact)]
        number: int | None = getattr(indexes.get(relation.table), "unreadable", {}).get(key)
        return number

    def explain(self, table: str, record: Values, day: dt.date,
                indexes: Mapping[str, Index], masked: frozenset[str] | None = None) -> list[Explanation]:
        """Each rule of ``table`` that applies to the record's state, with its sub-expression values;
        its findings quote no value of a ``masked`` column."""
        compiled = self.tables[table]
        related = compiled.relate(record, indexes)
        state = self.state_of(compiled, record, related)
        failed: list[int] = []
        compiled.check(record, day, indexes, failed)
        # By compiled rule, not by id: the checks of a rule share its id, each has its finding.
        findings = {index if index >= 0 else ~index: self._finding(compiled, index, record, day, indexes, masked)
                    for index in failed}
        school_day = school_year_of_record(record, day)
        results = []
        for number, code in enumerate(compiled.rules):
            rule = code.rule
            if rule.jurisdiction is not None and rule.jurisdiction != state:
                finding = findings.get(number)
                if finding is not None:  # its state is not known: the rule cannot be checked
                    results.append(Explanation(rule, True, None, (), (), finding))
                elif state is not None:
                    results.append(Explanation(rule, False, None, (), (), None,
                                               why=other_state(rule, compiled.table, state)))
                elif carries_state(compiled.table) and rule.when is not None:
                    results.append(Explanation(rule, False, None, (), (), None, why=when_false(rule)))
                continue
            in_period = ((rule.effective_from is None or day >= rule.effective_from)
                         and (rule.effective_to is None or day <= rule.effective_to))
            recorder = Recorder(code.parameters)
            applies, holds = in_period, None
            why = None if in_period else outside_period(rule, day)
            if in_period:
                try:
                    applies, holds = code.recorded(record, *related, day, school_day,
                                                   recorder.record, recorder.field, recorder.parameter)
                except CANNOT_CHECK:  # FactMissing is a LookupError
                    holds = None
                if not applies and rule.when is not None:
                    why = when_false(rule)
            shown: dict[str, Any] = {}
            for name in recorder.order:
                if name in code.shown:  # one line per sub-expression text, with its last value
                    shown[ast.unparse(code.nodes[name])] = recorder.values[name]
            steps = tuple(Step(text, value) for text, value in shown.items())
            results.append(Explanation(rule, bool(applies), holds, steps, _parameter_lines(code, recorder),
                                       findings.get(number),
                                       periods_of(self.book, rule, record, day) if applies else (), why=why))
        return results

    @staticmethod
    def state_of(compiled: CompiledTable, record: Values, related: Sequence[Values | None]) -> str | None:
        """The record's state: its own ``state`` column, else its district's."""
        return compiled.state(record, related)


def other_state(rule: Rule, table: Table, state: str) -> str:
    """Why a state pack's rule does not apply to a row of another state.

    >>> from mentorrules.loading.tables import contract
    >>> rule = type("R", (), {"jurisdiction": "AK"})()
    >>> other_state(rule, contract()["pairings"], "NM")  # doctest: +NORMALIZE_WHITESPACE
    "a rule of the AK pack; this pairing's state is NM (its state column, else its district's)"
    """
    by = ("its state column, else its district's" if "state" in table.fields and "district" in table.relations
          else "its state column" if "state" in table.fields else "its district's")
    return f"a rule of the {rule.jurisdiction} pack; this {table.record}'s state is {state} ({by})"


def outside_period(rule: Rule, day: dt.date) -> str:
    """Why a rule does not apply on a day outside its effective period."""
    start = rule.effective_from.isoformat() if rule.effective_from else "the start"
    end = rule.effective_to.isoformat() if rule.effective_to else "now"
    return f"in force from {start} to {end}; the row's date is {day.isoformat()}"


def when_false(rule: Rule) -> str:
    """Why a rule whose `when` is false does not apply: the condition, on one line."""
    assert rule.when is not None
    return "its condition is false: when " + " ".join(rule.when.text.split())


def _missing_values(code: RuleCode, recorder: Recorder) -> str:
    # The check stopped at the first operation it could not do: the empty field evaluated last
    # before it is the one to blame (earlier empty fields may have been handled by present()).
    empty = [ast.unparse(code.nodes[name]) for name in recorder.order
             if recorder.values[name] is None and isinstance(code.nodes[name], ast.Attribute)]
    if empty:
        return f"{empty[-1]} is empty"
    last = ast.unparse(code.nodes[recorder.order[-1]]) if recorder.order else code.rule.require.text
    return f"the values of {last!r} cannot be combined"


def _parameter_lines(code: RuleCode, recorder: Recorder) -> tuple[str, ...]:
    """``params.cap<2016-07-01>['mentor'] = 2000.00`` for each parameter value used."""
    lines = []
    for name, (since, value) in recorder.used_parameters.items():
        keys = [recorder.values[slice_name] for node_name, node in code.nodes.items()
                if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute)
                and node.value.attr == name and node_name in recorder.values
                for slice_name, slice_node in code.nodes.items() if slice_node is node.slice
                and slice_name in recorder.values]
        if keys and isinstance(value, dict):
            lines += [f"params.{name}<{since.isoformat()}>[{key!r}] = {show(value.get(key))}" for key in keys]
        else:
            lines.append(f"params.{name}<{since.isoformat()}> = {show(value)}")
    return tuple(dict.fromkeys(lines))
