"""Loaded packs + their test run (+ records) -> authoring problems that loading alone cannot see.

- ``MR501`` a rule without a source citation;
- ``MR502`` a rule without a passing and a failing test case;
- ``MR503`` a parameter a rule uses has no value in force for part of the rule's period;
- ``MR504`` a rule that can never apply (its ``when`` is always false: ``False``, or comparisons
  of one field joined by ``and`` that cannot all hold, such as ``x > 5 and x < 3``), a rule whose
  ``require`` can never hold, or a state pack's rule on a table whose rows carry no state;
- ``MR505`` a parameter no rule uses (warning);
- ``MR506`` a test file problem (a case that fails is reported by ``mentorrules test``);
- ``MR507`` (warning) a stale parameter: its newest value is older than a set age while the
  records it is used for are newer — the classic silent error of dated parameters (with
  ``--data``). Records are dated by their own table's date column (``payouts.pay_date``), and
  only the rows a pack applies to count (a New Mexico parameter is judged by NM rows). A
  parameter declared ``stable: true`` (a definition such as the eligible roles) is never stale;
- ``MR509`` (warning, with ``--data``) rows that no state pack claims: rows of a table that can
  carry a state (its ``state`` column, or its district's) whose state is not known, or is one no
  installed pack has as jurisdiction — only core rules check them;
- ``MR510`` (warning) a rule reads a parameter whose value changes on dates, on a table whose rows
  carry both their own date and a school year (a payout's ``pay_date`` and ``school_year``), and
  does not say which picks the value (``parameters_on``): a payout of 2025-26 paid on 2026-07-01
  would be checked against the 2026-27 value. The rule must say it, either way;
- ``MR164`` rows of a unique decision table that can both match the same values on one day,
  and ``MR165`` (warning) a period with no row for a combination of values the table has;
- ``MR508`` (warning) two packs define the same parameter for the same jurisdiction with values
  in force at the same time, or the same check (table, ``when`` and ``require``) for rows both
  apply to (the same state, or every state) in overlapping effective periods.

Duplicate rule ids, unknown names and schema errors stop loading (``MR1xx``/``MR2xx``) and are
reported before lint runs.
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mentorrules.authoring.testing import RuleTestRun
from mentorrules.checking.evaluation import Evaluator, carries_state
from mentorrules.engine import Engine
from mentorrules.errors import Location, Problem
from mentorrules.inputs.reading import DataSet
from mentorrules.loading.decisions import overlaps_and_gaps
from mentorrules.loading.expressions import Expression
from mentorrules.loading.parameters import Parameter
from mentorrules.loading.rulebook import Rule


@dataclass(frozen=True)
class LintProblem:
    """A lint result: a problem and whether it is an error (fails lint) or a warning."""

    problem: Problem
    error: bool = True


def lint(engine: Engine, tests: RuleTestRun, records: DataSet | None = None,
         stale_after_years: int = 5) -> list[LintProblem]:
    """Every lint problem of the engine's packs; ``records`` enables the stale-parameter check."""
    results: list[LintProblem] = []
    book = engine.book
    seen_ids: set[str] = set()
    for rule in book.rules:
        if rule.id in seen_ids:  # another check of a rule with checks: its own gaps and conditions only
            results += _parameter_gaps(engine, rule)
            results += _unreachable(engine, rule)
            continue
        seen_ids.add(rule.id)
        if rule.source is None:
            results.append(LintProblem(Problem("MR501", f"{rule.id} has no source", rule.location,
                                               hint="add source: {title, section, url} citing the policy")))
        missing = [kind for kind, seen in (("passing", tests.coverage.held), ("failing", tests.coverage.failed))
                   if rule.id not in seen]
        if missing:
            results.append(LintProblem(Problem(
                "MR502", f"{rule.id} has no {' and no '.join(missing)} test case", rule.location,
                hint="add cases to the .test.yaml file beside the rule file")))
        results += _parameter_gaps(engine, rule)
        results += _unreachable(engine, rule)
        results += _date_unsaid(engine, rule)
    used = _used(engine)
    for pack, parameters in book.parameters.items():
        for name, parameter in parameters.items():
            if (pack, name) not in used:
                results.append(LintProblem(Problem("MR505", f"the parameter {name!r} is not used by any rule",
                                                   parameter.location), error=False))
    results += [LintProblem(Problem("MR506", problem.message, problem.location, problem.expected, problem.hint))
                for problem in tests.problems]
    if records is not None:
        results += _stale(engine, used, records, stale_after_years)
        results += unclaimed(engine, records)
    results += _overlaps(engine)
    for table in engine.book.decision_tables.values():
        results += [LintProblem(problem, error=problem.code == "MR164") for problem in overlaps_and_gaps(table)]
    return results


def _used(engine: Engine) -> dict[tuple[str, str], list[Rule]]:
    """(pack owning the parameter, name) -> the rules that use it."""
    used: dict[tuple[str, str], list[Rule]] = {}
    for rule in engine.rules:
        own = engine.book.parameters.get(rule.pack, {})
        for name in rule.parameters:
            used.setdefault((rule.pack if name in own else "core", name), []).append(rule)
    return used


# -- stale parameters ---------------------------------------------------------------------------
def _stale(engine: Engine, used: Mapping[tuple[str, str], list[Rule]], records: DataSet,
           years: int) -> list[LintProblem]:
    newest = _newest_dates(engine, records)
    results = []
    for (pack, name), rules in sorted(used.items()):
        parameter = engine.book.parameters[pack][name]
        if parameter.stable or not parameter.starts or parameter.values[-1] is None:
            continue
        dates = [(day, table, state) for rule in rules
                 for (table, state), day in newest.items()
                 if table == rule.table and state == rule.jurisdiction]
        if not dates:
            continue
        day, table, state = max(dates, key=lambda item: item[0])
        last = parameter.starts[-1]
        if (day - last).days > 365.25 * years:
            column = engine.tables[table].date_field
            rows = f"{state} {table}" if state else table
            results.append(LintProblem(Problem(
                "MR507", f"params.{name} last changed on {last.isoformat()}, more than {years} years before "
                f"the newest {rows} row ({column} {day.isoformat()})", parameter.location,
                hint="confirm it still holds and add the value in force now with its date, or declare "
                "it stable: true if it is a definition that does not age"), error=False))
    return results


def _newest_dates(engine: Engine, records: DataSet) -> dict[tuple[str, str | None], dt.date]:
    """(table, state) -> the newest date in the table's own date column among rows of that
    state; (table, None) -> among all its rows, for packs that apply everywhere."""
    indexes = engine.indexes(records.tables)
    newest: dict[tuple[str, str | None], dt.date] = {}
    for name, rows in records.tables.items():
        column = engine.tables[name].date_field
        if column is None:
            continue
        compiled = engine.evaluator.tables[name]
        for row in rows:
            day = row.values.get(column)
            if row.problems or not isinstance(day, dt.date):
                continue
            state = Evaluator.state_of(compiled, row.values, compiled.relate(row.values, indexes))
            for key in ((name, None), (name, state)):
                if key not in newest or day > newest[key]:
                    newest[key] = day
    return newest


# -- which date picks a parameter ---------------------------------------------------------------
def _date_unsaid(engine: Engine, rule: Rule) -> list[LintProblem]:
    """``MR510``: a dated parameter read without saying which of the row's two dates picks it."""
    table = engine.tables[rule.table]
    if rule.parameters_on_said or table.date_field is None or "school_year" not in table.fields:
        return []
    parameters = engine.book.parameters_for(rule.pack)
    # Every value has a date it holds from; only a definition that does not age (stable) is exempt.
    dated = sorted(name for name in rule.parameters if name in parameters and not parameters[name].stable)
    if not dated:
        return []
    names = ", ".join(f"params.{name}" for name in dated)
    return [LintProblem(Problem(
        "MR510", f"{rule.id} reads {names}, dated values, without saying which date picks it: "
        f"the row's {table.date_field} or the start of its school_year", rule.location,
        expected="parameters_on: school_year_start (or record_date, for the row's own date)",
        hint="a value set per school year is read on the school year's start; say so even when it is "
        "record_date"), error=False)]


# -- rows no state pack claims ------------------------------------------------------------------
def unclaimed(engine: Engine, records: DataSet, shown: int = 5) -> list[LintProblem]:
    """``MR509``: per table and state, the rows no state pack claims (state not known, or no pack
    for it), with the first few row keys; only tables that can carry a state are looked at."""
    states = {pack.jurisdiction for pack in engine.packs if pack.jurisdiction is not None}
    if not states:
        return []
    indexes = engine.indexes(records.tables)
    results = []
    for name, rows in records.tables.items():
        compiled = engine.evaluator.tables[name]
        if not carries_state(compiled.table):
            continue
        found: dict[str | None, list[str]] = {}
        for row in rows:
            if row.problems:
                continue
            state = Evaluator.state_of(compiled, row.values, compiled.relate(row.values, indexes))
            if state not in states:
                found.setdefault(state, []).append(row.key)
        for state, keys in sorted(found.items(), key=lambda item: item[0] or ""):
            listed = ", ".join(keys[:shown]) + (f" and {len(keys) - shown} more" if len(keys) > shown else "")
            what = (f"state {state!r}, for which no pack is installed" if state is not None
                    else "no known state (no state, and no district with one)")
            results.append(LintProblem(Problem(
                "MR509", f"{len(keys)} {name} row{'s' if len(keys) != 1 else ''} with {what}: "
                f"no state pack checks {'them' if len(keys) != 1 else 'it'} ({listed})",
                Location(records.sources.get(name, name)),
                expected=", ".join(sorted(states)),
                hint="give the row's state (or its district, with its state, in districts), "
                "or install the pack of that state"), error=False))
    return results


# -- overlapping packs --------------------------------------------------------------------------
def _overlaps(engine: Engine) -> list[LintProblem]:
    results = []
    packs = list(engine.packs)
    parameters = engine.book.parameters
    for index, first in enumerate(packs):
        for second in packs[index + 1:]:
            if first.jurisdiction is not None and first.jurisdiction == second.jurisdiction:
                for name in sorted(set(parameters.get(first.name, {})) & set(parameters.get(second.name, {}))):
                    theirs, ours = parameters[first.name][name], parameters[second.name][name]
                    if _meet(_in_force(theirs), _in_force(ours)):
                        results.append(LintProblem(Problem(
                            "MR508", f"the {first.jurisdiction} packs {first.name!r} and {second.name!r} both "
                            f"define params.{name} for the same dates", ours.location,
                            hint="one pack per jurisdiction should own a parameter"), error=False))
            if first.jurisdiction is not None and second.jurisdiction is not None \
                    and first.jurisdiction != second.jurisdiction:
                continue
            checks: dict[tuple[str, str, str], list[Rule]] = {}
            for rule in engine.rules:
                if rule.pack == first.name:
                    checks.setdefault(_check_of(rule), []).append(rule)
            for rule in engine.rules:
                if rule.pack != second.name:
                    continue
                for twin in checks.get(_check_of(rule), ()):
                    if _meet([_effective(twin)], [_effective(rule)]):
                        where = first.jurisdiction or second.jurisdiction or "every state"
                        results.append(LintProblem(Problem(
                            "MR508", f"{rule.id} ({second.name}) checks the same as {twin.id} ({first.name}) "
                            f"for {where} in the same period", rule.location, hint="keep one of them"),
                            error=False))
    return results


def _check_of(rule: Rule) -> tuple[str, str, str]:
    return rule.table, " ".join(rule.when.text.split()) if rule.when else "", " ".join(rule.require.text.split())


def _effective(rule: Rule) -> tuple[dt.date, dt.date]:
    """A rule's effective period as ``[start, end)`` (its ``to`` day included)."""
    end = rule.effective_to + dt.timedelta(days=1) if rule.effective_to and rule.effective_to < dt.date.max \
        else dt.date.max
    return rule.effective_from or dt.date.min, end


def _in_force(parameter: Parameter) -> list[tuple[dt.date, dt.date]]:
    """The periods in which a parameter has a value (``[start, end)``)."""
    ends = [*parameter.starts[1:], dt.date.max]
    return [(start, end) for start, end, value in zip(parameter.starts, ends, parameter.values, strict=True)
            if value is not None]


def _meet(first: list[tuple[dt.date, dt.date]], second: list[tuple[dt.date, dt.date]]) -> bool:
    """True when a period of ``first`` and one of ``second`` share a day (``[start, end)``)."""
    return any(a_start < b_end and b_start < a_end for a_start, a_end in first for b_start, b_end in second)


# -- parameter gaps -----------------------------------------------------------------------------
def _parameter_gaps(engine: Engine, rule: Rule) -> list[LintProblem]:
    parameters = engine.book.parameters_for(rule.pack)
    # Without effective.from, a rule is taken to apply from its own pack's first parameter date.
    own = engine.book.parameters.get(rule.pack) or parameters
    pack_start = min((p.starts[0] for p in own.values() if p.starts), default=None)
    start = rule.effective_from or pack_start
    results = []
    for name in sorted(rule.parameters):
        parameter = parameters[name]
        if start is not None and parameter.starts[0] > start:
            results.append(LintProblem(Problem(
                "MR503", f"{rule.id} uses params.{name}, which has no value before "
                f"{parameter.starts[0].isoformat()}, but the rule applies from {start.isoformat()}",
                rule.location, hint=f"give {name} a value from {start.isoformat()}, or set the rule's "
                "effective.from")))
        for gap_start, gap_end in parameter.gaps():
            end = rule.effective_to or dt.date.max
            if gap_start <= end and (gap_end is None or gap_end > (rule.effective_from or dt.date.min)):
                until = gap_end.isoformat() if gap_end else "onwards"
                results.append(LintProblem(Problem(
                    "MR503", f"{rule.id} uses params.{name}, which has no value from "
                    f"{gap_start.isoformat()} {'to ' + until if gap_end else until}", rule.location,
                    hint="give a value for that period, or end the rule with effective.to")))
    return results


# -- unreachable rules --------------------------------------------------------------------------
def _unreachable(engine: Engine, rule: Rule) -> list[LintProblem]:
    table = engine.tables[rule.table]
    if rule.jurisdiction is not None and "state" not in table.fields and "district" not in table.relations:
        return [LintProblem(Problem(
            "MR504", f"{rule.id} belongs to the {rule.jurisdiction} pack but {rule.table} rows carry no "
            "state, so it never applies", rule.location,
            hint="state pack rules apply to rows whose state (or district's state) is the pack's"))]
    if rule.when is not None and isinstance(rule.when.tree, ast.Constant) and not rule.when.tree.value:
        return [LintProblem(Problem("MR504", f"{rule.id} never applies: its 'when' is always false",
                                    rule.location))]
    if rule.when is not None and (clash := contradiction(rule.when)) is not None:
        return [LintProblem(Problem("MR504", f"{rule.id} never applies: in its 'when', {clash}",
                                    rule.location, hint="check the operators and values"))]
    if (clash := contradiction(rule.require)) is not None:
        return [LintProblem(Problem("MR504", f"{rule.id} fails every row it applies to: in its 'require', "
                                    f"{clash}", rule.location, hint="check the operators and values"))]
    return []


_FLIPPED = {ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE, ast.Eq: ast.Eq, ast.NotEq: ast.NotEq}
_NOT_LITERAL = object()


@dataclass
class _Bounds:
    """What the comparisons joined by 'and' say about one value."""

    texts: list[str] = field(default_factory=list)
    equal: list[Any] = field(default_factory=list)
    unequal: list[Any] = field(default_factory=list)
    among: list[list[Any]] = field(default_factory=list)
    low: list[tuple[Any, bool]] = field(default_factory=list)  # (bound, inclusive)
    high: list[tuple[Any, bool]] = field(default_factory=list)
    none: set[bool] = field(default_factory=set)  # True: 'is None', False: 'is not None'

    def impossible(self) -> bool:
        if True in self.none and (False in self.none or self.equal or self.low or self.high or self.among):
            return True
        candidates = set(self.equal[:1]) if self.equal else None
        if len(set(self.equal)) > 1:
            return True
        for listed in self.among:
            candidates = set(listed) if candidates is None else candidates & set(listed)
        if candidates is not None:
            return not [value for value in candidates if self._allows(value)]
        for low, low_inclusive in self.low:
            for high, high_inclusive in self.high:
                if _ordered(low, high) and (low > high or (low == high and not (low_inclusive and high_inclusive))):
                    return True
        return False

    def _allows(self, value: Any) -> bool:
        if value in self.unequal:
            return False
        above = all(not _ordered(value, low) or value > low or (inclusive and value == low)
                    for low, inclusive in self.low)
        below = all(not _ordered(value, high) or value < high or (inclusive and value == high)
                    for high, inclusive in self.high)
        return above and below


def _ordered(first: Any, second: Any) -> bool:
    """True when two literal values can be ordered against each other."""
    numbers = (int, Decimal)
    if isinstance(first, bool) or isinstance(second, bool):
        return False
    return (isinstance(first, numbers) and isinstance(second, numbers)) or type(first) is type(second)


def contradiction(expression: Expression) -> str | None:
    """The comparisons of one value, joined by 'and', that cannot all hold, as text; or None.

    >>> from mentorrules.loading.expressions import Scope, parse
    >>> scope = Scope(facts={"payout": {"amount": "decimal", "role": "text"}})
    >>> contradiction(parse("payout.amount > 5 and payout.amount < 3", scope))
    'payout.amount > 5 and payout.amount < 3 cannot both hold'
    >>> contradiction(parse("payout.role == 'a' and payout.amount > 0 and payout.role == 'b'", scope))
    "payout.role == 'a' and payout.role == 'b' cannot both hold"
    >>> contradiction(parse("payout.amount >= 5 and payout.amount <= 5", scope)) is None
    True
    """
    subjects: dict[str, _Bounds] = {}
    for subject, operator, value, text in _comparisons(expression):
        bounds = subjects.setdefault(subject, _Bounds())
        bounds.texts.append(text)
        if isinstance(operator, ast.Eq):
            bounds.equal.append(value)
        elif isinstance(operator, ast.NotEq):
            bounds.unequal.append(value)
        elif isinstance(operator, ast.In):
            bounds.among.append(value)
        elif isinstance(operator, ast.NotIn):
            bounds.unequal.extend(value)
        elif isinstance(operator, (ast.Is, ast.IsNot)):
            bounds.none.add(isinstance(operator, ast.Is))
        elif isinstance(operator, (ast.Gt, ast.GtE)):
            bounds.low.append((value, isinstance(operator, ast.GtE)))
        else:
            bounds.high.append((value, isinstance(operator, ast.LtE)))
        if bounds.impossible():
            texts = list(dict.fromkeys(bounds.texts))
            return f"{' and '.join(texts)} cannot {'both' if len(texts) == 2 else 'all'} hold"
    return None


def _comparisons(expression: Expression) -> Iterator[tuple[str, ast.cmpop, Any, str]]:
    """(value compared, operator, literal, text) for each comparison of a value with a literal
    in the top-level conjunction of ``expression``; chains (``1 < x < 5``) give one per link."""
    def conjuncts(node: ast.expr) -> Iterator[ast.expr]:
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
            for value in node.values:
                yield from conjuncts(value)
        else:
            yield node

    for node in conjuncts(expression.tree):
        if not isinstance(node, ast.Compare):
            continue
        left = node.left
        for operator, right in zip(node.ops, node.comparators, strict=True):
            text = f"{ast.unparse(left)} {_SYMBOLS[type(operator)]} {ast.unparse(right)}"
            left_value, right_value = _literal(left, expression), _literal(right, expression)
            if isinstance(operator, (ast.In, ast.NotIn)) and not isinstance(right_value, list):
                pass  # `in` text, a parameter or a field: nothing to compare with
            elif right_value is not _NOT_LITERAL and left_value is _NOT_LITERAL:
                yield ast.unparse(left), operator, right_value, text
            elif left_value is not _NOT_LITERAL and right_value is _NOT_LITERAL and type(operator) in _FLIPPED:
                yield ast.unparse(right), _FLIPPED[type(operator)](), left_value, text
            left = right


_SYMBOLS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
            ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}


def _literal(node: ast.expr, expression: Expression) -> Any:
    """The value of a literal (numbers as written, text, None, ``date('...')``, a list of
    literals), or _NOT_LITERAL."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, float):
            return expression.decimals.get(id(node), _NOT_LITERAL)
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _literal(node.operand, expression)
        return -inner if isinstance(inner, (int, Decimal)) and not isinstance(inner, bool) else _NOT_LITERAL
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_literal(item, expression) for item in node.elts]
        return _NOT_LITERAL if any(item is _NOT_LITERAL for item in items) else items
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "date" \
            and len(node.args) == 1 and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        try:
            return dt.date.fromisoformat(node.args[0].value)
        except ValueError:
            return _NOT_LITERAL
    return _NOT_LITERAL
