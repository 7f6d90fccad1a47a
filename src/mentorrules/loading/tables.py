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
from collections.abc import Callable, Iterator, KeysView, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib.resources import files
from operator import attrgetter
from typing import Any, ClassVar

from mentorrules.loading.expressions import Kind

KINDS: tuple[Kind, ...] = ("text", "integer", "decimal", "boolean", "date", "list")


class Record(tuple[Any, ...], Mapping[str, Any]):
    """One typed row: a read-only mapping of column name to value, stored as a tuple.

    A tuple, not a dict: a row of sixteen columns takes a third of the memory, which matters
    for a state's year of payouts. Each table has its own subclass (:attr:`Table.record_type`)
    that knows its columns; generated rule code reads a column through a C-level accessor
    (``payout._10``), people read it by name.

    >>> payout = contract()["payouts"].record_of({"payout_id": "P-1", "role": "mentor"})
    >>> payout["payout_id"], payout.get("amount"), "role" in payout, dict(payout)["role"]
    ('P-1', None, True, 'mentor')
    """

    __slots__ = ()
    fields: ClassVar[tuple[str, ...]] = ()
    positions: ClassVar[Mapping[str, int]] = {}

    def __getitem__(self, key: Any) -> Any:
        if key.__class__ is str:
            try:
                return tuple.__getitem__(self, self.positions[key])
            except KeyError:
                raise KeyError(key) from None
        return tuple.__getitem__(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.fields)

    def __contains__(self, key: object) -> bool:
        return key in self.positions

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Record):
            return self.fields == other.fields and tuple.__eq__(self, other)
        if isinstance(other, Mapping):
            return self.as_dict() == dict(other)
        return NotImplemented

    __hash__ = tuple.__hash__

    def __getnewargs__(self) -> tuple[tuple[Any, ...]]:  # copy and pickle the values, not the names
        return (tuple(self.values()),)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.as_dict()!r})"

    def get(self, name: str, default: Any = None) -> Any:
        """The value of column ``name`` (None when empty), or ``default`` for an unknown column."""
        position = self.positions.get(name)
        return default if position is None else tuple.__getitem__(self, position)

    def keys(self) -> KeysView[str]:
        return self.positions.keys()

    def values(self) -> Iterator[Any]:  # type: ignore[override]
        return tuple.__iter__(self)

    def items(self) -> Iterator[tuple[str, Any]]:  # type: ignore[override]
        return zip(self.fields, tuple.__iter__(self), strict=True)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.items())



def _column(position: int) -> Any:
    """A fast read-only accessor of one position of a record (what ``namedtuple`` uses)."""
    try:
        from _collections import _tuplegetter  # type: ignore[import-not-found]  # CPython's C accessor

        return _tuplegetter(position, None)
    except ImportError:  # pragma: no cover - other interpreters
        return property(lambda record: tuple.__getitem__(record, position))


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
    record_type: type[Record] = field(init=False, repr=False, compare=False)
    _key_parts: Callable[[Record], Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        columns = tuple(self.fields)
        record_type = type(f"{self.record.title()}Record", (Record,),
                           {"__slots__": (), "fields": columns,
                            "positions": {name: position for position, name in enumerate(columns)},
                            **{f"_{position}": _column(position) for position in range(len(columns))}})
        object.__setattr__(self, "record_type", record_type)
        object.__setattr__(self, "_key_parts", attrgetter(*(f"_{columns.index(name)}" for name in self.key)))

    @property
    def positions(self) -> Mapping[str, int]:
        """Each column's position in this table's records."""
        return self.record_type.positions

    def record_of(self, values: Mapping[str, Any]) -> Record:
        """A record of already typed values; columns not given are empty (None)."""
        return self.record_type(values.get(name) for name in self.record_type.fields)

    def column(self, name: str) -> Callable[[Record], Any]:
        """A fast reader of one column of this table's records.

        >>> payouts = contract()["payouts"]
        >>> payouts.column("role")(payouts.record_of({"role": "mentee"}))
        'mentee'
        """
        return attrgetter(f"_{self.positions[name]}")

    def key_of(self, row: Mapping[str, Any]) -> str:
        """The row's key as text (``P-1``, or ``T-1/S-3`` for a two-column key).

        >>> contract()["attendance"].key_of({"person_id": "T-1", "session_id": "S-3"})
        'T-1/S-3'
        """
        if row.__class__ is self.record_type:
            parts = self._key_parts(row)
            if len(self.key) == 1:
                return "" if parts is None else str(parts)
        else:
            parts = tuple(row.get(name) for name in self.key)
            if len(self.key) == 1:
                return "" if parts[0] is None else str(parts[0])
        return "/".join("" if part is None else str(part) for part in parts)


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
