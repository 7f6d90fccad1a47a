"""Checked expression trees -> Python source, compiled once per engine; the recorder for `explain`.

Only trees that passed :mod:`mentorrules.loading.expressions` reach this module, and every node kind
it renders is listed below: generated code contains nothing but the engine's own names,
``repr`` of literals, and Python operators. Rule text is never ``eval``-ed.

One tree has three renderings, produced by the same function so they cannot disagree:

- ``FAST`` — what evaluation runs: a field is a record's C-level accessor, a constant parameter a global;
- ``SAFE`` — for message templates: it never raises; a value that cannot be computed (a missing
  fact or value, a function that refuses its argument) is None, which messages show as
  "(missing)";
- ``RECORD`` — for ``explain`` and for diagnosing a rule that could not be checked: the value
  of every sub-expression is recorded, a missing fact raises :class:`FactMissing`, and a
  function that refuses its arguments raises :class:`FunctionRefused` naming it and them.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal
from enum import Enum
from typing import Any

from mentorrules.generated import define
from mentorrules.loading.decisions import DecisionTable
from mentorrules.loading.expressions import Expression
from mentorrules.loading.parameters import NoValueInForce, Parameter


class Mode(Enum):
    FAST = "fast"
    SAFE = "safe"
    RECORD = "record"


# Errors that mean "this rule cannot be checked on this row" (a missing value, a missing
# related row, a parameter without a value on the date), never a bug in the engine.
CANNOT_CHECK: tuple[type[Exception], ...] = (TypeError, ArithmeticError, ValueError, LookupError, AttributeError)


class FactMissing(LookupError):
    """A rule needs a field of a related fact that is not there (no such row)."""

    def __init__(self, fact: str) -> None:
        super().__init__(fact)
        self.fact = fact


class FunctionRefused(ValueError):
    """A registered function could not compute a value from the values a rule gave it.

    Its text is the reason a rule "cannot be checked", naming the function and the values:

    >>> str(FunctionRefused("date", ("payout.role",), ("mentor",)))
    "date() cannot take payout.role = 'mentor'"
    >>> str(FunctionRefused("school_year_start", ("payout.school_year",), (None,)))
    'payout.school_year is empty, and school_year_start() needs a value'
    """

    def __init__(self, name: str, texts: tuple[str, ...], values: tuple[Any, ...]) -> None:
        self.name, self.texts, self.values = name, texts, values
        super().__init__(self.reason())

    def reason(self, masked: Collection[str] | None = None) -> str:
        """The reason, with ``[masked]`` for a value read from a ``masked`` column.

        >>> FunctionRefused("date", ("payee.name",), ("Ann Lee",)).reason({"name"})
        'date() cannot take payee.name = [masked]'
        """
        pairs = list(zip(self.texts, self.values, strict=False))
        empty = [text for text, value in pairs if value is None]
        if empty:
            return f"{empty[0]} is empty, and {self.name}() needs a value"
        shown = ", ".join(f"{text} = {MASKED if masked and set(masked) & set(_FIELD.findall(text)) else _plain(value)}"
                          for text, value in pairs)
        return f"{self.name}() cannot take {shown}"


_FIELD = re.compile(r"\.(\w+)")  # the fields an argument's text reads: payee.name -> name


def _plain(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    return repr(value) if isinstance(value, str) else str(value)


def call_recorded(name: str, function: Callable[..., Any], texts: tuple[str, ...], *arguments: Any) -> Any:
    """Call a registered function for ``explain``; a refusal names the function and its values."""
    try:
        return function(*arguments)
    except CANNOT_CHECK as error:
        raise FunctionRefused(name, texts, arguments) from error


def safe_value(compute: Callable[[], Any]) -> Any:
    """A message placeholder's value, or None ("(missing)") when it cannot be computed."""
    try:
        return compute()
    except CANNOT_CHECK:
        return None


_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Mod: "%", ast.Eq: "==", ast.NotEq: "!=",
              ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.In: "in",
              ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}


def divide(left: Decimal | int, right: Decimal | int) -> Decimal:
    """Division is always exact-decimal, never float (``1 / 3`` is ``Decimal``)."""
    return Decimal(left) / Decimal(right)


def number(value: Any) -> Any:
    """A value that ``*`` or ``%`` may take, whose kind the checker could not know.

    >>> number(Decimal("2.50")), number(3)
    (Decimal('2.50'), 3)
    >>> number("x")
    Traceback (most recent call last):
    ...
    TypeError: '*' and '%' need numbers, not str
    """
    if value.__class__ in (int, Decimal, bool):
        return value
    raise TypeError(f"'*' and '%' need numbers, not {type(value).__name__}")


def safe_get(fact: Mapping[str, Any] | None, name: str) -> Any:
    return None if fact is None else fact.get(name)


def safe_item(container: Any, key: Any) -> Any:
    try:
        return container[key]
    except (TypeError, LookupError):
        return None


@dataclass
class Namespace:
    """Globals of one generated module: constants, parameters and functions under safe names."""

    values: dict[str, Any] = field(default_factory=dict)
    _ids: dict[tuple[str, Any], str] = field(default_factory=dict)

    def add(self, prefix: str, value: Any, identity: Any = None) -> str:
        marker = (prefix, identity if identity is not None else id(value))
        name = self._ids.get(marker)
        if name is None:
            name = f"_{prefix}{len(self.values)}"
            self._ids[marker] = name
            self.values[name] = value
        return name


@dataclass
class Renderer:
    """Renders expressions for one module.

    ``facts`` maps fact names to the Python variables holding them, ``columns`` each fact's
    column positions (facts are :class:`~mentorrules.loading.tables.Record` tuples), ``parameters``
    the parameters in scope, ``functions`` the registry, ``names`` batch names to Python code.
    ``date`` is the Python variable holding the date that picks parameter values.
    """

    namespace: Namespace
    facts: Mapping[str, str]
    columns: Mapping[str, Mapping[str, int]]
    parameters: Mapping[str, Parameter]
    functions: Mapping[str, Callable[..., Any]]
    names: Mapping[str, str] = field(default_factory=dict)
    date: str = "_d"

    def render(self, expression: Expression, mode: Mode = Mode.FAST) -> str:
        code = _Render(self, expression, mode).code(expression.tree)
        if mode is Mode.SAFE:  # a message must be written whatever the row holds
            return f"_safe(lambda: {code})"
        return code


@dataclass
class _Render:
    renderer: Renderer
    expression: Expression
    mode: Mode

    def code(self, node: ast.expr) -> str:
        text = self.plain(node)
        if self.mode is Mode.RECORD and not isinstance(node, (ast.Constant, ast.List, ast.Tuple)):
            index = self.renderer.namespace.add("n", node)
            return f"_r({index!r}, {text})"
        return text

    def plain(self, node: ast.expr) -> str:
        ns = self.renderer.namespace
        match node:
            case ast.Constant(value=value):
                if isinstance(value, float):
                    exact = self.expression.decimals[id(node)]
                    return ns.add("k", exact, ("decimal", str(exact)))
                return repr(value)
            case ast.List(elts=items):
                return "[" + ", ".join(self.code(item) for item in items) + "]"
            case ast.Tuple(elts=items):
                return "(" + "".join(self.code(item) + ", " for item in items) + ")"
            case ast.Name(id=name):
                if name in self.renderer.facts:
                    return self.renderer.facts[name]
                return self.renderer.names[name]
            case ast.Attribute(value=ast.Name(id="params"), attr=name):
                return self.parameter(name)
            case ast.Attribute(value=ast.Name(id=fact), attr=name):
                variable = self.renderer.facts[fact]
                if self.mode is Mode.FAST:
                    return f"{variable}._{self.renderer.columns[fact][name]}"
                if self.mode is Mode.SAFE:
                    return f"_get({variable}, {name!r})"
                return f"_field({variable}, {name!r}, {fact!r})"
            case ast.Subscript(value=container, slice=key):
                if self.mode is Mode.SAFE:
                    return f"_item({self.code(container)}, {self.code(key)})"
                return f"{self.code(container)}[{self.code(key)}]"
            case ast.BoolOp(op=op, values=values):
                joiner = " and " if isinstance(op, ast.And) else " or "
                return "(" + joiner.join(self.code(value) for value in values) + ")"
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                return f"(not {self.code(operand)})"
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                return f"(-{self.code(operand)})"
            case ast.UnaryOp(op=ast.UAdd(), operand=operand):
                return f"(+{self.code(operand)})"
            case ast.BinOp(left=left, op=ast.Div(), right=right):
                return f"_div({self.code(left)}, {self.code(right)})"
            case ast.BinOp(left=left, op=op, right=right) if id(node) in self.expression.unchecked:
                return f"(_number({self.code(left)}) {_OPERATORS[type(op)]} _number({self.code(right)}))"
            case ast.BinOp(left=left, op=op, right=right):
                return f"({self.code(left)} {_OPERATORS[type(op)]} {self.code(right)})"
            case ast.Compare(left=left, ops=ops, comparators=comparators):
                parts = [self.code(left)]
                for comparison, right in zip(ops, comparators, strict=True):
                    parts += [_OPERATORS[type(comparison)], self.code(right)]
                return "(" + " ".join(parts) + ")"
            case ast.IfExp(test=test, body=body, orelse=orelse):
                return f"({self.code(body)} if {self.code(test)} else {self.code(orelse)})"
            case ast.Call(func=ast.Name(id="table_lookup" | "table_has" as call),
                          args=[ast.Constant(value=str() as table)], keywords=keywords):
                # A decision table, on the rule's parameter date, its inputs in the table's order.
                lookup = self.renderer.functions[f"table_lookup:{table}"]
                assert isinstance(lookup, DecisionTable)  # registered so by the rulebook
                reference = ns.add("t", lookup, ("decision table", table))
                inputs = lookup.inputs
                by_name = {keyword.arg: keyword.value for keyword in keywords}
                given = "(" + "".join(f"{self.code(by_name[name])}, " for name in inputs) + ")"
                if call == "table_has":
                    return f"{reference}.has({self.renderer.date}, {given})"
                if self.mode is Mode.RECORD:  # explain shows the row used, as a step of its own
                    shown = ns.add("n", ast.Name(id=f"{table} row used"), ("decision row", table))
                    return f"_lookup_shown({reference}, {self.renderer.date}, {given}, _r, {shown!r})"
                return f"{reference}({self.renderer.date}, {given})"
            case ast.Call(func=ast.Name(id=name), args=args):
                function = ns.add("f", self.renderer.functions[name], ("function", name))
                arguments = [self.code(arg) for arg in args]
                if self.mode is Mode.RECORD:  # a refusal then names the function and its values
                    texts = tuple(ast.unparse(arg) for arg in args)
                    return f"_call({name!r}, {function}, {texts!r}" + "".join(f", {a}" for a in arguments) + ")"
                return f"{function}(" + ", ".join(arguments) + ")"
        raise AssertionError(f"unchecked node reached the compiler: {ast.dump(node)}")

    def parameter(self, name: str) -> str:
        parameter = self.renderer.parameters[name]
        if self.mode is Mode.RECORD:
            return f"_param({name!r}, {self.renderer.date})"
        if self.mode is Mode.SAFE:
            reference = self.renderer.namespace.add("p", parameter.value_on, ("dated", parameter.pack, name))
            return f"_safe_param({reference}, {self.renderer.date})"
        if parameter.constant and parameter.values[0] is not None:
            start = parameter.starts[0]
            value = self.renderer.namespace.add("p", parameter.values[0], ("constant", parameter.pack, name))
            # A constant parameter still has no value before its first date.
            since = self.renderer.namespace.add("k", start, ("date", start.isoformat()))
            return f"({value} if {self.renderer.date} >= {since} else _no_value({name!r}, {self.renderer.date}))"
        reference = self.renderer.namespace.add("p", parameter.value_on, ("dated", parameter.pack, name))
        return f"{reference}({self.renderer.date})"


def lookup_shown(table: DecisionTable, day: dt.date, values: Sequence[Any],
                 record: Callable[[str, Any], Any], shown: str) -> Any:
    """A decision table lookup on the explain path: the row it used is recorded, then its value."""
    record(shown, table.used(day, values))
    return table.lookup(day, values)


def no_value(name: str, day: dt.date) -> Any:
    raise NoValueInForce(f"params.{name} has no value in force on {day.isoformat()}")


def safe_parameter(value_on: Callable[[dt.date], Any], day: dt.date) -> Any:
    try:
        return value_on(day)
    except NoValueInForce:
        return None


MASKED = "[masked]"


def columns_read(expression: Expression, names: Mapping[str, frozenset[str]] | None = None) -> frozenset[str]:
    """The columns an expression reads: fields of facts, and the columns behind batch ``names``.

    >>> from mentorrules.loading.expressions import Scope, parse
    >>> scope = Scope(facts={"payee": {"name": "text", "career_year": "integer"}})
    >>> sorted(columns_read(parse("payee.name == 'Ana' and payee.career_year > 1", scope)))
    ['career_year', 'name']
    """
    found: set[str] = set()
    for node in ast.walk(expression.tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id != "params":
            found.add(node.attr)
        elif isinstance(node, ast.Name) and names and node.id in names:
            found |= names[node.id]
    return frozenset(found)


CENT = Decimal("0.01")
ROUNDINGS = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN, "down": ROUND_DOWN, "up": ROUND_UP}


def in_cents(value: Any, rounding: str = ROUND_HALF_UP) -> Any:
    """A computed amount as a message shows it: in cents, rounded (half-up unless the rule says).

    >>> in_cents(Decimal("3000.00") * Decimal("0.25")), in_cents(Decimal("0.125")), in_cents("x")
    (Decimal('750.00'), Decimal('0.13'), 'x')
    """
    if value.__class__ is Decimal and value.is_finite():
        return value.quantize(CENT, rounding=rounding)
    return value


def computed(expression: Expression) -> bool:
    """Whether a message piece is an amount computed by ``*`` or ``/`` (shown in cents)."""
    return expression.kind in ("decimal", "any") and any(
        isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)) for node in ast.walk(expression.tree))


def message_code(parts: Sequence[str | Expression], renderer: Renderer,
                 names: Mapping[str, frozenset[str]] | None = None, rounding: str = "half_up") -> str:
    """The Python expression of a message template; a piece that reads a column named in
    ``_masked`` (a parameter of the generated function) shows ``[masked]`` instead of a value,
    whatever the piece does with the column (``lower(payee.name)`` is masked too). An amount
    computed by ``*`` or ``/`` is shown in cents, rounded as the rule says (``rounding``,
    half-up by default; ``none`` shows every place)."""
    pieces = []
    for part in parts:
        if not isinstance(part, Expression):
            pieces.append(repr(part))
            continue
        value = renderer.render(part, Mode.SAFE)
        if rounding != "none" and computed(part):
            value = f"_cents({value}, {ROUNDINGS[rounding]!r})"
        shown = f"_show({value})"
        columns = columns_read(part, names)
        if columns:
            reference = renderer.namespace.add("m", columns, ("columns", tuple(sorted(columns))))
            shown = f"(_MASKED if _masked and not _masked.isdisjoint({reference}) else {shown})"
        pieces.append(shown)
    return " + ".join(pieces) or "''"


BASE_GLOBALS: dict[str, Any] = {
    "__builtins__": {}, "_div": divide, "_get": safe_get, "_item": safe_item, "_number": number,
    "_no_value": no_value, "_safe_param": safe_parameter, "_CANNOT": CANNOT_CHECK, "_str": str,
    "_safe": safe_value, "_call": call_recorded, "_MASKED": MASKED, "_cents": in_cents,
    "_lookup_shown": lookup_shown,
}


def build(source: str, namespace: Namespace, filename: str) -> dict[str, Any]:
    """Compile generated source with the module's globals; returns the module's globals."""
    return define(source, {**BASE_GLOBALS, **namespace.values}, filename)


@dataclass
class Recorder:
    """Collects the value of each sub-expression while a RECORD rendering runs."""

    parameters: Mapping[str, Parameter]
    values: dict[str, Any] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    used_parameters: dict[str, tuple[dt.date, Any]] = field(default_factory=dict)

    def globals(self, namespace: Namespace) -> dict[str, Any]:
        return {"_r": self.record, "_field": self.field, "_param": self.parameter}

    def record(self, index: str, value: Any) -> Any:
        if index not in self.values:
            self.order.append(index)
        self.values[index] = value
        return value

    def field(self, fact: Mapping[str, Any] | None, name: str, fact_name: str) -> Any:
        if fact is None:
            raise FactMissing(fact_name)
        return fact.get(name)

    def parameter(self, name: str, day: dt.date) -> Any:
        parameter = self.parameters[name]
        value = parameter.value_on(day)
        self.used_parameters[name] = (parameter.in_force_since(day), value)
        return value
