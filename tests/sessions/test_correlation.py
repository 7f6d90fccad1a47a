"""The correlation backends: semantics, the durable-rules worker's supervision, and the two
backends checked against each other.

Durable-rules tests are skipped where durable-rules does not import (CPython 3.13).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mentorrules.sessions.backends import durable_available, make_correlator
from mentorrules.sessions.correlation import (
    CorrelationError,
    Correlator,
    Event,
    Fact,
    Join,
    Joined,
    Matched,
    Pattern,
    PythonCorrelator,
)

SLOW = os.environ.get("MENTORRULES_SLOW") == "1"

PATTERNS = [Pattern("NMP-005", "payouts"), Pattern("NMP-006", "payouts"),
            Pattern("TRN-001", "trainings")]
JOINS = [
    Join("NMP-007/pairings", "payouts", "pairings", (("payee_id", "mentor_id"),)),
    Join("DUP-001", "payouts", "payouts", (("payee_id", "payee_id"), ("period", "period"))),
    Join("TRN-002", "pairings", "trainings", (("mentor_id", "teacher_id"),
                                              ("school_year", "school_year"))),
    Join("ROLE-1", "pairings", "pairings", (("mentee_id", "mentor_id"),)),
]


DURABLE = durable_available()


def durable_module() -> Any:
    if not DURABLE:
        pytest.skip("durable-rules cannot run here (CPython 3.13)")
    from mentorrules.sessions import durable

    return durable


def make(backend: str, **options: Any) -> Correlator:
    if backend == "durable-rules":
        return durable_module().DurableCorrelator(PATTERNS, JOINS, **options)  # type: ignore[no-any-return]
    return make_correlator(PATTERNS, JOINS, backend="python", **options)


@pytest.fixture(params=["python", "durable-rules"])
def correlator(request: pytest.FixtureRequest) -> Iterator[Correlator]:
    c = make(request.param)
    yield c
    c.shutdown()


def payout(fid: str, payee: str, period: str = "2025-09") -> Fact:
    return Fact(fid, "payouts", {"payee_id": payee, "period": period})


def pairing(fid: str, mentor: str, mentee: str = "M", year: str = "2025-26") -> Fact:
    return Fact(fid, "pairings", {"mentor_id": mentor, "mentee_id": mentee, "school_year": year})


# -- semantics, on both backends ----------------------------------------------------------


def test_patterns_and_joins_in_both_directions(correlator: Correlator) -> None:
    s = correlator.open()
    assert correlator.assert_fact(s, pairing("pr-1", "T-1")) == []
    assert correlator.assert_fact(s, payout("P-1", "T-1")) == [
        Matched("NMP-005", "P-1"), Matched("NMP-006", "P-1"),
        Joined("NMP-007/pairings", "P-1", "pr-1")]
    assert correlator.assert_fact(s, pairing("pr-2", "T-1")) == [
        Joined("NMP-007/pairings", "P-1", "pr-2")]
    assert correlator.retract_fact(s, "pr-1") == [Joined("NMP-007/pairings", "P-1", "pr-1")]
    assert correlator.retract_fact(s, "pr-1") == []
    assert correlator.retract_fact(s, "P-1") == [
        Matched("NMP-005", "P-1"), Matched("NMP-006", "P-1"),
        Joined("NMP-007/pairings", "P-1", "pr-2")]
    correlator.close(s)


def test_self_join_gives_both_orders_and_never_the_fact_itself(correlator: Correlator) -> None:
    s = correlator.open()
    correlator.assert_fact(s, payout("a", "T-1"))
    events = correlator.assert_fact(s, payout("b", "T-1"))
    assert [e for e in events if isinstance(e, Joined)] == [
        Joined("DUP-001", "b", "a"), Joined("DUP-001", "a", "b")]
    assert [e for e in correlator.assert_fact(s, payout("c", "T-1", "2025-10"))
            if isinstance(e, Joined)] == []


def test_all_keys_must_hold_and_missing_keys_join_nothing(correlator: Correlator) -> None:
    s = correlator.open()
    correlator.assert_fact(s, Fact("t1", "trainings", {"teacher_id": "T-1",
                                                       "school_year": "2024-25"}))
    correlator.assert_fact(s, Fact("t2", "trainings", {"teacher_id": "T-1"}))
    assert correlator.assert_fact(s, pairing("pr", "T-1", year="2025-26")) == []
    assert correlator.assert_fact(s, Fact("t3", "trainings", {
        "teacher_id": "T-1", "school_year": "2025-26"})) == [
        Matched("TRN-001", "t3"), Joined("TRN-002", "pr", "t3")]
    assert correlator.assert_fact(s, Fact("p0", "pairings", {})) == []
    assert correlator.assert_fact(s, Fact("p1", "pairings", {})) == []


def test_text_is_compared_exactly(correlator: Correlator) -> None:
    s = correlator.open()
    for number, value in enumerate(["1", "1.0", "01", " 1", "", "É", "e\u0301", "a.b", "a$b"]):
        correlator.assert_fact(s, pairing(f"pr{number}", value))
    events = correlator.assert_fact(s, payout("P", "1"))
    assert [e for e in events if isinstance(e, Joined) and e.join == "NMP-007/pairings"] == [
        Joined("NMP-007/pairings", "P", "pr0")]
    assert Joined("NMP-007/pairings", "Q", "pr4") in correlator.assert_fact(s, payout("Q", ""))


def test_reassert_replaces(correlator: Correlator) -> None:
    s = correlator.open()
    correlator.assert_fact(s, pairing("pr-1", "T-1"))
    correlator.assert_fact(s, pairing("pr-2", "T-2"))
    correlator.assert_fact(s, payout("P-1", "T-1"))
    assert correlator.assert_fact(s, payout("P-1", "T-2")) == [
        Matched("NMP-005", "P-1"), Matched("NMP-006", "P-1"),
        Joined("NMP-007/pairings", "P-1", "pr-2")]
    assert correlator.retract_fact(s, "pr-1") == []
    assert correlator.retract_fact(s, "pr-2") == [Joined("NMP-007/pairings", "P-1", "pr-2")]


def test_sessions_are_isolated_and_closed_ones_refused(correlator: Correlator) -> None:
    first, second = correlator.open(), correlator.open()
    correlator.assert_fact(first, pairing("pr-1", "T-1"))
    assert [e for e in correlator.assert_fact(second, payout("P-1", "T-1"))
            if isinstance(e, Joined)] == []
    correlator.close(first)
    with pytest.raises(CorrelationError, match="unknown or closed session"):
        correlator.assert_fact(first, pairing("pr-1", "T-1"))
    with pytest.raises(CorrelationError):
        correlator.close(first)
    # A new session (durable: maybe the same slot) starts empty.
    third = correlator.open()
    assert correlator.assert_fact(third, payout("P-9", "T-1"))[2:] == []


def test_unknown_tables_and_unused_keys(correlator: Correlator) -> None:
    s = correlator.open()
    assert correlator.assert_fact(s, Fact("x", "districts", {"payee_id": "T-1"})) == []
    assert correlator.assert_fact(s, Fact("y", "payouts", {"unused": "1"})) == [
        Matched("NMP-005", "y"), Matched("NMP-006", "y")]
    assert correlator.retract_fact(s, "x") == []


def test_keys_must_be_text(correlator: Correlator) -> None:
    s = correlator.open()
    with pytest.raises(CorrelationError, match="must be text"):
        correlator.assert_fact(s, Fact("P", "payouts", {"payee_id": 1}))  # type: ignore[dict-item]
    assert correlator.assert_fact(s, payout("P", "1"))[:1] == [Matched("NMP-005", "P")]


# -- choosing a backend -------------------------------------------------------------------


def test_auto_falls_back_to_python_when_durable_cannot_import(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "durable", None)  # as if not installed
    assert not durable_available()
    assert make_correlator(PATTERNS, JOINS).backend == "python"
    with pytest.raises(CorrelationError, match="not installed"):
        make_correlator(PATTERNS, JOINS, backend="durable-rules")


def test_auto_uses_durable_when_it_imports() -> None:
    durable_module()
    c = make_correlator(PATTERNS, JOINS)
    try:
        assert c.backend == "durable-rules"
    finally:
        c.shutdown()


def test_bad_rules_are_refused() -> None:
    with pytest.raises(CorrelationError, match="duplicate"):
        make_correlator([Pattern("A", "t")], [Join("A", "t", "u", (("k", "k"),))], "python")
    with pytest.raises(CorrelationError, match="no key"):
        make_correlator([], [Join("J", "t", "u", ())], "python")


# -- the durable-rules supervisor ---------------------------------------------------------


def random_fact(rng: random.Random, number: int) -> Fact:
    table = rng.choice(["payouts", "pairings", "trainings", "districts"])

    def value() -> str:
        return rng.choice(["T-1", "T-2", "T-3", "T-4"])

    keys = {"payee_id": value(), "period": rng.choice(["a", "b"]), "mentor_id": value(),
            "mentee_id": value(), "teacher_id": value(), "school_year": rng.choice(["x", "y"])}
    return Fact(f"f{number}", table, keys)


@pytest.mark.parametrize("backend", ["python", "durable-rules"])
def test_open_sessions_are_bounded_alike_and_abandoned_ones_give_their_place_back(backend: str) -> None:
    c = make(backend, max_sessions=2)
    try:
        a, _ = c.open(), c.open()
        with pytest.raises(CorrelationError, match=r"too many open sessions: 2 \(max_sessions\)"):
            c.open()
        c.assert_fact(a, pairing("pr-1", "T-1"))
        c.abandon(a)
        c.abandon(a)  # twice is harmless
        d = c.open()  # a is closed now, its fact gone
        with pytest.raises(CorrelationError, match="unknown or closed session"):
            c.assert_fact(a, payout("P-1", "T-1"))
        assert [e for e in c.assert_fact(d, payout("P-1", "T-1")) if isinstance(e, Joined)] == []
        c.close(d)
        c.abandon(d)  # after close: harmless
        c.open()
    finally:
        c.shutdown()
    if backend == "durable-rules":
        with pytest.raises(CorrelationError, match="max_sessions"):
            make(backend, max_sessions=2000)


def test_durable_abandoned_sessions_are_not_replayed() -> None:
    durable = durable_module()
    with durable.DurableCorrelator(PATTERNS, JOINS, max_sessions=4) as c:
        kept, gone = c.open(), c.open()
        c.assert_fact(kept, pairing("pr-1", "T-1"))
        for number in range(5):
            c.assert_fact(gone, payout(f"P-{number}", "T-1"))
        c.abandon(gone)
        os.kill(c.worker_pid, signal.SIGKILL)
        assert c.assert_fact(kept, payout("P-9", "T-1"))[-1] == Joined("NMP-007/pairings", "P-9", "pr-1")
        assert (c.restarts_done, c.replayed_facts) == (1, 1)
        assert len(c.durable_facts(kept)) == 2


@pytest.mark.slow  # a soak test: `make soak`
def test_durable_5000_sessions_100000_facts() -> None:
    """Many more sessions than a durable-rules Host can hold ids for: slots are reused."""
    durable = durable_module()
    rng = random.Random(5)
    started = time.perf_counter()
    with durable.DurableCorrelator(PATTERNS, JOINS, max_sessions=16) as c:
        open_sessions: list[int] = []
        posted = 0
        for number in range(5000):
            session = c.open()
            open_sessions.append(session)
            for _ in range(20):
                posted += 1
                c.assert_fact(session, random_fact(rng, rng.randrange(12)))
            if len(open_sessions) >= 8:  # a few stay open while others come and go
                c.close(open_sessions.pop(rng.randrange(len(open_sessions))))
            if number % 1000 == 0:
                assert c.disagreements == []
        for session in open_sessions:
            c.close(session)
        assert posted == 100_000
        assert c.disagreements == []
        assert c.restarts_done == 0
    elapsed = time.perf_counter() - started
    print(f"5,000 sessions, 100,000 facts: {elapsed:.1f} s")


def compare_state(c: Any, session: int, reference: PythonCorrelator, ref_session: int) -> None:
    """The facts durable-rules holds for a session are those the python backend holds."""
    expected = {f.id: f for f in reference.facts(ref_session)}
    assert {f.id: f for f in c.facts(session)} == expected
    held = c.durable_facts(session)
    mentioned = sum(1 for f in expected.values() if f.table != "districts")
    assert len(held) == mentioned
    assert sorted(item["t"] for item in held) == sorted(
        f.table for f in expected.values() if f.table != "districts")


def test_durable_worker_killed_mid_session_loses_nothing() -> None:
    durable = durable_module()
    rng = random.Random(7)
    reference = PythonCorrelator(PATTERNS, JOINS)
    with durable.DurableCorrelator(PATTERNS, JOINS) as c:
        sessions = [(c.open(), reference.open()) for _ in range(3)]
        closed = c.open()
        c.assert_fact(closed, payout("gone", "T-1"))
        c.close(closed)
        for step in range(300):
            if step in (100, 150, 151, 220):
                os.kill(c.worker_pid, signal.SIGKILL)
            session, ref = rng.choice(sessions)
            fact = random_fact(rng, rng.randrange(25))
            if rng.random() < 0.2:
                assert c.retract_fact(session, fact.id) == reference.retract_fact(ref, fact.id)
            else:
                assert c.assert_fact(session, fact) == reference.assert_fact(ref, fact)
        assert c.restarts_done == 4
        assert c.disagreements == []
        for session, ref in sessions:
            compare_state(c, session, reference, ref)
        # Retracting everything still gives the events that held, as the reference says.
        for session, ref in sessions:
            for fact in reference.facts(ref):
                assert c.retract_fact(session, fact.id) == reference.retract_fact(ref, fact.id)


def test_durable_answers_that_lose_add_or_repeat_events_are_corrected(monkeypatch: pytest.MonkeyPatch) -> None:
    """durable-rules has lost results under load: every answer is checked, never believed."""
    durable = durable_module()
    from mentorrules.sessions import durable_worker

    rng = random.Random(3)
    honest = durable_worker.Worker.request
    spoiled = Counter[str]()

    def request(worker: Any, message: Any, timeout: float) -> Any:
        answer = honest(worker, message, timeout)
        if isinstance(message, list) and message[0] == "assert" and answer.get("ok") and rng.random() < 0.1:
            events = answer["ok"]
            how = rng.choice(["lose", "repeat", "invent"])
            spoiled[how] += 1
            if how == "lose":
                events.pop(rng.randrange(len(events)))
            elif how == "repeat":
                events.append(rng.choice(events))
            else:
                events.append([0, events[0][1], events[0][1]])  # a fact joined with itself
        return answer

    monkeypatch.setattr(durable_worker.Worker, "request", request)
    reference = PythonCorrelator(PATTERNS, JOINS)
    with durable.DurableCorrelator(PATTERNS, JOINS) as c:
        sessions = [(c.open(), reference.open()) for _ in range(3)]
        for _ in range(400):
            session, ref = rng.choice(sessions)
            fact = random_fact(rng, rng.randrange(25))
            if rng.random() < 0.2:
                assert c.retract_fact(session, fact.id) == reference.retract_fact(ref, fact.id)
            else:
                assert c.assert_fact(session, fact) == reference.assert_fact(ref, fact)
        assert min(spoiled.values()) > 5  # (replays count too: they go through request)
        assert len(c.disagreements) > 20
        assert c.restarts_done > 0  # a wrong answer makes the worker suspect
        for session, ref in sessions:
            compare_state(c, session, reference, ref)


def test_durable_worker_that_hangs_is_replaced() -> None:
    durable = durable_module()
    with durable.DurableCorrelator(PATTERNS, JOINS, timeout=1.0) as c:
        s = c.open()
        c.assert_fact(s, pairing("pr-1", "T-1"))
        pid = c.worker_pid
        os.kill(pid, signal.SIGSTOP)
        try:
            assert c.assert_fact(s, payout("P-1", "T-1"))[-1] == Joined(
                "NMP-007/pairings", "P-1", "pr-1")
        finally:
            with_suppressed_kill(pid)
        assert c.worker_pid != pid
        assert c.restarts_done == 1


def with_suppressed_kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def test_durable_correlator_gives_up_on_a_worker_that_cannot_start(
        monkeypatch: pytest.MonkeyPatch) -> None:
    durable = durable_module()
    with durable.DurableCorrelator(PATTERNS, JOINS, restarts=2) as c:
        s = c.open()
        c.assert_fact(s, pairing("pr-1", "T-1"))
        monkeypatch.setattr(sys, "executable", "/bin/false")
        os.kill(c.worker_pid, signal.SIGKILL)
        with pytest.raises(CorrelationError, match="keeps dying"):
            c.assert_fact(s, payout("P-1", "T-1"))
        monkeypatch.undo()
        assert c.assert_fact(s, payout("P-1", "T-1"))[-1] == Joined(
            "NMP-007/pairings", "P-1", "pr-1")


def test_two_correlators_four_threads() -> None:
    durable = durable_module()
    correlators = [durable.DurableCorrelator(PATTERNS, JOINS),
                   durable.DurableCorrelator(PATTERNS, JOINS)]
    assert correlators[0].worker_pid != correlators[1].worker_pid
    failures: list[str] = []

    def work(seed: int) -> None:
        rng = random.Random(seed)
        reference = PythonCorrelator(PATTERNS, JOINS)
        try:
            for _ in range(10):
                pairs = [(c, c.open(), reference.open()) for c in correlators]
                for _ in range(60):
                    c, session, ref = rng.choice(pairs)
                    fact = random_fact(rng, rng.randrange(15))
                    if rng.random() < 0.2:
                        got, want = (c.retract_fact(session, fact.id),
                                     reference.retract_fact(ref, fact.id))
                    else:
                        got, want = c.assert_fact(session, fact), reference.assert_fact(ref, fact)
                    if got != want:
                        failures.append(f"{fact}: {got} != {want}")
                for c, session, ref in pairs:
                    c.close(session)
                    reference.close(ref)
        except Exception as error:  # reported below, in the test's thread
            failures.append(repr(error))

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for c in correlators:
        assert c.disagreements == []
        c.shutdown()
    assert failures == []


def test_shutdown_ends_the_worker() -> None:
    durable = durable_module()
    c = durable.DurableCorrelator(PATTERNS, JOINS)
    pid = c.worker_pid
    c.shutdown()
    assert c.worker_pid is None
    with pytest.raises(CorrelationError, match="shut down"):
        c.open()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


# -- the two backends against each other --------------------------------------------------

VALUES = st.sampled_from(["T-1", "T-2", "1", "1.0", "", "é"])
KEYS = st.dictionaries(st.sampled_from(["payee_id", "period", "mentor_id", "mentee_id",
                                        "teacher_id", "school_year"]), VALUES)
ASSERT = st.tuples(st.just("assert"), st.integers(0, 2), st.sampled_from("abcdefg"),
                   st.sampled_from(["payouts", "pairings", "trainings", "other"]), KEYS)
NO_KEYS: st.SearchStrategy[dict[str, str]] = st.just({})
RETRACT = st.tuples(st.just("retract"), st.integers(0, 2), st.sampled_from("abcdefg"),
                    st.just(""), NO_KEYS)
CLOSE = st.tuples(st.just("close"), st.integers(0, 2), st.just(""), st.just(""), NO_KEYS)
OPS = st.lists(st.one_of(ASSERT, ASSERT, RETRACT, CLOSE), max_size=40)


@pytest.fixture(scope="module")
def shared_durable() -> Iterator[Correlator]:
    durable = durable_module()
    c = durable.DurableCorrelator(PATTERNS, JOINS, max_sessions=8)
    yield c
    assert c.disagreements == []
    c.shutdown()


@settings(max_examples=1000 if SLOW else 150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_backends_agree(shared_durable: Correlator,
                        ops: list[tuple[str, int, str, str, dict[str, str]]]) -> None:
    reference = PythonCorrelator(PATTERNS, JOINS)
    sessions = [(shared_durable.open(), reference.open()) for _ in range(3)]
    try:
        for op, number, fid, table, keys in ops:
            session, ref = sessions[number]
            got: list[Event]
            if op == "assert":
                fact = Fact(fid, table, keys)
                got, want = shared_durable.assert_fact(session, fact), reference.assert_fact(
                    ref, fact)
            elif op == "retract":
                got, want = (shared_durable.retract_fact(session, fid),
                             reference.retract_fact(ref, fid))
            else:
                shared_durable.close(session)
                reference.close(ref)
                sessions[number] = (shared_durable.open(), reference.open())
                continue
            assert Counter(got) == Counter(want)
            assert got == want  # the documented order, too
    finally:
        for session, _ in sessions:
            shared_durable.close(session)


@pytest.mark.slow
def test_durable_many_sessions_long_run() -> None:
    """Like the 5,000-session test, twenty times longer, with kills along the way."""
    durable = durable_module()
    rng = random.Random(11)
    with durable.DurableCorrelator(PATTERNS, JOINS, max_sessions=64) as c:
        for number in range(100_000):
            session = c.open()
            for _ in range(20):
                c.assert_fact(session, random_fact(rng, rng.randrange(12)))
            if number % 10_000 == 5_000:
                os.kill(c.worker_pid, signal.SIGKILL)
            c.close(session)
        assert c.disagreements == []
