"""Packs' YAML files -> checked rules and parameters, with every problem of every file located.

This is the load stage: schema checks, parameter reading, expression checks against the
scope each rule sees, message templates, unique ids across packs, function and column clashes.
Its output, a :class:`RuleBook`, is plain frozen data that the compiler turns into code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from mentorrules import schema
from mentorrules.errors import Location, Problem, one_of
from mentorrules.expressions import Expression, ExpressionError, Kind, Scope, Signature, parse
from mentorrules.loading import Document, JsonPath, load_yaml, read_text
from mentorrules.packs import Pack
from mentorrules.parameters import Parameter, read_parameters
from mentorrules.tables import KINDS, Table, contract


class Severity(str, Enum):
    """How much a finding matters: only ``error`` makes a row fail."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Source:
    """Where a rule comes from: the document, its section and a link."""

    title: str
    section: str | None = None
    url: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, str]:
        return {key: value for key, value in (("title", self.title), ("section", self.section),
                                              ("url", self.url), ("note", self.note)) if value}

    def __str__(self) -> str:
        text = self.title + (f", {self.section}" if self.section else "")
        return text + (f" <{self.url}>" if self.url else "")


@dataclass(frozen=True)
class Rule:
    """One checked rule, ready to compile."""

    id: str
    title: str
    table: str
    pack: str
    jurisdiction: str | None
    require: Expression
    when: Expression | None
    severity: Severity
    message: tuple[str | Expression, ...]
    source: Source | None
    location: Location
    description: str = ""
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    parameters_on: str = "record_date"
    tags: tuple[str, ...] = ()

    @property
    def parameters(self) -> frozenset[str]:
        used = set(self.require.parameters)
        if self.when is not None:
            used |= self.when.parameters
        for part in self.message:
            if isinstance(part, Expression):
                used |= part.parameters
        return frozenset(used)


@dataclass(frozen=True)
class RuleBook:
    """Everything loaded: packs, tables, rules, parameters per pack, functions, digest."""

    packs: tuple[Pack, ...]
    tables: Mapping[str, Table]
    rules: tuple[Rule, ...]
    parameters: Mapping[str, Mapping[str, Parameter]]
    functions: Mapping[str, Callable[..., Any]]
    signatures: Mapping[str, Signature]
    digest: str
    problems: tuple[Problem, ...] = ()

    def parameters_for(self, pack: str) -> dict[str, Parameter]:
        """The parameters a pack's rules see: core's, then the pack's own (which win)."""
        return {**self.parameters.get("core", {}), **self.parameters.get(pack, {})}


# -- functions and signatures -----------------------------------------------------------------
_PYTHON_KINDS: dict[Any, Kind] = {str: "text", int: "integer", Decimal: "decimal", bool: "boolean",
                                  dt.date: "date", list: "list", dict: "map"}


def signature_of(function: Callable[..., Any]) -> Signature:
    """The expression-checker signature of a function, from its type hints.

    >>> from mentorrules.functions import school_year
    >>> signature_of(school_year)
    Signature(parameters=('date', 'text'), returns='text', optional=1, accepts_missing=False)
    """
    try:
        hints = typing.get_type_hints(function)
    except (NameError, TypeError):
        hints = {}
    parameters = [p for p in inspect.signature(function).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    kinds = tuple(_kind_of_hint(hints.get(p.name)) for p in parameters)
    optional = sum(1 for p in parameters if p.default is not p.empty)
    accepts_missing = any(hints.get(p.name) in (Any, object) for p in parameters)
    return Signature(kinds, _kind_of_hint(hints.get("return")), optional, accepts_missing)


def _kind_of_hint(hint: Any) -> Kind:
    if hint in _PYTHON_KINDS:
        return _PYTHON_KINDS[hint]
    origin = typing.get_origin(hint)
    if origin in (list, Sequence):
        return "list"
    if origin in (dict, Mapping):
        return "map"
    if origin in (typing.Union, types.UnionType):
        members = {_kind_of_hint(arg) for arg in typing.get_args(hint) if arg is not type(None)}
        return members.pop() if len(members) == 1 else "any"
    return "any"


# -- loading ------------------------------------------------------------------------------------
def load(packs: Sequence[Pack]) -> RuleBook:
    """Load and check every file of ``packs``; problems are collected, never raised."""
    problems: list[Problem] = []
    functions, function_problems = _merge_functions(packs)
    problems += function_problems
    extra_fields, field_problems = _merge_fields(packs)
    problems += field_problems
    tables = contract(extra_fields)
    signatures = {name: signature_of(function) for name, function in functions.items()}

    parameters: dict[str, dict[str, Parameter]] = {}
    for pack in packs:
        own: dict[str, Parameter] = {}
        for path in pack.parameter_files:
            document, file_problems = _document(path, schema.PARAMETERS)
            problems += file_problems
            if document is None:
                continue
            loaded, parameter_problems = read_parameters(document, pack.name)
            problems += parameter_problems
            for parameter in loaded:
                if parameter.name in own:
                    problems.append(Problem("MR122", f"the parameter {parameter.name!r} is defined twice in "
                                            f"the pack {pack.name!r}", parameter.location,
                                            hint=f"the other is at {own[parameter.name].location}"))
                own[parameter.name] = parameter
        parameters[pack.name] = own

    rules: list[Rule] = []
    for pack in packs:
        visible = {**parameters.get("core", {}), **parameters.get(pack.name, {})}
        for path in pack.rule_files:
            document, file_problems = _document(path, schema.RULES)
            problems += file_problems
            if document is None:
                continue
            loaded, rule_problems = _read_rules(document, pack, tables, visible, signatures)
            rules += loaded
            problems += rule_problems
    problems += _duplicate_ids(rules)
    return RuleBook(tuple(packs), tables, tuple(rules), parameters, functions, signatures,
                    _digest(packs), tuple(problems))


def _document(path: Path, schema_name: str) -> tuple[Document | None, list[Problem]]:
    text, problem = read_text(path)
    if problem is not None or text is None:
        return None, [problem] if problem else []
    document, problems = load_yaml(text, str(path))
    if problems:
        return None, problems
    problems = schema.check(document, schema_name)
    return (None if problems else document), problems


def _merge_functions(packs: Sequence[Pack]) -> tuple[dict[str, Callable[..., Any]], list[Problem]]:
    merged: dict[str, Callable[..., Any]] = {}
    owner: dict[str, str] = {}
    problems = []
    for pack in packs:
        for name, function in pack.functions.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or not callable(function):
                problems.append(Problem("MR405", f"the pack {pack.name!r} offers an invalid function {name!r}",
                                        Location(f"pack {pack.name}"),
                                        expected="a lower_case name and a plain function"))
                continue
            if name in merged:
                problems.append(Problem("MR405", f"the function {name!r} is offered by both {owner[name]!r} "
                                        f"and {pack.name!r}", Location(f"pack {pack.name}"),
                                        hint="rename one of them"))
                continue
            merged[name], owner[name] = function, pack.name
    return merged, problems


def _merge_fields(packs: Sequence[Pack]) -> tuple[dict[str, dict[str, Kind]], list[Problem]]:
    core = contract()
    merged: dict[str, dict[str, Kind]] = {}
    problems = []
    for pack in packs:
        for table, columns in pack.fields.items():
            where = Location(f"pack {pack.name}")
            if table not in core:
                problems.append(Problem("MR406", f"the pack {pack.name!r} adds columns to an unknown table "
                                        f"{table!r}", where, expected=one_of(core)))
                continue
            for column, kind in columns.items():
                known = merged.get(table, {}).get(column) or core[table].fields.get(column)
                if kind not in KINDS:
                    problems.append(Problem("MR406", f"the column {table}.{column} has an unknown type {kind!r}",
                                            where, expected=one_of(KINDS)))
                elif known is not None and known != kind:
                    problems.append(Problem("MR406", f"the column {table}.{column} is already {known}; "
                                            f"the pack {pack.name!r} declares it {kind}", where))
                else:
                    merged.setdefault(table, {})[column] = typing.cast(Kind, kind)
    return merged, problems


def scope_for(table: Table, tables: Mapping[str, Table], parameters: Mapping[str, Parameter],
              signatures: Mapping[str, Signature], names: Mapping[str, Kind] | None = None) -> Scope:
    """The names a rule on ``table`` sees: its record, related facts, parameters, functions."""
    facts = {table.record: table.fields}
    fact_tables = {table.record: table.name}
    for relation in table.relations.values():
        facts[relation.name] = tables[relation.table].fields
        fact_tables[relation.name] = relation.table
    return Scope(facts=facts, parameters={name: p.kinds for name, p in parameters.items()},
                 functions=signatures, names=names or {}, fact_tables=fact_tables)


def _read_rules(document: Document, pack: Pack, tables: Mapping[str, Table],
                parameters: Mapping[str, Parameter],
                signatures: Mapping[str, Signature]) -> tuple[list[Rule], list[Problem]]:
    rules, problems = [], []
    for index, spec in enumerate(document.value["rules"]):
        path: JsonPath = ("rules", index)
        table = tables[spec["table"]]
        scope = scope_for(table, tables, parameters, signatures)
        rule_problems: list[Problem] = []

        def expression(key: str, want: Kind | None, path: JsonPath = path,
                       scope: Scope = scope, rule_problems: list[Problem] = rule_problems) -> Expression | None:
            text = spec.get(key)
            if text is None:
                return None
            return _parse_located(document, (*path, key), str(text), scope, want, rule_problems)

        require = expression("require", "boolean")
        when = expression("when", "boolean")
        message = _template(document, (*path, "message"), spec["message"], scope, rule_problems)
        effective = spec.get("effective") or {}
        start, end = _date(effective.get("from")), _date(effective.get("to"))
        if start and end and start > end:
            rule_problems.append(Problem("MR120", "the rule's effective period ends before it starts",
                                         document.location((*path, "effective")),
                                         expected="'from' on or before 'to'"))
        problems += rule_problems
        if rule_problems or require is None:
            continue
        source = spec.get("source")
        rules.append(Rule(
            id=spec["id"], title=spec["title"], table=table.name, pack=pack.name,
            jurisdiction=pack.jurisdiction, require=require, when=when,
            severity=Severity(spec.get("severity", "error")), message=message,
            source=Source(**source) if source else None,
            location=document.location((*path, "id")), description=spec.get("description", ""),
            effective_from=start, effective_to=end,
            parameters_on=spec.get("parameters_on", "record_date"), tags=tuple(spec.get("tags", ()))))
    return rules, problems


def _parse_located(document: Document, path: JsonPath, text: str, scope: Scope, want: Kind | None,
                   problems: list[Problem], offset: int = 0) -> Expression | None:
    try:
        return parse(text, scope, want=want)
    except ExpressionError as error:
        problems.append(Problem(error.code, error.message,
                                document.location(path, offset=offset + error.offset),
                                expected=error.expected, hint=error.hint))
        return None


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def _template(document: Document, path: JsonPath, text: str, scope: Scope,
              problems: list[Problem]) -> tuple[str | Expression, ...]:
    """Split a message template into text and checked expressions (``{payout.amount}``)."""
    parts: list[str | Expression] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        parts.append(text[position:match.start()])
        position = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            parts.append(token[0])
        elif match.group(1) is None:
            problems.append(Problem("MR208", f"an unmatched {token!r} in the message",
                                    document.location(path, offset=match.start()),
                                    hint="write {{ or }} for a literal brace"))
        else:
            inner = match.group(1)
            expression = _parse_located(document, path, inner, scope, None, problems,
                                        offset=match.start(1))
            if expression is not None:
                parts.append(expression)
    parts.append(text[position:])
    return tuple(part for part in parts if part != "")


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _duplicate_ids(rules: Sequence[Rule]) -> list[Problem]:
    first: dict[str, Rule] = {}
    problems = []
    for rule in rules:
        if rule.id in first:
            other = first[rule.id]
            problems.append(Problem("MR130", f"the rule id {rule.id!r} is used twice", rule.location,
                                    expected="rule ids unique across all loaded packs",
                                    hint=f"the other is at {other.location} (pack {other.pack!r})"))
        else:
            first[rule.id] = rule
    return problems


def _digest(packs: Sequence[Pack]) -> str:
    """sha256 of every pack's name, version and rule, parameter and test file contents."""
    digest = hashlib.sha256()
    for pack in sorted(packs, key=lambda pack: pack.name):
        digest.update(f"pack {pack.name} {pack.version}\n".encode())
        for path in sorted((*pack.rule_files, *pack.parameter_files), key=lambda p: p.name):
            digest.update(f"file {path.name}\n".encode())
            try:
                digest.update(path.read_bytes())
            except OSError:
                digest.update(b"<unreadable>")
    return "sha256:" + digest.hexdigest()
