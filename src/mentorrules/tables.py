"""Table schemas (``schemas/tables/*.schema.json``) -> the data contract the engine reads by.

Each schema is a JSON Schema of one row, with an ``x-mentorrules`` block naming the record
(``payout``), its key columns, the column whose date picks parameter values, whether the key
is unique, personal columns, and relations to other tables (``payee`` is the ``people`` row
whose key is ``payout.payee_id``). Column types come from the schema: ``format: date`` is a
date, ``format: decimal`` a ``Decimal``, ``boolean``, ``integer``, ``array`` (a ``;`` list
in CSV), anything else text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib.resources import files
from typing import Any

from mentorrules.expressions import Kind

KINDS: tuple[Kind, ...] = ("text", "integer", "decimal", "boolean", "date", "list")


@dataclass(frozen=True)
class Relation:
    """A link from a row to one row of another table, by key expressions over the row."""

    name: str
    table: str
    key: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """One input table's contract."""

    name: str
    record: str
    key: tuple[str, ...]
    fields: Mapping[str, Kind]
    required: tuple[str, ...] = ()
    date_field: str | None = None
    unique: bool = False
    relations: Mapping[str, Relation] = field(default_factory=dict)
    patterns: Mapping[str, re.Pattern[str]] = field(default_factory=dict)
    descriptions: Mapping[str, str] = field(default_factory=dict)
    personal: tuple[str, ...] = ()

    def key_of(self, row: Mapping[str, Any]) -> str:
        """The row's key as text (``P-1``, or ``T-1/S-3`` for a two-column key).

        >>> contract()["attendance"].key_of({"person_id": "T-1", "session_id": "S-3"})
        'T-1/S-3'
        """
        if len(self.key) == 1:
            value = row.get(self.key[0])
            return "" if value is None else str(value)
        return "/".join("" if row.get(name) is None else str(row.get(name)) for name in self.key)


def _kind(spec: Mapping[str, Any]) -> Kind:
    kinds = spec.get("type")
    if spec.get("format") == "date":
        return "date"
    if spec.get("format") == "decimal":
        return "decimal"
    if kinds == "boolean":
        return "boolean"
    if kinds == "integer":
        return "integer"
    if kinds == "array":
        return "list"
    return "text"


@cache
def _core_contract() -> dict[str, Table]:
    tables = {}
    for resource in sorted((files("mentorrules") / "schemas" / "tables").iterdir(), key=lambda r: r.name):
        if not resource.name.endswith(".schema.json"):
            continue
        schema = json.loads(resource.read_text("utf-8"))
        meta = schema["x-mentorrules"]
        name = resource.name.removesuffix(".schema.json")
        properties: dict[str, Any] = schema["properties"]
        tables[name] = Table(
            name=name, record=meta["record"], key=tuple(meta["key"]),
            fields={column: _kind(spec) for column, spec in properties.items()},
            required=tuple(schema.get("required", ())), date_field=meta.get("date"),
            unique=bool(meta.get("unique", False)),
            relations={relation: Relation(relation, spec["table"], tuple(spec["key"]))
                       for relation, spec in meta.get("relations", {}).items()},
            patterns={column: re.compile(spec["pattern"]) for column, spec in properties.items()
                      if "pattern" in spec},
            descriptions={column: spec.get("description", "") for column, spec in properties.items()},
            personal=tuple(meta.get("personal", ())))
    return tables


def contract(extra: Mapping[str, Mapping[str, Kind]] | None = None) -> dict[str, Table]:
    """The tables, with columns packs declared (already checked for clashes) added.

    >>> payouts = contract()["payouts"]
    >>> payouts.record, payouts.fields["amount"], payouts.relations["payee"].table
    ('payout', 'decimal', 'people')
    """
    tables = dict(_core_contract())
    for name, columns in (extra or {}).items():
        table = tables[name]
        tables[name] = replace(table, fields={**table.fields, **columns})
    return tables


TABLE_ORDER = ("payouts", "people", "pairings", "attendance", "districts", "grants", "contributions")
