"""Group findings are first-class: `explain --record group:KEY`, and a member shows its group's verdict."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mentorrules import Engine, MentorRulesError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AS_OF = dt.date(2026, 1, 1)
CHUGACH = "ASMP-010:Chugach/2025-26"
MESSAGE = "Chugach contributed 7500.00 in 2025-26 for 12 mentees; the cost share is 30000.00 (2500.00 per mentee)"


def test_explain_of_a_group_record_shows_its_figures_and_finding(engine: Engine) -> None:
    [(decision, [explanation])] = engine.explain(EXAMPLES, "group", CHUGACH, as_of=AS_OF)
    assert (decision.table, decision.key, decision.status.value) == ("group", CHUGACH, "fail")
    steps = {step.text: step.value for step in explanation.steps}
    assert steps["district_name"] == "Chugach" and steps["mentees"] == 12
    assert str(steps["contributed"]) == "7500.00"
    assert steps["rows of the group"][0] == "PR-0015" and len(steps["rows of the group"]) == 12
    assert explanation.finding is not None and explanation.finding.message == MESSAGE
    assert explanation.holds is False


def test_a_member_of_a_failing_group_shows_the_groups_verdict(engine: Engine) -> None:
    [(decision, explanations)] = engine.explain(EXAMPLES, "pairings", "PR-0015", as_of=AS_OF)
    assert decision.status.value == "pass"  # a group's finding never changes its rows
    [group] = [e for e in explanations if e.rule.id == "ASMP-010"]
    assert group.holds is False and group.finding is not None and group.finding.message == MESSAGE
    assert {step.text: step.value for step in group.steps}["group record"] == CHUGACH


def test_an_unknown_group_key_is_a_problem_with_a_suggestion(engine: Engine) -> None:
    with pytest.raises(MentorRulesError) as raised:
        engine.explain(EXAMPLES, "group", "ASMP-010:Chugach/2025-25", as_of=AS_OF)
    [problem] = raised.value.problems
    assert problem.code == "MR312" and problem.message == "no group record has the key 'ASMP-010:Chugach/2025-25'"
    assert problem.hint == f"did you mean {CHUGACH!r}?"


def test_the_command_explains_a_group_record(run_cli) -> None:
    result = run_cli("explain", EXAMPLES, "--record", f"group:{CHUGACH}", "--as-of", "2026-01-01")
    assert result.code == 1
    assert result.out.startswith(f"group {CHUGACH} (row 1): fail\n")
    assert "| contributed = 7500.00" in result.out and MESSAGE in result.out
