"""Correlation: which posted facts match which patterns, and which pairs of facts join.

The engine keeps money, dates and aggregates on the Python side. What it asks of a
correlation backend is only *which* facts are involved: a fact of table ``payouts`` matches
the batch rule ``NMP-005``; a payout and a pairing have equal ``mentor_id`` keys. Backends
answer incrementally, per session, as facts are asserted and retracted one at a time.

Two backends share the :class:`Correlator` protocol and give the same answers, event for
event and in the same order (the tests check this on random inputs):

- ``"python"`` (:class:`PythonCorrelator`): hash indexes in this process. Always available.
- ``"durable-rules"`` (:class:`mentorrules.sessions.durable.DurableCorrelator`): the durable-rules Rete
  engine in a supervised worker process. Only where durable-rules imports (not CPython 3.13).

Semantics (both backends):

- Asserting a fact yields :class:`Matched` for every pattern of its table, in the order the
  patterns were given, then :class:`Joined` for every join, in the order the joins were given.
  For one join, the pairs where the new fact is the *left* fact come first, then those where
  it is the *right* fact; within each, counterparts in the order they were asserted.
- A join holds for an ordered pair of two *different* facts (``left`` of table ``Join.left``,
  ``right`` of table ``Join.right``) when every key equality holds. A fact lacking one of the
  keys of a join is in no pair of that join. Keys are compared as exact text (``"1"`` is not
  ``"1.0"``). In a self-join (``left == right`` table) a fact never joins itself, and two
  facts with equal keys make two pairs, one in each order.
- Retracting a fact yields the events that involved it (same order as on assert) and forgets
  it; retracting an unknown id yields nothing.
- Re-asserting an id already present replaces the old fact: it is retracted, then the new
  fact asserted, and the assert's events are returned (all of them, including those that
  also held for the old version). Call :meth:`Correlator.retract_fact` first if you need the
  events that stop holding.
- Sessions are isolated: facts of one session never join facts of another, and a closed
  session's handle is no longer valid.
- At most ``max_sessions`` sessions (default :data:`MAX_SESSIONS`, 512) are open at once on
  one correlator; opening one more raises ``CorrelationError("too many open sessions: 512
  ...")``. durable-rules needs the bound (its ``Host`` fails after 1,024 session ids); the
  python backend has the same one, so that a program behaves alike on both. A session that is
  abandoned (:meth:`Correlator.abandon`, called when a streaming session is garbage-collected
  unclosed) is closed at the next :meth:`Correlator.open`, which frees its place and facts.

>>> c = PythonCorrelator(
...     [Pattern("NMP-005", "payouts")],
...     [Join("NMP-007/pairings", "payouts", "pairings", (("payee_id", "mentor_id"),))])
>>> s = c.open()
>>> c.assert_fact(s, Fact("pr-1", "pairings", {"mentor_id": "T-1"}))
[]
>>> c.assert_fact(s, Fact("P-1", "payouts", {"payee_id": "T-1"}))
[Matched(pattern='NMP-005', fact='P-1'), Joined(join='NMP-007/pairings', left='P-1', right='pr-1')]
>>> c.retract_fact(s, "pr-1")
[Joined(join='NMP-007/pairings', left='P-1', right='pr-1')]
>>> c.close(s)
>>> c.shutdown()
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias

from mentorrules.errors import CorrelationError
from mentorrules.sessions.config import BACKENDS, MAX_SESSIONS

__all__ = [
    "BACKENDS",
    "MAX_SESSIONS",
    "CorrelationError",
    "Correlator",
    "Event",
    "Fact",
    "Join",
    "Joined",
    "Matched",
    "Pattern",
    "PythonCorrelator",
    "Rules",
]


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pattern:
    """Facts of one table that a batch rule watches.

    >>> Pattern("NMP-005", "payouts")
    Pattern(name='NMP-005', table='payouts')
    """

    name: str
    table: str


@dataclass(frozen=True)
class Join:
    """Ordered pairs of facts whose keys are equal.

    ``keys`` holds ``(left key name, right key name)`` equalities, all of which must hold.

    >>> Join("NMP-007/pairings", "payouts", "pairings", (("payee_id", "mentor_id"),)).keys
    (('payee_id', 'mentor_id'),)
    """

    name: str
    left: str
    right: str
    keys: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Fact:
    """One record as the correlator sees it: an id, its table and some text keys.

    ``keys`` holds only text computed by the engine (ids, normalised codes), never money or
    dates: comparisons of those stay on the Python side.

    >>> Fact("P-1", "payouts", {"payee_id": "T-1"}).keys["payee_id"]
    'T-1'
    """

    id: str
    table: str
    keys: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Matched:
    """A fact matches a pattern.

    >>> Matched("NMP-005", "P-1")
    Matched(pattern='NMP-005', fact='P-1')
    """

    pattern: str
    fact: str


@dataclass(frozen=True)
class Joined:
    """Two facts join: ``left`` is of the join's left table, ``right`` of its right table.

    >>> Joined("NMP-007/pairings", "P-1", "pr-1").right
    'pr-1'
    """

    join: str
    left: str
    right: str


Event: TypeAlias = Matched | Joined


class Correlator(Protocol):
    """What the engine needs from a correlation backend; see the module docstring.

    Implementations are thread-safe: any thread may call any method.
    """

    backend: str

    def open(self) -> int:
        """Start a session; returns its handle."""
        ...

    def close(self, session: int) -> None:
        """Forget a session and its facts (no events)."""
        ...

    def abandon(self, session: int) -> None:
        """Have a session closed at the next :meth:`open`, if it is still open then.

        Safe to call from a finalizer, in any thread, at any moment: takes no lock, does no I/O.
        """
        ...

    def assert_fact(self, session: int, fact: Fact) -> list[Event]:
        """Add (or replace) a fact; returns the events that hold because of it."""
        ...

    def retract_fact(self, session: int, fact_id: str) -> list[Event]:
        """Remove a fact; returns the events that stop holding."""
        ...

    def shutdown(self) -> None:
        """Release the backend (worker processes); the correlator is unusable afterwards."""
        ...


@dataclass(frozen=True)
class Rules:
    """Patterns and joins, checked and indexed by table.

    >>> rules = Rules.build([Pattern("A", "t")], [Join("J", "t", "u", (("k", "k"),))])
    >>> rules.patterns_of["t"], [j.name for j in rules.joins]
    ((0,), ['J'])
    >>> Rules.build([Pattern("A", "t"), Pattern("A", "u")], [])
    Traceback (most recent call last):
    ...
    mentorrules.errors.CorrelationError: <input>: MR421 duplicate pattern or join name 'A'
    """

    patterns: tuple[Pattern, ...]
    joins: tuple[Join, ...]
    patterns_of: Mapping[str, tuple[int, ...]]
    """Table name -> indexes of its patterns, in declaration order."""

    @staticmethod
    def build(patterns: Sequence[Pattern], joins: Sequence[Join]) -> Rules:
        seen: set[str] = set()
        for name in [pattern.name for pattern in patterns] + [join.name for join in joins]:
            if name in seen:
                raise CorrelationError(f"duplicate pattern or join name {name!r}")
            seen.add(name)
        for join in joins:
            if not join.keys:
                raise CorrelationError(f"join {join.name!r} has no key equalities")
        texts = [p.table for p in patterns] + [name for j in joins for name in (
            j.left, j.right, *(key for pair in j.keys for key in pair))]
        for text in texts:
            if not isinstance(text, str) or not _is_utf8(text):
                raise CorrelationError(f"table and key names must be text, not {text!r}")
        patterns_of: dict[str, list[int]] = {}
        for index, pattern in enumerate(patterns):
            patterns_of.setdefault(pattern.table, []).append(index)
        return Rules(tuple(patterns), tuple(joins),
                     {table: tuple(found) for table, found in patterns_of.items()})


def too_many_sessions(limit: int) -> CorrelationError:
    return CorrelationError(f"too many open sessions: {limit} (max_sessions); close one first "
                            "(a session is closed by its with block, close(), or garbage collection)")


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


def check_fact(fact: Fact) -> None:
    """Refuses a fact whose id, table or key values are not text (both backends do).

    >>> check_fact(Fact("P-1", "payouts", {"amount": 1000}))  # type: ignore[dict-item]
    Traceback (most recent call last):
    ...
    mentorrules.errors.CorrelationError: <input>: MR421 fact 'P-1': key 'amount' must be text, not int
    """
    if not isinstance(fact.id, str) or not isinstance(fact.table, str):
        raise CorrelationError(f"fact {fact.id!r}: id and table must be text")
    for name, value in fact.keys.items():
        if not isinstance(value, str):
            raise CorrelationError(f"fact {fact.id!r}: key {name!r} must be text, "
                                   f"not {type(value).__name__}")


def side_key(fact: Fact, names: Sequence[str]) -> tuple[str, ...] | None:
    """The values of ``names`` in a fact, or None when one is missing.

    >>> side_key(Fact("x", "t", {"a": "1", "b": "2"}), ("b", "a"))
    ('2', '1')
    >>> side_key(Fact("x", "t", {"a": "1"}), ("a", "b")) is None
    True
    """
    values: list[str] = []
    for name in names:
        value = fact.keys.get(name)
        if value is None:
            return None
        values.append(value)
    return tuple(values)


class _Session:
    """The facts of one session and, per join and side, key value -> fact ids (ordered)."""

    __slots__ = ("facts", "index")

    def __init__(self, joins: int) -> None:
        self.facts: dict[str, Fact] = {}
        # index[join][0] holds left facts, index[join][1] right facts.
        self.index: list[tuple[dict[tuple[str, ...], dict[str, None]],
                               dict[tuple[str, ...], dict[str, None]]]] = [
            ({}, {}) for _ in range(joins)]


class PythonCorrelator:
    """The correlator as hash indexes in this process.

    >>> c = PythonCorrelator([], [Join("dup", "payouts", "payouts", (("payee", "payee"),))])
    >>> s = c.open()
    >>> c.assert_fact(s, Fact("a", "payouts", {"payee": "T-1"}))
    []
    >>> c.assert_fact(s, Fact("b", "payouts", {"payee": "T-1"}))
    [Joined(join='dup', left='b', right='a'), Joined(join='dup', left='a', right='b')]
    """

    backend = "python"

    def __init__(self, patterns: Sequence[Pattern], joins: Sequence[Join], *,
                 max_sessions: int = MAX_SESSIONS) -> None:
        self.rules = Rules.build(patterns, joins)
        self.max_sessions = max_sessions
        self._abandoned: collections.deque[int] = collections.deque()
        self._left_names = [tuple(left for left, _ in join.keys) for join in self.rules.joins]
        self._right_names = [tuple(right for _, right in join.keys) for join in self.rules.joins]
        self._sessions: dict[int, _Session] = {}
        self._next = 1
        self._lock = threading.Lock()

    def open(self) -> int:
        with self._lock:
            while self._abandoned:
                self._sessions.pop(self._abandoned.popleft(), None)
            if len(self._sessions) >= self.max_sessions:
                raise too_many_sessions(self.max_sessions)
            handle = self._next
            self._next += 1
            self._sessions[handle] = _Session(len(self.rules.joins))
            return handle

    def close(self, session: int) -> None:
        with self._lock:
            self._session(session)
            del self._sessions[session]

    def abandon(self, session: int) -> None:
        self._abandoned.append(session)  # deque.append is atomic: no lock (see Correlator)

    def assert_fact(self, session: int, fact: Fact) -> list[Event]:
        check_fact(fact)
        with self._lock:
            state = self._session(session)
            if fact.id in state.facts:
                self._events(state, state.facts[fact.id], remove=True)
            state.facts[fact.id] = fact
            return self._events(state, fact, add=True)

    def retract_fact(self, session: int, fact_id: str) -> list[Event]:
        with self._lock:
            state = self._session(session)
            fact = state.facts.pop(fact_id, None)
            if fact is None:
                return []
            return self._events(state, fact, remove=True)

    def shutdown(self) -> None:
        with self._lock:
            self._sessions.clear()

    def facts(self, session: int) -> list[Fact]:
        """The facts of a session, in the order they were (last) asserted."""
        with self._lock:
            return list(self._session(session).facts.values())

    def _session(self, session: int) -> _Session:
        try:
            return self._sessions[session]
        except KeyError:
            raise CorrelationError(f"unknown or closed session {session}") from None

    def _events(self, state: _Session, fact: Fact, *, add: bool = False,
                remove: bool = False) -> list[Event]:
        """The events involving ``fact``; indexes it (add) or unindexes it (remove)."""
        events: list[Event] = [Matched(self.rules.patterns[index].name, fact.id)
                               for index in self.rules.patterns_of.get(fact.table, ())]
        for number, join in enumerate(self.rules.joins):
            lefts, rights = state.index[number]
            left_key = right_key = None
            if fact.table == join.left:
                left_key = side_key(fact, self._left_names[number])
                if left_key is not None:
                    events.extend(Joined(join.name, fact.id, other)
                                  for other in rights.get(left_key, ()) if other != fact.id)
            if fact.table == join.right:
                right_key = side_key(fact, self._right_names[number])
                if right_key is not None:
                    events.extend(Joined(join.name, other, fact.id)
                                  for other in lefts.get(right_key, ()) if other != fact.id)
            for key, bucket_map in ((left_key, lefts), (right_key, rights)):
                if key is None:
                    continue
                if add:
                    bucket_map.setdefault(key, {})[fact.id] = None
                elif remove:
                    bucket = bucket_map[key]
                    del bucket[fact.id]
                    if not bucket:
                        del bucket_map[key]
        return events
