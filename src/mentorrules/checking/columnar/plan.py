"""A compiled policy -> a columnar plan: per table, its joins, derived columns and rule screens.

The plan is a plain object of Polars expressions (no data, no SQL): per table the relations to
join (``payee`` = people by ``payout.payee_id``), per rule the columns computed by registered
functions (:class:`~mentorrules.checking.columnar.translate.Derived`) and a *screen*: where a
row may have a finding of the rule. For a batch rule with ``group_by``, also its membership,
group key, aggregates (window expressions over the key) and the screen of ``require`` over
them. Any executor that can evaluate Polars expressions over a frame can run it; see
``docs/columnar.md`` for how it would be partitioned across machines.

A rule the plan cannot translate keeps a ``reason`` and runs row-at-a-time
(:func:`supports`); its screen is then only "the rule may apply" (or every row).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from mentorrules.checking.columnar.translate import (
    FALSE,
    TRUE,
    Derived,
    Scope,
    Translator,
    Unsupported,
    Value,
    certain,
    certainly_false,
)
from mentorrules.checking.evaluation import carries_state
from mentorrules.loading.expressions import Scope as CheckScope
from mentorrules.loading.expressions import parse
from mentorrules.loading.rulebook import Rule, RuleBook
from mentorrules.loading.tables import Table

# The batch options this backend knows. A rule using any other option (added to the rule book
# later) runs row-at-a-time until the columnar form learns it: it must never silently differ.
KNOWN_BATCH_OPTIONS = frozenset({"group_by", "aggregates", "lookups", "findings_on", "hold"})
KNOWN_RULE_FIELDS = frozenset({"id", "title", "table", "pack", "jurisdiction", "require", "when", "severity",
                               "message", "source", "location", "description", "effective_from", "effective_to",
                               "parameters_on", "tags", "batch",
                               # what a finding says, not where: its check's name, its let: values as
                               # written (already inlined in the trees), how messages round, a lint flag
                               "check", "named", "rounding", "parameters_on_said"})
COLUMNAR_AGGREGATES = frozenset({"count", "sum", "min", "max", "count_distinct", "distinct"})


@dataclass
class RulePlan:
    """One rule's part of the plan. ``reason`` is None when the rule runs columnar."""

    rule: Rule
    reason: str | None
    derived: list[Derived] = field(default_factory=list)
    screen: pl.Expr | None = None  # where the rule may have a finding (row rules, group rules)
    applies: pl.Expr | None = None  # where the rule may apply (for a rule run row-at-a-time)
    member: pl.Expr | None = None  # group rules: certainly a member with a computable key
    keys: tuple[pl.Expr, ...] = ()  # group rules: the key parts
    names: Mapping[str, pl.Expr] = field(default_factory=dict)  # group rules: names' columns
    lookups: tuple[LookupPlan, ...] = ()  # lookup rules: the lookups, joined by the executor
    when: Value | None = None  # lookup rules: membership is computed before the joins


@dataclass
class LookupPlan:
    """A lookup as a join: members' keys against the other table's rows (one row per
    alternative of each key part, as the reference's index has them), ``where`` and the
    argument over each linked pair, then the aggregate per member."""

    name: str
    table: str
    alias: str
    function: str
    record_keys: tuple[Value, ...]
    other_keys: tuple[tuple[Value, ...], ...]
    where: Value | None
    argument: Value | None


@dataclass
class Join:
    """A relation as a left join: the record's key parts against the related table's key."""

    fact: str
    table: str
    keys: tuple[Value, ...]


@dataclass
class TablePlan:
    table: Table
    joins: list[Join]
    reason: str | None  # why the whole table runs row-at-a-time, if it does
    rules: list[RulePlan]
    state: pl.Expr
    school_year: bool  # the table has a school_year column (rules may date parameters by it)
    derived: list[Derived] = field(default_factory=list)  # columns the relation keys compute
    needed: frozenset[str] = frozenset()  # the columns any screen reads (the frame keeps only those)


@dataclass
class Plan:
    """The columnar plan of a policy: one :class:`TablePlan` per table."""

    tables: dict[str, TablePlan]

    def rule(self, rule_id: str) -> RulePlan | None:
        for table in self.tables.values():
            for rule in table.rules:
                if rule.rule.id == rule_id:
                    return rule
        return None

    def where(self) -> dict[str, str | None]:
        """Per rule id: None when it runs columnar, else why it runs row-at-a-time."""
        return {rule.rule.id: rule.reason for table in self.tables.values() for rule in table.rules}


def supports(rule: Rule, book: RuleBook) -> str | None:
    """None when the columnar backend runs ``rule`` over whole columns, else why it runs
    row-at-a-time (the rule's findings are the same either way).

    >>> from mentorrules.engine import Engine
    >>> engine = Engine.load(packs=["core"])
    >>> supports(next(r for r in engine.rules if r.id == "STIPEND-002"), engine.book) is None
    True
    """
    table = book.tables[rule.table]
    try:
        _table_scope(book, table)
        _rule_plan(book, table, rule, 0)
    except Unsupported as error:
        return str(error)
    return None


def compile_plan(book: RuleBook) -> Plan:
    """The columnar plan of every table a rule reads."""

    tables: dict[str, TablePlan] = {}
    for name, table in book.tables.items():
        rules = [rule for rule in book.rules if rule.table == name]
        reason = None
        joins: list[Join] = []
        derived: list[Derived] = []
        state: pl.Expr = pl.lit(None, dtype=pl.String)
        try:
            joins, state, derived = _table_scope(book, table)
        except Unsupported as error:
            reason = str(error)
        plans = []
        for number, rule in enumerate(rules):
            if reason is not None:
                plans.append(RulePlan(rule, reason))
                continue
            try:
                plans.append(_rule_plan(book, table, rule, number))
            except Unsupported as error:
                plans.append(RulePlan(rule, str(error), applies=_applies(book, table, rule, number)))
        table_plan = TablePlan(table, joins, reason, plans, state, "school_year" in table.fields, derived)
        table_plan.needed = frozenset(_needed(table_plan))
        tables[name] = table_plan
    return Plan(tables)


def scope_of(book: RuleBook, table: Table, rule: Rule | None, number: int) -> Scope:
    facts = {table.record: ("", table.fields),
             **{name: (f"{name}.", book.tables[relation.table].fields) for name, relation in table.relations.items()}}
    date = "__sy" if rule is not None and rule.parameters_on == "school_year_start" else "__d"
    parameters = book.parameters_for(rule.pack) if rule is not None else {}
    return Scope(facts, parameters, book.functions, date=date, prefix=f"__f{number}_")


def _table_scope(book: RuleBook, table: Table) -> tuple[list[Join], pl.Expr, list[Derived]]:
    check = CheckScope(facts={table.record: table.fields}, functions=book.signatures)
    scope = Scope({table.record: ("", table.fields)}, {}, book.functions, prefix="__key")
    joins = []
    for relation in table.relations.values():
        translator = Translator(scope)
        keys = tuple(translator.of(parse(text, check)) for text in relation.key)
        other = book.tables[relation.table]
        if not other.unique:
            raise Unsupported(f"{relation.table} is not keyed uniquely")
        joins.append(Join(relation.name, relation.table, keys))
    # The row's state as the reference computes it: its own state column, else its district's.
    state = pl.col("state") if "state" in table.fields else pl.lit(None, dtype=pl.String)
    if "district" in table.relations:
        districts = book.tables[table.relations["district"].table]
        if "state" not in districts.fields:
            raise Unsupported("districts have no state column")
        state = pl.coalesce(state, pl.col(f"{table.relations['district'].name}.state"))
    return joins, state, scope.derived


def in_force(rule: Rule, table: Table) -> pl.Expr:
    """Jurisdiction and effective period, as the reference tests them (never null). A row whose
    state is not known may have a finding (the reference says it cannot be checked), so it is
    kept wherever the table can say a state."""
    condition = TRUE
    if rule.jurisdiction is not None:
        unknown = carries_state(table)
        condition = condition & (pl.col("__state") == rule.jurisdiction).fill_null(unknown)
    if rule.effective_from is not None:
        condition = condition & (pl.col("__d") >= pl.lit(rule.effective_from))
    if rule.effective_to is not None:
        condition = condition & (pl.col("__d") <= pl.lit(rule.effective_to))
    return condition


def state_unknown(rule: Rule, table: Table) -> pl.Expr:
    """Where a state pack's rule meets a row whose state is not known: the reference reports
    "cannot check" there whatever ``require`` says (when ``when`` may hold)."""
    if rule.jurisdiction is None or not carries_state(table):
        return FALSE
    return pl.col("__state").is_null()


def _check_options(rule: Rule) -> None:
    unknown = set(vars(rule)) - KNOWN_RULE_FIELDS
    if rule.batch is not None:
        unknown |= set(vars(rule.batch)) - KNOWN_BATCH_OPTIONS
    for name in sorted(unknown):
        value = getattr(rule, name, None) if name in vars(rule) else getattr(rule.batch, name, None)
        if value not in (None, (), "", False, {}):
            raise Unsupported(f"the option {name!r} has no columnar form yet")


def _applies(book: RuleBook, table: Table, rule: Rule, number: int) -> pl.Expr:
    """Where a rule run row-at-a-time may apply (in force, ``when`` not certainly false)."""
    try:
        _check_options(rule)
        scope = scope_of(book, table, rule, number)
        if rule.when is None:
            return in_force(rule, table)
        when = Translator(scope).of(rule.when)
        if scope.derived:  # keep it to plain columns: no per-rule derived columns to compute
            return TRUE
        return in_force(rule, table) & ~certainly_false(Value(when.value, when.err))
    except Unsupported:
        return TRUE


def _rule_plan(book: RuleBook, table: Table, rule: Rule, number: int) -> RulePlan:
    _check_options(rule)
    scope = scope_of(book, table, rule, number)
    translator = Translator(scope)
    when = translator.truth_of(rule.when) if rule.when is not None else Value(TRUE, FALSE)
    force = in_force(rule, table)
    batch = rule.batch
    if batch is None:
        require = translator.truth_of(rule.require)
        unknown = state_unknown(rule, table)
        clear = ~force | certainly_false(when) | (~unknown & certain(when) & certain(require))
        return RulePlan(rule, None, scope.derived, screen=~clear)
    if batch.lookups:
        if batch.findings_on != "rows" or batch.group_by:
            raise Unsupported("a lookup of a group runs row-at-a-time")
        return _lookup_plan(book, table, rule, scope, translator, when, force)
    if batch.findings_on != "rows":
        raise Unsupported("findings on groups run row-at-a-time")
    if not batch.group_by:
        raise Unsupported("a batch rule without group_by")
    for aggregate in batch.aggregates:
        if aggregate.function not in COLUMNAR_AGGREGATES:
            raise Unsupported(f"the aggregate {aggregate.function}() has no columnar form here")
    keys = [translator.of(expression) for _, expression in batch.group_by]
    key_err = FALSE
    for key in keys:
        key_err = key_err | key.err
    unknown = state_unknown(rule, table)
    member = (force & ~unknown & certain(when) & ~key_err).alias("__member")
    partition = [key.value for key in keys] + [pl.col("__member")]
    names: dict[str, pl.Expr] = {}
    ranks: dict[tuple[str, str], str] = {}
    for (name, _), key in zip(batch.group_by, keys, strict=True):
        names[name] = key.value
    for aggregate in batch.aggregates:
        if aggregate.argument is None:
            argument = pl.lit(1)
        else:
            value = translator.of(aggregate.argument)
            argument = pl.when(value.err).then(None).otherwise(value.value)
        if aggregate.function == "distinct":
            # Only as count_at_most(name, argument): a value's dense rank in its group.
            assert aggregate.argument is not None
            column = f"__rank.{aggregate.name}"
            ranks[aggregate.name, ast.unparse(aggregate.argument.tree)] = column
            names[column] = \
                argument.rank("dense").over(partition)
            continue
        match aggregate.function:
            case "count":
                expression = pl.len()
            case "sum":
                expression = argument.sum()
            case "min":
                expression = argument.min()
            case "max":
                expression = argument.max()
            case _:  # count_distinct: missing values are left out
                expression = argument.drop_nulls().n_unique()
        names[aggregate.name] = expression.over(partition)
    scope.names = {name: f"__n.{name}" for name in names if not name.startswith("__rank.")}
    scope.ranks = {key: f"__n.{column}" for key, column in ranks.items()}
    require = translator.truth_of(rule.require)
    unsure = force & (when.err | (unknown & ~certainly_false(when)) | (certain(when) & (key_err | ~certain(require))))
    return RulePlan(rule, None, scope.derived, screen=unsure, member=member, keys=tuple(key.value for key in keys),
                    names={f"__n.{name}": expression for name, expression in names.items()})


def _lookup_plan(book: RuleBook, table: Table, rule: Rule, scope: Scope, translator: Translator, when: Value,
                 force: pl.Expr) -> RulePlan:
    """A rule with lookups and findings on rows: each lookup a join, ``require`` over the names."""
    assert rule.batch is not None
    lookups = []
    for lookup in rule.batch.lookups:
        if lookup.only_passing:
            raise Unsupported("only_passing lookups run row-at-a-time")
        if lookup.aggregate.function not in COLUMNAR_AGGREGATES - {"distinct"}:
            raise Unsupported(f"the aggregate {lookup.aggregate.function}() has no columnar form here")
        other = book.tables[lookup.table]
        both = Scope({**scope.facts, lookup.alias: (f"{lookup.alias}.", other.fields)}, scope.parameters,
                     scope.functions, date=scope.date, prefix=f"{scope.prefix}l")
        linked = Translator(both)
        before = len(both.derived)
        record_keys = tuple(translator.of(expression) for expression in lookup.record_keys)
        other_keys = tuple(tuple(linked.of(expression) for expression in alternatives)
                           for alternatives in lookup.other_keys)
        where = linked.truth_of(lookup.where) if lookup.where is not None else None
        argument = linked.of(lookup.aggregate.argument) if lookup.aggregate.argument is not None else None
        if len(both.derived) != before or scope.derived:
            raise Unsupported("a lookup that calls a function runs row-at-a-time")
        lookups.append(LookupPlan(lookup.name, lookup.table, lookup.alias, lookup.aggregate.function, record_keys,
                                  other_keys, where, argument))
    key_err = FALSE
    for lookup_plan in lookups:
        for key in lookup_plan.record_keys:
            key_err = key_err | key.err
    unknown = state_unknown(rule, table)
    member = (force & ~unknown & certain(when) & ~key_err).alias("__member")
    scope.names = {lookup.name: f"__n.{lookup.name}" for lookup in rule.batch.lookups}
    require = translator.truth_of(rule.require)
    if scope.derived:
        raise Unsupported("a lookup rule whose require calls a function runs row-at-a-time")
    unsure = force & (when.err | (unknown & ~certainly_false(when))
                      | (certain(when) & (key_err | pl.col("__unsure").fill_null(False) | ~certain(require))))
    return RulePlan(rule, None, [], screen=unsure, member=member, lookups=tuple(lookups), when=when)


def _roots(expression: pl.Expr | None) -> set[str]:
    return set(expression.meta.root_names()) if expression is not None else set()


def _value_roots(value: Value | None) -> set[str]:
    if value is None:
        return set()
    return _roots(value.value) | _roots(value.err) | ({value.text} if value.text else set())


def _needed(table_plan: TablePlan) -> set[str]:
    """Every column a table's screens, joins, derived columns and lookups read."""
    found = _roots(table_plan.state) | {"school_year"}
    if table_plan.table.date_field:
        found.add(table_plan.table.date_field)
    derived = list(table_plan.derived)
    for join in table_plan.joins:
        for key in join.keys:
            found |= _value_roots(key)
    for plan in table_plan.rules:
        found |= _roots(plan.screen) | _roots(plan.applies) | _roots(plan.member)
        for expression in [*plan.keys, *plan.names.values()]:
            found |= _roots(expression)
        derived += plan.derived
        for lookup in plan.lookups:
            for value in [*lookup.record_keys, lookup.where, lookup.argument,
                          *(alternative for alternatives in lookup.other_keys for alternative in alternatives)]:
                found |= _value_roots(value)
    for item in derived:
        for value in item.arguments:
            found |= _value_roots(value)
    return found
