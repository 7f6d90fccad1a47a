"""Sessions in services: the backend and bound are settings, and a forked child never hangs."""

from __future__ import annotations

import multiprocessing
import os
import sys
from typing import Any

import pytest

from mentorrules import CorrelationError, Engine, SessionConfig, UsageError

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fork is POSIX")

PAYOUT = {"payout_id": "P-1", "payee_id": "T-1", "role": "mentor", "program": "NM_PILOT", "state": "NM",
          "school_year": "2025-26", "pay_date": "2025-09-15", "amount": "1000.00", "installment": "1"}


def test_the_default_backend_is_python_and_the_bound_is_a_setting() -> None:
    engine = Engine.load(packs=[], sessions=SessionConfig(max_sessions=2))
    assert engine.backend == "python"
    first, second = engine.session(), engine.session()
    with pytest.raises(CorrelationError) as raised:
        engine.session()
    assert raised.value.code == "MR421" and "too many open sessions: 2" in str(raised.value)
    first.close()
    engine.session().close()
    second.close()


@pytest.mark.parametrize("settings", [{"backend": "drools"}, {"max_sessions": 0}, {"max_sessions": "9"}])
def test_bad_session_settings_are_coded_errors(settings: dict[str, Any]) -> None:
    with pytest.raises(UsageError) as raised:
        SessionConfig(**settings)
    assert raised.value.code == "MR420"


def _child(engine: Engine, parent_session: Any, queue: Any) -> None:
    try:
        parent_session.post("payouts", PAYOUT)
        queue.put("posted through the parent's session")
    except CorrelationError as error:
        queue.put(error.code)
    with engine.session() as session:
        queue.put(session.post("payouts", PAYOUT)[0].key)


@pytest.mark.parametrize("backend", ["python", "durable-rules"])
def test_a_forked_child_opens_its_own_sessions_and_refuses_the_parents(backend: str) -> None:
    engine = Engine.load(packs=[], sessions=SessionConfig(backend=backend))
    try:
        session = engine.session()
    except CorrelationError:
        pytest.skip("durable-rules is not installed or cannot start here")
    session.post("payouts", PAYOUT)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child, args=(engine, session, queue))
    child.start()
    child.join(timeout=60)
    try:
        assert child.exitcode == 0, "the child hung or failed"
        assert [queue.get(timeout=5) for _ in range(2)] == ["MR422", "P-1"]
        # The parent's session and correlator are untouched by the child.
        assert [decision.key for decision in session.findings()] == ["P-1"]
    finally:
        session.close()
        engine.close()


def test_os_fork_child_exits_without_touching_the_parents_sessions() -> None:
    engine = Engine.load(packs=[])
    session = engine.session()
    session.post("payouts", PAYOUT)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a fresh session works; exit without running the parent's finalizers' effects
        code = 1
        try:
            with engine.session() as fresh:
                code = 0 if fresh.post("payouts", PAYOUT)[0].key == "P-1" else 2
        finally:
            os.write(write, bytes([code]))
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 1) == bytes([0]) and os.WEXITSTATUS(status) == 0
    assert len(session.post("payouts", {**PAYOUT, "payout_id": "P-2", "installment": "2"})) >= 1
    session.close()
    engine.close()
