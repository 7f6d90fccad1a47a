"""The YAML rule tests of every installed pack, run by pytest too: one test per case.

`mentorrules test` runs the same cases; a failure here names the file, the case and the
finding that differed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mentorrules import Engine
from mentorrules.ruletests import Case, Coverage, find_test_files, load_cases, run_case

ENGINE = Engine.load()
CASES: list[Case] = []
PROBLEMS = []
for path in find_test_files(ENGINE):
    cases, problems = load_cases(path, ENGINE)
    CASES += cases
    PROBLEMS += problems


def case_id(case: Case) -> str:
    return f"{Path(case.path).parent.name}/{Path(case.path).name}: {case.name}"


def test_every_rule_test_file_loads() -> None:
    assert not PROBLEMS, "\n".join(str(problem) for problem in PROBLEMS)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_rule_case(case: Case) -> None:
    result = run_case(case, ENGINE, Coverage())
    assert result.passed, f"{case.path}:{case.location.line}: {case.name}\n" + "\n".join(result.failures)


def test_every_rule_has_a_passing_and_a_failing_case() -> None:
    coverage = Coverage()
    for case in CASES:
        run_case(case, ENGINE, coverage)
    rules = {rule.id for rule in ENGINE.rules}
    assert rules - coverage.held == set(), "rules never seen holding"
    assert rules - coverage.failed == set(), "rules never seen failing"
