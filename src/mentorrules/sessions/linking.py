"""An engine's rules -> what a correlator watches; a row -> the fact the correlator sees of it.

Each batch rule with ``group_by`` becomes a :class:`~mentorrules.sessions.correlation.Pattern` (a new
fact of its table takes part in it). Each relation of a table (a payout's payee) and each
alternative of a lookup's link becomes a :class:`~mentorrules.sessions.correlation.Join`:
``payout.payee_id in [pairing.mentor_id, pairing.mentee_id]`` is two joins, one per
alternative. A row is shown to the correlator as a :class:`~mentorrules.sessions.correlation.Fact`
holding only its join keys, as text (:func:`key_text`); money, dates and aggregates stay on the
Python side, in :mod:`mentorrules.sessions.streaming`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mentorrules.sessions.correlation import Join, Pattern

if TYPE_CHECKING:
    from mentorrules.checking.policy import Policy


@dataclass(frozen=True)
class Link:
    """What a join stands for: a relation of a table, or one alternative of a lookup's link."""

    join: Join
    kind: str  # "relation" or "lookup"
    name: str  # relation name, or the batch rule id
    lookup: int = -1  # index of the lookup in its rule
    alternative: int = 0  # which alternative of each ``in [a, b]`` link part


def key_text(value: Any) -> str | None:
    """A join key as text that compares like the Python value (None joins nothing).

    >>> key_text("T-1"), key_text(Decimal("2.0")), key_text(2), key_text(None)
    ('s:T-1', 'n:2', 'n:2', None)
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return f"b:{value}"
    if isinstance(value, (int, Decimal)):
        return f"n:{Decimal(value).normalize():f}"
    if isinstance(value, dt.date):
        return f"d:{value.isoformat()}"
    return f"s:{value}"


class Plan:
    """The patterns and joins sessions need for an engine's rules, built once per engine."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.batch = {rule.rule.id: rule for rule in policy.batch_rules}
        self.patterns = [Pattern(rule.rule.id, rule.table.name) for rule in policy.batch_rules
                         if rule.batch.group_by]
        self.links: dict[str, Link] = {}
        for table in policy.book.tables.values():
            for relation in table.relations.values():
                name = f"relation:{table.name}.{relation.name}"
                keys = tuple((f"{name}:l{i}", f"{name}:r{i}") for i in range(len(relation.key)))
                self.links[name] = Link(Join(name, table.name, relation.table, keys), "relation", relation.name)
        self.alternatives: dict[tuple[str, int], list[str]] = {}
        """(rule id, lookup index) -> the names of the joins of the lookup's alternatives."""
        for rule in policy.batch_rules:
            for number, lookup in enumerate(rule.lookups):
                for alternative in range(max(len(keys) for keys in lookup.other_keys)):
                    name = f"lookup:{rule.rule.id}.{lookup.name}#{alternative}"
                    keys = tuple((f"{name}:l{i}", f"{name}:r{i}") for i in range(len(lookup.record_keys)))
                    self.links[name] = Link(Join(name, rule.table.name, lookup.table, keys), "lookup",
                                            rule.rule.id, number, alternative)
                    self.alternatives.setdefault((rule.rule.id, number), []).append(name)
        self.joins = [link.join for link in self.links.values()]

    def keys(self, table: str, values: Mapping[str, Any], indexes: Mapping[str, Any],
             as_of: dt.date) -> dict[str, str]:
        """A row's join keys as the correlator sees them (a key that is None is left out)."""
        keys: dict[str, str] = {}
        for link in self.links.values():
            sides = []
            if link.join.left == table:
                sides.append((0, self._left_keys(link, table, values, indexes, as_of)))
            if link.join.right == table:
                sides.append((1, self._right_keys(link, values)))
            for side, found in sides:
                for names, value in zip(link.join.keys, found, strict=False):
                    text = key_text(value)
                    if text is not None:
                        keys[names[side]] = text
        return keys

    def _left_keys(self, link: Link, table: str, values: Mapping[str, Any], indexes: Mapping[str, Any],
                   as_of: dt.date) -> tuple[Any, ...]:
        compiled = self.policy.evaluator.tables[table]
        if link.kind == "relation":
            position = list(compiled.table.relations).index(link.name)
            found = compiled.relation_keys(values)[position]
            return found if isinstance(found, tuple) else (found,)
        # A lookup's link keys do not depend on whether the rule applies yet (the row's state
        # may come with its district later): computed for every row of the table.
        rule = self.batch[link.name]
        day = values.get(rule.table.date_field) if rule.table.date_field else None
        return rule.link_key(link.lookup, values, compiled.relate(values, indexes),
                             day if isinstance(day, dt.date) else as_of)

    def _right_keys(self, link: Link, values: Mapping[str, Any]) -> tuple[Any, ...]:
        if link.kind == "relation":
            return tuple(values.get(name) for name in self.policy.tables[link.join.right].key)
        # A link part `x in [a, b]` has alternatives; join number k carries the k-th of each part.
        parts = self.batch[link.name].other_alternatives(link.lookup, values)
        return tuple(part[min(link.alternative, len(part) - 1)] if part else None for part in parts)
