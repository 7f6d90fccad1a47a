"""Reference data held by the service -> decisions on records sent one at a time.

The service evaluates each record against the reference rows it holds (people, pairings,
districts, ...), which other systems keep current row by row (``PUT``/``DELETE
/v1/reference/{table}/{key}``). It holds them in the engine's prepared context
(:class:`~mentorrules.checking.prepared.Context`): rows typed and indexed once, so that a
record's cost does not grow with the rows held. Every table counts as given, and as empty
until rows are put in it, as in ``Engine.evaluate``.

    >>> from mentorrules import Engine
    >>> context = prepare(Engine.load(packs=[]))
    >>> context.upsert("people", {"person_id": "T-1", "career_year": 1})
    >>> context.remove("people", "T-1"), context.remove("people", "T-1")
    (True, False)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Protocol

from mentorrules.engine import Engine
from mentorrules.model import Decision


class PreparedContext(Protocol):
    """What the service needs of a context: reference tables held once, updated row by row,
    records evaluated against them; safe to call from several threads at once."""

    def evaluate(self, record: Mapping[str, Any], table: str = "payouts",
                 as_of: dt.date | None = None) -> Decision:
        """The decision on ``record`` against the rows held (its own table's rows too)."""
        ...

    def upsert(self, table: str, row: Mapping[str, Any]) -> None:
        """Add the row, or replace the rows with its key."""
        ...

    def remove(self, table: str, key: str) -> bool:
        """Remove the rows with this key; False when there was none."""
        ...


def prepare(engine: Engine) -> PreparedContext:
    """The service's context: the engine's prepared context, empty at first."""
    return engine.prepare()
