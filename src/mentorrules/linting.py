"""Loaded packs + their test run -> authoring problems that loading alone cannot see.

- ``MR501`` a rule without a source citation;
- ``MR502`` a rule without a passing and a failing test case;
- ``MR503`` a parameter a rule uses has no value in force for part of the rule's period;
- ``MR504`` a rule that can never apply (its ``when`` is always false, or it belongs to a state
  pack but its table's rows carry no state);
- ``MR505`` a parameter no rule uses (warning);
- ``MR506`` a test file problem (a case that fails is reported by ``mentorrules test``);
- ``MR507`` (warning) a stale parameter: its newest value is older than a set age while the
  records checked are newer — the classic silent error of dated parameters (with ``--data``);
- ``MR508`` (warning) two packs for the same jurisdiction define the same parameter or the same check.

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


def lint(engine: Engine, tests: RuleTestRun, newest_record: dt.date | None = None,
         stale_after_years: int = 5) -> list[LintProblem]:
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
    if newest_record is not None:
        results += _stale(engine, used, newest_record, stale_after_years)
    results += _overlaps(engine)
    return results


def _stale(engine: Engine, used: set[tuple[str, str]], newest: dt.date, years: int) -> list[LintProblem]:
    results = []
    for pack, name in sorted(used):
        parameter = engine.book.parameters[pack][name]
        last = parameter.starts[-1]
        if parameter.values[-1] is not None and (newest - last).days > 365.25 * years:
            results.append(LintProblem(Problem(
                "MR507", f"params.{name} last changed on {last.isoformat()}, more than {years} years before "
                f"the newest record ({newest.isoformat()})", parameter.location,
                hint="confirm it still holds, or add the value in force now with its date"), error=False))
    return results


def _overlaps(engine: Engine) -> list[LintProblem]:
    results = []
    by_state: dict[str, list[str]] = {}
    for pack in engine.packs:
        if pack.jurisdiction is not None:
            by_state.setdefault(pack.jurisdiction, []).append(pack.name)
    for state, names in by_state.items():
        for index, first in enumerate(names):
            for second in names[index + 1:]:
                parameters = engine.book.parameters
                shared = sorted(set(parameters.get(first, {})) & set(parameters.get(second, {})))
                for name in shared:
                    results.append(LintProblem(Problem(
                        "MR508", f"the {state} packs {first!r} and {second!r} both define params.{name}",
                        engine.book.parameters[second][name].location,
                        hint="one pack per jurisdiction should own a parameter"), error=False))
                checks = {(rule.table, rule.require.text.strip()): rule for rule in engine.rules if rule.pack == first}
                for rule in engine.rules:
                    twin = checks.get((rule.table, rule.require.text.strip()))
                    if rule.pack == second and twin is not None:
                        results.append(LintProblem(Problem(
                            "MR508", f"{rule.id} ({second}) checks the same as {twin.id} ({first}) for {state}",
                            rule.location, hint="keep one of them"), error=False))
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
