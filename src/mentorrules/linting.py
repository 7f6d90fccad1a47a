"""Loaded packs + their test run -> authoring problems that loading alone cannot see.

- ``MR501`` a rule without a source citation;
- ``MR502`` a rule without a passing and a failing test case;
- ``MR503`` a parameter a rule uses has no value in force for part of the rule's period;
- ``MR504`` a rule that can never apply (its ``when`` is always false, or it belongs to a state
  pack but its table's rows carry no state);
- ``MR505`` a parameter no rule uses (warning);
- ``MR506`` a test file problem (a case that fails is reported by ``mentorrules test``).

Duplicate rule ids, unknown names and schema errors stop loading (``MR1xx``/``MR2xx``) and are
reported before lint runs.
"""

from __future__ import annotations

import ast
import datetime as dt
from dataclasses import dataclass

from mentorrules.engine import Engine
from mentorrules.errors import Problem
from mentorrules.rulebook import Rule
from mentorrules.ruletests import RuleTestRun


@dataclass(frozen=True)
class LintProblem:
    """A lint result: a problem and whether it is an error (fails lint) or a warning."""

    problem: Problem
    error: bool = True


def lint(engine: Engine, tests: RuleTestRun) -> list[LintProblem]:
    results: list[LintProblem] = []
    book = engine.book
    for rule in book.rules:
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
    used = set()
    for rule in book.rules:
        own = book.parameters.get(rule.pack, {})
        used |= {(rule.pack if name in own else "core", name) for name in rule.parameters}
    for pack, parameters in book.parameters.items():
        for name, parameter in parameters.items():
            if (pack, name) not in used:
                results.append(LintProblem(Problem("MR505", f"the parameter {name!r} is not used by any rule",
                                                   parameter.location), error=False))
    results += [LintProblem(Problem("MR506", problem.message, problem.location, problem.expected, problem.hint))
                for problem in tests.problems]
    return results


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
    return []
