"""MR510: a rule reading a dated parameter on rows with two dates says which date picks it.

A payout of school year 2025-26 paid on 2026-07-01 is checked against the 2026-27 value when the
pay date picks it, and against the 2025-26 value when the school year does: a rule that does not
say which is a warning, and the two choices give different findings on that edge.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from mentorrules import Engine

PARAMETERS = """
parameters:
  yearly_cap:
    description: Yearly cap per payout, in USD.
    values:
      2016-07-01: 1000.00
      2026-07-01: 1200.00
"""


def rule(parameters_on: str | None) -> str:
    said = f"    parameters_on: {parameters_on}\n" if parameters_on else ""
    return ("rules:\n  - id: LOCAL-010\n    title: A payout is at most the yearly cap\n    table: payouts\n"
            "    require: payout.amount <= params.yearly_cap\n"
            "    message: \"{payout.amount} is over the cap {params.yearly_cap}\"\n"
            "    source: {title: local policy}\n" + said)


@pytest.mark.parametrize(("parameters_on", "warned"), [(None, True), ("school_year_start", False),
                                                       ("record_date", False)],
                         ids=["not said: warned", "school year start: said", "record date: said"])
def test_lint_asks_which_date_picks_a_dated_parameter(write_rules: Callable[..., Path], run_cli,
                                                      parameters_on: str | None, warned: bool) -> None:
    path = write_rules(rule(parameters_on))
    write_rules(PARAMETERS, name="parameters.yaml")
    result = run_cli("lint", "--pack", "core", path.parent)
    assert ("MR510 LOCAL-010 reads params.yearly_cap, dated values, without saying which date picks it: "
            "the row's pay_date or the start of its school_year" in result.out) is warned


@pytest.mark.parametrize(("parameters_on", "finding"), [("school_year_start", True), ("record_date", False)])
def test_the_two_dates_give_different_findings_on_the_first_of_july(write_rules: Callable[..., Path],
                                                                    parameters_on: str, finding: bool) -> None:
    path = write_rules(rule(parameters_on))
    write_rules(PARAMETERS, name="parameters.yaml")
    engine = Engine.load(packs=[], rules=[path.parent])
    payout = {"payout_id": "P-1", "payee_id": "T-1", "role": "mentor", "program": "X", "state": "XX",
              "school_year": "2025-26", "pay_date": "2026-07-01", "amount": "1100.00"}
    decision = engine.evaluate(payout, related={"people": [{"person_id": "T-1"}]}, as_of=dt.date(2026, 7, 1))
    assert ("LOCAL-010" in {f.rule for f in decision.findings}) is finding
