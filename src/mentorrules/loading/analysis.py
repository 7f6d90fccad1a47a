"""What a rule reads: the facts its expressions name, the columns and tables it needs.

Takes a checked :class:`~mentorrules.loading.rulebook.RuleBook`; gives, per table, the columns
read and the linking columns, and per rule the tables it needs (a rule whose tables were not
given is *not checked*, never taken as passing).
"""

from __future__ import annotations

import ast
import re

from mentorrules.loading.rulebook import Rule, RuleBook


def linking_columns(book: RuleBook) -> dict[str, frozenset[str]]:
    """Per table, the columns that link rows of tables: the keys of related tables and the columns
    that refer to them (their values are read once and shared between tables)."""
    linking: dict[str, set[str]] = {name: set() for name in book.tables}
    for table in book.tables.values():
        for relation in table.relations.values():
            linking[table.name].update(re.findall(rf"\b{table.record}\.(\w+)", " ".join(relation.key)))
            linking[relation.table].update(book.tables[relation.table].key)
    return {name: frozenset(columns) for name, columns in linking.items()}


def facts_of(book: RuleBook, rule: Rule) -> dict[str, str]:
    """The names a rule's expressions may use for facts (``payout``, ``payee``, a lookup's alias),
    each with the table it comes from."""
    table = book.tables[rule.table]
    facts = {table.record: table.name, **{name: relation.table for name, relation in table.relations.items()}}
    if rule.batch is not None:
        facts.update({lookup.alias: lookup.table for lookup in rule.batch.lookups})
    return facts


def columns_read(book: RuleBook) -> dict[str, frozenset[str]]:
    """Per table, every column a rule, a relation or the engine itself reads."""
    read: dict[str, set[str]] = {
        name: {*table.key, *(column for column in (table.date_field, "state", "school_year")
                             if column is not None and column in table.fields)}
        for name, table in book.tables.items()}
    for table in book.tables.values():
        for relation in table.relations.values():
            read[table.name].update(re.findall(rf"\b{table.record}\.(\w+)", " ".join(relation.key)))
    for rule in book.rules:
        facts = facts_of(book, rule)
        for expression in rule.expressions:
            for node in ast.walk(expression.tree):
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in facts:
                    read[facts[node.value.id]].add(node.attr)
    return {name: frozenset(columns) for name, columns in read.items()}


def tables_read(book: RuleBook) -> dict[str, frozenset[str]]:
    """Per rule, the tables it needs: its own; those of the related facts its expressions name
    (``payee`` is a row of people); for a state pack's rule on a table whose ``state`` column is
    optional (or absent), the districts its rows take their state from; those its lookups count rows of; and,
    through a lookup's ``only_passing``, the tables the rules named there need."""
    read: dict[str, set[str]] = {}
    for rule in book.rules:
        table = book.tables[rule.table]
        facts = facts_of(book, rule)
        names = {node.id for expression in rule.expressions for node in ast.walk(expression.tree)
                 if isinstance(node, ast.Name) and node.id in facts}
        if rule.jurisdiction is not None and "state" not in table.required and "district" in table.relations:
            names.add("district")  # its rows may take their state from it: see evaluation._state_code
        lookups = rule.batch.lookups if rule.batch is not None else ()
        read.setdefault(rule.id, set()).update(  # a rule with checks: the union of its checks'
            {rule.table, *(facts[name] for name in names), *(lookup.table for lookup in lookups)})
    # A lookup counting only the rows that pass some rules needs what those rules need.
    passing = {rule.id: {name for lookup in rule.batch.lookups for name in lookup.only_passing}
               for rule in book.rules if rule.batch is not None}
    changed = True
    while changed:
        changed = False
        for rule_id, names in passing.items():
            needed = set().union(*(read.get(name, set()) for name in names)) - read[rule_id]
            if needed:
                read[rule_id] |= needed
                changed = True
    return {rule_id: frozenset(tables) for rule_id, tables in read.items()}



DECISION_FUNCTIONS = frozenset({"table_lookup", "table_has"})


def decision_tables_read(rule: Rule) -> frozenset[str]:
    """The decision tables a rule's expressions read (``table_lookup("stipend_schedule", ...)``)."""
    return frozenset(node.args[0].value for expression in rule.expressions for node in ast.walk(expression.tree)
                     if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                     and node.func.id in DECISION_FUNCTIONS and node.args
                     and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str))
