"""Choosing a session backend: the engine's own correlator, or durable-rules in a worker.

Imports both backends, so that neither imports the other: :mod:`correlation` (the protocol
and the python correlator) and :mod:`durable` (the supervisor of the durable-rules worker).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence

from mentorrules.sessions.correlation import (
    BACKENDS,
    MAX_SESSIONS,
    CorrelationError,
    Correlator,
    Join,
    Pattern,
    PythonCorrelator,
)
from mentorrules.sessions.durable import DurableCorrelator
from mentorrules.sessions.durable_worker import probe

log = logging.getLogger("mentorrules.sessions.correlation")


def durable_available() -> bool:
    """Whether a durable-rules worker can run here (never imports durable-rules in this
    process; see :func:`mentorrules.sessions.durable_worker.probe`)."""
    return probe() is None


def make_correlator(patterns: Sequence[Pattern], joins: Sequence[Join],
                    backend: str = "auto", max_sessions: int = MAX_SESSIONS) -> Correlator:
    """A correlator for these patterns and joins.

    ``backend`` is ``"python"``, ``"durable-rules"`` (a :class:`CorrelationError` when its
    worker cannot start) or ``"auto"``: durable-rules where it is installed and its worker
    starts, else python. When durable-rules is installed but its worker cannot start (for
    instance ``sys.executable`` is not a Python, as in some embedded servers), ``"auto"`` logs
    a warning saying why and uses python.

    >>> from mentorrules.sessions.correlation import Pattern
    >>> make_correlator([Pattern("A", "t")], [], backend="python").backend
    'python'
    >>> make_correlator([], [], backend="drools")
    Traceback (most recent call last):
    ...
    mentorrules.errors.CorrelationError: <input>: MR421 unknown backend 'drools' (choose auto, python, durable-rules)
    """
    if backend not in BACKENDS:
        raise CorrelationError(f"unknown backend {backend!r} (choose {', '.join(BACKENDS)})")
    if backend == "python":
        return PythonCorrelator(patterns, joins, max_sessions=max_sessions)
    if importlib.util.find_spec("durable") is None:  # never imported here: see durable_worker
        if backend == "auto":
            return PythonCorrelator(patterns, joins, max_sessions=max_sessions)
        raise CorrelationError("backend 'durable-rules' asked for, but durable-rules is not installed "
                               "(it needs CPython 3.11 or 3.12 and a C compiler); use backend='python' "
                               "or 'auto'")
    try:
        return DurableCorrelator(patterns, joins, max_sessions=max_sessions)
    except CorrelationError as error:
        if backend == "durable-rules":
            raise
        log.warning("sessions use the python correlator: %s (%s)", error.problems[0].message, error.code)
        return PythonCorrelator(patterns, joins, max_sessions=max_sessions)
