"""Packs' YAML files -> checked rules and parameters, with every problem of every file located.

This is the load stage: schema checks, parameter reading, expression checks against the
scope each rule sees, message templates, unique ids across packs, function and column clashes.
Its output, a :class:`RuleBook`, is plain frozen data that the compiler turns into code.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import hashlib
import inspect
import os
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from mentorrules.errors import Location, Problem, did_you_mean, one_of
from mentorrules.loading import schemas
from mentorrules.loading.decisions import DecisionTable, load_table
from mentorrules.loading.expressions import (
    Expression,
    ExpressionError,
    Kind,
    Scope,
    Signature,
    expand,
    parse,
    wrapped,
)
from mentorrules.loading.parameters import Parameter, read_parameters
from mentorrules.loading.tables import KINDS, Table, contract
from mentorrules.located import Document, JsonPath, load_yaml, read_text
from mentorrules.model import Severity, Source
from mentorrules.packs.discovery import Pack

AGGREGATES: Mapping[str, Signature] = {
    "count": Signature((), "integer"),
    "count_distinct": Signature(("any",), "integer"),
    "distinct": Signature(("any",), "list"),
    "sum": Signature(("decimal",), "decimal"),
    "min": Signature(("any",), "any"),
    "max": Signature(("any",), "any"),
}


@dataclass(frozen=True)
class Aggregate:
    """``count()``, ``count_distinct(x)``, ``distinct(x)`` (the sorted distinct values), ``sum(x)``,
    ``min(x)`` or ``max(x)`` over rows."""

    name: str
    function: str
    argument: Expression | None
    kind: Kind


@dataclass(frozen=True)
class Lookup:
    """An aggregate over the rows of another table that are linked to a row by equal keys.

    ``record_keys[i]`` (over the row) must equal one of ``other_keys[i]`` (over the other row).
    """

    name: str
    table: str
    alias: str
    record_keys: tuple[Expression, ...]
    other_keys: tuple[tuple[Expression, ...], ...]
    where: Expression | None
    aggregate: Aggregate
    only_passing: tuple[str, ...] = ()


@dataclass(frozen=True)
class Batch:
    """What makes a rule a batch rule: its groups, their aggregates, and its lookups."""

    group_by: tuple[tuple[str, Expression], ...] = ()
    aggregates: tuple[Aggregate, ...] = ()
    lookups: tuple[Lookup, ...] = ()
    findings_on: str = "rows"
    hold: str = "all"  # "later": only the rows from the first at which the rule fails, by date (see batch.py)


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
    batch: Batch | None = None
    check: str | None = None  # the name of this check, for one of the `checks:` of a rule
    named: tuple[tuple[str, str], ...] = ()  # its `let:` values (name, text), for docs
    rounding: str = "half_up"  # how its messages show amounts computed by * or / (in cents)
    parameters_on_said: bool = False  # whether the rule says parameters_on (lint asks it of some rules)

    @property
    def expressions(self) -> tuple[Expression, ...]:
        """Every expression of the rule, for analyses such as lint."""
        found = [self.require, *(part for part in self.message if isinstance(part, Expression))]
        if self.when is not None:
            found.append(self.when)
        if self.batch is not None:
            found += [expression for _, expression in self.batch.group_by]
            aggregates = [*self.batch.aggregates, *(lookup.aggregate for lookup in self.batch.lookups)]
            found += [a.argument for a in aggregates if a.argument is not None]
            for lookup in self.batch.lookups:
                found += [*lookup.record_keys, *(key for keys in lookup.other_keys for key in keys)]
                if lookup.where is not None:
                    found.append(lookup.where)
        return tuple(found)

    @property
    def parameters(self) -> frozenset[str]:
        return frozenset(name for expression in self.expressions for name in expression.parameters)


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
    decision_tables: Mapping[str, DecisionTable] = dataclasses.field(default_factory=dict)

    def parameters_for(self, pack: str) -> dict[str, Parameter]:
        """The parameters a pack's rules see: core's, then the pack's own (which win)."""
        return {**self.parameters.get("core", {}), **self.parameters.get(pack, {})}


# -- functions and signatures -----------------------------------------------------------------
_PYTHON_KINDS: dict[Any, Kind] = {str: "text", int: "integer", Decimal: "decimal", bool: "boolean",
                                  dt.date: "date", list: "list", dict: "map"}


def signature_of(function: Callable[..., Any]) -> Signature:
    """The expression-checker signature of a function, from its type hints.

    >>> from mentorrules.packs.functions import school_year
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
    return Signature(kinds, _kind_of_hint(hints.get("return")), optional, accepts_missing, function)


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
    decisions: dict[str, DecisionTable] = {}
    declared: dict[str, tuple[str, tuple[str, ...]]] = {}  # every declared table: pack, inputs
    for pack in packs:
        own: dict[str, Parameter] = {}
        for path in pack.parameter_files:
            document, file_problems, broken = _document(path, schemas.PARAMETERS)
            problems += file_problems
            if document is None:
                continue
            problems += _decision_tables(document, path, pack, broken, decisions, declared)
            if "parameters" not in (document.value if isinstance(document.value, dict) else {}):
                continue
            loaded, parameter_problems = read_parameters(document, pack.name, broken)
            problems += parameter_problems
            for parameter in loaded:
                if parameter.name in own:
                    problems.append(Problem("MR122", f"the parameter {parameter.name!r} is defined twice in "
                                            f"the pack {pack.name!r}", parameter.location,
                                            hint=f"the other is at {own[parameter.name].location}"))
                own[parameter.name] = parameter
        parameters[pack.name] = own
    first = min((parameter.starts[0] for parameter in parameters.get("core", {}).values() if parameter.starts),
                default=dt.date(2000, 1, 1))
    parameters.setdefault("core", {})["pack_grants"] = _pack_grants(packs, first)

    for name, table in decisions.items():
        functions[f"table_lookup:{name}"] = table  # the generated code calls it with the date
    rules: list[Rule] = []
    for pack in packs:
        visible = {**parameters.get("core", {}), **parameters.get(pack.name, {})}
        # The decision tables its rules see; one that could not be read (its problems are
        # reported) is still known by name, so that its rules are not reported as well.
        view: dict[str, tuple[tuple[str, ...], Kind]] = {
            name: (inputs, decisions[name].kind if name in decisions else "any")
            for name, (owner, inputs) in declared.items() if owner in ("core", pack.name)}
        for path in pack.rule_files:
            document, file_problems, broken = _document(path, schemas.RULES)
            problems += file_problems
            if document is None:
                continue
            pack_rules, rule_problems = _read_rules(document, pack, tables, visible, signatures, broken, view)
            rules += pack_rules
            problems += _parameters_beside(path, pack, rule_problems)
    problems += _duplicate_ids(rules)
    problems += _unknown_passing(rules)
    return RuleBook(tuple(packs), tables, tuple(rules), parameters, functions, signatures,
                    _digest(packs), tuple(problems), decisions)


def _decision_tables(document: Document, path: Path, pack: Pack, broken: set[JsonPath],
                     found: dict[str, DecisionTable], declared: dict[str, tuple[str, tuple[str, ...]]]
                     ) -> list[Problem]:
    """The decision tables a parameter file declares, read from their spreadsheets."""
    specs = document.value.get("decision_tables") if isinstance(document.value, dict) else None
    problems: list[Problem] = []
    for name, spec in (specs.items() if isinstance(specs, dict) else ()):
        where = document.location(("decision_tables", name))
        if any(at[:2] == ("decision_tables", name) for at in broken) or not isinstance(spec, dict):
            continue
        if name in declared:
            problems.append(Problem("MR166", f"the decision table {name!r} is declared twice", where,
                                    hint=f"the other is in the pack {declared[name][0]!r}"))
            continue
        declared[name] = (pack.name, tuple(str(item) for item in spec.get("inputs", ())))
        table, table_problems = load_table(name, pack.name, spec, path.parent, where)
        problems += table_problems
        if table is not None:
            found[name] = table
    return problems


def _pack_grants(packs: Sequence[Pack], first: dt.date) -> Parameter:
    """``params.pack_grants``: the grants packs declare as their own (not federal awards), in
    force from the first date of core's parameters (so that it never starts a rule's period)."""
    owned = sorted({grant for pack in packs for grant in pack.spec.grants})
    return Parameter("pack_grants", "core", "Grants that packs declare as their own (a state's match pool, not a "
                     "federal award): core cost-share rules leave them to their pack.",
                     (first,), (owned,), stable=True,
                     location=Location("the packs' declarations (PackSpec.grants, pack.yaml grants:)"))


def _parameters_beside(path: Path, pack: Pack, problems: list[Problem]) -> list[Problem]:
    """Point an unknown parameter of a rule file given alone at the parameter files beside it.

    ``--rules p/caps.yaml`` loads that one file, not ``p/parameters.yaml``: the folder is the pack.
    """
    if path not in pack.spec.rule_dirs or not [*path.parent.glob("parameters.yaml"),
                                                *path.parent.glob("*.parameters.yaml")]:
        return problems
    hint = f"parameters are read from the folder: give {path.parent}{os.sep} instead of the file {path}"
    return [dataclasses.replace(problem, hint=hint)
            if problem.code == "MR203" and problem.message.startswith("unknown parameter ") else problem
            for problem in problems]


def _document(path: Path, schema_name: str) -> tuple[Document | None, list[Problem], set[JsonPath]]:
    """A loaded, schema-checked file, its problems, and the paths of the nodes that have one.

    A file with a problem is still returned when it could be parsed at all, so that one broken
    rule or parameter does not hide the mistakes of the others.
    """
    text, problem = read_text(path)
    if problem is not None or text is None:
        return None, [problem] if problem else [], set()
    document, problems = load_yaml(text, str(path))
    if document.value is None and problems:  # not YAML at all: nothing more to check
        return None, problems, set()
    found = schemas.violations(document, schema_name)
    broken = {*document.invalid, *(at for at, _ in found)}
    return document, problems + [problem for _, problem in found], broken


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
                    merged.setdefault(table, {})[column] = kind
    return merged, problems


def scope_for(table: Table, tables: Mapping[str, Table], parameters: Mapping[str, Parameter],
              signatures: Mapping[str, Signature], names: Mapping[str, Kind] | None = None,
              decision_tables: Mapping[str, tuple[tuple[str, ...], Kind]] | None = None) -> Scope:
    """The names a rule on ``table`` sees: its record, related facts, parameters, functions."""
    facts = {table.record: table.fields}
    fact_tables = {table.record: table.name}
    for relation in table.relations.values():
        facts[relation.name] = tables[relation.table].fields
        fact_tables[relation.name] = relation.table
    return Scope(facts=facts, parameters={name: p.kinds for name, p in parameters.items()},
                 functions=signatures, names=names or {}, fact_tables=fact_tables,
                 decision_tables=decision_tables or {})


# A schema problem in one of these fields leaves nothing sound to check the rule's expressions in.
_FOUNDATIONS = frozenset({"table", "group_by", "aggregate", "lookup", "findings_on", "hold"})


def _read_rules(document: Document, pack: Pack, tables: Mapping[str, Table],
                parameters: Mapping[str, Parameter], signatures: Mapping[str, Signature],
                broken: set[JsonPath], decision_tables: Mapping[str, tuple[tuple[str, ...], Kind]] | None = None,
                ) -> tuple[list[Rule], list[Problem]]:
    """The rules of a schema-checked file; ``broken`` are the paths of the problems found so far.

    Every rule is checked, and every part of a rule that is sound: a rule with a schema
    problem (a missing title, an unknown severity) still has its expressions checked, unless
    its table or batch fields are broken; only rules without any problem are returned.
    """
    rules, problems = [], []
    specs = document.value.get("rules") if isinstance(document.value, dict) else None
    shared = document.value.get("let") if isinstance(document.value, dict) else None
    shared = shared if isinstance(shared, dict) and not any(at[:1] == ("let",) for at in broken) else {}
    for index, spec in enumerate(specs if isinstance(specs, list) else ()):
        path: JsonPath = ("rules", index)
        faults = {at[2:] for at in broken if at[:2] == path}
        if not isinstance(spec, dict) or not isinstance(spec.get("table"), str) or spec["table"] not in tables \
                or any(fault and fault[0] in _FOUNDATIONS for fault in faults):
            continue

        def sound(field: str, spec: Mapping[str, Any] = spec, faults: set[JsonPath] = faults) -> Any:
            """The field's value, or None when the schema found it wrong (already reported)."""
            return None if any(fault[:1] == (field,) for fault in faults) else spec.get(field)

        table = tables[spec["table"]]
        scope = scope_for(table, tables, parameters, signatures, decision_tables=decision_tables)
        rule_problems: list[Problem] = []
        reader = _RuleReader(document, path, rule_problems)
        batch = None
        if any(key in spec for key in ("group_by", "aggregate", "lookup")):
            batch, scope = reader.batch(spec, table, tables, scope)
        named, scope, when_scope = reader.named_values(sound("let"), scope,
                                                       scope_for(table, tables, parameters, signatures,
                                                                 decision_tables=decision_tables),
                                                       shared, spec)
        require = reader.expression(sound("require"), ("require",), scope, "boolean", named)
        when = reader.expression(sound("when"), ("when",), when_scope, "boolean", named)
        message_text = sound("message")
        message = _template(document, (*path, "message"), message_text, scope, rule_problems, named) \
            if isinstance(message_text, str) else ()
        checks = reader.checks(sound("checks"), spec, scope, named, batch is not None)
        effective = sound("effective") or {}
        start, end = _date(effective.get("from")), _date(effective.get("to"))
        if start and end and start > end:
            rule_problems.append(Problem("MR120", "the rule's effective period ends before it starts",
                                         document.location((*path, "effective")),
                                         expected="'from' on or before 'to'"))
        problems += rule_problems
        if rule_problems or faults or (require is None and not checks):
            continue
        source = spec.get("source")
        rule = Rule(
            id=spec["id"], title=spec["title"], table=table.name, pack=pack.name,
            jurisdiction=pack.jurisdiction, require=require or checks[0][1], when=when,
            severity=Severity(spec.get("severity", "error")), message=message,
            source=Source(**source) if source else None,
            location=document.location((*path, "id")), description=spec.get("description", ""),
            effective_from=start, effective_to=end,
            parameters_on=spec.get("parameters_on", "record_date"), tags=tuple(spec.get("tags", ())),
            batch=batch, rounding=spec.get("rounding", "half_up"), parameters_on_said="parameters_on" in spec,
            named=tuple((name, expression.text.strip()) for name, expression in named.items()))
        # A rule with checks is one rule checked several ways: one Rule per check, sharing the
        # rule's id, each giving its own finding (so a row can fail several checks at once).
        rules += [dataclasses.replace(rule, require=check_require, message=check_message, check=name)
                  for name, check_require, check_message in checks] if checks else [rule]
    return rules, problems


@dataclass
class _RuleReader:
    """Parses the expressions of one rule, collecting located problems."""

    document: Document
    path: JsonPath
    problems: list[Problem]

    def expression(self, text: Any, at: JsonPath, scope: Scope, want: Kind | None = None,
                   named: Mapping[str, Expression] | None = None) -> Expression | None:
        if text is None:
            return None
        return _parse_located(self.document, (*self.path, *at), str(text), scope, want, self.problems, named=named)

    def fail(self, at: JsonPath, message: str, hint: str | None = None, code: str = "MR209") -> None:
        self.problems.append(Problem(code, message, self.document.location((*self.path, *at)), hint=hint))

    def named_values(self, spec: Any, scope: Scope, when_scope: Scope, shared: Mapping[str, Any] | None = None,
                     rule: Mapping[str, Any] | None = None) -> tuple[dict[str, Expression], Scope, Scope]:
        """A rule's ``let:`` values, each checked in the scope of ``require`` (with the values
        named before it), and the scopes of ``require`` and ``when`` that see them (``when``
        only those that use no group name or aggregate). ``shared`` are the file's own ``let:``
        values: those the rule names (and those they name) come first, checked in its scope."""
        named: dict[str, Expression] = {}
        own = dict(spec) if isinstance(spec, dict) else {}
        used = _file_values_used(shared or {}, rule or {})
        values: list[tuple[str, Any, JsonPath]] = [(name, (shared or {})[name], ("let", name)) for name in used]
        values += [(name, text, (*self.path, "let", name)) for name, text in own.items()]
        for name, text, path in values:
            taken = ("a fact" if name in scope.facts else "a function" if name in scope.functions
                     else "the parameters" if name == "params" else "a group name or aggregate"
                     if name in scope.names else None)
            if taken is None and (name in named or (path[0] != "let" and name in (shared or {}))):
                taken = "a value the file names"
            if taken is not None:
                self.problems.append(Problem("MR150", f"the name {name!r} is already {taken} here",
                                             self.document.location(path), hint="choose another name for the value"))
                continue
            current = dataclasses.replace(scope, names={**scope.names, **{n: e.kind for n, e in named.items()}})
            expression = _parse_located(self.document, path, str(text), current, None, self.problems, named=named)
            if expression is not None:
                named[name] = expression
        kinds = {name: expression.kind for name, expression in named.items()}
        batch_names = set(scope.names)
        plain = {name: kind for name, kind in kinds.items() if not named[name].names & batch_names}
        return (named, dataclasses.replace(scope, names={**scope.names, **kinds}),
                dataclasses.replace(when_scope, names={**when_scope.names, **plain}))

    def checks(self, spec: Any, rule: Mapping[str, Any], scope: Scope, named: Mapping[str, Expression],
               batch: bool) -> list[tuple[str, Expression, tuple[str | Expression, ...]]]:
        """A rule's ``checks:``, as (name, require, message); problems for their misuse."""
        if not isinstance(spec, dict):
            return []
        for field in ("require", "message"):
            if field in rule:
                self.fail((field,), f"a rule with checks has no {field} of its own: each check has one",
                          code="MR151", hint="move it into a check, or remove 'checks'")
        if batch:
            self.fail(("checks",), "checks are for rules on one row; a batch rule has one require",
                      code="MR152", hint="write one batch rule per condition")
            return []
        found = []
        for name, check in spec.items():
            if not isinstance(check, dict):
                continue
            require = self.expression(check.get("require"), ("checks", name, "require"), scope, "boolean", named)
            text = check.get("message")
            message = _template(self.document, (*self.path, "checks", name, "message"), text, scope,
                                self.problems, named) if isinstance(text, str) else ()
            if require is not None:
                found.append((name, require, message))
        return found

    def batch(self, spec: Mapping[str, Any], table: Table, tables: Mapping[str, Table],
              scope: Scope) -> tuple[Batch | None, Scope]:
        """The batch part of a rule, and the scope its require and message see."""
        group_spec = spec.get("group_by") or []
        if isinstance(group_spec, list):
            group_spec = {text.rsplit(".", 1)[-1].strip(): text for text in group_spec}
        group_by = []
        names: dict[str, Kind] = {}
        for name, text in group_spec.items():
            at = ("group_by", name) if isinstance(spec["group_by"], dict) else \
                ("group_by", list(group_spec).index(name))
            expression = self.expression(text, at, scope)
            if expression is not None:
                group_by.append((name, expression))
                names[name] = expression.kind
        aggregates = []
        if spec.get("aggregate") and not group_by:
            self.fail(("aggregate",), "'aggregate' needs 'group_by'",
                      hint="say which rows form a group, e.g. group_by: [payout.payee_id]")
        for name, text in (spec.get("aggregate") or {}).items():
            aggregate = self.aggregate(name, text, ("aggregate", name), scope)
            if aggregate is not None:
                aggregates.append(aggregate)
                names[name] = aggregate.kind
        lookups = []
        for name, lookup_spec in (spec.get("lookup") or {}).items():
            lookup = self.lookup(name, lookup_spec, table, tables, scope)
            if lookup is not None:
                lookups.append(lookup)
                names[name] = lookup.aggregate.kind
        findings_on = spec.get("findings_on", "rows")
        facts = set() if findings_on == "group" else set(scope.facts)
        for clash in sorted(set(names) & (facts | {"params"})):
            self.fail(("group_by" if clash in group_spec else "aggregate",),
                      f"the name {clash!r} is already the name of a fact", hint="choose another name")
        if findings_on == "group" and not group_by:
            self.fail(("findings_on",), "findings_on: group needs group_by")
        hold = spec.get("hold", "all")
        if hold == "later" and (findings_on == "group" or not group_by):
            self.fail(("hold",), "hold: later needs group_by and findings on rows",
                      hint="hold: later picks rows of a group to hold; drop it, or group the rows and drop "
                           "findings_on: group")
        if findings_on == "group":
            scope = Scope(facts={}, parameters=scope.parameters, functions=scope.functions, names=names)
        else:
            scope = Scope(facts=scope.facts, parameters=scope.parameters, functions=scope.functions,
                          names=names, fact_tables=scope.fact_tables)
        batch = Batch(tuple(group_by), tuple(aggregates), tuple(lookups), findings_on, hold)
        return batch, scope

    def aggregate(self, name: str, text: str, at: JsonPath, scope: Scope) -> Aggregate | None:
        functions = {**scope.functions, **AGGREGATES}
        expression = self.expression(text, at, Scope(scope.facts, scope.parameters, functions,
                                                     scope.names, scope.fact_tables))
        if expression is None:
            return None
        tree = expression.tree
        if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id in AGGREGATES):
            self.fail(at, f"{text!r} is not an aggregate", hint="write count(), count_distinct(x), distinct(x), "
                      "sum(x), min(x) or max(x)")
            return None
        inner = [node for argument in tree.args for node in ast.walk(argument)
                 if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in AGGREGATES]
        if inner:
            self.fail(at, "aggregates cannot be nested")
            return None
        function = tree.func.id
        argument = None
        kind: Kind = "integer"
        if tree.args:
            argument_text = ast.get_source_segment(wrapped(expression.text), tree.args[0]) or ""
            argument = self.expression(argument_text, at, scope)
            if argument is None:
                return None
            if function in ("sum", "min", "max"):
                kind = argument.kind
            elif function == "distinct":
                kind = "list"
        return Aggregate(name, function, argument, kind)

    def lookup(self, name: str, spec: Mapping[str, Any], table: Table, tables: Mapping[str, Table],
               scope: Scope) -> Lookup | None:
        other = tables[spec["table"]]
        alias = spec.get("as", other.record)
        at: JsonPath = ("lookup", name)
        if alias in scope.facts:
            self.fail((*at, "table"), f"the looked-up row would be called {alias!r}, which is already a fact here",
                      hint="name it with 'as:', e.g. as: other_payout")
            return None
        other_scope = Scope(facts={alias: other.fields}, parameters=scope.parameters,
                            functions=scope.functions, fact_tables={alias: other.name})
        both = Scope(facts={**scope.facts, alias: other.fields}, parameters=scope.parameters,
                     functions=scope.functions, fact_tables={**scope.fact_tables, alias: other.name})
        record_keys: list[Expression] = []
        other_keys: list[tuple[Expression, ...]] = []
        for position, text in enumerate(spec["on"]):
            link = self.link(text, (*at, "on", position), both, scope, other_scope, alias)
            if link is None:
                return None
            record_keys.append(link[0])
            other_keys.append(link[1])
        where = self.expression(spec.get("where"), (*at, "where"), both, "boolean")
        aggregate = self.aggregate(name, spec.get("aggregate", "count()"), (*at, "aggregate"), other_scope)
        if aggregate is None or (spec.get("where") is not None and where is None):
            return None
        return Lookup(name, other.name, alias, tuple(record_keys), tuple(other_keys), where, aggregate,
                      tuple(spec.get("only_passing", ())))

    def link(self, text: str, at: JsonPath, both: Scope, record_scope: Scope, other_scope: Scope,
             alias: str) -> tuple[Expression, tuple[Expression, ...]] | None:
        """Split ``record_side == other_side`` (or ``record_side in [other, ...]``) into its sides."""
        expression = self.expression(text, at, both, "boolean")
        if expression is None:
            return None
        tree = expression.tree
        hint = "write one equality such as pairing.mentee_id == payout.payee_id"
        if not (isinstance(tree, ast.Compare) and len(tree.ops) == 1
                and isinstance(tree.ops[0], (ast.Eq, ast.In))):
            self.fail(at, "a link must be one '==' or 'in' comparison", hint=hint)
            return None
        source = wrapped(expression.text)
        left, right = tree.left, tree.comparators[0]

        def side(node: ast.expr, scope: Scope) -> Expression | None:
            segment = ast.get_source_segment(source, node) or ""
            problems: list[Problem] = []
            parsed = _parse_located(self.document, (*self.path, *at), segment, scope, None, problems)
            return parsed

        if isinstance(tree.ops[0], ast.In):
            if not isinstance(right, (ast.List, ast.Tuple)):
                self.fail(at, "'in' in a link needs a list of the other row's fields",
                          hint="e.g. payout.payee_id in [pairing.mentor_id, pairing.mentee_id]")
                return None
            record_side = side(left, record_scope)
            others = [side(item, other_scope) for item in right.elts]
            if record_side is None or any(item is None for item in others):
                self.fail(at, f"the left side must use only this row, the list only {alias}", hint=hint)
                return None
            return record_side, tuple(item for item in others if item is not None)
        for record_node, other_node in ((left, right), (right, left)):
            record_side, other_side = side(record_node, record_scope), side(other_node, other_scope)
            if record_side is not None and other_side is not None:
                return record_side, (other_side,)
        self.fail(at, f"one side must use only this row and the other only {alias}", hint=hint)
        return None


def _file_values_used(shared: Mapping[str, Any], rule: Mapping[str, Any]) -> list[str]:
    """The file's ``let:`` names a rule uses, with those they use, in the file's order (a file
    value naming a fact of another table is only checked for the rules that use it)."""
    def words(value: Any, message: bool = False) -> set[str]:
        if isinstance(value, str):  # in a message, only its {placeholders} are expressions
            text = " ".join(re.findall(r"\{([^{}]*)\}", value)) if message else value
            return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
        if isinstance(value, dict):
            return set().union(*(words(item, message or key == "message") for key, item in value.items()))
        if isinstance(value, list):
            return set().union(*(words(item, message) for item in value))
        return set()

    expressions = ("when", "require", "message", "checks", "let", "group_by", "aggregate", "lookup")
    wanted = {name for name in words({key: rule[key] for key in expressions if key in rule})
              if name in shared}
    changed = True
    while changed:
        more = {name for value in wanted for name in words(shared[value]) if name in shared} - wanted
        wanted |= more
        changed = bool(more)
    return [name for name in shared if name in wanted]


def _parse_located(document: Document, path: JsonPath, text: str, scope: Scope, want: Kind | None,
                   problems: list[Problem], offset: int = 0,
                   named: Mapping[str, Expression] | None = None) -> Expression | None:
    """The checked expression at ``path`` (with the rule's named values written out), or None
    with every mistake in it added to ``problems``."""
    try:
        parsed = parse(text, scope, want=want)
        return expand(parsed, named) if named else parsed
    except ExpressionError as error:
        for mistake in error.all:
            end = offset + mistake.end if mistake.end is not None else None
            problems.append(Problem(mistake.code, mistake.message,
                                    document.location(path, offset=offset + mistake.offset, end=end),
                                    expected=mistake.expected, hint=mistake.hint))
        return None


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def _template(document: Document, path: JsonPath, text: str, scope: Scope,
              problems: list[Problem], named: Mapping[str, Expression] | None = None
              ) -> tuple[str | Expression, ...]:
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
        elif not match.group(1).strip():
            problems.append(Problem("MR208", "an empty {} in the message",
                                    document.location(path, offset=match.start()),
                                    hint="put a value inside, e.g. {payout.amount}, or write {{}} for braces"))
        else:
            inner = match.group(1)
            expression = _parse_located(document, path, inner, scope, None, problems,
                                        offset=match.start(1), named=named)
            whole = _whole_facts(expression, scope) if expression is not None else []
            if whole:  # it would print every column of the row, masked or not
                problems.append(Problem("MR208", f"the message shows the whole fact {whole[0]!r}",
                                        document.location(path, offset=match.start(1)),
                                        expected=f"a field of it, e.g. {{{whole[0]}.{_a_field(scope, whole[0])}}}",
                                        hint="name the fields the message needs"))
            elif expression is not None:
                parts.append(expression)
    parts.append(text[position:])
    return tuple(part for part in parts if part != "")


def _whole_facts(expression: Expression, scope: Scope) -> list[str]:
    """The facts an expression names whole (``payee``), not through a field (``payee.name``)."""
    fields = {id(node.value) for node in ast.walk(expression.tree) if isinstance(node, ast.Attribute)}
    return [node.id for node in ast.walk(expression.tree)
            if isinstance(node, ast.Name) and node.id in scope.facts and id(node) not in fields]


def _a_field(scope: Scope, fact: str) -> str:
    return next(iter(scope.facts[fact]), "id")


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _duplicate_ids(rules: Sequence[Rule]) -> list[Problem]:
    first: dict[str, Rule] = {}
    problems = []
    for rule in rules:
        if rule.id in first and not (rule.check and first[rule.id].location == rule.location):
            other = first[rule.id]
            problems.append(Problem("MR130", f"the rule id {rule.id!r} is used twice", rule.location,
                                    expected="rule ids unique across all loaded packs",
                                    hint=f"the other is at {other.location} (pack {other.pack!r})"))
        else:
            first[rule.id] = rule
    return problems


def _unknown_passing(rules: Sequence[Rule]) -> list[Problem]:
    known = {rule.id for rule in rules}
    return [Problem("MR209", f"only_passing names the unknown rule {name!r}", rule.location,
                    expected=one_of(known), hint=did_you_mean(name, known))
            for rule in rules if rule.batch is not None
            for lookup in rule.batch.lookups for name in lookup.only_passing if name not in known]


def _digest(packs: Sequence[Pack]) -> str:
    """sha256 of every pack's name, version and rule, parameter and test file contents."""
    digest = hashlib.sha256()
    for pack in sorted(packs, key=lambda pack: pack.name):
        digest.update(f"pack {pack.name} {pack.version}\n".encode())
        sheets = [sheet for directory in pack.spec.rule_dirs if directory.is_dir()
                  for pattern in ("*.csv", "*.xlsx") for sheet in directory.rglob(pattern)]  # decision tables
        for path in sorted((*pack.rule_files, *pack.parameter_files, *sheets), key=lambda p: p.name):
            digest.update(f"file {path.name}\n".encode())
            try:
                digest.update(path.read_bytes())
            except OSError:
                digest.update(b"<unreadable>")
    return "sha256:" + digest.hexdigest()
