"""Rule expressions: refused at load time when unsafe or ill-typed; exact Decimal arithmetic when run.

Every refusal here happens in ``Engine.load`` with a located problem; nothing in a rule file
ever reaches Python.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from conftest import GOOD_PAYOUT

from mentorrules import Engine, MentorRulesError, Problem

PEOPLE = {"people": [{"person_id": "T-1", "career_year": 2}]}


def rule_file(require: str, message: str = "x", when: str | None = None) -> str:
    """One rule on payouts; expressions are block scalars so that no YAML quoting is needed."""
    lines = ["rules:", "  - id: T-001", "    title: under test", "    table: payouts"]
    if when is not None:
        lines += ["    when: |-", f"      {when}"]
    lines += ["    require: |-", f"      {require}", "    message: |-", f"      {message}"]
    return "\n".join(lines) + "\n"


def load_problems(write_rules, require: str, **parts: str) -> list[Problem]:
    path = write_rules(rule_file(require, **parts))
    with pytest.raises(MentorRulesError) as raised:
        Engine.load(packs=[], rules=[path])
    return list(raised.value.problems)


def load(write_rules, require: str, **parts: str) -> Engine:
    return Engine.load(packs=[], rules=[write_rules(rule_file(require, **parts))])


def finding_messages(engine: Engine, **changes: str) -> list[str]:
    decision = engine.evaluate({**GOOD_PAYOUT, **changes}, related=PEOPLE)
    return [finding.message for finding in decision.findings if finding.rule == "T-001"]


# -- the sandbox (what each refusal says; tests/test_sandbox.py has the corpus of escape attempts) ----
REFUSED = [
    pytest.param("payout.__class__ is None", "MR202", "'__class__'", id="a dunder field of a fact"),
    pytest.param("__import__('os') is None", "MR202", "'__import__'", id="__import__"),
    pytest.param("().__class__.__bases__ is None", "MR202", "'__bases__'", id="climbing from a tuple"),
    pytest.param("[].__class__ is None", "MR202", "'__class__'", id="the class of a list"),
    pytest.param("payout._secret is None", "MR202", "'_secret'", id="a private field"),
    pytest.param("getattr(payout, 'amount') > 0", "MR204", "unknown function 'getattr'", id="getattr"),
    pytest.param("eval('1') == 1", "MR204", "unknown function 'eval'", id="eval"),
    pytest.param("exec('x = 1') is None", "MR204", "unknown function 'exec'", id="exec"),
    pytest.param("open('/etc/passwd') is None", "MR204", "unknown function 'open'", id="open"),
    pytest.param("payout.role.upper() == 'X'", "MR204", "only registered functions", id="a method call"),
    pytest.param("payout.accrual == (lambda: True)", "MR202", "lambda is not allowed", id="lambda"),
    pytest.param("payout.amount in [x for x in [1]]", "MR202", "comprehensions", id="a list comprehension"),
    pytest.param("payout.amount in {x for x in [1]}", "MR202", "comprehensions", id="a set comprehension"),
    pytest.param("payout.amount == (x for x in [1])", "MR202", "generator", id="a generator"),
    pytest.param("payout.role == f'{payout.amount}'", "MR202", "f-strings", id="an f-string"),
    pytest.param("(x := payout.amount) > 0", "MR202", ":=", id="the walrus"),
    pytest.param("9**9**9 > payout.amount", "MR202", "'**' is not allowed", id="9**9**9"),
    pytest.param("payout.installment > 2 * 10**9", "MR202", "'**' is not allowed", id="2 * 10**9"),
    pytest.param("payout.role == 'a' * 1000000000", "MR205", "'*' needs numbers",
                 id="text repeated a billion times"),
    pytest.param("payout.amount < 10000000000000000", "MR210", "too large", id="a huge integer"),
    pytest.param("payout.amount < 1e400", "MR210", "too large", id="an infinite decimal"),
    pytest.param("payout.amount // 2 > 0", "MR202", "'//'", id="floor division"),
    pytest.param("payout.installment << 2 > 0", "MR202", "'<<'", id="a shift"),
    pytest.param("~payout.installment > 0", "MR202", "'~'", id="bitwise not"),
    pytest.param("payout['amount'] > 0", "MR202", "[...] can only follow a parameter",
                 id="subscripting the record"),
    pytest.param("payee[0] is None", "MR202", "[...] can only follow a parameter",
                 id="subscripting a related fact"),
    pytest.param("school_year(day=payout.pay_date) == '2025-26'", "MR204", "keyword arguments",
                 id="keyword arguments"),
    pytest.param("school_year(*[payout.pay_date]) == '2025-26'", "MR202", "unpacking",
                 id="star arguments"),
    pytest.param("{'a': 1} is None", "MR202", "mapping literals", id="a dict literal"),
    pytest.param("b'x' == payout.role", "MR202", "bytes literals", id="a bytes literal"),
    pytest.param("payout.amount > ...", "MR202", "ellipsis", id="an ellipsis"),
    pytest.param("(" * 200 + "payout.amount > 0" + ")" * 200, "MR201", "too many nested parentheses",
                 id="200 parentheses"),
    pytest.param("not " * 100 + "payout.accrual", "MR211", "nested too deeply", id="100 nested nots"),
    pytest.param("payout.amount in " + "[" * 40 + "1" + "]" * 40, "MR211", "nested too deeply",
                 id="40 nested lists"),
    pytest.param(" and ".join(["payout.amount > 0"] * 600), "MR119", "too long",
                 id="a 10,000-character expression"),
]


@pytest.mark.parametrize(("require", "code", "fragment"), REFUSED)
def test_unsafe_expression_is_refused_at_load_time(write_rules, require, code, fragment) -> None:
    problems = load_problems(write_rules, require)
    assert [problem.code for problem in problems] == [code]
    assert fragment in problems[0].message
    assert problems[0].location.path.endswith("rules.yaml")


def test_a_mistake_at_the_start_of_a_block_scalar_is_located_on_its_line(write_rules) -> None:
    [problem] = load_problems(write_rules, "payot.amount > 0")
    assert (problem.location.line, problem.location.column) == (6, 7)


def test_a_mistake_inside_a_block_scalar_is_located_on_its_line(write_rules) -> None:
    [problem] = load_problems(write_rules, "payout.amount > 0 and payot.amount > 0")
    assert (problem.location.line, problem.location.column) == (6, 29)


def test_unknown_parameter_shows_column_and_did_you_mean(write_rules) -> None:
    problems = load_problems(write_rules, "payout.role in params.eligible_role")
    assert [str(problem.location).rsplit("/", 1)[-1] for problem in problems] == ["rules.yaml:6:22"]
    assert problems[0].message == "unknown parameter 'eligible_role'"
    assert problems[0].hint == "did you mean 'eligible_roles'?"


def test_all_expressions_of_a_rule_are_checked_at_once(write_rules) -> None:
    problems = load_problems(write_rules, "payout.amount > 0 and payout.amont > 0",
                             when="payee is None or payee.carer_year < 3", message="role {payout.rol}")
    assert sorted((str(problem.location).rsplit("/", 1)[-1], problem.message)
                  for problem in problems) == [
        ("rules.yaml:10:13", "unknown field 'rol' of payout (table payouts)"),
        ("rules.yaml:6:24", "unknown field 'carer_year' of payee (table people)"),
        ("rules.yaml:8:29", "unknown field 'amont' of payout (table payouts)")]


# -- types ----------------------------------------------------------------------------------
ILL_TYPED = [
    pytest.param("payout.pay_date > 2016", "MR205", "a date is compared with a whole number",
                 id="a date compared with a number"),
    pytest.param("payout.pay_date >= '2016-07-01'", "MR205", "a date is compared with text",
                 id="a date compared with text"),
    pytest.param("payout.amount + payout.role > 0", "MR205", "'+' needs numbers, but this is text",
                 id="money plus text"),
    pytest.param("payout.amount > '100'", "MR205", "a decimal number is compared with text",
                 id="money compared with quoted digits"),
    pytest.param("payout.pay_date - payout.pay_date > 0", "MR205", "'-' needs numbers",
                 id="subtracting dates"),
    pytest.param("payout.amount", "MR206", "this is a decimal number, not a condition",
                 id="a require that is an amount"),
    pytest.param("payout.role", "MR206", "this is text, not a condition", id="a require that is text"),
    pytest.param("not payout.amount", "MR206", "'not' needs a condition", id="not of an amount"),
    pytest.param("payout.amount and payout.accrual", "MR206", "'and'/'or' join conditions",
                 id="and of an amount"),
    pytest.param("-payout.role == 'x'", "MR205", "'-' needs a number", id="negated text"),
    pytest.param("places(payout.role) > 1", "MR205", "places() expects a decimal number",
                 id="a function given text for money"),
    pytest.param("school_year(payee) == '2025-26'", "MR205", "not a whole fact",
                 id="a function given a whole fact"),
    pytest.param("payee == payout", "MR205", "a whole fact cannot be compared", id="facts compared"),
    pytest.param("payout.installment is 1", "MR205", "'is' is only for None", id="is with a number"),
    pytest.param("payout.role in 5", "MR205", "'in' needs a list", id="in a number"),
    pytest.param("params.eligible_roles['mentor'] == 'x'", "MR205", "indexed by a whole number",
                 id="a list parameter indexed by text"),
    pytest.param("school_year() == '2025-26'", "MR204", "takes 1 to 2 argument(s), not 0",
                 id="too few arguments"),
    pytest.param("days_between(payout.pay_date, payout.pay_date, 1) > 0", "MR204",
                 "takes 2 argument(s), not 3", id="too many arguments"),
]


@pytest.mark.parametrize(("require", "code", "fragment"), ILL_TYPED)
def test_ill_typed_expression_is_refused_at_load_time(write_rules, require, code, fragment) -> None:
    problems = load_problems(write_rules, require)
    assert [problem.code for problem in problems] == [code]
    assert fragment in problems[0].message


def test_a_when_that_is_not_a_condition_is_refused(write_rules) -> None:
    problems = load_problems(write_rules, "payout.amount > 0", when="payout.role")
    assert [problem.code for problem in problems] == ["MR206"]
    assert (problems[0].location.line, problems[0].location.column) == (6, 7)  # where the when: text starts


def test_an_if_else_require_with_an_amount_branch_is_refused(write_rules) -> None:
    problems = load_problems(write_rules, "payout.amount if payout.accrual else payout.amount > 0")
    assert [problem.code for problem in problems] == ["MR205"]


WELL_TYPED = [
    pytest.param("payout.amount > 0.10", id="money against a decimal literal"),
    pytest.param("payout.amount / 3 > 0", id="division"),
    pytest.param("payout.amount * 2 <= 5000", id="money times an integer"),
    pytest.param("payout.pay_date >= date('2025-07-01')", id="a date against date()"),
    pytest.param("payout.role in params.eligible_roles", id="in a list parameter"),
    pytest.param("payout.role in ['mentor', 'mentee']", id="in a list literal"),
    pytest.param("'men' in payout.role", id="in text"),
    pytest.param("payee is None or payee.career_year <= 3", id="is None on a related fact"),
    pytest.param("payout.service_start is None or "
                 "days_between(payout.service_start, payout.pay_date) <= 365", id="a date function"),
    pytest.param("'P' + payout.role != ''", id="text plus text"),
    pytest.param("(payout.amount if payout.accrual else 0) >= 0", id="if-else of numbers"),
    pytest.param("0 < payout.amount <= 10000", id="a chained comparison"),
    pytest.param("-payout.amount < 0", id="negated money"),
    pytest.param("payout.installment % 2 == 1", id="modulo"),
    pytest.param("(" * 30 + "payout.amount > 0" + ")" * 30, id="30 parentheses"),
]


@pytest.mark.parametrize("require", WELL_TYPED)
def test_well_typed_expression_loads(write_rules, require) -> None:
    assert load(write_rules, require).rules[-1].id == "T-001"


# -- exact decimals at run time -----------------------------------------------------------------
HOLDING = [
    pytest.param("0.1 + 0.2 == 0.3", id="0.1 + 0.2 is exactly 0.3"),
    pytest.param("payout.amount * 0.10 == 100", id="ten percent of 1000.00 is exactly 100"),
    pytest.param("7 / 2 == 3.5", id="integer division gives a decimal, not a floor"),
    pytest.param("1 / 3 * 3 != 1", id="one third is a decimal with finite precision, not a float"),
    pytest.param("payout.amount / 4 == 250.00", id="money divided stays exact"),
    pytest.param("places(payout.amount * 0.10) == 4", id="decimal places add up when multiplying"),
]


@pytest.mark.parametrize("require", HOLDING)
def test_decimal_arithmetic_is_exact(write_rules, require) -> None:
    engine = load(write_rules, require, message="{payout.amount}")
    assert finding_messages(engine) == []


def test_a_decimal_literal_keeps_its_written_places_in_messages(write_rules) -> None:
    message = "ten percent {payout.amount * 0.10}, sum {0.1 + 0.2}, third {1 / 3}"
    exact = write_rules(rule_file("payout.amount < 0", message=message) + "    rounding: none\n")
    [shown] = finding_messages(Engine.load(packs=[], rules=[exact]))
    assert shown == f"ten percent 100.0000, sum 0.3, third {Decimal(1) / Decimal(3)}"


@pytest.mark.parametrize(("rounding", "expected"), [
    (None, "25% of 3000.00 is 750.00; an eighth of 0.01 is 0.00; 0.125 is 0.13"),
    ("half_even", "25% of 3000.00 is 750.00; an eighth of 0.01 is 0.00; 0.125 is 0.12"),
    ("up", "25% of 3000.00 is 750.00; an eighth of 0.01 is 0.01; 0.125 is 0.13"),
], ids=["half-up by default", "half to even when the rule says", "up when the rule says"])
def test_an_amount_computed_by_multiplying_or_dividing_is_shown_in_cents(write_rules, rounding: str | None,
                                                                        expected: str) -> None:
    message = "25% of {payout.amount} is {payout.amount * 0.25}; an eighth of 0.01 is {0.01 / 8}; 0.125 is {0.5 * 0.25}"
    text = rule_file("payout.amount < 0", message=message) + (f"    rounding: {rounding}\n" if rounding else "")
    [shown] = finding_messages(Engine.load(packs=[], rules=[write_rules(text)]), amount="3000.00")
    assert shown == expected


def test_a_rule_that_cannot_combine_values_is_a_finding_not_a_crash(write_rules) -> None:
    engine = load(write_rules, "payout.amount / payout.installment > 0")
    [message] = finding_messages(engine, installment="0")
    assert message.startswith("cannot check")


# -- every problem says what was expected or how to fix it ----------------------------------------
SYNTAX_AND_TYPE_MISTAKES = [
    "payout.amount >", "payout.amount = 0", "(payout.amount > 0", "payout.amount > 0 && payout.amount < 9",
    "payout.amount > 1.2.3", "'a' + 1 > 0", "payout.pay_date > 2016", "payout.pay_date - payout.pay_date > 0",
    "-payout.role == 'x'", "payout.installment is 1", "payout.role in 5", "payee == payout",
    "params.eligible_roles['mentor'] == 'x'", "school_year(payee) == '2025-26'", "places(payout.role) > 1",
    "(1 if payout.accrual else 'x') == 1", "payout.amount > None", "payout.amount / 0 > 1",
    "date('2025-02-30') < payout.pay_date",
]


@pytest.mark.parametrize("require", SYNTAX_AND_TYPE_MISTAKES)
def test_syntax_and_type_problems_say_what_was_expected_or_how_to_fix_it(write_rules, require: str) -> None:
    problems = [problem for problem in load_problems(write_rules, require) if problem.code in ("MR201", "MR205")]
    assert problems, require
    for problem in problems:
        assert problem.expected or problem.hint, f"{problem.code} {problem.message}"


def test_a_mistake_is_underlined_over_its_whole_span(run_cli, write_rules) -> None:
    path = write_rules('rules:\n  - id: T-001\n    title: t\n    table: payouts\n'
                       '    require: "payout.role != \\"a\\" and payout.amont > 0"\n    message: m\n')
    result = run_cli("lint", "--pack", "core", path)
    assert "rules.yaml:5:40: MR207 unknown field 'amont'" in result.err
    assert '5 |     require: "payout.role != \\"a\\" and payout.amont > 0"\n' \
           "  |                                        ^^^^^^^^^^^^\n" in result.err


def test_a_call_with_literal_arguments_is_checked_once_at_load_time(write_rules) -> None:
    [problem] = load_problems(write_rules, "payout.pay_date >= date('2025-13-01')")
    assert problem.code == "MR205"
    assert problem.message == "date('2025-13-01') has no value: date() refuses this value"
    assert load(write_rules, "payout.pay_date >= date('2025-02-28')")  # a real date loads


# -- messages and reasons when values are missing or refused ---------------------------------------
def test_a_message_that_cannot_compute_a_value_shows_it_as_missing(write_rules) -> None:
    engine = load(write_rules, "payout.amount > 5000",
                  message="paid {payout.amount} for the year from {school_year_start(payout.school_year)}")
    assert finding_messages(engine, school_year="") == ["paid 1000.00 for the year from (missing)"]
    assert finding_messages(engine) == ["paid 1000.00 for the year from 2025-07-01"]


def test_a_function_that_refuses_a_value_is_named_with_the_value(write_rules) -> None:
    engine = load(write_rules, "date(payout.role) > payout.pay_date")
    assert finding_messages(engine) == ["cannot check: date() cannot take payout.role = 'mentor'"]


def test_a_function_given_an_empty_value_names_the_empty_field(write_rules) -> None:
    engine = load(write_rules, "school_year_start(payout.school_year) <= payout.pay_date")
    assert finding_messages(engine, school_year="") == [
        "cannot check: payout.school_year is empty, and school_year_start() needs a value"]


def test_an_alaska_payout_without_a_school_year_is_reported_not_a_traceback(run_cli, tmp_path: Path) -> None:
    # DX-001's message shows school_year_start(payout.school_year) for an empty school year.
    (tmp_path / "payouts.csv").write_text(
        "payout_id,payee_id,role,program,state,district,school_year,pay_date,amount\n"
        "P-1,T-1,mentor,AK_ASMP,AK,Anchorage,,2025-09-15,500.00\n", encoding="utf-8")
    (tmp_path / "districts.csv").write_text("district,state,agreement_year,agreement_signed_on\n"
                                            "Anchorage,AK,2025-26,2025-08-01\n", encoding="utf-8")
    result = run_cli("validate", tmp_path, "--as-of", "2025-09-01")
    assert result.code == 1, result.err
    assert "Traceback" not in result.err
    assert "district Anchorage has no agreement for (missing) signed before service started on (missing)" \
        in " ".join(result.out.split())
