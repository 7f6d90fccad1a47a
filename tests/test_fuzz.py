"""Fuzzing the rule loader and the expression compiler: no input gives a traceback.

The suite runs a size that takes about a minute; ``make fuzz`` sets MENTORRULES_FUZZ_EXAMPLES
for long runs. Properties:

- an expression either parses, or fails with a located ExpressionError (offset inside the text);
- whatever parses compiles in every rendering and, run on any record, returns a condition or
  raises only the errors that mean "cannot check" (a missing value), never anything else;
- a rule file, however mangled, loads into rules or located problems (file, line, column).
"""

from __future__ import annotations

import datetime as dt
import os
import string
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mentorrules.compiling import CANNOT_CHECK, Mode, Namespace, Recorder, Renderer, build
from mentorrules.expressions import ExpressionError, Scope, parse
from mentorrules.functions import BUILTIN_FUNCTIONS
from mentorrules.packs import local_pack
from mentorrules.parameters import Parameter
from mentorrules.rulebook import load, signature_of
from mentorrules.tables import Table

EXAMPLES = int(os.environ.get("MENTORRULES_FUZZ_EXAMPLES", "5000"))  # x 2 properties = 10,000 cases
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

FIELDS: dict[str, Any] = {"amount": "decimal", "role": "text", "pay_date": "date", "installment": "integer",
                          "accrual": "boolean", "counted_on": "list"}
PARAMETERS = {
    "cap": Parameter("cap", "core", "cap", (dt.date(2016, 7, 1), dt.date(2024, 7, 1)),
                     ({"mentor": Decimal("2000.00")}, {"mentor": Decimal("2500.00")})),
    "roles": Parameter("roles", "core", "roles", (dt.date(2016, 7, 1),), (["mentor", "mentee"],)),
    "limit": Parameter("limit", "core", "limit", (dt.date(2016, 7, 1),), (3,)),
}
PAYEE_FIELDS: dict[str, Any] = {"career_year": "integer", "rating": "text"}
PAYOUTS = Table("payouts", "payout", ("amount",), FIELDS)
PEOPLE = Table("people", "person", ("career_year",), PAYEE_FIELDS)
COLUMNS = {"payout": PAYOUTS.positions, "payee": PEOPLE.positions}
FUNCTIONS = BUILTIN_FUNCTIONS
SCOPE = Scope(facts={"payout": FIELDS, "payee": PAYEE_FIELDS},
              parameters={name: p.kinds for name, p in PARAMETERS.items()},
              functions={name: signature_of(f) for name, f in FUNCTIONS.items()},
              fact_tables={"payout": "payouts", "payee": "people"})

TOKENS = ["payout", "payee", "params", ".", "amount", "role", "pay_date", "installment", "accrual", "cap",
          "roles", "limit", "career_year", "rating", "counted_on", "[", "]", "(", ")", ",", " ", "==", "!=",
          "<", "<=", ">", ">=", " and ", " or ", "not ", " in ", " is ", "None", "True", "+", "-", "*", "/",
          "%", "**", "//", " if ", " else ", "'mentor'", '"x"', "0", "1", "2.50", "1e3", "9**9**9",
          "__class__", "__import__", "_x", "lambda x: x", "[x for x in y]", "f'{x}'", "school_year",
          "places", "present", "months_between", "date", "'2025-07-01'", "getattr", "eval", ":=", "{", "}",
          "\n", "\\", "#", "'", '"', "\x00", "é", "…"]

VALID = ["payout.amount > 0 and places(payout.amount) <= 2", "payout.role in params.roles",
         "payout.amount <= params.cap[payout.role]", "payee.career_year <= params.limit",
         "payout.pay_date >= date('2025-07-01')", "present(payee.rating) or payout.accrual == True",
         "(payout.amount / 3 if payout.installment > 1 else payout.amount) < 1000",
         "not (payout.role == 'mentor' and payout.installment in [1, 2])"]


@st.composite
def expressions(draw: st.DrawFn) -> str:
    """Token soup, random text, or a valid expression with characters changed."""
    choice = draw(st.integers(0, 2))
    if choice == 0:
        return "".join(draw(st.lists(st.sampled_from(TOKENS), max_size=25)))
    if choice == 1:
        return draw(st.text(alphabet=string.printable + "éü…\x00", max_size=80))
    text = draw(st.sampled_from(VALID))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.integers(0, 2))
        if action == 0:
            text = text[:position] + text[position + 1:]
        else:
            text = text[:position] + draw(st.sampled_from(TOKENS)) + text[position + (action == 2):]
    return text


RECORDS = st.fixed_dictionaries({
    "amount": st.one_of(st.none(), st.decimals(allow_nan=False, allow_infinity=False, places=3,
                                               min_value=-10**6, max_value=10**6)),
    "role": st.one_of(st.none(), st.sampled_from(["mentor", "mentee", "coach", ""])),
    "pay_date": st.one_of(st.none(), st.dates(dt.date(2010, 1, 1), dt.date(2030, 12, 31))),
    "installment": st.one_of(st.none(), st.integers(-3, 5)),
    "accrual": st.one_of(st.none(), st.booleans()),
    "counted_on": st.one_of(st.none(), st.lists(st.sampled_from(["VINE", "STARR"]), max_size=2)),
})
PAYEES = st.one_of(st.none(), st.fixed_dictionaries({
    "career_year": st.one_of(st.none(), st.integers(0, 40)),
    "rating": st.one_of(st.none(), st.sampled_from(["Exemplary", "Ineffective"]))}))


@FUZZ
@given(expressions(), RECORDS, PAYEES, st.dates(dt.date(2010, 1, 1), dt.date(2030, 12, 31)))
def test_expressions_parse_or_fail_located_and_never_crash_when_run(text: str, record: dict[str, Any],
                                                                    payee: dict[str, Any] | None,
                                                                    day: dt.date) -> None:
    try:
        expression = parse(text, SCOPE, want="boolean")
    except ExpressionError as error:
        assert error.code.startswith("MR2")
        assert 0 <= error.offset <= len(text)
        assert error.message
        return
    namespace = Namespace()
    facts = {"payout": "payout", "payee": "payee"}
    renderer = Renderer(namespace, facts, COLUMNS, PARAMETERS, FUNCTIONS)
    fast = build(f"def f(payout, payee, _d):\n    return {renderer.render(expression)}\n", namespace, "<fuzz>")["f"]
    safe = build(f"def f(payout, payee, _d):\n    return {renderer.render(expression, Mode.SAFE)}\n",
                 namespace, "<fuzz>")["f"]
    recording = Renderer(Namespace(), facts, COLUMNS, PARAMETERS, FUNCTIONS)
    code = recording.render(expression, Mode.RECORD)
    recorded = build(f"def f(payout, payee, _d, _r, _field, _param):\n    return {code}\n",
                     recording.namespace, "<fuzz>")["f"]
    recorder = Recorder(PARAMETERS)
    payout_record = PAYOUTS.record_of(record)
    payee_record = None if payee is None else PEOPLE.record_of(payee)
    for function, arguments in ((fast, (payout_record, payee_record, day)), (safe, (payout_record, payee_record, day)),
                                (recorded, (payout_record, payee_record, day, recorder.record, recorder.field,
                                            recorder.parameter))):
        try:
            result = function(*arguments)
        except CANNOT_CHECK:
            continue
        assert isinstance(result, bool) or function is safe


RULE_FILE = """\
rules:
  - id: FZ-001
    title: Amounts are positive
    table: payouts
    when: payout.role in params.roles
    require: payout.amount > 0 and places(payout.amount) <= 2
    severity: error
    message: "amount {payout.amount} for {payee.rating}"
    source: {title: fuzz, section: one, url: "https://example.org/"}
    effective: {from: 2016-07-01, to: 2030-06-30}
  - id: FZ-002
    title: Cap per person
    table: payouts
    group_by: [payout.payee_id, payout.school_year]
    aggregate: {total: sum(payout.amount)}
    require: total <= params.cap[payout.role]
    message: "{payee_id} was paid {total}"
"""
PARAMETER_FILE = """\
parameters:
  roles:
    description: roles
    values:
      2016-07-01: [mentor, mentee]
  cap:
    description: cap
    values:
      2016-07-01: {mentor: 2000.00, mentee: 1000.00}
"""
YAML_NOISE = [":", " ", "  ", "\t", "-", "- ", "{", "}", "[", "]", "&a", "*a", "!!python/object:os.system", "'", '"',
              "\n", "#", "|", ">", "?", "%", "@", "`", "2016-13-01", "1e999", ".nan", "__class__", "id", "rules",
              "require", "when", "table", "payouts", "params.", "{payout.", "\ufeff", "\x00", "é"]


@st.composite
def rule_files(draw: st.DrawFn) -> tuple[str, str]:
    """A valid rule file and parameter file, each mangled a few times."""
    def mangle(text: str) -> str:
        for _ in range(draw(st.integers(1, 5))):
            position = draw(st.integers(0, len(text)))
            action = draw(st.integers(0, 3))
            if action == 0:
                text = text[:position] + text[position + draw(st.integers(1, 8)):]
            elif action == 1:
                text = text[:position] + draw(st.sampled_from(YAML_NOISE)) + text[position:]
            elif action == 2:
                lines = text.split("\n")
                index = draw(st.integers(0, len(lines) - 1))
                lines.insert(draw(st.integers(0, len(lines))), lines.pop(index))
                text = "\n".join(lines)
            else:
                text = text[:position] + draw(st.sampled_from(YAML_NOISE)) + text[position + 1:]
        return text
    return (mangle(RULE_FILE),
            mangle(PARAMETER_FILE) if draw(st.booleans()) else PARAMETER_FILE)


@FUZZ
@given(rule_files())
def test_mangled_rule_files_give_located_problems_not_tracebacks(tmp_path_factory: pytest.TempPathFactory,
                                                               files: tuple[str, str]) -> None:
    directory: Path = tmp_path_factory.mktemp("fuzz")
    rules, parameters = files
    (directory / "fuzz.yaml").write_text(rules, encoding="utf-8", errors="surrogatepass")
    (directory / "parameters.yaml").write_text(parameters, encoding="utf-8", errors="surrogatepass")
    book = load([local_pack(directory)])
    for problem in book.problems:
        location = problem.location
        assert location.path is not None and Path(location.path).name in ("fuzz.yaml", "parameters.yaml")
        assert location.line is not None and location.line >= 1
        assert location.column is not None and location.column >= 1
        assert problem.code.startswith("MR")
        assert problem.message
