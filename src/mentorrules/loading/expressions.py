"""Expression text -> checked syntax tree. Nothing here runs user code.

The language is a small, Python-like subset: literals, names of facts and parameters, field
access on facts (``payout.amount``), comparisons (including ``in`` and ``is None``), ``and``/
``or``/``not``, ``+ - * / %``, ``x if c else y``, subscripts of parameter maps
(``params.cap[payout.role]``) and calls of registered functions (``school_year(d)``).

Text is parsed by :mod:`ast` and every node is checked against that whitelist; anything else
(attributes of non-facts, dunders, lambdas, comprehensions, imports, ``**``, f-strings, keyword
arguments) is a located problem. Size and cost are bounded here, at load time: text length,
node count, nesting depth, literal sizes, and operand types (``"a" * 10**9`` is a type error,
``**`` does not exist), so a compiled expression runs in time linear in its size.

Types are inferred so that mistakes show at load time: comparing a date with a number, adding
text to money, or a ``require`` that is not a condition. Mistakes found in literals are load
time mistakes too: a division by ``0``, and a registered function called with literals only that
refuses them (``date("2025-02-30")``); such a call is made once, here, with the literals — the
rule text itself never runs.

Every independent mistake of an expression is reported, not only the first: a part that is
wrong is given the kind "any" and checking goes on around it.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from mentorrules.errors import did_you_mean, one_of

MAX_TEXT = 2000
MAX_NODES = 400
MAX_DEPTH = 32
MAX_INT = 10**15
MAX_STRING = 500
MAX_LIST = 200

Kind = Literal["text", "integer", "decimal", "boolean", "date", "list", "map", "fact", "none", "any"]
_NUMBERS = {"integer", "decimal"}
_ORDERED = {"text", "integer", "decimal", "date"}


@dataclass(frozen=True)
class Signature:
    """What a registered function takes and gives, for load-time checks."""

    parameters: tuple[Kind, ...]
    returns: Kind
    optional: int = 0  # trailing parameters that may be left out
    accepts_missing: bool = False  # True for present()/missing(): None is a normal argument
    # The function itself, to check a call with literal arguments at load time (date("2025-02-30")).
    function: Callable[..., Any] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Scope:
    """Every name an expression may use, with its kind.

    ``facts`` maps a fact name (``payout``, ``payee``) to its fields and their kinds;
    ``parameters`` maps a parameter name to the kind of its values (and of map entries);
    ``names`` holds plain names such as a batch rule's group keys and aggregates.
    """

    facts: Mapping[str, Mapping[str, Kind]]
    parameters: Mapping[str, tuple[Kind, Kind]] = field(default_factory=dict)
    functions: Mapping[str, Signature] = field(default_factory=dict)
    names: Mapping[str, Kind] = field(default_factory=dict)
    fact_tables: Mapping[str, str] = field(default_factory=dict)
    decision_tables: Mapping[str, tuple[tuple[str, ...], Kind]] = field(default_factory=dict)  # inputs, result


@dataclass(frozen=True)
class ExpressionError(Exception):
    """A problem with an expression, at a character offset in its text (to ``end``, exclusive,
    when the problem is about a span). :func:`parse` raises the first problem of a text, with
    the other independent ones in ``also``.
    """

    code: str
    message: str
    offset: int = 0
    expected: str | None = None
    hint: str | None = None
    end: int | None = None
    also: tuple[ExpressionError, ...] = ()

    def __str__(self) -> str:
        return f"{self.code} {self.message}"

    @property
    def all(self) -> tuple[ExpressionError, ...]:
        """This problem and the others found in the same text, in the order of the text."""
        return (self, *self.also)


@dataclass(frozen=True)
class Expression:
    """A checked expression: its text, its tree, its kind and what it refers to."""

    text: str
    tree: ast.expr
    kind: Kind
    facts: frozenset[str]
    parameters: frozenset[str]
    functions: frozenset[str]
    names: frozenset[str]
    decimals: Mapping[int, Decimal]  # id(node) -> exact value of a decimal literal
    # id(node) of each '*' or '%' with an operand whose kind is only known when it runs (either(),
    # get()): text or a list there would repeat ('x' * 10**9) or format ('%999999999d' % 1), so
    # the compiled code checks that both are numbers.
    unchecked: frozenset[int] = frozenset()


def parse(text: str, scope: Scope, *, want: Kind | None = None) -> Expression:
    """Parse and check ``text`` against ``scope``; raise :class:`ExpressionError` if unsafe or wrong.

    The error raised is the first mistake of the text; ``error.also`` holds the others.

    >>> scope = Scope(facts={"payout": {"amount": "decimal", "role": "text"}},
    ...               parameters={"cap": ("map", "decimal")})
    >>> parse("payout.amount <= params.cap[payout.role]", scope, want="boolean").kind
    'boolean'
    >>> parse("payout.__class__", scope)
    Traceback (most recent call last):
    ...
    mentorrules.loading.expressions.ExpressionError: ...names starting with '_' are not allowed...
    >>> parse("9**9**9", scope)
    Traceback (most recent call last):
    ...
    mentorrules.loading.expressions.ExpressionError: ...'**' is not allowed...
    >>> try:
    ...     parse("payout.amont > 0 and params.cup > 1", scope)
    ... except ExpressionError as error:
    ...     [(mistake.code, mistake.offset, mistake.end) for mistake in error.all]
    [('MR207', 0, 12), ('MR203', 21, 31)]
    """
    if len(text) > MAX_TEXT:
        raise ExpressionError("MR210", f"the expression is {len(text)} characters long",
                              expected=f"at most {MAX_TEXT} characters",
                              hint="split the check into several rules")
    if not text.strip():
        raise ExpressionError("MR201", "the expression is empty", 0,
                              expected="a condition, e.g. payout.amount > 0")
    if "\x00" in text:
        raise ExpressionError("MR201", "the expression contains a NUL character", text.index("\x00"),
                              hint="remove it; expressions are plain text")
    try:
        # Wrapping in parentheses lets an expression span lines, as in a YAML block scalar.
        with warnings.catch_warnings():  # Python's own warnings about odd literals are not for authors
            warnings.simplefilter("ignore")
            tree = ast.parse(wrapped(text), mode="eval")
    except SyntaxError as error:
        # SyntaxError positions count characters (ast node positions count UTF-8 bytes).
        offset = _offset(text, error.lineno or 2, (error.offset or 1) - 1)
        end = _offset(text, error.end_lineno, error.end_offset - 1) \
            if error.end_lineno and error.end_offset else None
        raise ExpressionError("MR201", f"syntax error: {error.msg}", offset,
                              hint="expressions use Python syntax, e.g. payout.amount > 0",
                              end=end if end is not None and end > offset else None) from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError("MR211", "the expression is nested too deeply",
                              expected=f"at most {MAX_DEPTH} levels") from None
    checker = _Checker(text, scope)
    try:
        kind = checker.check(tree.body, 0)
    except _Stop as stop:  # a size limit: what follows would only repeat it
        raise stop.error from None
    if want == "boolean" and kind not in ("boolean", "any"):
        checker.errors.append(ExpressionError("MR206", f"this is {_a(kind)}, not a condition", 0,
                                              expected="a condition that is true or false, e.g. payout.amount > 0",
                                              end=len(text.rstrip())))
    if checker.errors:
        first, *others = sorted(checker.errors, key=lambda error: error.offset)
        raise replace(first, also=tuple(others))
    return Expression(text, tree.body, kind, frozenset(checker.facts), frozenset(checker.parameters),
                      frozenset(checker.functions), frozenset(checker.names), checker.decimals,
                      frozenset(checker.unchecked))


def wrapped(text: str) -> str:
    return "(\n" + text.strip() + "\n)"


def _offset(text: str, lineno: int, col: int) -> int:
    """Offset in ``text`` of a (line, column in characters) position in ``wrapped(text)``."""
    source = text.strip()
    lead = len(text) - len(text.lstrip())
    lines = source.split("\n")
    if lineno - 2 >= len(lines):  # on the closing line of the wrapper: the end of the text
        return lead + len(source)
    row = max(lineno - 2, 0)
    col = min(max(col, 0), len(lines[row]))
    return min(lead + sum(len(line) + 1 for line in lines[:row]) + col, len(text))


def _characters(text: str, lineno: int, col_bytes: int) -> int:
    """The character column of an ast node's byte column on a line of ``wrapped(text)``."""
    lines = wrapped(text).split("\n")
    line = lines[lineno - 1] if 1 <= lineno <= len(lines) else ""
    return len(line.encode()[:col_bytes].decode(errors="ignore"))


class _Stop(Exception):
    """A size limit was passed: checking stops at once with this one error."""

    def __init__(self, error: ExpressionError) -> None:
        super().__init__(error.message)
        self.error = error


def _a(kind: str) -> str:
    return {"integer": "a whole number", "decimal": "a decimal number", "text": "text",
            "boolean": "a condition", "date": "a date", "list": "a list", "map": "a mapping",
            "fact": "a fact (a whole row)", "none": "None", "any": "a value"}.get(kind, kind)


_COMPARE_NAMES = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">",
                  ast.GtE: ">=", ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}
_ARITHMETIC = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%"}
_REFUSED = {
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed", ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "generator expressions are not allowed",
    ast.NamedExpr: "assignment (:=) is not allowed", ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed", ast.YieldFrom: "yield is not allowed",
    ast.JoinedStr: "f-strings are not allowed; use the message template",
    ast.Starred: "* unpacking is not allowed", ast.Dict: "mapping literals are not allowed",
    ast.Set: "set literals are not allowed; use a list [..]",
    ast.Slice: "slices are not allowed",
}


class _Checker:
    def __init__(self, text: str, scope: Scope) -> None:
        self.text = text
        self.scope = scope
        self.nodes = 0
        self.facts: set[str] = set()
        self.parameters: set[str] = set()
        self.functions: set[str] = set()
        self.names: set[str] = set()
        self.decimals: dict[int, Decimal] = {}
        self.unchecked: set[int] = set()
        self.errors: list[ExpressionError] = []

    def fail(self, node: ast.AST, code: str, message: str, expected: str | None = None,
             hint: str | None = None) -> ExpressionError:
        """The problem with ``node``, located at its span in the text."""
        lineno, end_lineno = getattr(node, "lineno", 2), getattr(node, "end_lineno", None)
        offset = _offset(self.text, lineno, _characters(self.text, lineno, getattr(node, "col_offset", 0)))
        end, end_col = None, getattr(node, "end_col_offset", None)
        if end_lineno is not None and end_col is not None:
            end = _offset(self.text, end_lineno, _characters(self.text, end_lineno, end_col))
        return ExpressionError(code, message, offset, expected, hint, end if end and end > offset else None)

    def check(self, node: ast.expr, depth: int) -> Kind:
        """The kind of ``node``; a mistake in it is recorded and the node counts as "any", so
        that checking goes on and finds the mistakes of the rest of the text too."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Stop(self.fail(node, "MR210", "the expression is too large",
                                  expected=f"at most {MAX_NODES} parts", hint="split it into several rules"))
        if depth > MAX_DEPTH:
            raise _Stop(self.fail(node, "MR211", "the expression is nested too deeply",
                                  expected=f"at most {MAX_DEPTH} levels"))
        method = getattr(self, "visit_" + type(node).__name__, None)
        try:
            if method is None:
                reason = _REFUSED.get(type(node), f"{type(node).__name__} is not allowed in rule expressions")
                raise self.fail(node, "MR202", reason,
                                expected="comparisons, and/or/not, arithmetic, fields, parameters and functions")
            kind: Kind = method(node, depth + 1)
        except ExpressionError as error:
            self.errors.append(error)
            return "any"
        return kind

    # -- literals -----------------------------------------------------------------------------
    def visit_Constant(self, node: ast.Constant, depth: int) -> Kind:
        value = node.value
        if value is None:
            return "none"
        if isinstance(value, bool):
            return "boolean"
        if isinstance(value, int):
            if abs(value) > MAX_INT:
                raise self.fail(node, "MR210", "this number is too large", expected=f"at most {MAX_INT:,}")
            return "integer"
        if isinstance(value, float):
            text = ast.get_source_segment(wrapped(self.text), node) or repr(value)
            try:
                exact = Decimal(text.replace("_", ""))
            except InvalidOperation:
                raise self.fail(node, "MR201", f"{text!r} is not a decimal number",
                                expected="a number such as 1200.50") from None
            if not exact.is_finite() or not -MAX_INT <= exact <= MAX_INT:  # abs() would round to the context
                raise self.fail(node, "MR210", "this number is too large", expected=f"at most {MAX_INT:,}")
            self.decimals[id(node)] = exact
            return "decimal"
        if isinstance(value, str):
            if len(value) > MAX_STRING:
                raise self.fail(node, "MR210", "this text is too long", expected=f"at most {MAX_STRING} characters")
            return "text"
        raise self.fail(node, "MR202", f"{type(value).__name__} literals are not allowed",
                        expected="numbers, text, True, False or None")

    def visit_List(self, node: ast.List | ast.Tuple, depth: int) -> Kind:
        if len(node.elts) > MAX_LIST:
            raise self.fail(node, "MR210", "this list is too long", expected=f"at most {MAX_LIST} items",
                            hint="put long lists in a parameter file")
        for element in node.elts:
            self.check(element, depth)
        return "list"

    visit_Tuple = visit_List

    # -- names ----------------------------------------------------------------------------------
    def visit_Name(self, node: ast.Name, depth: int) -> Kind:
        name = node.id
        self._refuse_private(node, name)
        if name in self.scope.facts:
            self.facts.add(name)
            return "fact"
        if name in self.scope.names:
            self.names.add(name)
            return self.scope.names[name]
        if name == "params":
            raise self.fail(node, "MR203", "'params' needs a parameter name, e.g. params.max_mentees",
                            expected=one_of(self.scope.parameters))
        if name in self.scope.functions:
            raise self.fail(node, "MR204", f"the function {name!r} must be called: {name}(...)")
        known = [*self.scope.facts, *self.scope.names, "params"]
        raise self.fail(node, "MR203", f"unknown name {name!r}", expected=one_of(known),
                        hint=did_you_mean(name, known))

    def _refuse_private(self, node: ast.AST, name: str) -> None:
        if name.startswith("_"):
            raise self.fail(node, "MR202", f"names starting with '_' are not allowed ({name!r})",
                            hint="rule expressions can only use fields, parameters and functions")

    def visit_Attribute(self, node: ast.Attribute, depth: int) -> Kind:
        self._refuse_private(node, node.attr)
        base = node.value
        if not isinstance(base, ast.Name):
            raise self.fail(node, "MR202", f"'.{node.attr}' can only follow a fact or 'params'",
                            expected="fact.field (payout.amount) or params.name")
        self._refuse_private(base, base.id)
        if base.id == "params":
            if node.attr not in self.scope.parameters:
                raise self.fail(node, "MR203", f"unknown parameter {node.attr!r}",
                                expected=one_of(self.scope.parameters),
                                hint=did_you_mean(node.attr, self.scope.parameters))
            self.parameters.add(node.attr)
            return self.scope.parameters[node.attr][0]
        if base.id not in self.scope.facts:
            if base.id in self.scope.names or base.id in self.scope.functions:
                raise self.fail(node, "MR202", f"{base.id!r} has no fields",
                                expected="fact.field (payout.amount) or params.name")
            known = [*self.scope.facts, "params"]
            raise self.fail(base, "MR203", f"unknown name {base.id!r}", expected=one_of(known),
                            hint=did_you_mean(base.id, known))
        fields = self.scope.facts[base.id]
        if node.attr not in fields:
            table = self.scope.fact_tables.get(base.id, base.id)
            raise self.fail(node, "MR207", f"unknown field {node.attr!r} of {base.id} (table {table})",
                            expected=one_of(fields), hint=did_you_mean(node.attr, fields))
        self.facts.add(base.id)
        return fields[node.attr]

    def visit_Subscript(self, node: ast.Subscript, depth: int) -> Kind:
        base = node.value
        is_parameter = (isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name)
                        and base.value.id == "params")
        if not is_parameter:
            raise self.fail(node, "MR202", "[...] can only follow a parameter, e.g. params.cap[payout.role]")
        reported = len(self.errors)
        container = self.check(base, depth)
        assert isinstance(base, ast.Attribute)
        key = self.check(node.slice, depth)
        if len(self.errors) > reported:  # a mistake inside, already reported: nothing more to say
            return "any"
        entry = self.scope.parameters[base.attr][1]
        if container == "map":
            if key not in ("text", "any"):
                raise self.fail(node.slice, "MR205", f"a parameter map is looked up by text, not by {_a(key)}",
                                expected="a text key", hint="use a text field, e.g. params.cap[payout.role]")
            return entry
        if container == "list":
            if key not in ("integer", "any"):
                raise self.fail(node.slice, "MR205", f"a list parameter is indexed by a whole number, not by {_a(key)}",
                                expected="a whole number, e.g. params.rates[0]")
            return entry
        if container == "any":
            return "any"
        raise self.fail(node, "MR205", f"params.{base.attr} is {_a(container)}; it cannot be subscripted",
                        expected="a parameter whose values are mappings or lists",
                        hint=f"use params.{base.attr} alone")

    # -- operators ------------------------------------------------------------------------------
    def visit_BoolOp(self, node: ast.BoolOp, depth: int) -> Kind:
        for value in node.values:
            kind = self.check(value, depth)
            if kind not in ("boolean", "any"):
                self.errors.append(self.fail(value, "MR206", f"this is {_a(kind)}, but 'and'/'or' join conditions",
                                             hint="compare it, e.g. present(x) or x > 0"))
        return "boolean"

    def visit_UnaryOp(self, node: ast.UnaryOp, depth: int) -> Kind:
        kind = self.check(node.operand, depth)
        if isinstance(node.op, ast.Not):
            if kind not in ("boolean", "any"):
                raise self.fail(node, "MR206", f"'not' needs a condition, not {_a(kind)}")
            return "boolean"
        if isinstance(node.op, (ast.USub, ast.UAdd)):
            if kind not in ("integer", "decimal", "any"):
                raise self.fail(node, "MR205", f"'-' needs a number, not {_a(kind)}",
                                expected="a number, e.g. -payout.amount")
            return kind
        raise self.fail(node, "MR202", "'~' is not allowed")

    def visit_BinOp(self, node: ast.BinOp, depth: int) -> Kind:
        symbol = _ARITHMETIC.get(type(node.op))
        if symbol is None:
            extra = "; multiply it out or use a parameter" if isinstance(node.op, ast.Pow) else ""
            operator = {ast.Pow: "**", ast.FloorDiv: "//", ast.LShift: "<<", ast.RShift: ">>",
                        ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.MatMult: "@"}.get(
                type(node.op), "this operator")
            raise self.fail(node, "MR202", f"{operator!r} is not allowed{extra}",
                            expected="+, -, *, / or %")
        left = self.check(node.left, depth)
        right = self.check(node.right, depth)
        if symbol == "+" and left == right == "text":
            return "text"
        wrong = [(side, kind) for side, kind in ((node.left, left), (node.right, right))
                 if kind not in ("integer", "decimal", "any")]
        if wrong:
            kinds = {kind for _, kind in wrong}
            hint = ("dates have functions: days_between(a, b), months_between(a, b)" if "date" in kinds
                    else "join text with +, e.g. payout.program + '-' + payout.role" if kinds == {"text"} else None)
            if len(wrong) == 2:
                raise self.fail(node, "MR205", f"{symbol!r} needs numbers, but these are {_a(left)} and {_a(right)}",
                                expected="numbers on both sides", hint=hint)
            raise self.fail(wrong[0][0], "MR205", f"{symbol!r} needs numbers, but this is {_a(wrong[0][1])}",
                            expected="a number", hint=hint)
        if symbol in ("*", "%") and "any" in (left, right):
            self.unchecked.add(id(node))
        if symbol in ("/", "%") and self._literal_number(node.right) == 0:
            raise self.fail(node.right, "MR205", f"'{symbol}' by zero has no value",
                            expected="a divisor other than 0", hint="divide by a value that cannot be 0")
        if symbol == "/" or "decimal" in (left, right):
            return "decimal"
        if "any" in (left, right):
            return "any"
        return "integer"

    def _literal_number(self, node: ast.expr) -> Decimal | None:
        """The value of a number written in the text (``0``, ``-0.0``), or None."""
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = self._literal_number(node.operand)
            return None if inner is None else -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return self.decimals.get(id(node), Decimal(node.value) if isinstance(node.value, int) else None)
        return None

    def visit_Compare(self, node: ast.Compare, depth: int) -> Kind:
        left_node = node.left
        left = self.check(left_node, depth)
        for operator, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.check(right_node, depth)
            try:
                self._compare(node, left_node, left, operator, right_node, right)
            except ExpressionError as error:
                self.errors.append(error)
            left, left_node = right, right_node
        return "boolean"

    def _compare(self, node: ast.Compare, left_node: ast.expr, left: Kind, operator: ast.cmpop,
                 right_node: ast.expr, right: Kind) -> None:
        symbol = _COMPARE_NAMES[type(operator)]
        if symbol in ("is", "is not"):
            if not (isinstance(right_node, ast.Constant) and right_node.value is None):
                raise self.fail(right_node, "MR205", f"'{symbol}' is only for None, e.g. payee is None",
                                expected="None", hint="use == or != to compare values")
        elif symbol in ("in", "not in"):
            if right not in ("list", "map", "text", "any"):
                raise self.fail(right_node, "MR205", f"'{symbol}' needs a list, mapping or text on the right, "
                                f"not {_a(right)}", expected="a list such as ['mentor', 'mentee'], or a parameter",
                                hint=f"use == to compare with {_a(right)}")
        elif "fact" in (left, right):
            raise self.fail(node, "MR205", "a whole fact cannot be compared; compare one of its fields",
                            expected="a field, e.g. payee.person_id == payout.payee_id, or payee is None")
        elif symbol in ("<", "<=", ">", ">="):
            self._comparable(node, left, right, symbol, ordered=True)
        else:
            self._comparable(node, left, right, symbol, ordered=False)

    def _comparable(self, node: ast.AST, left: Kind, right: Kind, symbol: str, *, ordered: bool) -> None:
        if "any" in (left, right) or ("none" in (left, right) and not ordered):
            return
        same = left == right or {left, right} <= _NUMBERS
        if ordered and (left not in _ORDERED or right not in _ORDERED):
            raise self.fail(node, "MR205", f"{_a(left)} and {_a(right)} cannot be ordered with '{symbol}'",
                            expected="numbers, dates or text on both sides",
                            hint="test a missing value with 'is None'" if "none" in (left, right) else None)
        if not same:
            hint = "compare values of one kind"
            if {left, right} == {"date", "text"}:
                hint = "write dates as date('2025-07-01')"
            elif "text" in (left, right) and {left, right} & _NUMBERS:
                hint = "a number in quotes is text: write numbers in parameter files without quotes"
            raise self.fail(node, "MR205", f"{_a(left)} is compared with {_a(right)}; "
                            f"the comparison would never hold", expected=f"{_a(left)} on both sides", hint=hint)

    def visit_IfExp(self, node: ast.IfExp, depth: int) -> Kind:
        test = self.check(node.test, depth)
        body = self.check(node.body, depth)
        orelse = self.check(node.orelse, depth)
        if test not in ("boolean", "any"):
            self.errors.append(self.fail(node.test, "MR206", f"the condition of 'if' is {_a(test)}, not a condition"))
        if body == orelse:
            return body
        if {body, orelse} <= _NUMBERS:
            return "decimal"
        if "any" in (body, orelse):
            return "any"
        if "none" in (body, orelse):
            return orelse if body == "none" else body
        raise self.fail(node, "MR205", f"the two branches of 'if' give {_a(body)} and {_a(orelse)}",
                        expected="the same kind of value from both branches",
                        hint="e.g. payout.amount if present(payout.amount) else 0")

    def visit_Call(self, node: ast.Call, depth: int) -> Kind:
        function = node.func
        if not isinstance(function, ast.Name):
            raise self.fail(node, "MR204", "only registered functions can be called, by name",
                            expected=one_of(self.scope.functions))
        name = function.id
        self._refuse_private(function, name)
        if name in ("table_lookup", "table_has"):
            kind = self._table_lookup(node, depth)
            return "boolean" if name == "table_has" else kind
        signature = self.scope.functions.get(name)
        kinds = [self.check(argument, depth) for argument in node.args]
        if signature is None:
            raise self.fail(function, "MR204", f"unknown function {name!r}",
                            expected=one_of(self.scope.functions),
                            hint=did_you_mean(name, self.scope.functions))
        if node.keywords:
            raise self.fail(node, "MR204", "keyword arguments are not allowed; pass values in order")
        most = len(signature.parameters)
        least = most - signature.optional
        if not least <= len(node.args) <= most:
            wanted = str(most) if least == most else f"{least} to {most}"
            raise self.fail(node, "MR204", f"{name}() takes {wanted} argument(s), not {len(node.args)}")
        wrong = False
        for argument, kind, wanted_kind in zip(node.args, kinds, signature.parameters, strict=False):
            if kind == "fact" and not signature.accepts_missing:
                wrong = True
                self.errors.append(self.fail(argument, "MR205", f"{name}() takes a value, not a whole fact",
                                             expected=_a(wanted_kind), hint="pass one of its fields"))
            elif not _fits(kind, wanted_kind):
                wrong = True
                self.errors.append(self.fail(argument, "MR205", f"{name}() expects {_a(wanted_kind)} here, "
                                             f"not {_a(kind)}", expected=_a(wanted_kind)))
        self.functions.add(name)
        if not wrong:
            self._call_with_literals(node, name, signature)
        return signature.returns

    def _table_lookup(self, node: ast.Call, depth: int) -> Kind:
        """``table_lookup("stipend_schedule", program=..., role=...)``: a decision table named by a
        text literal, every input given once by keyword (the only calls that take keywords, with
        ``table_has``, which says whether a row in force matches)."""
        tables = self.scope.decision_tables
        if len(node.args) != 1 or not (isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            raise self.fail(node, "MR204", "table_lookup() takes the table's name in quotes, then its inputs "
                            "by name", expected=one_of(tables) if tables else "a decision table of the pack",
                            hint='e.g. table_lookup("stipend_schedule", program=payout.program, role=payout.role)')
        table = node.args[0].value
        if table not in tables:
            raise self.fail(node.args[0], "MR203", f"unknown decision table {table!r}",
                            expected=one_of(tables) if tables else "a table declared under decision_tables: "
                            "in a parameter file of the pack", hint=did_you_mean(table, tables))
        inputs, kind = tables[table]
        given = [keyword.arg for keyword in node.keywords]
        for keyword in node.keywords:
            if keyword.arg is None or keyword.arg not in inputs:
                self.errors.append(self.fail(keyword.value if keyword.arg is None else keyword, "MR204",
                                             f"{table} has no input {keyword.arg!r}", expected=one_of(inputs)))
            elif given.count(keyword.arg) > 1:
                self.errors.append(self.fail(keyword, "MR204", f"the input {keyword.arg!r} is given twice"))
            value = self.check(keyword.value, depth)
            if value == "fact":
                self.errors.append(self.fail(keyword.value, "MR205", "an input is a value, not a whole fact"))
        missing = [name for name in inputs if name not in given]
        if missing:
            raise self.fail(node, "MR204", f"table_lookup of {table} needs every input: {', '.join(missing)} "
                            "missing", expected=", ".join(f"{name}=..." for name in inputs))
        self.functions.add(f"table_lookup:{table}")
        return kind

    def _call_with_literals(self, node: ast.Call, name: str, signature: Signature) -> None:
        """A call whose arguments are all written in the text is made now, once: a value the
        function refuses is a load-time mistake (``date("2025-02-30")``), not a finding on every row."""
        arguments = [self._literal(argument) for argument in node.args]
        if signature.function is None or any(argument is _NOT_LITERAL for argument in arguments):
            return
        try:
            signature.function(*arguments)
        except (TypeError, ValueError, ArithmeticError, LookupError):
            text = ast.get_source_segment(wrapped(self.text), node) or f"{name}(...)"
            summary = (signature.function.__doc__ or "").strip().split("\n")[0]
            raise self.fail(node, "MR205", f"{text} has no value: {name}() refuses "
                            f"{'this value' if len(arguments) == 1 else 'these values'}",
                            expected=f"what {name}() accepts" + (f": {summary}" if summary else ""),
                            hint="date('2025-02-28') is a real date; date('2025-02-30') is not"
                            if name == "date" else None) from None

    def _literal(self, node: ast.expr) -> Any:
        """The value of a literal written in the text (``2``, ``-1.5`` as Decimal, ``"x"``),
        as a function would receive it, else _NOT_LITERAL."""
        number = self._literal_number(node)
        innermost = node
        while isinstance(innermost, ast.UnaryOp):
            innermost = innermost.operand
        if number is not None:
            return int(number) if isinstance(innermost, ast.Constant) and isinstance(innermost.value, int) \
                else number
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, bool)):
            return node.value
        return _NOT_LITERAL


_NOT_LITERAL = object()


def _fits(kind: Kind, wanted: Kind) -> bool:
    if "any" in (kind, wanted) or kind == wanted or kind == "none":
        return True
    return wanted == "decimal" and kind == "integer"


# -- named values (`let:`) ----------------------------------------------------------------------
MAX_EXPANDED = 4 * MAX_NODES  # the nodes of an expression once its named values are written out


def expand(expression: Expression, named: Mapping[str, Expression]) -> Expression:
    """``expression`` with each name of ``named`` (a rule's ``let:`` values) replaced by its
    checked tree, so that the compiled code, messages and ``explain`` see one plain expression.

    The named trees are shared, not copied (their decimal literals are known by node identity),
    and the size once written out is bounded: ``let`` cannot make a rule grow without limit.

    >>> scope = Scope(facts={"payout": {"amount": "decimal"}}, names={"half": "decimal"})
    >>> half = parse("payout.amount / 2", Scope(facts=scope.facts))
    >>> ast.unparse(expand(parse("half > 100", scope), {"half": half}).tree)
    'payout.amount / 2 > 100'
    """
    used = {name for name in expression.names if name in named}
    if not used:
        return expression

    class _Replace(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.expr:
            return named[node.id].tree if node.id in named else node

    tree = _Replace().visit(expression.tree)  # a tree of its own, parsed for this expression
    size = sum(1 for _ in ast.walk(tree))
    if size > MAX_EXPANDED:
        raise ExpressionError("MR210", f"the expression is {size} parts long once its named values are written "
                              "out", 0, expected=f"at most {MAX_EXPANDED} parts",
                              hint="name fewer values inside each other, or split the rule's checks")
    values = [named[name] for name in sorted(used)]
    decimals = dict(expression.decimals)
    for value in values:
        decimals.update(value.decimals)
    return Expression(expression.text, tree, expression.kind,
                      expression.facts.union(*(value.facts for value in values)),
                      expression.parameters.union(*(value.parameters for value in values)),
                      expression.functions.union(*(value.functions for value in values)),
                      (expression.names - used).union(*(value.names for value in values)),
                      decimals, expression.unchecked.union(*(value.unchecked for value in values)))

