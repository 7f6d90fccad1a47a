"""The YAML rule tests of every installed pack, run once per `make test`: one test per case.

`mentorrules test` and `mentorrules lint` run the same cases (the CLI tests try them on small
packs); here every case runs once, and the same run gives the coverage and lint answers. A
failure names the file, the case and the finding that differed.

Each case's world is also explained row by row: the explain path (which records every
sub-expression) must give the same findings as the fast path that made the decision.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mentorrules import Engine
from mentorrules.authoring import linting
from mentorrules.authoring.testing import DEFAULT_AS_OF, Case, RuleTestRun, find_test_files, load_cases, run_case
from mentorrules.checking.evaluation import Explanation
from mentorrules.model import Decision

ENGINE = Engine.load()
RUN = RuleTestRun()
CASES: list[Case] = []
for path in find_test_files(ENGINE):
    cases, problems = load_cases(path, ENGINE)
    CASES += cases
    RUN.problems += problems
RESULTS = {id(case): run_case(case, ENGINE, RUN.coverage) for case in CASES}
RUN.results += RESULTS.values()
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def case_id(case: Case) -> str:
    return f"{Path(case.path).parent.name}/{Path(case.path).name}: {case.name}"


def test_every_rule_test_file_loads() -> None:
    assert not RUN.problems, "\n".join(str(problem) for problem in RUN.problems)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_rule_case(case: Case) -> None:
    result = RESULTS[id(case)]
    assert result.passed, f"{case.path}:{case.location.line}: {case.name}\n" + "\n".join(result.failures)


def test_every_rule_has_a_passing_and_a_failing_case() -> None:
    rules = {rule.id for rule in ENGINE.rules}
    assert rules - RUN.coverage.held == set(), "rules never seen holding"
    assert rules - RUN.coverage.failed == set(), "rules never seen failing"


def test_the_packs_lint_clean() -> None:
    """`mentorrules lint` on the installed packs, from the same run of the cases."""
    errors = [str(result.problem) for result in linting.lint(ENGINE, RUN) if result.error]
    assert not errors, "\n".join(errors)


def _row_findings_agree(decision: Decision, explanations: list[Explanation]) -> list[str]:
    """The findings of row rules (not batch rules) on the fast path and on the explain path."""
    row_rules = {rule.id for rule in ENGINE.rules if rule.batch is None}
    fast = sorted((f.rule, f.message) for f in decision.findings if f.rule in row_rules)
    explained = sorted((e.finding.rule, e.finding.message) for e in explanations
                       if e.finding is not None and e.rule.id in row_rules)
    return [] if fast == explained else [f"{decision.table} {decision.key}: fast {fast} != explained {explained}"]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_the_fast_path_and_the_explain_path_agree_on_every_case(case: Case) -> None:
    world = {**{name: [] for name in ENGINE.tables}, **case.tables}
    differences = []
    for decision, explanations in ENGINE.explain_rows(world, case.as_of or DEFAULT_AS_OF):
        differences += _row_findings_agree(decision, explanations)
    assert not differences, "\n".join(differences)


def test_the_fast_path_and_the_explain_path_agree_on_the_examples() -> None:
    differences = []
    rows = 0
    for decision, explanations in ENGINE.explain_rows(EXAMPLES, dt.date(2026, 1, 1)):
        rows += 1
        differences += _row_findings_agree(decision, explanations)
    assert rows > 900
    assert not differences, "\n".join(differences[:20])
