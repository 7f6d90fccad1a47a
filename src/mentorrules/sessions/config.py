"""How an engine runs its streaming sessions: which correlator, how many sessions at once.

    >>> from mentorrules import Engine
    >>> from mentorrules.sessions.config import SessionConfig
    >>> engine = Engine.load(packs=[], sessions=SessionConfig(backend="python", max_sessions=64))
    >>> engine.backend
    'python'

The default is the engine's own Python correlator: measured the fastest (about 3x
durable-rules' facts/s in ``make bench``) and giving identical answers. ``durable-rules`` runs
the correlation in a supervised worker process where durable-rules is installed; ``auto``
takes it when it can start and falls back to Python.
"""

from __future__ import annotations

from dataclasses import dataclass

from mentorrules.errors import Location, Problem, UsageError

BACKENDS = ("auto", "python", "durable-rules")
MAX_SESSIONS = 512
SLOTS = 1000  # durable-rules: its Host fails after 1,024 distinct session ids (see durable.SLOTS)


@dataclass(frozen=True)
class SessionConfig:
    """The session backend and the bound of sessions open at once (1 to 1,000).

    >>> try:
    ...     SessionConfig(backend="drools")
    ... except UsageError as error:
    ...     print(error.code, error.problems[0].message)
    MR420 unknown session backend 'drools'
    """

    backend: str = "python"
    max_sessions: int = MAX_SESSIONS

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise UsageError([Problem("MR420", f"unknown session backend {self.backend!r}",
                                      Location(field="backend"), expected="one of " + ", ".join(BACKENDS))])
        if isinstance(self.max_sessions, bool) or not isinstance(self.max_sessions, int) \
                or not 1 <= self.max_sessions <= SLOTS:
            raise UsageError([Problem("MR420", f"max_sessions is {self.max_sessions!r}",
                                      Location(field="max_sessions"), expected=f"a whole number from 1 to {SLOTS}")])
