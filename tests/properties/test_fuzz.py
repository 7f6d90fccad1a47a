"""Fuzzing the rule loader and the expression compiler: no input gives a traceback, every
problem is located inside its file.

``MENTORRULES_FUZZ_EXAMPLES`` (default 2,000 in `make test`: seconds) is the number of generated
examples, shared by the properties below in the proportions of ``SHARES``; ``make fuzz`` runs
200,000 (and atheris, see ``tests/properties/atheris_fuzz.py``). The generators make genuinely broken input:

- expressions: token soup, random text, valid expressions with characters changed, and syntax
  trees built from every kind of Python node, safe or not, turned back into text;
- expressions written into a rule file in each YAML style (plain, quoted, block): each
  problem points at the part of the text the checker blames, character for character;
- message templates: text, ``{...}`` placeholders holding expressions, conversions (``!r``),
  format specs, stray and doubled braces;
- the real rule and parameter files of every pack, mutated as data (keys deleted, duplicated,
  renamed or given values of the wrong kind, huge numbers, deep nesting, impossible dates,
  broken expressions) and as text (indentation, duplicated or deleted lines, anchors and
  aliases, tags such as ``!!python/object``, unicode, directives, bytes that are not UTF-8).

Properties:

- an expression either parses, or fails with a located ExpressionError (offset inside the text);
- whatever parses compiles in every rendering and, run on any record, returns a condition or
  raises only the errors that mean "cannot check" (a missing value), never anything else;
- a rule or parameter file, however mangled, loads into rules or problems whose file, line and
  column lie inside the file; a loaded rule's message renders on any row without raising.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import datetime as dt
import os
import re
import string
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mentorrules import Engine
from mentorrules.checking.codegen import CANNOT_CHECK, Mode, Namespace, Recorder, Renderer, build
from mentorrules.errors import Problem
from mentorrules.loading.expressions import ExpressionError, Scope, parse
from mentorrules.loading.parameters import Parameter
from mentorrules.loading.rulebook import RuleBook, load, scope_for, signature_of
from mentorrules.loading.tables import Table
from mentorrules.packs.discovery import Pack, discover, local_pack
from mentorrules.packs.functions import BUILTIN_FUNCTIONS

TOTAL = int(os.environ.get("MENTORRULES_FUZZ_EXAMPLES", "2000"))
# Loading a pack's real files (schema checks) takes about 12 ms, an expression 2 ms: the shares
# keep the default run near a minute.
SHARES = {"expressions": 0.50, "placed": 0.15, "templates": 0.10, "rule files": 0.18, "parameter files": 0.07}


def examples(kind: str) -> int:
    return max(1, round(TOTAL * SHARES[kind]))


def fuzz(kind: str) -> Any:
    return settings(max_examples=examples(kind), deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large, HealthCheck.large_base_example])


def test_the_examples_are_shared_out_whole() -> None:
    """The shares of the properties add up to the whole budget, and each property gets some."""
    assert sum(SHARES.values()) == pytest.approx(1.0)
    assert all(examples(kind) >= 1 for kind in SHARES)


# -- expressions --------------------------------------------------------------------------------
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
          "\n", "\\", "#", "'", '"', "\x00", "é", "…", "\u2028", "\t", "\uff11", "0x1F", "1_000",
          "\uff50\uff41\uff59\uff4f\uff55\uff54",
          "1e999999", "9" * 30, "'" + "a" * 600 + "'", "(" * 40, ")" * 40, "not " * 40, "*", "**", ";", "@"]

VALID = ["payout.amount > 0 and places(payout.amount) <= 2", "payout.role in params.roles",
         "payout.amount <= params.cap[payout.role]", "payee.career_year <= params.limit",
         "payout.pay_date >= date('2025-07-01')", "present(payee.rating) or payout.accrual == True",
         "(payout.amount / 3 if payout.installment > 1 else payout.amount) < 1000",
         "not (payout.role == 'mentor' and payout.installment in [1, 2])",
         "days_between(payout.pay_date, date('2026-06-30')) % 7 == 0",
         "0 < payout.amount * 0.10 <= 2 * params.cap[lower(payout.role)]"]

NAMES = ["payout", "payee", "params", "x", "_x", "__class__", "__import__", "__builtins__", "school_year",
         "places", "date", "getattr", "lower", "present",
         "\uff50\uff41\uff59\uff4f\uff55\uff54"]
ATTRIBUTES = [*FIELDS, *PAYEE_FIELDS, *PARAMETERS, "__class__", "__globals__", "__subclasses__", "gi_frame",
              "upper", "real", "_secret", "nope"]
CONSTANTS = st.one_of(st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.text(max_size=6),
                      st.sampled_from([0.1, 2.5, 1e300, 1e-300, 0.0]), st.binary(max_size=3),
                      st.just(...))
OPERATORS = [ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Mod, ast.Pow, ast.FloorDiv, ast.LShift, ast.BitAnd,
             ast.MatMult]
COMPARISONS = [ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot]


def _name(text: str, context: type[ast.expr_context] = ast.Load) -> ast.Name:
    return ast.Name(text, context())


def _arguments(*names: str) -> ast.arguments:
    return ast.arguments(posonlyargs=[], args=[ast.arg(name) for name in names], kwonlyargs=[], kw_defaults=[],
                         defaults=[])


def _generator(target: str, iterable: ast.expr) -> list[ast.comprehension]:
    return [ast.comprehension(_name(target, ast.Store), iterable, [], 0)]


LEAVES = st.one_of(
    st.builds(_name, st.sampled_from(NAMES)),
    st.builds(ast.Constant, CONSTANTS),
    st.builds(lambda base, field: ast.Attribute(_name(base), field, ast.Load()), st.sampled_from(NAMES),
              st.sampled_from(ATTRIBUTES)),
)


@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> ast.expr:
    """Any kind of expression node, allowed or not, up to four levels deep."""
    if depth >= 4 or draw(st.integers(0, 3)) == 0:
        return draw(LEAVES)

    def child() -> ast.expr:
        return draw(trees(depth + 1))

    def children(least: int = 0) -> list[ast.expr]:
        return [child() for _ in range(draw(st.integers(least, 3)))]

    kind = draw(st.integers(0, 22))
    if kind == 0:
        return ast.BinOp(child(), draw(st.sampled_from(OPERATORS))(), child())
    if kind == 1:
        return ast.UnaryOp(draw(st.sampled_from([ast.Not, ast.USub, ast.UAdd, ast.Invert]))(), child())
    if kind == 2:
        return ast.BoolOp(draw(st.sampled_from([ast.And, ast.Or]))(), children(2))
    if kind == 3:
        comparators = children(1)
        return ast.Compare(child(), [draw(st.sampled_from(COMPARISONS))() for _ in comparators], comparators)
    if kind == 4:
        return ast.IfExp(child(), child(), child())
    if kind == 5:
        return ast.Call(_name(draw(st.sampled_from(NAMES))), children(), [])
    if kind == 6:
        return ast.Call(child(), children(), [])
    if kind == 7:
        return ast.Call(_name(draw(st.sampled_from(NAMES))), [], [ast.keyword("day", child())])
    if kind == 8:
        return ast.Call(_name(draw(st.sampled_from(NAMES))), [ast.Starred(child(), ast.Load())], [])
    if kind == 9:
        return ast.Subscript(child(), child(), ast.Load())
    if kind == 10:
        parts = [child() if draw(st.booleans()) else None for _ in range(3)]
        return ast.Subscript(child(), ast.Slice(*parts), ast.Load())
    if kind == 11:
        return ast.List(children(), ast.Load())
    if kind == 12:
        return ast.Tuple(children(), ast.Load())
    if kind == 13:
        return ast.Set(children(1))
    if kind == 14:
        keys = children()
        return ast.Dict(keys, [child() for _ in keys])
    if kind == 15:
        return ast.Attribute(child(), draw(st.sampled_from(ATTRIBUTES)), ast.Load())
    if kind == 16:
        return ast.Lambda(_arguments("x"), child())
    if kind == 17:
        return ast.ListComp(child(), _generator("x", child()))
    if kind == 18:
        return ast.GeneratorExp(child(), _generator("x", child()))
    if kind == 19:
        return ast.NamedExpr(_name("x", ast.Store), child())
    if kind == 20:
        return ast.JoinedStr([ast.FormattedValue(child(), -1, None)])
    if kind == 21:
        return ast.Await(child())
    return ast.Compare(child(), [ast.In()], [ast.List(children(), ast.Load())])


def _source(node: ast.expr) -> str:
    try:
        return ast.unparse(ast.fix_missing_locations(ast.Expression(node)))
    except ValueError:  # an f-string part Python cannot write back (a backslash in it)
        return "f'{payout.role}'"


TREES = trees().map(_source)


@st.composite
def expressions(draw: st.DrawFn) -> str:
    """Token soup, random text, a valid expression with characters changed, or any syntax tree."""
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return "".join(draw(st.lists(st.sampled_from(TOKENS), max_size=25)))
    if choice == 1:
        return draw(st.text(alphabet=string.printable + "éü…\x00\u2028\uff11", max_size=80))
    if choice == 2:
        return draw(TREES)
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


@fuzz("expressions")
@given(expressions(), RECORDS, PAYEES, st.dates(dt.date(2010, 1, 1), dt.date(2030, 12, 31)))
def test_expressions_parse_or_fail_located_and_never_crash_when_run(text: str, record: dict[str, Any],
                                                                    payee: dict[str, Any] | None,
                                                                    day: dt.date) -> None:
    try:
        expression = parse(text, SCOPE, want="boolean")
    except ExpressionError as error:
        for mistake in error.all:
            assert mistake.code.startswith("MR2")
            assert 0 <= mistake.offset <= len(text)
            assert mistake.end is None or mistake.offset < mistake.end <= len(text)
            assert mistake.message
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


# -- where problems are ------------------------------------------------------------------------------
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def lines_of(text: str) -> list[str]:
    """A file's lines as YAML counts them (it breaks lines at \\x85, \\u2028 and \\u2029 too)."""
    return _LINE_BREAK.split(text)


def assert_inside(problem: Problem, files: dict[str, str]) -> None:
    """The problem names one of ``files`` and a line and column inside it."""
    location = problem.location
    assert problem.code.startswith("MR") and problem.message, problem
    assert location.path in files, f"{problem} is not in {sorted(files)}"
    lines = lines_of(files[location.path])
    assert location.line is not None and 1 <= location.line <= len(lines), problem
    assert location.column is not None and 1 <= location.column <= len(lines[location.line - 1]) + 1, problem
    if location.end_column is not None:
        assert location.column <= location.end_column <= len(lines[location.line - 1]) + 1, problem  # (empty: a null)


# -- expressions written in a rule file ----------------------------------------------------------------
PACKS: dict[str, Pack] = {pack.name: pack for pack in discover(None)[0]}
PLACED_PARAMETERS = """\
parameters:
  cap: {description: cap, values: {2016-07-01: {mentor: 2000.00, mentee: 1000.00}}}
  roles: {description: roles, values: {2016-07-01: [mentor, mentee]}}
  limit: {description: limit, values: {2016-07-01: 3}}
"""
STYLES = [None, "'", '"', "|", ">"]
LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # LibYAML when there: ten times faster
DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def yaml_value(text: str, style: str | None, indent: str, width: int) -> str | None:
    """``text`` as a YAML value in ``style`` to follow ``key: `` at ``indent``, or None if it cannot be."""
    dumped = yaml.dump(text, Dumper=DUMPER, default_style=style, width=width, allow_unicode=True)
    dumped = dumped.removesuffix("\n...\n").removesuffix("\n")
    first, *rest = dumped.split("\n")
    return "\n".join([first, *(indent + line if line else line for line in rest)])


@st.composite
def placed_rules(draw: st.DrawFn) -> tuple[str, str, str | None]:
    """A rule file whose ``require`` is a generated expression in a YAML style: (file, text, style)."""
    text = draw(expressions())
    style = draw(st.sampled_from(STYLES))
    value = yaml_value(text, style, "      ", draw(st.sampled_from([40, 80, 10_000])))
    assume(value is not None)
    source = (f"rules:\n  - id: FZ-001\n    title: placed\n    table: payouts\n    require: {value}\n"
              "    message: m\n")
    try:
        written = yaml.load(source, Loader=LOADER)["rules"][0]["require"]
    except (yaml.YAMLError, TypeError, KeyError, IndexError):
        written = None
    assume(written == text)  # the dump above wrote exactly the text (else the example says nothing)
    written_style = value[0] if value[:1] in ("'", '"', "|", ">") else None  # the dump may choose another
    return source, text, written_style


def with_core(folder: Path) -> list[Pack]:
    """A local pack of rules in ``folder``, after core's functions (not its rules or parameters)."""
    return [dataclasses.replace(PACKS["core"], rule_files=(), parameter_files=()), local_pack(folder)]


def load_placed(folder: Path, source: str) -> tuple[Path, RuleBook]:
    """Load ``source`` as the rule file ``fuzz.yaml`` of ``folder`` (then removed), after core."""
    path = folder / "fuzz.yaml"
    path.write_text(source, encoding="utf-8")
    try:
        return path, load(with_core(folder))
    finally:
        path.unlink()


@pytest.fixture(scope="module")
def placed_scope(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Scope]:
    folder = tmp_path_factory.mktemp("placed")
    (folder / "parameters.yaml").write_text(PLACED_PARAMETERS, encoding="utf-8")
    book = load(with_core(folder))
    assert not book.problems
    pack = book.packs[-1].name
    return folder, scope_for(book.tables["payouts"], book.tables, book.parameters_for(pack), book.signatures)


@fuzz("placed")
@given(placed_rules())
def test_a_mistake_in_an_expression_is_located_on_the_characters_it_is_about(
        placed_scope: tuple[Path, Scope], rule: tuple[str, str, str | None]) -> None:
    folder, scope = placed_scope
    source, text, style = rule
    path, book = load_placed(folder, source)
    try:
        parse(text, scope, want="boolean")
        mistakes: tuple[ExpressionError, ...] = ()
    except ExpressionError as error:
        mistakes = error.all
    for problem in book.problems:
        assert_inside(problem, {str(path): source})
    if any(not problem.code.startswith("MR2") for problem in book.problems):
        return  # the schema refused the value (too long): it was not parsed
    problems = list(book.problems)
    assert [problem.message for problem in problems] == [mistake.message for mistake in mistakes]
    lines = lines_of(source)
    require_line = 5
    last_line = next(number for number, line in enumerate(lines, start=1) if line.startswith("    message:")) - 1
    for problem, mistake in zip(problems, mistakes, strict=True):
        location = problem.location
        assert location.line is not None and location.column is not None
        assert require_line <= location.line <= last_line, problem  # inside the require: value
        if location.line == require_line:
            assert location.column >= len("    require: ") + 1, problem
        # Where the file holds the text as it is (plain or a literal block), the problem's span
        # is the very text of the part the checker blames.
        blamed = text[mistake.offset:mistake.end] if mistake.end is not None else None
        if style in (None, "|") and blamed and "\n" not in blamed and location.end_column is not None:
            line = lines[location.line - 1]
            assert line[location.column - 1:location.end_column - 1] == blamed, problem


# -- message templates -----------------------------------------------------------------------------
PLACEHOLDER_PARTS = ["!r", "!s", "!a", ":>10", ":{payout.amount}", ":,", ".__class__", "[0]", "()", " ", ""]


@st.composite
def templates(draw: st.DrawFn) -> str:
    pieces = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.integers(0, 4))
        if kind == 0:
            pieces.append(draw(st.text(alphabet=string.ascii_letters + " .,:'\"é", max_size=12)))
        elif kind == 1:
            inner = draw(st.sampled_from([*VALID, "payout.amount", "payout.role", "params.cap[payout.role]",
                                          "school_year(payout.pay_date)", "payee.rating", "0"]))
            pieces.append("{" + inner + draw(st.sampled_from(PLACEHOLDER_PARTS)) + "}")
        elif kind == 2:
            pieces.append("{" + draw(expressions()).replace("\n", " ") + "}")
        elif kind == 3:
            pieces.append(draw(st.sampled_from(["{", "}", "{{", "}}", "{}", "{ }", "{{{", "}}}", "{payout:{payout}}"])))
        else:
            pieces.append("{" + draw(st.sampled_from(TOKENS)) + "}")
    return "".join(pieces)


PAYOUT_ROWS = st.fixed_dictionaries({
    "payout_id": st.just("P-1"), "payee_id": st.sampled_from(["T-1", "T-2", ""]),
    "role": st.sampled_from(["mentor", "mentee", "", "coach"]), "program": st.just("X"), "state": st.just("XX"),
    "school_year": st.sampled_from(["2025-26", "", "2025-13"]),
    "pay_date": st.sampled_from(["2025-09-15", "", "2016-07-01"]),
    "amount": st.sampled_from(["1000.00", "", "-0", "0.005", "99999999"]),
})


@fuzz("templates")
@given(templates(), st.sampled_from(STYLES), PAYOUT_ROWS)
def test_a_message_template_is_refused_located_or_renders_on_any_row(
        placed_scope: tuple[Path, Scope], template: str, style: str | None, row: dict[str, str]) -> None:
    folder, _ = placed_scope
    value = yaml_value(template, style, "      ", 10_000)
    assume(value is not None)
    source = f"rules:\n  - id: FZ-001\n    title: t\n    table: payouts\n    require: payout.amount < 0\n" \
             f"    message: {value}\n"
    try:
        assume(yaml.load(source, Loader=LOADER)["rules"][0]["message"] == template)
    except (yaml.YAMLError, TypeError, KeyError):
        assume(False)
    path, book = load_placed(folder, source)
    for problem in book.problems:
        assert_inside(problem, {str(path): source})
        assert problem.location.line is not None and problem.location.line >= 6, problem  # in the message
    if book.problems:
        return
    decision = Engine(book).evaluate(row, related={"people": [{"person_id": "T-1", "rating": "Exemplary"}]},
                                     as_of=dt.date(2026, 1, 1))
    assert all(isinstance(finding.message, str) for finding in decision.findings)


# -- the real rule and parameter files, mutated ----------------------------------------------------------
RULE_FILES = [(name, path) for name, pack in PACKS.items() for path in pack.rule_files]
PARAMETER_FILES = [(name, path) for name, pack in PACKS.items() for path in pack.parameter_files]

WRONG_VALUES: list[Any] = [
    None, True, 0, -1, 10**400, 1e308, "", "   ", "x" * 5000, [], {}, [[[]]], {"a": {"b": {}}},
    dt.date(2025, 2, 28), "2025-02-30", "2016-13-01", "0000-00-00", "payout.amount >", "payout.__class__",
    "__import__('os').system('x')", "{payout.__class__}", "{payout!r}", "9**9**9", "params.nope[payout.role]",
    "\uff50\uff41\uff59\uff4f\uff55\uff54.amount > 0", "payout.amount\u2028> 0", "\x00", "\u202e", "🙂",
    "!!python/object:os.system",
    "*alias", "&anchor x", "NM-001\n", ["payout.amount"], {"require": "x"}, 1.5, "1e999", ".nan", "-.inf",
]
TEXT_NOISE = ["&a ", "*a", "!!python/object/apply:os.system ['true'] ", "!!python/name:os.system ", "!!binary ",
              "!!set ", "!!omap ", "!custom ", "!!str ", "!!int ", "!!float ", "!!timestamp ", "!!map ", "!!seq ",
              "? ", "- ", ": ", "{", "}", "[", "]", "'", '"', "|", ">", "#", "%", "@", "`", "\t", "\ufeff",
              "\u200b", "\u202e", "\u2028", "\x85", "\x00", "\x07", "é", "🙂", "1e999", "9" * 5000, ".nan",
              "2025-02-30", "2016-13-01", "0000-01-01", "__class__", "{payout.__class__}", "\\", "\r"]
LINE_NOISE = ["---", "...", "%YAML 1.1", "%TAG ! tag:example.com,2000:", "&a [1, 2]", "- *a", "<<: *a",
              "rules: []", "parameters: {}", "  - id: DUP-001", "    require: payout.amount > 0", "x: &b {a: *b}"]


def _mutate_data(draw: st.DrawFn, data: Any) -> Any:
    """One change to the loaded structure of a rule or parameter file."""
    containers: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict | list):
            containers.append(node)
            for child in node.values() if isinstance(node, dict) else node:
                walk(child)

    walk(data)
    if not containers:
        return copy.deepcopy(draw(st.sampled_from(WRONG_VALUES)))
    target = draw(st.sampled_from(containers))
    keys = list(target) if isinstance(target, dict) else list(range(len(target)))
    if not keys:
        return data
    key = draw(st.sampled_from(keys))
    action = draw(st.integers(0, 5))
    if action == 0:
        del target[key]
    elif action == 1:
        target[key] = copy.deepcopy(draw(st.sampled_from(WRONG_VALUES)))
    elif action == 2 and isinstance(target, dict):
        target[str(key) + draw(st.sampled_from(["s", "_", "X", " ", "\u00e9"]))] = target.pop(key)
    elif action == 3:
        depth = draw(st.integers(1, 60))
        nested: Any = target[key]
        for _ in range(depth):
            nested = [nested] if draw(st.booleans()) else {"a": nested}
        target[key] = nested
    elif action == 4 and isinstance(target, list):
        target.append(target[key])  # a rule twice: duplicate ids
    else:
        other = draw(st.sampled_from(keys))
        target[key], target[other] = target[other], target[key]
    return data


def _mutate_text(draw: st.DrawFn, text: str) -> str:
    """One change to the text of a rule or parameter file."""
    lines = text.split("\n")
    index = draw(st.integers(0, max(len(lines) - 1, 0)))
    line = lines[index]
    action = draw(st.integers(0, 6))
    if action == 0:  # indentation
        change = draw(st.sampled_from([" ", "  ", "   ", "\t", "-1", "-2"]))
        lines[index] = line[int(change[1:]):] if change.startswith("-") else change + line
    elif action == 1:  # a duplicated line: a duplicated key, a rule given twice
        lines.insert(index, line)
    elif action == 2:
        del lines[index]
    elif action == 3:
        lines.insert(index, line[:len(line) - len(line.lstrip())] + draw(st.sampled_from(LINE_NOISE)))
    elif action == 4:  # noise inside a line, often just before a value
        position = line.find(": ") + 2 if ": " in line and draw(st.booleans()) else draw(st.integers(0, len(line)))
        lines[index] = line[:position] + draw(st.sampled_from(TEXT_NOISE)) + line[position:]
    elif action == 5:
        position = draw(st.integers(0, len(line)))
        lines[index] = line[:position] + line[position + draw(st.integers(1, 8)):]
    else:  # an expression written in the file, broken
        lines[index] = re.sub(r"(require|when|where): (.*)", lambda match: f"{match.group(1)}: "
                              + draw(expressions()).replace("\n", " "), line)
    return "\n".join(lines)


ORIGINALS = {path: path.read_text("utf-8") for _, path in [*RULE_FILES, *PARAMETER_FILES]}


@st.composite
def mangled(draw: st.DrawFn, files: list[tuple[str, Path]]) -> tuple[str, Path, str]:
    """A real file of a pack, changed as data and/or as text a few times: (pack, path, text)."""
    pack, path = draw(st.sampled_from(files))
    text = ORIGINALS[path]
    if draw(st.booleans()):
        data = yaml.load(text, Loader=LOADER)
        for _ in range(draw(st.integers(1, 3))):
            data = _mutate_data(draw, data)
        text = yaml.dump(data, Dumper=DUMPER, sort_keys=False, allow_unicode=draw(st.booleans()),
                              default_flow_style=draw(st.sampled_from([False, None, True])),
                              width=draw(st.sampled_from([60, 120, 10_000])))
    for _ in range(draw(st.integers(0 if text != ORIGINALS[path] else 1, 4))):
        text = _mutate_text(draw, text)
    return pack, path, text


def load_changed(folder: Path, pack_name: str, original: Path, text: str, *, raw: bytes | None = None,
                 parameters: bool = False) -> tuple[tuple[Problem, ...], dict[str, str]]:
    """Load the packs with ``original`` replaced by ``text``; the problems and the files' texts."""
    changed = folder / original.name
    if raw is not None:
        changed.write_bytes(raw)
    else:
        changed.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        packs = []
        for name, pack in PACKS.items():
            if name == pack_name and parameters:  # parameters do not refer to each other: the file alone
                pack = dataclasses.replace(pack, rule_files=(), parameter_files=(changed,))
            elif name == "core" and parameters:
                pack = dataclasses.replace(pack, rule_files=(), parameter_files=())
            elif name == pack_name:
                pack = dataclasses.replace(pack, rule_files=(changed,))
            elif name == "core":
                pack = dataclasses.replace(pack, rule_files=())  # core's parameters and functions, no rules
            else:
                continue
            packs.append(pack)
        book = load(packs)
    finally:
        changed.unlink()
    files = {str(changed): text}
    files.update({str(path): ORIGINALS[path] for pack in packs for path in pack.parameter_files
                  if path != changed})
    return book.problems, files


@fuzz("rule files")
@given(mangled(RULE_FILES), st.booleans())
def test_a_mangled_rule_file_of_a_pack_gives_problems_inside_it(tmp_path_factory: pytest.TempPathFactory,
                                                                file: tuple[str, Path, str], utf8: bool) -> None:
    pack, path, text = file
    raw = None if utf8 or not text else text[: len(text) // 2].encode() + b"\xff\xfe" + text[len(text) // 2:].encode()
    problems, files = load_changed(tmp_path_factory.mktemp("rules"), pack, path, text, raw=raw)
    for problem in problems:
        if problem.code == "MR101":  # a file that cannot be read is located by its name
            assert problem.location.path in files
            continue
        assert_inside(problem, files)


@st.composite
def mangled_parameters(draw: st.DrawFn) -> tuple[str, Path, str]:
    pack, path, text = draw(mangled(PARAMETER_FILES))
    if draw(st.booleans()):  # an impossible or odd date for one of the dated values
        odd = draw(st.sampled_from(["2025-02-30", "2016-13-01", "0000-01-01", "2016-7-1", "20160701", "~",
                                    "2016-07-01T00:00", "'2016-07-01'", "9999-12-31", "1900-02-29",
                                    "2016-07-01 12:00:00"]))
        text = re.sub(r"\b\d{4}-\d{2}-\d{2}\b", odd, text, count=draw(st.integers(1, 3)))
    return pack, path, text


@fuzz("parameter files")
@given(mangled_parameters())
def test_a_mangled_parameter_file_of_a_pack_gives_problems_inside_it(tmp_path_factory: pytest.TempPathFactory,
                                                                     file: tuple[str, Path, str]) -> None:
    pack, path, text = file
    problems, files = load_changed(tmp_path_factory.mktemp("parameters"), pack, path, text, parameters=True)
    for problem in problems:
        assert_inside(problem, files)

