"""Rule test files (``*.test.yaml``) -> case results and rule coverage.

A case gives small tables and the findings expected per row key. Findings are compared only
for the rules under test: those of the rule file beside the test file (``stipends.test.yaml``
tests ``stipends.yaml``), or the case's ``rules:`` list. A key not in ``expect`` must pass.
A rule that could not check a row ("cannot check: ...") has not failed it: an expected
failure is met by such a finding only when its ``message`` says so (``cannot check``).

Coverage records, per rule, whether some case saw it hold on a row it applied to (a passing
case) and saw it fail (a failing case); ``lint`` requires both for every rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mentorrules.engine import Engine
from mentorrules.errors import Location, MentorRulesError, Problem, did_you_mean, one_of
from mentorrules.loading import schemas
from mentorrules.located import Document, load_yaml, read_text
from mentorrules.model import CANNOT_CHECK_PREFIX, Status

DEFAULT_AS_OF = dt.date(2025, 9, 1)  # for rows without a date of their own, when a case gives none


@dataclass(frozen=True)
class Case:
    """One test case, as written."""

    path: Path
    name: str
    tables: dict[str, list[dict[str, Any]]]
    expect: dict[str, list[Any]]
    rules: frozenset[str]
    as_of: dt.date | None
    location: Location


@dataclass(frozen=True)
class CaseResult:
    case: Case
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class Coverage:
    """Which rules tests saw hold and fail."""

    held: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    when_true: set[str] = field(default_factory=set)
    when_false: set[str] = field(default_factory=set)
    periods: set[tuple[str, str, dt.date]] = field(default_factory=set)

    def measure(self, engine: Engine) -> dict[str, tuple[int, int, list[str]]]:
        """Per kind (rules, branches, periods): covered, total, and what is not covered; a rule
        not covered is told with what it lacks (``CAP-001: no passing case``)."""
        rules = list(dict.fromkeys(rule.id for rule in engine.rules))  # a rule with checks counts once
        missing_rules = [f"{r}: {self.lacking(r)}" for r in rules if r not in self.held or r not in self.failed]
        branches = list(dict.fromkeys((rule.id, side) for rule in engine.rules if rule.when is not None
                                      for side in ("true", "false")))
        missing_branches = [f"{rule} when {side}" for rule, side in branches
                            if rule not in (self.when_true if side == "true" else self.when_false)]
        used = {(rule.pack if name in engine.book.parameters.get(rule.pack, {}) else "core", name)
                for rule in engine.rules for name in rule.parameters}
        periods = [(pack, name, start) for pack, name in sorted(used)
                   for start, value in zip(engine.book.parameters[pack][name].starts,
                                           engine.book.parameters[pack][name].values, strict=True)
                   if value is not None]
        missing_periods = [f"{pack}: params.{name}<{start.isoformat()}>" for pack, name, start in periods
                           if (pack, name, start) not in self.periods]
        return {"rules": (len(rules) - len(missing_rules), len(rules), missing_rules),
                "when branches": (len(branches) - len(missing_branches), len(branches), missing_branches),
                "parameter periods": (len(periods) - len(missing_periods), len(periods), missing_periods)}


    def lacking(self, rule: str) -> str:
        """What the tests lack for ``rule`` to be covered: a case where it holds, one where it fails."""
        if rule in self.held:
            return "no failing case"
        return "no passing case" if rule in self.failed else "no passing and no failing case"


@dataclass
class RuleTestRun:
    results: list[CaseResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    coverage: Coverage = field(default_factory=Coverage)

    @property
    def passed(self) -> int:
        return sum(result.passed for result in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed


def find_test_files(engine: Engine, extra: Iterable[Path] = ()) -> list[Path]:
    """The test files of the engine's packs, and of extra paths (files or directories)."""
    files = [path for pack in engine.packs for path in pack.test_files]
    for path in extra:
        if path.is_dir():
            files += sorted(path.rglob("*.test.yaml"))
        elif path.name.endswith(".test.yaml"):
            files.append(path)
        elif (companion := path.with_name(path.name.removesuffix(".yaml") + ".test.yaml")).is_file():
            files.append(companion)  # a rule file: run the tests beside it
    return list(dict.fromkeys(path.resolve() for path in files))


def load_cases(path: Path, engine: Engine) -> tuple[list[Case], list[Problem]]:
    """The cases of one test file, checked against the tests schema."""
    text, problem = read_text(path)
    if problem is not None or text is None:
        return [], [problem] if problem else []
    document, problems = load_yaml(text, str(path))
    if problems:
        return [], problems
    problems = schemas.check(document, schemas.TESTS)
    if problems:
        return [], problems
    under_test = _rules_beside(path, engine)
    known = {rule.id for rule in engine.rules}
    cases = []
    for index, spec in enumerate(document.value):
        rules = frozenset(spec.get("rules") or under_test)
        where = document.location((index, "name"))
        unknown = sorted(rules - known)
        if unknown:
            problems.append(Problem("MR140", f"the case tests unknown rules: {', '.join(unknown)}", where,
                                    hint="check the ids, or load the pack that has them"))
            continue
        if not rules:
            problems.append(Problem("MR141", "no rules to test", where,
                                    hint=f"put the tests beside their rule file ({_companion(path).name}) "
                                    "or list them in 'rules:'"))
            continue
        expectation_problems = _expected_rules(document, index, spec["expect"], rules, known)
        if expectation_problems:
            problems += expectation_problems
            continue
        cases.append(Case(path, spec["name"], spec["tables"], {str(k): v for k, v in spec["expect"].items()},
                          rules, _as_date(spec.get("as_of")), where))
    return cases, problems


def _expected_rules(document: Document, index: int, expect: dict[Any, list[Any]], tested: frozenset[str],
                    known: set[str]) -> list[Problem]:
    """Each expected finding must name a rule that exists and that the case tests; otherwise the
    case could only fail with a misleading "expected [...], got none"."""
    problems = []
    for key, items in expect.items():
        for position, item in enumerate(items):
            rule = item if isinstance(item, str) else item["rule"]
            where = document.location((index, "expect", str(key), position))
            if rule not in known:
                problems.append(Problem("MR140", f"{key}: the case expects the unknown rule {rule!r}", where,
                                        expected=f"a rule of the loaded packs ({one_of(known)})",
                                        hint=did_you_mean(rule, known) or "check the id, or load the pack that has it"))
            elif rule not in tested:
                problems.append(Problem("MR142", f"{key}: the case expects {rule}, which it does not test",
                                        where, expected=f"one of the rules under test: {', '.join(sorted(tested))}",
                                        hint=f"add {rule} to the case's rules:, or move the case beside "
                                        "the rule file of that rule"))
    return problems


def _as_date(value: Any) -> dt.date | None:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value) if value else None


def _companion(path: Path) -> Path:
    return path.with_name(path.name.removesuffix(".test.yaml") + ".yaml")


def _rules_beside(path: Path, engine: Engine) -> set[str]:
    companion = _companion(path).resolve()
    return {rule.id for rule in engine.rules if rule.location.path and Path(rule.location.path).resolve() == companion}


def run_case(case: Case, engine: Engine, coverage: Coverage) -> CaseResult:
    """Run one case and compare the findings of the rules under test."""
    try:
        report = engine.validate(_world(case, engine), as_of=case.as_of or DEFAULT_AS_OF)
    except MentorRulesError as error:
        return CaseResult(case, tuple(str(problem) for problem in error.problems))
    failures = []
    seen = set()
    for decision in report.records:
        if decision.status is Status.UNREADABLE:
            seen.add(decision.key)
            failures.append(f"{decision.key}: {decision.table} row {decision.row} could not be read: "
                            + "; ".join(finding.message for finding in decision.findings))
            continue
        actual = [finding for finding in decision.findings if finding.rule in case.rules]
        expected = case.expect.get(decision.key)
        if expected is not None:
            seen.add(decision.key)
        failures += _compare(decision.key, expected or [], actual)
        coverage.failed.update(f.rule for f in actual if not f.cannot_check)
        if decision.table in engine.tables:
            _cover(case, engine, decision.table, decision.key, coverage)
    for key in sorted(set(case.expect) - seen):
        failures.append(f"{key}: no row has this key")
    return CaseResult(case, tuple(failures))


def _compare(key: str, expected: Sequence[Any], actual: Sequence[Any]) -> list[str]:
    wanted = sorted(item if isinstance(item, str) else item["rule"] for item in expected)
    got = sorted(finding.rule for finding in actual)
    if wanted != got:
        shown = "; ".join(f"{f.rule}: {f.message}" for f in actual) or "no findings"
        return [f"{key}: expected {wanted or 'no findings'}, got {got or 'none'} ({shown})"]
    failures = []
    for item in expected:
        rule = item if isinstance(item, str) else item["rule"]
        found = [f for f in actual if f.rule == rule]
        messages = [f.message for f in found]
        severities = [f.severity.value for f in found]
        if isinstance(item, dict) and "severity" in item and item["severity"] not in severities:
            failures.append(f"{key}: {rule} severity {severities} is not {item['severity']!r}")
        if isinstance(item, dict) and "message" in item:
            if not any(item["message"] in message for message in messages):
                failures.append(f"{key}: {rule} message {messages} does not contain {item['message']!r}")
        elif all(f.cannot_check for f in found):
            # A rule that could not be checked has not failed: the case must say it expects that.
            failures.append(f"{key}: {rule} could not be checked: {messages[0].removeprefix(CANNOT_CHECK_PREFIX)} "
                            f"(to expect that, write {{rule: {rule}, message: cannot check}})")
    return failures


def _world(case: Case, engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """A case's tables: a case is a whole small world, so a table it does not list is empty
    (where a data set without that table leaves the rules that read it unchecked)."""
    return {**{name: [] for name in engine.tables}, **case.tables}




def _cover(case: Case, engine: Engine, table: str, key: str, coverage: Coverage) -> None:
    """Record the rules under test that applied to this row and held."""
    try:
        _, explanations = engine.explain(_world(case, engine), table, key, as_of=case.as_of or DEFAULT_AS_OF)[0]
    except MentorRulesError:
        return
    for explanation in explanations:
        rule = explanation.rule.id
        if rule not in case.rules:
            continue
        (coverage.when_true if explanation.applies else coverage.when_false).add(rule)
        coverage.periods.update(explanation.periods)
        if explanation.applies and explanation.holds:
            coverage.held.add(rule)


def run(engine: Engine, files: Iterable[Path]) -> RuleTestRun:
    """Run every case of ``files`` with ``engine``."""
    outcome = RuleTestRun()
    for path in files:
        cases, problems = load_cases(path, engine)
        outcome.problems += problems
        for case in cases:
            outcome.results.append(run_case(case, engine, outcome.coverage))
    return outcome
