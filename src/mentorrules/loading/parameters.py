"""Parameter files -> dated values: ``value_on(date)`` gives the value in force on a date.

Each value starts on its date and holds until the next one; ``null`` ends the parameter
(there is no value in force until a later date gives one). Numbers are ``Decimal`` or ``int``
exactly as written in YAML (``2000.00`` stays ``Decimal('2000.00')``).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mentorrules.errors import Location, Problem
from mentorrules.loading.expressions import Kind
from mentorrules.located import Document, JsonPath


class NoValueInForce(LookupError):
    """The parameter has no value on the date asked for."""


@dataclass(frozen=True)
class Parameter:
    """A named value that changes over time.

    >>> cap = Parameter("cap", "core", "yearly cap", (dt.date(2016, 7, 1), dt.date(2024, 7, 1)),
    ...                 (Decimal("2000.00"), Decimal("2500.00")))
    >>> cap.value_on(dt.date(2024, 6, 30)), cap.value_on(dt.date(2024, 7, 1))
    (Decimal('2000.00'), Decimal('2500.00'))
    >>> cap.in_force_since(dt.date(2024, 9, 1))
    datetime.date(2024, 7, 1)
    """

    name: str
    pack: str
    description: str
    starts: tuple[dt.date, ...]
    values: tuple[Any, ...]
    illustrative: bool = False
    unit: str | None = None
    stable: bool = False  # a definition (eligible roles) rather than an amount: never stale
    source: dict[str, str] | None = None
    location: Location = field(default_factory=Location)

    @property
    def constant(self) -> bool:
        """True when one value holds for all time from its start."""
        return len(self.values) == 1

    def in_force_since(self, day: dt.date) -> dt.date:
        """The start date of the value in force on ``day``."""
        index = bisect_right(self.starts, day) - 1
        if index < 0 or self.values[index] is None:
            raise NoValueInForce(f"params.{self.name} has no value in force on {day.isoformat()}")
        return self.starts[index]

    def value_on(self, day: dt.date) -> Any:
        """The value in force on ``day``; raises :class:`NoValueInForce` if there is none."""
        index = bisect_right(self.starts, day) - 1
        if index < 0 or self.values[index] is None:
            raise NoValueInForce(f"params.{self.name} has no value in force on {day.isoformat()}")
        return self.values[index]

    @property
    def kinds(self) -> tuple[Kind, Kind]:
        """The kind of the values, and of a map's or list's entries, for expression checks."""
        kinds = {kind_of(value) for value in self.values if value is not None}
        kind: Kind = kinds.pop() if len(kinds) == 1 else "any"
        entries: set[Kind] = set()
        for value in self.values:
            items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
            entries.update(kind_of(item) for item in items)
        entry: Kind = entries.pop() if len(entries) == 1 else "any"
        if entries and {entry, *entries} <= {"integer", "decimal"}:
            entry = "decimal"
        return kind, entry

    def gaps(self) -> list[tuple[dt.date, dt.date | None]]:
        """Periods after the first start with no value in force (from a ``null``)."""
        periods = []
        for index, value in enumerate(self.values):
            if value is None:
                end = self.starts[index + 1] if index + 1 < len(self.starts) else None
                periods.append((self.starts[index], end))
        return periods


def kind_of(value: Any) -> Kind:
    """The expression kind of a parameter value."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, Decimal):
        return "decimal"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "map"
    return "any"


def read_parameters(document: Document, pack: str,
                    broken: Collection[JsonPath] = ()) -> tuple[list[Parameter], list[Problem]]:
    """Build parameters from a parameter document whose schema problems are already reported.

    ``broken`` holds the paths of those problems. A parameter with a problem is still declared,
    with the dated values that could be read, so that the rules using it are checked as usual
    and not told that it is unknown.
    """
    parameters: list[Parameter] = []
    problems: list[Problem] = []
    root = document.value if isinstance(document.value, dict) else {}
    specs = root.get("parameters")
    for name, spec in (specs if isinstance(specs, dict) else {}).items():
        spec = spec if isinstance(spec, dict) else {}
        where = document.location(("parameters", name), key=True)
        written = spec.get("values")
        written = written if isinstance(written, dict) else {}
        dated = []
        for start, value in written.items():
            day, at = _as_date(start), ("parameters", name, "values", _key_text(start))
            if day is not None and not any(path[:len(at)] == at for path in broken):
                dated.append((day, _plain(value)))
        dated.sort(key=lambda item: item[0])
        values = [value for _, value in dated]
        kinds = {kind_of(value) for value in values if value is not None}
        if len({"number" if kind in ("integer", "decimal") else kind for kind in kinds}) > 1:
            problems.append(Problem("MR121", f"the values of {name!r} are of different kinds "
                                    f"({', '.join(sorted(kinds))})", where,
                                    expected="every dated value of the same kind",
                                    hint="use one kind of value, or null to end the parameter"))
        problems += _mixed_entries(document, name, written, broken)
        description = spec.get("description")
        parameters.append(Parameter(
            name=name, pack=pack, description=description if isinstance(description, str) else "",
            starts=tuple(start for start, _ in dated), values=tuple(values),
            illustrative=spec.get("illustrative") is True, unit=spec.get("unit"), source=spec.get("source"),
            stable=spec.get("stable") is True, location=where))
    return parameters, problems


def _mixed_entries(document: Document, name: str, written: dict[Any, Any],
                   broken: Collection[JsonPath]) -> list[Problem]:
    """The entries of a map or list parameter that are not of the kind of the others, each
    located: a quoted number among numbers (``{mentor: "2000.00", mentee: 1000.00}``) is text,
    which no comparison with a number could use.

    >>> from mentorrules.located import load_yaml
    >>> text = "parameters:\\n  cap:\\n    values:\\n      2016-07-01: {mentor: '2000.00', mentee: 1000.00}\\n"
    >>> document, _ = load_yaml(text, "p.yaml")
    >>> [str(problem) for problem in read_parameters(document, "core")[1]]
    ["p.yaml:4:28: MR121 this entry of 'cap' is text, but its other entries are numbers; expected a number"]
    """
    entries: list[tuple[JsonPath, Any, str]] = []
    for start, value in written.items():
        at: JsonPath = ("parameters", name, "values", _key_text(start))
        if any(path[:len(at)] == at for path in broken):
            continue
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, item in items:
            path = (*at, _key_text(key) if isinstance(value, dict) else key)
            if item is not None and path not in document.invalid:
                entries.append((path, item, _sort_of(item)))
    counts: dict[str, int] = {}
    for _, _, sort in entries:
        counts[sort] = counts.get(sort, 0) + 1
    if len(counts) < 2:
        return []
    usual = max(counts, key=lambda sort: (counts[sort], sort != "text"))  # the most common sort
    if "number" in counts and all(_is_number(item) for _, item, sort in entries if sort == "text"):
        usual = "number"  # the text is numbers in quotes, however many
    plural = {"number": "numbers", "text": "text", "boolean": "true or false", "date": "dates",
              "list": "lists", "map": "mappings"}
    problems = []
    for path, item, sort in entries:
        if sort == usual:
            continue
        quoted_number = sort == "text" and usual == "number" and _is_number(item)
        problems.append(Problem(
            "MR121", f"this entry of {name!r} is {_a(sort)}, but its other entries are {plural.get(usual, usual)}",
            document.location(path), expected=_a(usual),
            hint="a number in quotes is text: write numbers in parameter files without quotes" if quoted_number
            else f"give every entry of {name!r} one kind of value"))
    return problems


def _sort_of(value: Any) -> str:
    """The kind of a value, integers and decimals both numbers."""
    kind = kind_of(value)
    return "number" if kind in ("integer", "decimal") else kind


def _a(kind: str) -> str:
    return {"number": "a number", "text": "text", "boolean": "true or false", "date": "a date",
            "list": "a list", "map": "a mapping"}.get(kind, kind)


def _is_number(text: str) -> bool:
    try:
        return Decimal(text.replace(",", "")).is_finite()
    except ArithmeticError:
        return False


def _key_text(key: Any) -> str:
    return key.isoformat() if isinstance(key, dt.date) else str(key)


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def _plain(value: Any) -> Any:
    """Map keys as text (a YAML key `2` would otherwise be an int); lists as :class:`ParameterList`."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return ParameterList(_plain(item) for item in value)
    return value


class ParameterList(list[Any]):
    """A list parameter: its entries in the order written (for display), and ``x in`` answered
    from a set, so that a rule testing ``payout.district in params.districts`` on every row
    costs one lookup a row, not a scan of a 50,000-entry list.

    >>> districts = ParameterList(["Belen", "Gallup"])
    >>> "Gallup" in districts, "Taos" in districts, districts
    (True, False, ['Belen', 'Gallup'])
    """

    __slots__ = ("_members",)

    def __init__(self, items: Iterable[Any] = ()) -> None:
        super().__init__(items)
        try:
            self._members: frozenset[Any] | None = frozenset(self)
        except TypeError:  # an entry that cannot be hashed (a mapping): scanned as a list
            self._members = None

    def __contains__(self, item: object) -> bool:
        members = self._members
        if members is not None:
            try:
                return item in members
            except TypeError:  # an unhashable value asked for
                pass
        return list.__contains__(self, item)
