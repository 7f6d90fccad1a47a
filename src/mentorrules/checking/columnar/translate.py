"""Checked expression trees -> Polars expressions that screen rows, never decide them alone.

Each sub-expression becomes a :class:`Value`: a Polars expression for its value (null = a
missing value) and a boolean expression ``err`` that is true where the reference code would
raise (a missing value under ``<``, a key not in a parameter map, a missing related row, a
function refusing its arguments) *or where this translation cannot be sure*. A rule's screen is
then "certainly no finding": the rule is out of force, its ``when`` is certainly false, or its
``require`` is certainly true. Every other row goes to the reference code, which builds the
finding, its message and its "cannot check" reason, so reports cannot differ: a screen may only
let too many rows through, never too few.

Only the node kinds listed in :meth:`Translator.value` are translated; anything else raises
:class:`Unsupported`, and that rule runs row-at-a-time (see ``supports``). No SQL or Python text
is built: the expressions are Polars objects made from the checked trees.
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl

from mentorrules.loading.decisions import DecisionTable
from mentorrules.loading.expressions import Expression
from mentorrules.loading.parameters import Parameter

TRUE = pl.lit(True)
FALSE = pl.lit(False)


class Unsupported(Exception):
    """A construct with no columnar form here: the rule runs row-at-a-time (the reason says why)."""


@dataclass(frozen=True)
class Value:
    """A translated sub-expression: its value and where the reference would raise (never null)."""

    value: pl.Expr
    err: pl.Expr
    text: str | None = None  # the column of the exact text of a decimal column (for functions)


@dataclass(frozen=True)
class Derived:
    """A column computed by calling a registered Python function once per distinct argument
    tuple (dictionary-encoded): the columnar form of any function, exact by construction."""

    name: str
    function: Callable[..., Any]
    arguments: tuple[Value, ...]
    decimal_text: tuple[bool, ...]  # per argument: rebuild Decimal from the exact text column


@dataclass
class Scope:
    """What names mean in a table's frame.

    ``facts`` maps a fact name to (column prefix, field kinds); the record's prefix is ``""``.
    Related facts' columns are ``"<fact>.<field>"`` with ``"<fact>.__present"`` true where the
    related row exists. ``names`` maps batch names to columns; ``date`` is the column holding the
    date that picks parameter values.
    """

    facts: Mapping[str, tuple[str, Mapping[str, str]]]
    parameters: Mapping[str, Parameter]
    functions: Mapping[str, Callable[..., Any]]
    date: str = "__d"
    names: Mapping[str, str] = field(default_factory=dict)
    # (distinct aggregate, argument text) -> column of the dense rank of the argument in its group
    ranks: Mapping[tuple[str, str], str] = field(default_factory=dict)
    derived: list[Derived] = field(default_factory=list)
    prefix: str = "__f"  # of derived column names (unique per rule)


def _any(errs: Sequence[pl.Expr]) -> pl.Expr:
    errs = [e for e in errs if e is not FALSE]
    if not errs:
        return FALSE
    result = errs[0]
    for err in errs[1:]:
        result = result | err
    return result


def certain(value: Value) -> pl.Expr:
    """True where a boolean value is certainly true (computed, not missing)."""
    return (~value.err & value.value.fill_null(False)).fill_null(False)


def certainly_false(value: Value) -> pl.Expr:
    return (~value.err & ~value.value.fill_null(True)).fill_null(False)


class Translator:
    """Translates the trees of one rule against a :class:`Scope`."""

    def __init__(self, scope: Scope, expression: Expression | None = None) -> None:
        self.scope = scope
        self.expression = expression

    def of(self, expression: Expression) -> Value:
        self.expression = expression
        return self.value(expression.tree)

    def truth_of(self, expression: Expression) -> Value:
        self.expression = expression
        return self.truth(expression.tree)

    def truth(self, node: ast.expr) -> Value:
        """A value in a boolean place (``and``, ``not``, ``if``): a missing value is not a truth
        value the screen can use, so it counts as an error (the reference decides)."""
        value = self.value(node)
        return Value(value.value, (value.err | value.value.is_null()).fill_null(True))

    def value(self, node: ast.expr) -> Value:
        match node:
            case ast.Constant(value=value):
                if isinstance(value, float):
                    assert self.expression is not None
                    return Value(pl.lit(self.expression.decimals[id(node)]), FALSE)
                if value is None:
                    return Value(pl.lit(None), FALSE)
                if isinstance(value, (bool, int, str)):
                    return Value(pl.lit(value), FALSE)
                raise Unsupported(f"the constant {value!r}")
            case ast.Name(id=name) if name in self.scope.names:
                return Value(pl.col(self.scope.names[name]), FALSE)
            case ast.Attribute(value=ast.Name(id="params"), attr=name):
                return self.parameter(name)
            case ast.Attribute(value=ast.Name(id=fact), attr=name) if fact in self.scope.facts:
                return self.column(fact, name)
            case ast.Subscript(value=ast.Attribute(value=ast.Name(id="params"), attr=name), slice=key):
                return self.item(name, self.value(key))
            case ast.BoolOp(op=op, values=values):
                parts = [self.truth(part) for part in values]
                result = parts[0]
                for part in parts[1:]:
                    result = _and(result, part) if isinstance(op, ast.And) else _or(result, part)
                return result
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                inner = self.truth(operand)
                return Value(~inner.value, inner.err)
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                inner = self.value(operand)
                return Value(-inner.value, (inner.err | inner.value.is_null()).fill_null(True))
            case ast.BinOp(left=left, op=op, right=right):
                if id(node) in (self.expression.unchecked if self.expression else ()):
                    raise Unsupported("'*' or '%' with an operand of unknown kind")
                a, b = self.value(left), self.value(right)
                err = (a.err | b.err | a.value.is_null() | b.value.is_null()).fill_null(True)
                if isinstance(op, ast.Add):
                    return Value(a.value + b.value, err)
                if isinstance(op, ast.Sub):
                    return Value(a.value - b.value, err)
                if isinstance(op, ast.Mult):
                    return Value(a.value * b.value, err)
                raise Unsupported(f"the operator {type(op).__name__}")
            case ast.Compare(left=left, ops=ops, comparators=comparators):
                operands = [left, *comparators]
                chained: Value | None = None
                current = self.operand(left)
                for index, (operator, right) in enumerate(zip(ops, comparators, strict=True)):
                    step = self.compare(current, operator, right, operands[index])
                    chained = step if chained is None else _and(chained, step)
                    if index + 1 < len(ops):
                        current = self.operand(right)
                assert chained is not None
                return chained
            case ast.IfExp(test=test, body=body, orelse=orelse):
                t, b, o = self.truth(test), self.value(body), self.value(orelse)
                chosen = pl.when(t.value).then(b.value).otherwise(o.value)
                err = (t.err | pl.when(t.value).then(b.err).otherwise(o.err)).fill_null(True)
                return Value(chosen, err)
            case ast.Call(func=ast.Name(id="table_lookup" | "table_has" as call),
                          args=[ast.Constant(value=str() as table)], keywords=keywords):
                return self.decision_table(call, table, keywords)
            case ast.Call(func=ast.Name(id=name), args=args):
                return self.call(name, args)
        raise Unsupported(f"no columnar form for {ast.unparse(node)!r}")

    # -- leaves ---------------------------------------------------------------------------------
    def column(self, fact: str, name: str) -> Value:
        prefix, kinds = self.scope.facts[fact]
        column = f"{prefix}{name}"
        if name not in kinds:
            raise Unsupported(f"{fact}.{name} is not a column")
        err = FALSE if not prefix else (~pl.col(f"{prefix}__present")).fill_null(True)
        text = f"{column}.__text" if kinds[name] == "decimal" else None
        return Value(pl.col(column), err, text)

    def kind(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in self.scope.facts:
            return self.scope.facts[node.value.id][1].get(node.attr)
        return None

    def periods(self, name: str) -> list[tuple[pl.Expr, Any]]:
        """Where each dated value of a parameter is in force, by the row's date column."""
        parameter = self.scope.parameters.get(name)
        if parameter is None:
            raise Unsupported(f"params.{name} is not in scope")
        day = pl.col(self.scope.date)
        found = []
        for index, (start, value) in enumerate(zip(parameter.starts, parameter.values, strict=True)):
            during = day >= pl.lit(start)
            if index + 1 < len(parameter.starts):
                during = during & (day < pl.lit(parameter.starts[index + 1]))
            found.append((during.fill_null(False), value))
        return found

    def parameter(self, name: str) -> Value:
        periods = self.periods(name)
        chain: Any = None
        for during, value in periods:
            if isinstance(value, (dict, list, tuple, set)):
                raise Unsupported(f"params.{name} used whole")
            if not isinstance(value, (bool, int, str, Decimal, dt.date)) and value is not None:
                raise Unsupported(f"params.{name} is a {type(value).__name__}")
            chain = (pl.when(during) if chain is None else chain.when(during)).then(pl.lit(value))
        in_force = _any([during for during, value in periods if value is not None])
        result = chain.otherwise(None) if chain is not None else pl.lit(None)
        return Value(result, ~in_force)

    def item(self, name: str, key: Value) -> Value:
        """``params.map[key]``: per period, the key's entry; a key not in the map raises."""
        chain: Any = None
        found: list[pl.Expr] = []
        for during, mapping in self.periods(name):
            if mapping is None:
                continue
            if not isinstance(mapping, dict):
                raise Unsupported(f"params.{name}[...] of a {type(mapping).__name__}")
            keys = [k for k in mapping if isinstance(k, str)]
            if len(keys) != len(mapping) or not mapping:
                raise Unsupported(f"params.{name} has keys other than text")
            values = list(mapping.values())
            if any(isinstance(v, (dict, list, tuple, set)) for v in values):
                raise Unsupported(f"params.{name} holds lists or maps")
            # No cast: a key of another kind never equals a text key in the reference either
            # (Polars refuses the comparison, and the rule runs row-at-a-time).
            entry = key.value.replace_strict(keys, values, default=None)
            chain = (pl.when(during) if chain is None else chain.when(during)).then(entry)
            found.append(during & key.value.is_in(keys).fill_null(False))
        result = chain.otherwise(None) if chain is not None else pl.lit(None)
        return Value(result, (key.err | ~_any(found)).fill_null(True))

    # -- comparisons ----------------------------------------------------------------------------
    def operand(self, node: ast.expr) -> Value:
        """A comparison's operand; a whole fact (``payee``) may only be tested with ``is None``."""
        if isinstance(node, ast.Name) and node.id in self.scope.facts:
            return Value(pl.lit(None), FALSE)
        return self.value(node)

    def compare(self, left: Value, operator: ast.cmpop, right_node: ast.expr, left_node: ast.expr) -> Value:
        if isinstance(operator, (ast.In, ast.NotIn)):
            result = self.member(left, right_node)
            return Value(~result.value, result.err) if isinstance(operator, ast.NotIn) else result
        if isinstance(operator, (ast.Is, ast.IsNot)):
            if not (isinstance(right_node, ast.Constant) and right_node.value is None):
                raise Unsupported("'is' with something other than None")
            if isinstance(left_node, ast.Name) and left_node.id in self.scope.facts:
                prefix = self.scope.facts[left_node.id][0]
                if not prefix:
                    return Value(pl.lit(isinstance(operator, ast.IsNot)), FALSE)
                present = pl.col(f"{prefix}__present").fill_null(False)
                return Value(present if isinstance(operator, ast.IsNot) else ~present, FALSE)
            null = left.value.is_null()
            return Value(~null if isinstance(operator, ast.IsNot) else null, left.err)
        if isinstance(left_node, ast.Name) and left_node.id in self.scope.facts:
            raise Unsupported(f"a whole fact compared with {type(operator).__name__}")
        right = self.value(right_node)
        err = (left.err | right.err).fill_null(True)
        if isinstance(operator, ast.Eq):
            return Value(left.value.eq_missing(right.value), err)
        if isinstance(operator, ast.NotEq):
            return Value(left.value.ne_missing(right.value), err)
        # Ordering a missing value raises in the reference: a "cannot check".
        err = (err | left.value.is_null() | right.value.is_null()).fill_null(True)
        operations = {ast.Lt: pl.Expr.lt, ast.LtE: pl.Expr.le, ast.Gt: pl.Expr.gt, ast.GtE: pl.Expr.ge}
        for kind, operation in operations.items():
            if isinstance(operator, kind):
                return Value(operation(left.value, right.value), err)
        raise Unsupported(f"the comparison {type(operator).__name__}")

    def member(self, left: Value, container: ast.expr) -> Value:
        """``x in [...]`` or ``x in params.list_or_map`` (a map's keys), as Python's ``in``."""
        if isinstance(container, (ast.List, ast.Tuple)):
            items = []
            for element in container.elts:
                if not isinstance(element, ast.Constant) or not isinstance(element.value, (str, int, bool)):
                    raise Unsupported("'in' a list of non-constants")
                items.append(element.value)
            return Value(_is_in(left.value, items), left.err)
        if isinstance(container, ast.Attribute) and isinstance(container.value, ast.Name) \
                and container.value.id == "params":
            chain: Any = None
            found = []
            for during, value in self.periods(container.attr):
                if value is None:
                    continue
                if isinstance(value, (dict, list, tuple)):
                    items = list(value)
                else:
                    raise Unsupported(f"'in' a parameter that is a {type(value).__name__}")
                if not all(isinstance(item, (str, int)) and not isinstance(item, bool) for item in items):
                    raise Unsupported(f"'in' params.{container.attr} of mixed values")
                chain = (pl.when(during) if chain is None else chain.when(during)).then(_is_in(left.value, items))
                found.append(during)
            result = chain.otherwise(None) if chain is not None else pl.lit(None)
            return Value(result, (left.err | ~_any(found)).fill_null(True))
        if isinstance(container, ast.Attribute) and self.kind(container) == "list":
            # `x in row.list`: a missing list cannot be searched (the reference raises).
            listed = self.value(container)
            contained = listed.value.list.contains(left.value).fill_null(False)
            return Value(contained, (left.err | listed.err | listed.value.is_null()).fill_null(True))
        raise Unsupported("'in' something other than a list or a parameter")

    # -- functions ------------------------------------------------------------------------------
    def call(self, name: str, args: Sequence[ast.expr]) -> Value:
        if name in ("present", "missing") and len(args) == 1:
            inner = self.value(args[0])
            present = self.present(args[0], inner)
            return Value(present if name == "present" else ~present, inner.err)
        if name == "count_at_most" and len(args) == 2 and isinstance(args[0], ast.Name) \
                and (args[0].id, ast.unparse(args[1])) in self.scope.ranks:
            # The rank of a value among the distinct values of its group: a dense rank over it.
            limit = self.value(args[1])
            return Value(pl.col(self.scope.ranks[args[0].id, ast.unparse(args[1])]),
                         (limit.err | limit.value.is_null()).fill_null(True))
        if name == "either" and len(args) == 2:
            first, second = self.value(args[0]), self.value(args[1])
            present = self.present(args[0], first)
            return Value(pl.when(present).then(first.value).otherwise(second.value),
                         (first.err | (~present & second.err)).fill_null(True))
        function = self.scope.functions.get(name)
        if function is None:
            raise Unsupported(f"{name}() is not registered")
        # A computed decimal argument would come back from its column with the column's scale
        # (2.5 -> 2.50): the executor refuses it (the rule then runs row-at-a-time).
        arguments = tuple(self.value(arg) for arg in args)
        column = f"{self.scope.prefix}{len(self.scope.derived)}"
        self.scope.derived.append(Derived(column, function, arguments,
                                          tuple(value.text is not None for value in arguments)))
        return Value(pl.col(column), pl.col(f"{column}.__err").fill_null(True))

    def decision_table(self, call: str, name: str, keywords: Sequence[ast.keyword]) -> Value:
        """A decision table asked on the row's parameter date: like a registered function, called
        once per distinct (date, inputs) tuple, as the reference calls it."""
        table = self.scope.functions.get(f"table_lookup:{name}")
        if not isinstance(table, DecisionTable):
            raise Unsupported(f"the decision table {name!r} is not loaded")
        by_name = {keyword.arg: keyword.value for keyword in keywords}
        inputs = tuple(self.value(by_name[field]) for field in table.inputs)

        def ask(day: dt.date, *values: Any) -> Any:
            return table.has(day, values) if call == "table_has" else table(day, values)

        ask.__name__ = call
        arguments = (Value(pl.col(self.scope.date), FALSE), *inputs)
        column = f"{self.scope.prefix}{len(self.scope.derived)}"
        self.scope.derived.append(Derived(column, ask, arguments, tuple(value.text is not None for value in arguments)))
        return Value(pl.col(column), pl.col(f"{column}.__err").fill_null(True))

    def present(self, node: ast.expr, value: Value) -> pl.Expr:
        """``present()``: not missing, not empty text, not an empty list."""
        kind = self.kind(node)
        if kind is None and not isinstance(node, ast.Constant):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "params":
                raise Unsupported("present() of a parameter")
            if not isinstance(node, (ast.Compare, ast.BoolOp)):
                raise Unsupported(f"present() of {ast.unparse(node)!r}")
        present = value.value.is_not_null()
        if kind == "text":
            present = present & (value.value != "").fill_null(False)
        elif kind == "list":
            present = present & (value.value.list.len() > 0).fill_null(False)
        elif isinstance(node, ast.Constant):
            present = pl.lit(node.value is not None and node.value != "")
        return present


def _is_in(value: pl.Expr, items: Sequence[Any]) -> pl.Expr:
    if not items:
        return FALSE
    return value.is_in(list(items)).fill_null(False)


def _and(a: Value, b: Value) -> Value:
    """Python's ``a and b``: ``b`` is evaluated (and may raise) only where ``a`` is true."""
    value = a.value.fill_null(False) & b.value.fill_null(False)
    err = (a.err | (a.value.fill_null(False) & b.err)).fill_null(True)
    return Value(value, err)


def _or(a: Value, b: Value) -> Value:
    value = a.value.fill_null(False) | b.value.fill_null(False)
    err = (a.err | (~a.value.fill_null(True) & b.err)).fill_null(True)
    return Value(value, err)
