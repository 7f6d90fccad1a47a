"""Known ways out of Python sandboxes, each refused when the rule file is loaded, where it is written.

Every attempt is written in a rule's ``require`` (line 6) or in its ``message`` template
(line 8), each a block scalar whose text starts in column 7, and must be refused by
``Engine.load`` with its problem code, at the line and column of the part that is refused
(``at``: the text the column points to). Nothing of a refused file ever runs: the attempts
that would leave a trace (a file) are checked for it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mentorrules import Engine, MentorRulesError, Problem

REQUIRE_LINE, MESSAGE_LINE, COLUMN = 6, 8, 7


def rule_file(require: str, message: str = "m") -> str:
    return ("rules:\n  - id: T-001\n    title: under test\n    table: payouts\n"
            f"    require: |-\n      {require}\n    message: |-\n      {message}\n")


def refused(tmp_path: Path, require: str, message: str = "m") -> list[Problem]:
    path = tmp_path / "rules.yaml"
    path.write_text(rule_file(require, message), encoding="utf-8")
    with pytest.raises(MentorRulesError) as raised:
        Engine.load(packs=[], rules=[path])
    problems = list(raised.value.problems)
    assert all(problem.location.path == str(path) for problem in problems)
    return problems


def case(sentence: str, text: str, code: str, at: str | int | None = None) -> object:
    """An attempt, the code of its (first) problem, and the text its column points to (default: all
    of it), or for a size limit the offset of the part that passes it."""
    return pytest.param(text, code, text.index(at) if isinstance(at, str) else at or 0, id=sentence)


EXPRESSIONS = [
    # -- dunders and private names -------------------------------------------------------------------
    case("a fact's __class__", "payout.__class__ is None", "MR202"),
    case("a field's __class__", "payout.amount.__class__ is None", "MR202"),
    case("a related fact's __dict__", "payee.__dict__ is None", "MR202"),
    case("params.__dict__", "params.__dict__ is None", "MR202"),
    case("__builtins__ by name", "__builtins__ is None", "MR202", "__builtins__"),
    case("__import__('os')", "__import__('os') is None", "MR202", "__import__"),
    case("__loader__ by name", "__loader__ is None", "MR202", "__loader__"),
    case("the name _", "_ is None", "MR202", "_"),
    case("climbing from a tuple to every subclass of object",
         "().__class__.__bases__[0].__subclasses__() is None", "MR204"),
    case("the method resolution order of a list", "[].__class__.__mro__ is None", "MR202"),
    case("a registered function's __globals__", "school_year.__globals__ is None", "MR202"),
    case("__builtins__ through a function's globals", "places.__globals__['__builtins__'] is None", "MR202"),
    case("a dunder in a function's argument", "present(payout.__class__)", "MR202", "payout.__class__"),
    case("__init__ of a related fact", "missing(payee.__init__)", "MR202", "payee.__init__"),
    case("full-width letters that Python reads as __class__", "\uff50\uff41\uff59\uff4f\uff55\uff54.__\uff43"
         "\uff4c\uff41\uff53\uff53__ is None", "MR202"),
    # -- getattr and other builtins through functions ---------------------------------------------------
    case("getattr", "getattr(payout, '__class__') is None", "MR204", "getattr"),
    case("the registered get() given a whole fact", "get(payout, '__class__') is None", "MR205", "payout"),
    case("an attribute of what either() returns", "either(payee, payout).__class__ is None", "MR202"),
    case("an attribute of a date", "date('2025-01-01').__class__ is None", "MR202"),
    case("type", "type(payout) is None", "MR204", "type"),
    case("vars", "vars() is None", "MR204", "vars"),
    case("globals", "globals() is None", "MR204", "globals"),
    case("breakpoint", "breakpoint() is None", "MR204", "breakpoint"),
    case("compile", "compile('1', '', 'eval') is None", "MR204", "compile"),
    case("exec after a condition", "payout.amount > 0 and exec('1') is None", "MR204", "exec"),
    case("len", "len(payout.role) > 0", "MR204", "len"),
    # -- generators, frames, lambdas, comprehensions, f-strings -------------------------------------------
    case("a generator's frame", "(x for x in [1]).gi_frame is None", "MR202"),
    case("a lambda", "lambda: 0", "MR202"),
    case("a lambda called at once", "(lambda: 0)() is None", "MR204"),
    case("the walrus", "(x := 1) == 1", "MR202", "x := 1"),
    case("a list comprehension", "[x for x in [1]] == [1]", "MR202", "[x for x in [1]]"),
    case("an f-string reaching __class__", "f'{payout.__class__}' == ''", "MR202", "f'{payout.__class__}'"),
    case("yield", "(yield) is None", "MR202", "yield"),
    case("await", "await payout", "MR202"),
    # -- huge values ---------------------------------------------------------------------------------
    case("9**9**9", "9**9**9 > 0", "MR202", "9**9**9"),
    case("10**10**10", "10**10**10 > 0", "MR202", "10**10**10"),
    case("'a' * 10**9", "'a' * 10**9 == ''", "MR205", "'a'"),
    case("text repeated a billion times", "payout.role == 'a' * 1000000000", "MR205", "'a'"),
    case("a 1,000-digit integer", "payout.amount < " + "9" * 1000, "MR210", "9" * 1000),
    case("a decimal literal past the largest exponent", "payout.amount < 1_0001e999999", "MR210", "1_0001e999999"),
    case("a 600-character text", "'" + "a" * 600 + "' == payout.role", "MR210", "'" + "a" * 600 + "'"),
    # -- deep nesting and recursion -----------------------------------------------------------------------
    case("200 nested parentheses", "(" * 200 + "payout.amount > 0" + ")" * 200, "MR201", "(payout"),
    case("100 minus signs", "-" * 100 + "payout.amount > 0", "MR211", "-" * 68 + "payout"),
    case("40 nested nots", "not " * 40 + "payout.accrual", "MR211", "not " * 7 + "payout"),
    case("a chain of 300 comparisons of fields", " < ".join(["payout.amount"] * 300), "MR119"),
    case("a chain of 400 comparisons of numbers", " < ".join(["1"] * 400), "MR210", 399 * len("1 < ")),
    # -- calls ------------------------------------------------------------------------------------------
    case("star arguments", "school_year(*[payout.pay_date]) == ''", "MR202", "*[payout.pay_date]"),
    case("keyword arguments", "school_year(day=payout.pay_date) == ''", "MR204"),
    case("double-star arguments", "school_year(**{}) == ''", "MR204"),
    case("a method of a value", "payout.role.upper() == 'X'", "MR204"),
    case("a method of a literal", "' and '.join([]) == ''", "MR204"),
    # -- subscripts and slices ----------------------------------------------------------------------------
    case("a slice with a huge step", "params.eligible_roles[::10**9] == []", "MR202", "::10**9"),
    case("a slice with a huge end", "params.eligible_roles[0:999999999999999:1] == []", "MR202",
         "0:999999999999999:1"),
    case("subscripting a text field", "payout.role[0] == 'm'", "MR202"),
    # -- escaping the parentheses the text is parsed in ---------------------------------------------------
    case("closing the wrapping parenthesis early",
         "payout.amount > 0) or (__import__('os').system('x') == 0", "MR204", "__import__('os').system"),
    case("hiding __import__ in a branch never taken", "payout.amount if True else __import__('os')", "MR202",
         "__import__"),
    # -- literals and operators outside the language ---------------------------------------------------------
    case("a bytes literal", "b'x' == payout.role", "MR202", "b'x'"),
    case("a mapping literal", "{'a': 1} is None", "MR202", "{'a': 1}"),
    case("a set literal", "{1, 2} is None", "MR202", "{1, 2}"),
    case("an ellipsis", "payout.amount > ...", "MR202", "..."),
    case("a shift", "payout.installment << 2 > 0", "MR202", "payout.installment << 2"),
    case("matrix multiplication", "payout.amount @ 2 > 0", "MR202", "payout.amount @ 2"),
    case("floor division", "payout.amount // 1 > 0", "MR202", "payout.amount // 1"),
    case("bitwise not", "~payout.installment > 0", "MR202", "~payout.installment"),
]


@pytest.mark.parametrize(("require", "code", "at"), EXPRESSIONS)
def test_an_escape_attempt_in_an_expression_is_refused_where_it_is_written(tmp_path: Path, require: str, code: str,
                                                                         at: int) -> None:
    first, *_ = refused(tmp_path, require)
    assert first.code == code, first.message
    assert (first.location.line, first.location.column) == (REQUIRE_LINE, COLUMN + at), first


MESSAGES = [
    case("a fact's __class__", "{payout.__class__}", "MR202", "payout.__class__"),
    case("a field's __class__", "{payout.amount.__class__}", "MR202", "payout.amount.__class__"),
    case("a positional field's __class__", "{0.__class__}", "MR201", ".__class__"),
    case("a !r conversion", "{payout!r}", "MR201", "!r"),
    case("a !a conversion", "{payout.amount!a}", "MR201", "!a"),
    case("a format spec", "paid {payout.amount:>10}", "MR201", ":>10"),
    case("a format spec holding a placeholder", "{payout:{payout}}", "MR208", "{payout:"),
    case("a conversion and a nested spec", "{payout.role!s:>{payee}}", "MR208", "{payout.role"),
    case("__import__", "{__import__('os')}", "MR202", "__import__"),
    case("a function's globals through a related fact", "{payee.__init__.__globals__}", "MR202",
         "payee.__init__.__globals__"),
    case("params.__dict__", "{params.__dict__}", "MR202", "params.__dict__"),
    case("a lambda", "{lambda: 0}", "MR202", "lambda: 0"),
    case("a comprehension", "{[x for x in [1]]}", "MR202", "[x for x in [1]]"),
    case("9**9**9", "{9**9**9}", "MR202", "9**9**9"),
    case("a method call", "{payout.role.upper()}", "MR204", "payout.role.upper()"),
    case("spaces around the dot", "{ payout.amount . __class__ }", "MR202", "payout.amount . __class__"),
    case("subscripting the record", "{payout[0]}", "MR202", "payout[0]"),
    case("__class__ inside escaped braces", "{{{payout.__class__}}}", "MR202", "payout.__class__"),
    case("an empty placeholder", "{}", "MR208", "{}"),
    case("an unmatched closing brace", "{payout.amount}} paid", "MR208", "} paid"),
]


@pytest.mark.parametrize(("message", "code", "at"), MESSAGES)
def test_an_escape_attempt_in_a_message_template_is_refused_where_it_is_written(tmp_path: Path, message: str,
                                                                              code: str, at: int) -> None:
    first, *_ = refused(tmp_path, "payout.amount > 0", message)
    assert first.code == code, first.message
    assert (first.location.line, first.location.column) == (MESSAGE_LINE, COLUMN + at), first


def test_escaped_braces_are_text_and_a_literal_placeholder_is_its_value(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(rule_file("payout.amount < 0", "{{payout.__class__}} {0} {'x'}"), encoding="utf-8")
    engine = Engine.load(packs=[], rules=[path])
    decision = engine.evaluate({"payout_id": "P-1", "payee_id": "T-1", "role": "mentor", "program": "X",
                                "state": "XX", "school_year": "2025-26", "pay_date": "2025-09-15",
                                "amount": "5.00"})
    assert [f.message for f in decision.findings if f.rule == "T-001"] == ["{payout.__class__} 0 x"]


YAML_TAGS = [
    pytest.param("!!python/object/apply:os.system ['touch {target}']", id="a python/object/apply tag"),
    pytest.param("!!python/name:os.system", id="a python/name tag"),
    pytest.param("!!python/module:os", id="a python/module tag"),
    pytest.param("!!python/object/new:subprocess.Popen [['touch', '{target}']]", id="a python/object/new tag"),
]


@pytest.mark.parametrize("value", YAML_TAGS)
def test_a_python_tag_is_refused_where_it_is_written_and_never_built(tmp_path: Path, value: str) -> None:
    target = tmp_path / "built"
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - id: T-001\n    title: t\n    table: payouts\n"
                    f"    require: {value.format(target=target)}\n    message: m\n", encoding="utf-8")
    with pytest.raises(MentorRulesError) as raised:
        Engine.load(packs=[], rules=[path])
    [problem] = raised.value.problems
    assert (problem.code, problem.location.line, problem.location.column) == ("MR102", 5, 14)
    assert not target.exists()


def test_refused_code_never_runs_while_loading(tmp_path: Path) -> None:
    target = tmp_path / "ran"
    attempts = [f"__import__('os').system('touch {target}') == 0",
                f"open('{target}', 'w') is None",
                f"().__class__.__base__.__subclasses__()[0]('{target}') is None",
                f"payout.amount > 0) or (__import__('os').system('touch {target}') == 0"]
    for attempt in attempts:
        assert refused(tmp_path, attempt)
        assert refused(tmp_path, "payout.amount > 0", "{" + attempt + "}")
    assert not target.exists()


def test_a_rule_file_whose_name_holds_python_runs_none_of_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each rule's block of generated code opens with a comment naming its file: a line break in
    # the name must not end the comment. (No '/' may appear in a file name: the payload avoids it.)
    folder = tmp_path / "rules"
    folder.mkdir()
    payload = ("[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'catch_warnings'][0]()"
               "._module.__builtins__['open']('ran', 'w')")
    (folder / f"x\n    {payload}  #.yaml").write_text(rule_file("payout.amount > 0"), encoding="utf-8")
    (folder / f"y\n        {payload}  #.yaml").write_text(rule_file("payout.amount > 0").replace("T-001", "T-002"),
                                                          encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # where the payload would write
    engine = Engine.load(packs=[], rules=[folder])
    decision = engine.evaluate({"payout_id": "P-1", "payee_id": "T-1", "role": "mentor", "program": "X",
                                "state": "XX", "school_year": "2025-26", "pay_date": "2025-09-15", "amount": "5.00"})
    assert {"T-001", "T-002"} <= {rule.id for rule in engine.rules}
    assert decision.status.value == "fail"  # the checker was built and run
    assert not (tmp_path / "ran").exists()


UNKNOWN_KINDS = [
    pytest.param("either(payout.role, 'x') * 999999999999999 == ''", id="text from either() repeated 10**15 times"),
    pytest.param("999999999999999 * either(payout.role, 'x') == ''", id="10**15 times text from either()"),
    pytest.param("either(payout.role, 'x') * payout.installment == ''", id="text repeated by a field's value"),
    pytest.param("get(params.match_pct, payout.role) % payout.installment == 0",
                 id="the remainder of a map entry that is missing"),
]


@pytest.mark.parametrize("require", UNKNOWN_KINDS)
def test_a_value_whose_kind_shows_only_when_run_is_never_repeated_or_formatted(tmp_path: Path, require: str) -> None:
    # either() and get() may give text: '*' and '%' check at run time that both sides are numbers.
    path = tmp_path / "rules.yaml"
    path.write_text(rule_file(require, "{" + require.split(" ==")[0].split(" %")[0] + "}"), encoding="utf-8")
    engine = Engine.load(packs=[], rules=[path])
    decision = engine.evaluate({"payout_id": "P-1", "payee_id": "T-1", "role": "mentor", "program": "X",
                                "state": "XX", "school_year": "2025-26", "pay_date": "2025-09-15", "amount": "5.00",
                                "installment": "999999999999999"})
    [message] = [finding.message for finding in decision.findings if finding.rule == "T-001"]
    assert message.startswith("cannot check: ")
