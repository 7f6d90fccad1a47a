"""The durable-rules correlation backend: a supervisor here, the Rete engine in a worker.

durable-rules 2.0.28 is a C extension, unmaintained since 2020, that can raise ``MemoryError``
or crash the process (see "durable-rules" in ``DESIGN.md``). So it never runs in the caller's
process. :class:`DurableCorrelator` starts ``python -m mentorrules.sessions.durable_worker`` and talks
to it in JSON lines over pipes (what it sends, and how patterns and joins become durable-rules
rules, is in :mod:`mentorrules.sessions.durable_worker`), and it keeps, on this side, everything needed
to rebuild the worker's state: every open session's facts and every event already returned.

durable-rules reports what becomes true when a fact is asserted, not what stops being true
when one is retracted; the events returned by :meth:`DurableCorrelator.retract_fact` are those
the supervisor recorded as returned for that fact (the fact is also retracted in durable-rules,
so later joins no longer see it).

Sessions: one ``Host`` per worker, and session ids (``sid``) come from a bounded pool of at
most ``max_sessions`` slots (the Host fails after 1,024 distinct ids). Closing a session
retracts its facts with ``retract_facts`` and frees the slot for reuse; ``delete_state`` is
never called (it crashed the process after many calls).

Supervision: a dead worker (end of output, broken pipe, no answer within ``timeout`` seconds)
is killed and restarted, every open session's facts are asserted again in their original
order, and the request is retried. Events the replay produces were already returned, so they
are not returned again; a replay that does not reproduce the recorded events is noted in
:attr:`DurableCorrelator.disagreements` (the recorded events stay authoritative).

Checking: durable-rules has lost results under load (``DESIGN.md``), so every answer to an
assert is checked against the facts held here before it is believed. Each event must be about
the new fact and hold (its two facts' keys are equal), the patterns must be exactly those of
the fact's table, and the number of join events must be the number of counterparts, counted
per join, side and key as facts come and go (a dictionary update per join and fact). An event
that does not hold, a duplicate or a missing one is noted in :attr:`disagreements`; the
answer is then computed here from the session's facts (a scan, only then), and the worker,
whose state is now suspect, is restarted and replayed before the next request -- at most once
per as many asserts as there are facts to replay, so that replays cost a bounded amount per
assert even if durable-rules keeps erring. A wrong answer is never returned.

>>> from mentorrules.sessions.backends import durable_available
>>> from mentorrules.sessions.correlation import Fact, Join, Pattern
>>> if not durable_available():
...     import pytest; pytest.skip("durable-rules does not import here")
>>> with DurableCorrelator([Pattern("NMP-005", "payouts")],
...         [Join("pay/pair", "payouts", "pairings", (("payee_id", "mentor_id"),))]) as c:
...     s = c.open()
...     c.assert_fact(s, Fact("pr-1", "pairings", {"mentor_id": "T-1"}))
...     c.assert_fact(s, Fact("P-1", "payouts", {"payee_id": "T-1"}))
[]
[Matched(pattern='NMP-005', fact='P-1'), Joined(join='pay/pair', left='P-1', right='pr-1')]
"""

from __future__ import annotations

import collections
import logging
import os
import subprocess
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mentorrules.sessions.correlation import (
    MAX_SESSIONS,
    CorrelationError,
    Event,
    Fact,
    Join,
    Joined,
    Matched,
    Pattern,
    Rules,
    check_fact,
    side_key,
    too_many_sessions,
)
from mentorrules.sessions.durable_worker import Encoding, Key, Worker, WorkerDied, event_key, stop_process

__all__ = ["SLOTS", "DurableCorrelator"]

log = logging.getLogger(__name__)

SLOTS = 1000
"""Upper bound of ``max_sessions``: a durable-rules Host fails after 1,024 distinct session ids."""

Side = tuple[str, ...]
Sides = list[tuple[Side | None, Side | None]]  # per join: a fact's (left key, right key)


@dataclass
class _Session:
    """One open session as the supervisor knows it: enough to rebuild the worker's state."""

    slot: str
    facts: dict[str, tuple[int, Fact, dict[str, str] | None]] = field(default_factory=dict)
    """Fact id -> (seq, fact, payload sent to durable-rules or None), in seq order."""
    ids: dict[int, str] = field(default_factory=dict)
    """seq -> fact id, for the facts present."""
    events: dict[int, set[Key]] = field(default_factory=dict)
    """seq -> the recorded (returned) events involving that fact."""
    sides: dict[int, Sides] = field(default_factory=dict)
    """seq -> the fact's keys per join and side, for the facts sent to durable-rules."""
    counts: list[tuple[collections.Counter[Side], collections.Counter[Side]]] = field(default_factory=list)
    """Per join, (left, right): key -> how many facts present have it on that side."""


class DurableCorrelator:
    """The :class:`~mentorrules.sessions.correlation.Correlator` on durable-rules, in a worker process.

    ``max_sessions`` bounds the sessions open at once (at most :data:`SLOTS`);
    ``timeout`` is how long one request may take before the worker counts as dead;
    ``restarts`` how many restarts one call may use before it raises
    :class:`~mentorrules.sessions.correlation.CorrelationError`. Every answer of durable-rules is
    checked (see the module docstring).

    Thread-safe: one lock serialises the calls (and so the pipe). Each instance has its own
    worker; several may live in one process.
    """

    backend = "durable-rules"

    def __init__(self, patterns: Sequence[Pattern], joins: Sequence[Join], *,
                 max_sessions: int = MAX_SESSIONS, timeout: float = 30.0, restarts: int = 3) -> None:
        if not 1 <= max_sessions <= SLOTS:
            raise CorrelationError(f"max_sessions must be between 1 and {SLOTS}")
        self.rules = Rules.build(patterns, joins)
        self._encoding = Encoding(self.rules)
        self._left = [tuple(left for left, _ in join.keys) for join in self.rules.joins]
        self._right = [tuple(right for _, right in join.keys) for join in self.rules.joins]
        self._timeout = timeout
        self._restarts = restarts
        self._lock = threading.RLock()
        self.max_sessions = max_sessions
        self._free = [str(slot) for slot in reversed(range(max_sessions))]
        self._abandoned: collections.deque[int] = collections.deque()
        self._sessions: dict[int, _Session] = {}
        self._next_session = 1
        self._seq = 0
        self._asserts = 0  # since the worker started
        self._worker: Worker | None = None
        self._closed = False
        self.restarts_done = 0
        """How many times a dead worker was replaced."""
        self.replayed_facts = 0
        """How many facts were asserted again into restarted workers."""
        self.disagreements: list[str] = []
        """Wrong answers of durable-rules seen (and corrected; see the module docstring)."""
        # The finalizer must not hold self: it holds this list, updated on every start.
        self._processes: list[subprocess.Popen[bytes]] = []
        self._started = False
        self._finalizer = weakref.finalize(self, _finalize, self._processes, os.getpid())
        try:
            self._start()
        except WorkerDied as error:
            raise CorrelationError(f"cannot start the durable-rules worker: {error}") from error

    # -- the Correlator protocol ---------------------------------------------------------

    def open(self) -> int:
        with self._lock:
            self._check_open()
            self._reap()
            if not self._free:
                raise too_many_sessions(self.max_sessions)
            handle = self._next_session
            self._next_session += 1
            self._sessions[handle] = _Session(self._free.pop(), counts=[
                (collections.Counter(), collections.Counter()) for _ in self.rules.joins])
            return handle

    def close(self, session: int) -> None:
        with self._lock:
            state = self._session(session)
            del self._sessions[session]
            ids = [payload["id"] for _, _, payload in state.facts.values() if payload]
            try:
                if ids:
                    # A restart drops the closed session anyway: no retry needed.
                    self._call("clear", state.slot, ids, retry=False)
            finally:
                self._free.append(state.slot)

    def abandon(self, session: int) -> None:
        self._abandoned.append(session)  # deque.append is atomic: no lock (see Correlator)

    def _reap(self) -> None:
        """Close the abandoned sessions still open (before an open, and before a replay)."""
        while self._abandoned:
            session = self._abandoned.popleft()
            if session in self._sessions:
                self.close(session)

    def assert_fact(self, session: int, fact: Fact) -> list[Event]:
        check_fact(fact)
        with self._lock:
            state = self._session(session)
            if fact.id in state.facts:
                self._retract(state, fact.id)
            self._seq += 1
            seq = self._seq
            payload = self._encoding.payload(fact, seq)
            keys: list[Key] = []
            if payload is not None:
                found = self._call("assert", state.slot, payload)
                self._asserts += 1
                sides = state.sides[seq] = self._sides(fact)
                keys = self._verified(state, seq, fact, [event_key(item) for item in found])
                self._count(state, sides, 1)
            state.facts[fact.id] = (seq, fact, payload)
            state.ids[seq] = fact.id
            for key in keys:
                for involved in key[2:]:
                    state.events.setdefault(involved, set()).add(key)
            return self._events(state, seq, keys)

    def retract_fact(self, session: int, fact_id: str) -> list[Event]:
        with self._lock:
            state = self._session(session)
            return self._retract(state, fact_id) if fact_id in state.facts else []

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            self._sessions.clear()
            if self._worker is not None:
                self._worker.stop()
                self._worker = None
            self._processes.clear()

    def __enter__(self) -> DurableCorrelator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # -- for tests and tools --------------------------------------------------------------

    @property
    def worker_pid(self) -> int | None:
        """The process id of the current worker (None after shutdown)."""
        with self._lock:
            return None if self._worker is None else self._worker.pid

    def facts(self, session: int) -> list[Fact]:
        """The facts of a session, in the order they were (last) asserted."""
        with self._lock:
            return [fact for _, fact, _ in self._session(session).facts.values()]

    def durable_facts(self, session: int) -> list[dict[str, Any]]:
        """The facts durable-rules holds for a session, as it reports them (``get_facts``)."""
        with self._lock:
            state = self._session(session)
            answer = self._call("facts", state.slot, None)
            return list(answer)

    # -- internals ------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise CorrelationError("this correlator was shut down")

    def _session(self, session: int) -> _Session:
        self._check_open()
        try:
            return self._sessions[session]
        except KeyError:
            raise CorrelationError(f"unknown or closed session {session}") from None

    def _verified(self, state: _Session, seq: int, fact: Fact, keys: list[Key]) -> list[Key]:
        """durable-rules' events for a new fact, if they are exactly right; else the right ones,
        computed here, with the worker restarted before the next request."""
        sides = state.sides[seq]

        def holds(key: Key) -> bool:
            if key[0] == "m":
                return key[2] == seq and key[1] in self.rules.patterns_of.get(fact.table, ())
            _, number, left, right = key
            left_sides, right_sides = state.sides.get(left), state.sides.get(right)
            if seq not in (left, right) or left == right or left_sides is None or right_sides is None:
                return False
            return left_sides[number][0] is not None and left_sides[number][0] == right_sides[number][1]

        expected = len(self.rules.patterns_of.get(fact.table, ()))
        for (lefts, rights), (left_key, right_key) in zip(state.counts, sides, strict=True):
            expected += (rights[left_key] if left_key is not None else 0) + \
                (lefts[right_key] if right_key is not None else 0)
        if len(set(keys)) == len(keys) == expected and all(holds(key) for key in keys):
            return keys
        right = self._scan(state, seq, fact)
        self._disagree(f"durable-rules answered {sorted(map(str, keys))[:5]} ({len(keys)} events) "
                       f"for {fact!r}; the facts held give {len(right)}")
        if self._asserts >= sum(len(held.sides) for held in self._sessions.values()):
            self._kill()  # the next request restarts the worker and replays every open session
        return right

    def _sides(self, fact: Fact) -> Sides:
        """Per join, the fact's (left key, right key): None where it is not on that side."""
        return [(side_key(fact, self._left[number]) if fact.table == join.left else None,
                 side_key(fact, self._right[number]) if fact.table == join.right else None)
                for number, join in enumerate(self.rules.joins)]

    @staticmethod
    def _count(state: _Session, sides: Sides, step: int) -> None:
        for (lefts, rights), (left_key, right_key) in zip(state.counts, sides, strict=True):
            for counter, key in ((lefts, left_key), (rights, right_key)):
                if key is not None:
                    counter[key] += step
                    if not counter[key]:
                        del counter[key]

    def _scan(self, state: _Session, seq: int, fact: Fact) -> list[Key]:
        """The events of a new fact, from the session's facts (when durable-rules was wrong)."""
        keys: list[Key] = [("m", index, seq) for index in self.rules.patterns_of.get(fact.table, ())]
        sides = state.sides[seq]
        for other, other_sides in state.sides.items():
            if other == seq:
                continue
            for number, ((left_key, right_key), (other_left, other_right)) in enumerate(
                    zip(sides, other_sides, strict=True)):
                if left_key is not None and left_key == other_right:
                    keys.append(("j", number, seq, other))
                if right_key is not None and right_key == other_left:
                    keys.append(("j", number, other, seq))
        return keys

    def _events(self, state: _Session, seq: int, keys: Sequence[Key]) -> list[Event]:
        """Event keys about fact ``seq`` -> events, in the documented order."""

        def order(key: Key) -> tuple[int, ...]:
            if key[0] == "m":
                return (0, key[1])
            left_is_seq = key[2] == seq
            return (1, key[1], 0 if left_is_seq else 1, key[3] if left_is_seq else key[2])

        events: list[Event] = []
        for key in sorted(keys, key=order):
            if key[0] == "m":
                events.append(Matched(self.rules.patterns[key[1]].name, state.ids[key[2]]))
            else:
                events.append(Joined(self.rules.joins[key[1]].name, state.ids[key[2]],
                                     state.ids[key[3]]))
        return events

    def _retract(self, state: _Session, fact_id: str) -> list[Event]:
        seq, _, payload = state.facts[fact_id]
        if payload is not None:
            self._call("retract", state.slot, {"id": payload["id"]})
            self._count(state, state.sides.pop(seq), -1)
        keys = state.events.pop(seq, set())
        for key in keys:
            for other in key[2:]:
                if other != seq:
                    state.events[other].discard(key)
        events = self._events(state, seq, list(keys))
        del state.facts[fact_id]
        del state.ids[seq]
        return events

    def _call(self, op: str, slot: str, payload: Any, *, retry: bool = True) -> Any:
        """One request to the worker, restarting and replaying it as needed."""
        last = "no attempt"
        for _ in range(self._restarts + 1):
            try:
                if self._worker is None:
                    self._start()
                    if not retry:
                        return None
                assert self._worker is not None
                answer = self._worker.request([op, slot, payload], self._timeout)
            except WorkerDied as error:
                last = self._died(error)
                continue
            if "ok" in answer:
                return answer["ok"]
            # durable-rules refused the request: its state may now differ from ours.
            self._kill()
            raise CorrelationError(f"durable-rules refused {op}: {answer.get('error')}: "
                                   f"{answer.get('message')}")
        raise CorrelationError(f"the durable-rules worker keeps dying ({last}); gave up after "
                               f"{self._restarts} restarts")

    def _died(self, error: WorkerDied) -> str:
        worker = self._worker
        detail = str(error) + (worker.last_words() if worker is not None else "")
        log.warning("durable-rules worker %s died: %s", worker.pid if worker else "-", detail)
        self._kill()
        return detail

    def _kill(self) -> None:
        if self._worker is not None:
            self._worker.stop(kill=True)
            self._worker = None

    def _start(self) -> None:
        """Start a worker and replay every open session into it."""
        self._kill()
        try:
            worker = Worker(self._encoding.ruleset, self._timeout)
        except OSError as error:
            raise CorrelationError(f"cannot start the durable-rules worker: {error}") from error
        self._processes[:] = [worker.process]
        if self._started:
            self.restarts_done += 1
        self._started = True
        self._asserts = 0
        while self._abandoned:  # a fresh worker: abandoned sessions are dropped, not replayed
            state = self._sessions.pop(self._abandoned.popleft(), None)
            if state is not None:
                self._free.append(state.slot)
        try:
            for state in self._sessions.values():
                self._replay(worker, state)
        except WorkerDied:
            worker.stop(kill=True)
            raise
        self._worker = worker

    def _replay(self, worker: Worker, state: _Session) -> None:
        replayed: set[Key] = set()
        for _, _, payload in state.facts.values():
            if payload is None:
                continue
            answer = worker.request(["assert", state.slot, payload], self._timeout)
            self.replayed_facts += 1
            if "ok" not in answer:
                raise WorkerDied(f"replay refused: {answer}")
            replayed.update(event_key(item) for item in answer["ok"])
        recorded = {key for keys in state.events.values() for key in keys}
        if replayed != recorded:
            self._disagree(f"replay into slot {state.slot} gave {len(replayed)} events, "
                           f"{len(recorded)} recorded; differences: "
                           f"{sorted(map(str, replayed ^ recorded))[:5]}")

    def _disagree(self, text: str) -> None:
        log.warning("durable-rules disagreement: %s", text)
        self.disagreements.append(text)


def _finalize(holder: list[subprocess.Popen[bytes]], pid: int) -> None:
    if os.getpid() != pid:  # a forked child exiting: the worker is its parent's, not its own
        return
    for process in holder:
        stop_process(process, kill=True)
