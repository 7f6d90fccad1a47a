"""mentorrules: a rules engine for teacher-mentorship stipend and grant compliance.

    >>> from mentorrules import Engine
    >>> engine = Engine.load()                                   # doctest: +SKIP
    >>> engine.validate("examples/").summary["fail"]             # doctest: +SKIP

Names are imported on first use, so that ``mentorrules --help`` starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from mentorrules.checking.prepared import Context
    from mentorrules.engine import Engine
    from mentorrules.errors import CorrelationError, Location, MentorRulesError, Problem, UsageError
    from mentorrules.hookspecs import PackSpec, hookimpl
    from mentorrules.model import Decision, Finding, Report, Severity, Source, Status
    from mentorrules.sessions.config import SessionConfig

__all__ = ["Context", "CorrelationError", "Decision", "Engine", "Finding", "Location", "MentorRulesError",
           "PackSpec", "Problem", "Report", "SessionConfig", "Severity", "Source", "Status", "UsageError",
           "__version__", "hookimpl"]

_HOMES = {"Engine": "engine", "Report": "model", "Location": "errors", "MentorRulesError": "errors",
          "Problem": "errors", "UsageError": "errors", "CorrelationError": "errors",
          "Context": "checking.prepared", "SessionConfig": "sessions.config", "Decision": "model", "Finding": "model",
          "Status": "model", "PackSpec": "hookspecs", "hookimpl": "hookspecs",
          "Severity": "model", "Source": "model"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f"mentorrules.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'mentorrules' has no attribute {name!r}")
