"""The durable-rules worker process: one ``Host`` driven by JSON lines on stdin/stdout.

Started by :class:`mentorrules.durable.DurableCorrelator` as
``python -m mentorrules.durable_worker``; nothing else should run it. A crash here (durable-rules
is a C extension, unmaintained since 2020) ends this process only; the supervisor restarts it
and replays the open sessions.

Protocol, one JSON document per line:

- first line in: ``{"ruleset": {rule name: rule definition without "run"}}``; the worker
  answers ``{"ready": <pid>}``. Rule names say what an action reports: ``p<i>`` the
  pattern ``i`` (one fact, named ``m``), ``j<i>`` the join ``i`` (facts ``l`` and ``r``),
  anything else (the catch-all) nothing.
- then requests ``[op, sid, payload]`` with op ``"assert"`` (payload: the fact),
  ``"retract"`` (payload: ``{"id": ...}``) or ``"clear"`` (payload: list of ids); each is
  answered ``{"ok": events}``, events being ``[i, fact id]`` for pattern ``i`` and
  ``[i, left id, right id]`` for join ``i``, or ``{"error": kind, "message": text}``.
- ``"facts"`` answers the session's facts as durable-rules reports them (``get_facts``).
- ``["exit", null, null]`` or end of input ends the process.

The ``Host``'s two background timer threads (``dispatch`` and ``dispatch_timers``) are not
started: nothing here uses timers, and the dispatch thread could otherwise run a pending
action on its own thread, outside the request that caused it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

Action = Callable[[Any], None]


def _make_host(ruleset: dict[str, Any], events: list[list[Any]]) -> Any:
    from durable.engine import Host

    class QuietHost(Host):  # type: ignore[misc]
        def _run(self) -> None:  # no dispatch or timer threads
            return None

    def pattern_action(index: int) -> Action:
        def action(c: Any) -> None:
            events.append([index, c.m["id"]])

        return action

    def join_action(index: int) -> Action:
        def action(c: Any) -> None:
            events.append([index, c.l["id"], c.r["id"]])

        return action

    def ignore(c: Any) -> None:
        return None

    rules: dict[str, Any] = {}
    for name, rule in ruleset.items():
        run: Action
        if name.startswith("p") and name[1:].isdigit():
            run = pattern_action(int(name[1:]))
        elif name.startswith("j") and name[1:].isdigit():
            run = join_action(int(name[1:]))
        else:
            run = ignore
        rules[name] = {**rule, "run": run}
    return QuietHost({"rules": rules})


def serve(stdin: Any, stdout: Any) -> int:
    """Answer requests until ``exit`` or end of input; returns the exit status."""
    from durable.engine import MessageNotHandledException, MessageObservedException

    first = stdin.readline()
    if not first:
        return 0
    events: list[list[Any]] = []
    host = _make_host(json.loads(first)["ruleset"], events)
    stdout.write(json.dumps({"ready": os.getpid()}) + "\n")
    stdout.flush()
    for line in stdin:
        op, sid, payload = json.loads(line)
        events.clear()
        try:
            if op == "assert":
                host.assert_fact("rules", {**payload, "sid": sid})
            elif op == "retract":
                host.retract_fact("rules", {"id": payload["id"], "sid": sid})
            elif op == "clear":
                if payload:
                    host.retract_facts("rules", [{"id": fid, "sid": sid} for fid in payload])
            elif op == "facts":
                events.extend(host.get_facts("rules", sid))
            elif op == "crash":  # for tests of the supervisor only
                os._exit(70)
            elif op == "exit":
                return 0
            else:
                raise ValueError(f"unknown op {op!r}")
            answer: dict[str, Any] = {"ok": events}
        except MessageObservedException as error:
            answer = {"error": "observed", "message": error.message}
        except MessageNotHandledException as error:
            answer = {"error": "not-handled", "message": error.message}
        except Exception as error:  # reported to the supervisor, which decides
            answer = {"error": type(error).__name__, "message": str(error)}
        stdout.write(json.dumps(answer, ensure_ascii=False) + "\n")
        stdout.flush()
    return 0


def main() -> int:
    # Text mode with explicit UTF-8 whatever the locale; stdout carries only protocol lines.
    stdin = open(sys.stdin.fileno(), encoding="utf-8", closefd=False)  # noqa: SIM115
    stdout = open(sys.stdout.fileno(), "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stdout = sys.stderr  # stray prints from durable-rules must not corrupt the protocol
    return serve(stdin, stdout)


if __name__ == "__main__":
    sys.exit(main())
