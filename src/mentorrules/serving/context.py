"""Reference data held by the service -> decisions on records sent one at a time.

The service evaluates each record against the reference rows it holds (people, pairings,
districts, ...), which other systems keep current row by row (``PUT``/``DELETE
/v1/reference/{table}/{key}``). It needs only what :class:`PreparedContext` says, the interface
of the engine's prepared context (``Engine.prepare(**tables) -> Context``).

:func:`prepare` is the one place that makes a context. Until the engine has ``prepare``, it
makes a :class:`ReferenceContext`: rows kept per table by key, each evaluation a call to
``Engine.evaluate`` with every row held as ``related`` (correct, but its cost grows with the
rows held). When ``Engine.prepare`` exists, :func:`prepare` uses it.

    >>> from mentorrules import Engine
    >>> context = ReferenceContext(Engine.load(packs=[]))
    >>> context.upsert("people", {"person_id": "T-1", "career_year": 1})
    >>> context.remove("people", "T-1"), context.remove("people", "T-1")
    (True, False)
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from mentorrules.engine import Engine
from mentorrules.errors import Location, MentorRulesError, Problem
from mentorrules.model import Decision


class PreparedContext(Protocol):
    """Reference tables held once, updated row by row; records evaluated against them.

    Implementations are safe to call from several threads at once.
    """

    def evaluate(self, record: Mapping[str, Any], table: str = "payouts",
                 as_of: dt.date | None = None) -> Decision:
        """The decision on ``record`` against the rows held (its own table's rows too)."""
        ...

    def upsert(self, table: str, row: Mapping[str, Any]) -> None:
        """Add the row, or replace the row with its key."""
        ...

    def remove(self, table: str, key: str) -> bool:
        """Remove the row with this key; False when there was none."""
        ...


class ReferenceContext:
    """The fallback :class:`PreparedContext`: rows per table by key, evaluated by ``Engine.evaluate``.

    A key is the table's key as reports show it (``T-1``; ``T-1/S-3`` for attendance). Every
    table the engine knows counts as given, and as empty until rows are put in it, as in
    ``Engine.evaluate``.
    """

    def __init__(self, engine: Engine, tables: Mapping[str, Iterable[Mapping[str, Any]]] | None = None) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._rows: dict[str, dict[str, Mapping[str, Any]]] = {}
        for table, rows in (tables or {}).items():
            for row in rows:
                self.upsert(table, row)

    def key_of(self, table: str, row: Mapping[str, Any]) -> str:
        """The key of a row as given (typed first, as a file's row would be)."""
        if not isinstance(row, Mapping):
            raise MentorRulesError([Problem("MR300", f"a row of {table!r} is a {type(row).__name__}, not a mapping",
                                            Location(table), hint="give the row as an object of column: value")])
        return self._engine.read({table: [row]}).tables[table][0].key

    def upsert(self, table: str, row: Mapping[str, Any]) -> None:
        key = self.key_of(table, row)
        with self._lock:
            self._rows.setdefault(table, {})[key] = dict(row)

    def remove(self, table: str, key: str) -> bool:
        if table not in self._engine.tables:
            raise MentorRulesError([Problem("MR300", f"unknown table {table!r}", Location(),
                                            expected=", ".join(self._engine.tables))])
        with self._lock:
            return self._rows.get(table, {}).pop(key, None) is not None

    def evaluate(self, record: Mapping[str, Any], table: str = "payouts",
                 as_of: dt.date | None = None) -> Decision:
        with self._lock:  # a consistent copy: the evaluation runs outside the lock
            related = {name: list(rows.values()) for name, rows in self._rows.items()}
        return self._engine.evaluate(record, table, related=related, as_of=as_of)

    def rows(self, table: str) -> int:
        """How many rows of ``table`` are held."""
        with self._lock:
            return len(self._rows.get(table, {}))


def prepare(engine: Engine) -> PreparedContext:
    """The service's context: ``Engine.prepare()`` when the engine has it, else a
    :class:`ReferenceContext`."""
    made = getattr(engine, "prepare", None)
    if made is not None:
        context: PreparedContext = made()
        return context
    return ReferenceContext(engine)
