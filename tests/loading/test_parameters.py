"""Dated parameters: the value in force on a record's date, gaps after ``null``, exact money."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import csv_text, payout

from mentorrules import Engine, Status

PARAMETERS = """\
parameters:
  stipend_cap:
    description: Yearly cap per role.
    unit: USD
    values:
      2016-07-01: {mentor: 2000.00, mentee: 1000.00}
      2024-07-01: {mentor: 2500.00, mentee: 1000.00}
  flat_cap:
    description: A cap that ended when the program closed.
    values:
      2016-07-01: 2000
      2024-07-01: 2500.00
      2025-07-01: null
  eligible_roles:
    description: This pack also pays coaches.
    values:
      2016-07-01: [mentor, mentee, coach]
"""

RULES = """\
rules:
  - id: CAP-001
    title: Under the cap for the role
    table: payouts
    require: payout.amount <= params.stipend_cap[payout.role]
    message: "amount {payout.amount} is over the cap {params.stipend_cap[payout.role]}"
  - id: CAP-002
    title: Under the flat cap
    table: payouts
    require: payout.amount <= params.flat_cap
    message: "amount {payout.amount} is over the flat cap {params.flat_cap}"
  - id: CAP-003
    title: Under the cap of the school year's start
    table: payouts
    parameters_on: school_year_start
    require: payout.amount <= params.stipend_cap[payout.role]
    message: "amount {payout.amount} is over the {payout.school_year} cap {params.stipend_cap[payout.role]}"
  - id: CAP-004
    title: Only from July 2024
    table: payouts
    effective: {from: 2024-07-01}
    require: payout.amount < 2100
    message: "amount {payout.amount} is 2100 or more"
  - id: CAP-005
    title: This pack's roles
    table: payouts
    require: payout.role in params.eligible_roles
    message: "role {payout.role}"
"""


@pytest.fixture
def capped(tmp_path: Path) -> Engine:
    folder = tmp_path / "caps"
    folder.mkdir()
    (folder / "parameters.yaml").write_text(PARAMETERS, encoding="utf-8")
    (folder / "caps.yaml").write_text(RULES, encoding="utf-8")
    return Engine.load(packs=[], rules=[folder])


def messages(engine: Engine, rule: str, **changes: str) -> list[str]:
    report = engine.validate({"payouts": [payout(**changes)], "people": [{"person_id": "T-1"}]})
    [decision] = [d for d in report.decisions if d.table == "payouts"]
    return [finding.message for finding in decision.findings if finding.rule == rule]


@pytest.mark.parametrize(("pay_date", "amount", "expected"), [
    pytest.param("2024-06-30", "2200.00", ["amount 2200.00 is over the cap 2000.00"],
                 id="the day before the change the old cap applies"),
    pytest.param("2024-07-01", "2200.00", [], id="on the day of the change the new cap applies"),
    pytest.param("2024-07-01", "2500.00", [], id="the new cap itself is allowed"),
    pytest.param("2024-07-01", "2500.01", ["amount 2500.01 is over the cap 2500.00"],
                 id="one cent over the new cap fails"),
    pytest.param("2016-07-01", "2000.00", [], id="the first day of the first value"),
])
def test_cap_in_force_on_the_pay_date_is_used(capped: Engine, pay_date: str, amount: str,
                                              expected: list[str]) -> None:
    assert messages(capped, "CAP-001", pay_date=pay_date, amount=amount) == expected


def test_a_payout_before_the_first_value_cannot_be_checked(capped: Engine) -> None:
    assert messages(capped, "CAP-001", pay_date="2016-06-30") == [
        "cannot check: params.stipend_cap has no value in force on 2016-06-30"]


@pytest.mark.parametrize(("pay_date", "expected"), [
    pytest.param("2025-06-30", [], id="the last day before null still has a value"),
    pytest.param("2025-07-01", ["cannot check: params.flat_cap has no value in force on 2025-07-01"],
                 id="null ends the parameter"),
    pytest.param("2030-01-01", ["cannot check: params.flat_cap has no value in force on 2030-01-01"],
                 id="years after null there is still no value"),
])
def test_null_ends_a_parameter(capped: Engine, pay_date: str, expected: list[str]) -> None:
    assert messages(capped, "CAP-002", pay_date=pay_date, amount="100.00") == expected


def test_a_rule_that_cannot_be_checked_makes_the_row_fail(capped: Engine) -> None:
    report = capped.validate({"payouts": [payout(pay_date="2025-07-01")],
                              "people": [{"person_id": "T-1"}]})
    assert report.decisions[0].status is Status.FAIL


def test_an_integer_then_a_decimal_value_compare_as_money(capped: Engine) -> None:
    assert messages(capped, "CAP-002", pay_date="2020-01-01", amount="2000.01") == [
        "amount 2000.01 is over the flat cap 2000"]


def test_parameters_on_school_year_start_use_the_value_of_july_1(capped: Engine) -> None:
    accrued = {"pay_date": "2024-07-15", "school_year": "2023-24", "accrual": "true",
               "amount": "2200.00"}
    assert messages(capped, "CAP-003", **accrued) == ["amount 2200.00 is over the 2023-24 cap 2000.00"]
    assert messages(capped, "CAP-001", **accrued) == []


@pytest.mark.parametrize(("pay_date", "expected"), [
    pytest.param("2024-06-30", [], id="the day before the rule starts it does not apply"),
    pytest.param("2024-07-01", ["amount 2200.00 is 2100 or more"], id="from its first day it applies"),
])
def test_effective_from_starts_a_rule(capped: Engine, pay_date: str, expected: list[str]) -> None:
    assert messages(capped, "CAP-004", pay_date=pay_date, amount="2200.00") == expected


def test_a_pack_parameter_shadows_core_only_for_the_pack_rules(capped: Engine) -> None:
    assert messages(capped, "CAP-005", role="coach") == []
    [core_finding] = messages(capped, "STIPEND-001", role="coach")
    assert "coach" in core_finding


def test_findings_show_the_dated_parameter_value_used(capped: Engine) -> None:
    report = capped.validate({"payouts": [payout(pay_date="2024-06-30", amount="2200.00")],
                              "people": [{"person_id": "T-1"}]})
    [finding] = [f for f in report.decisions[0].findings if f.rule == "CAP-001"]
    assert finding.parameters == ("params.stipend_cap<2016-07-01>['mentor'] = 2000.00",)


def test_no_parameter_value_of_any_pack_is_a_float(engine: Engine, capped: Engine) -> None:
    def leaves(value: object) -> list[object]:
        if isinstance(value, dict):
            return [leaf for item in value.values() for leaf in leaves(item)]
        if isinstance(value, list):
            return [leaf for item in value for leaf in leaves(item)]
        return [value]

    for book in (engine.book, capped.book):
        for parameters in book.parameters.values():
            for parameter in parameters.values():
                for value in leaves(list(parameter.values)):
                    assert not isinstance(value, float), f"{parameter.name} = {value!r}"
    cap = capped.book.parameters["caps"]["stipend_cap"]  # a rules directory is a pack named after it
    assert cap.values[0]["mentor"] == Decimal("2000.00")
    assert str(cap.values[0]["mentor"]) == "2000.00"


def test_json_report_shows_money_as_written(tmp_path: Path, run_cli) -> None:
    folder = tmp_path / "caps"
    folder.mkdir()
    (folder / "parameters.yaml").write_text(PARAMETERS, encoding="utf-8")
    (folder / "caps.yaml").write_text(RULES, encoding="utf-8")
    (tmp_path / "payouts.csv").write_text(
        csv_text([payout(pay_date="2024-06-30", school_year="2023-24", amount="2200.10")]),
        encoding="utf-8")
    (tmp_path / "people.csv").write_text("person_id\nT-1\n", encoding="utf-8")
    result = run_cli("validate", tmp_path, "--pack", "core", "--rules", folder, "--format", "json")
    assert result.code == 1, result.err
    record = json.loads(result.out)["records"][0]
    cap = [finding for finding in record["findings"] if finding["rule"] == "CAP-001"]
    assert cap[0]["message"] == "amount 2200.10 is over the cap 2000.00"
    assert cap[0]["parameters"] == ["params.stipend_cap<2016-07-01>['mentor'] = 2000.00"]


@pytest.mark.parametrize(("quoted", "found"), [
    ('{mentor: "2500.00", mentee: 1000.00}', [("MR121", "parameters.yaml:7:28")]),  # among numbers
    ('{mentor: "2500.00", mentee: "1000.00"}',  # a date's every entry, among the other date's numbers
     [("MR121", "parameters.yaml:7:28"), ("MR121", "parameters.yaml:7:47")]),
])
def test_a_quoted_number_in_a_parameter_map_is_refused_where_it_is(
        write_rules, quoted: str, found: list[tuple[str, str]]) -> None:
    from mentorrules import MentorRulesError

    write_rules(RULES.split("  - id: CAP-002")[0])
    text = PARAMETERS.replace("{mentor: 2500.00, mentee: 1000.00}", quoted)
    path = write_rules(text, "parameters.yaml")
    with pytest.raises(MentorRulesError) as raised:
        Engine.load(packs=[], rules=[path.parent])
    assert [(problem.code, str(problem.location).removeprefix(f"{path.parent}/"))
            for problem in raised.value.problems] == found
    assert "write numbers in parameter files without quotes" in (raised.value.problems[0].hint or "")


def test_a_parameter_map_of_quoted_numbers_is_refused_where_it_is_compared(write_rules) -> None:
    from mentorrules import MentorRulesError

    write_rules(RULES.split("  - id: CAP-002")[0])
    text = PARAMETERS.replace("mentor: 2000.00, mentee: 1000.00", 'mentor: "2000.00", mentee: "1000.00"')
    path = write_rules(text.replace("mentor: 2500.00, mentee: 1000.00", 'mentor: "2500.00", mentee: "1000.00"'),
                       "parameters.yaml")
    with pytest.raises(MentorRulesError) as raised:
        Engine.load(packs=[], rules=[path.parent])
    assert [(problem.code, str(problem.location).removeprefix(f"{path.parent}/"))
            for problem in raised.value.problems] == [("MR205", "rules.yaml:5:14")]
