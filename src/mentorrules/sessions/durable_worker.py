"""What durable-rules sees: the ruleset and facts in its JSON form, the worker process, the pipe.

durable-rules is a C extension, unmaintained since 2020: it only ever runs in a worker started
as ``python -m mentorrules.sessions.durable_worker``, where a crash ends that process only (the
supervisor, :class:`mentorrules.sessions.durable.DurableCorrelator`, restarts it and replays the open
sessions). This module holds both ends of the protocol; it imports durable-rules only in the
worker.

- In the caller's process: :class:`Encoding` turns patterns, joins and facts into what
  durable-rules is sent; :class:`Worker` starts a worker and exchanges lines with it, with a
  timeout; :func:`probe` says whether a worker can run here, without importing durable-rules.
- In the worker: :func:`serve` answers requests with one ``Host``.

How the rules map onto durable-rules (:class:`Encoding`, :func:`ruleset_definition`):

- every fact is asserted as a *fact* (never an event, which the first matching rule would
  consume), as ``{"sid": slot, "id": "n<seq>", "t": table, "k<i>": value, ...}``: ``seq`` is
  a number the supervisor gives each assert, so a replaced fact never reuses a durable id;
  key values are sent as ``"v"`` + a 128-bit BLAKE2 digest of the text (always a short ASCII
  string, never parsed as a number); a missing key becomes a value unique to the fact, so it
  equals nothing;
- a pattern ``i`` is the rule ``p<i>``: ``{"m": {"t": table}}``;
- a join ``i`` is the rule ``j<i>``: ``{"l": {"t": left}}`` then
  ``{"r": {"$and": [{"t": right}, {"k<b>": {"l": "k<a>"}}, ...]}}`` -- the JSON form of
  ``c.l << (m.t == left)``, ``c.r << (m.t == right) & (m.kb == c.l.ka)``;
- a catch-all rule matches every fact, so that no assert raises ``MessageNotHandledException``.

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

import collections
import contextlib
import hashlib
import importlib.util
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from mentorrules.sessions.correlation import Fact, Rules

PROBE_ANSWER = "durable-rules imports"


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def key_fields(rules: Rules) -> dict[str, str]:
    """Key name -> the field name used in durable-rules facts (``k0``, ``k1``, ...).

    >>> from mentorrules.sessions.correlation import Join, Rules
    >>> key_fields(Rules.build([], [Join("J", "a", "b", (("payee", "mentor"),))]))
    {'payee': 'k0', 'mentor': 'k1'}
    """
    fields: dict[str, str] = {}
    for join in rules.joins:
        for left, right in join.keys:
            for name in (left, right):
                fields.setdefault(name, f"k{len(fields)}")
    return fields


def ruleset_definition(rules: Rules) -> dict[str, Any]:
    """The durable-rules ruleset (JSON form, without actions) for patterns and joins.

    >>> from mentorrules.sessions.correlation import Join, Pattern, Rules
    >>> rules = Rules.build([Pattern("P", "payouts")],
    ...                     [Join("J", "payouts", "pairings", (("payee", "mentor"),))])
    >>> definition = ruleset_definition(rules)
    >>> definition["p0"]
    {'all': [{'m': {'t': 'payouts'}}]}
    >>> definition["j0"]
    {'all': [{'l': {'t': 'payouts'}}, {'r': {'$and': [{'t': 'pairings'}, {'k1': {'l': 'k0'}}]}}]}
    >>> definition["any"]
    {'all': [{'m': {'$ex': {'t': 1}}}]}
    """
    fields = key_fields(rules)
    definition: dict[str, Any] = {}
    for index, pattern in enumerate(rules.patterns):
        definition[f"p{index}"] = {"all": [{"m": {"t": pattern.table}}]}
    for index, join in enumerate(rules.joins):
        equalities: list[dict[str, Any]] = [{fields[right]: {"l": fields[left]}}
                                            for left, right in join.keys]
        definition[f"j{index}"] = {"all": [{"l": {"t": join.left}},
                                           {"r": {"$and": [{"t": join.right}, *equalities]}}]}
    definition["any"] = {"all": [{"m": {"$ex": {"t": 1}}}]}
    return definition


# An event as recorded by the supervisor: ("m", pattern index, seq) or ("j", join index, left
# seq, right seq).
Key = tuple[Any, ...]


class Encoding:
    """Patterns and joins as a durable-rules ruleset, and facts as the messages it is sent.

    >>> from mentorrules.sessions.correlation import Fact, Join, Rules
    >>> encoding = Encoding(Rules.build([], [Join("J", "payouts", "pairings", (("payee", "mentor"),))]))
    >>> sorted(encoding.payload(Fact("P-1", "payouts", {"payee": "T-1"}), 7))
    ['id', 'k0', 't']
    >>> encoding.payload(Fact("x", "districts", {}), 8) is None  # no rule mentions districts
    True
    """

    def __init__(self, rules: Rules) -> None:
        self.ruleset = ruleset_definition(rules)
        fields = key_fields(rules)
        names: dict[str, set[str]] = {pattern.table: set() for pattern in rules.patterns}
        for join in rules.joins:
            names.setdefault(join.left, set()).update(left for left, _ in join.keys)
            names.setdefault(join.right, set()).update(right for _, right in join.keys)
        self._fields = {table: [(name, fields[name]) for name in sorted(found)] for table, found in names.items()}

    def payload(self, fact: Fact, seq: int) -> dict[str, str] | None:
        """The fact as sent to durable-rules (``seq`` makes its id); None when no rule mentions
        its table."""
        fields = self._fields.get(fact.table)
        if fields is None:
            return None
        payload = {"id": f"n{seq}", "t": fact.table}
        missing = "x" + _digest(f"{seq}")
        for name, field_name in fields:
            value = fact.keys.get(name)
            payload[field_name] = missing if value is None else "v" + _digest(value)
        return payload


def event_key(item: list[Any]) -> Key:
    """A worker's event ``[i, "n<seq>"]`` or ``[i, "n<l>", "n<r>"]`` -> an event key."""
    if len(item) == 2:
        return ("m", item[0], int(item[1][1:]))
    return ("j", item[0], int(item[1][1:]), int(item[2][1:]))


class WorkerDied(Exception):
    """The worker ended, stopped reading, or did not answer in time."""


def worker_command() -> tuple[list[str], dict[str, str]]:
    """The command that starts a worker (this interpreter), and its environment."""
    env = dict(os.environ)
    source = str(Path(__file__).resolve().parent.parent)  # this package, importable there
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
    return [sys.executable, "-m", "mentorrules.sessions.durable_worker"], env


def probe(timeout: float = 30.0) -> str | None:
    """None when a durable-rules worker can run here, else why not.

    Never imports durable-rules in this process: ``find_spec`` tells "not installed" at once;
    otherwise the worker's own command runs with ``--probe`` and imports it there (about 0.1 s).
    """
    if importlib.util.find_spec("durable") is None:
        return "durable-rules is not installed"
    command, env = worker_command()
    try:
        done = subprocess.run([*command, "--probe"], env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"cannot start a worker with {command[0]}: {error}"
    if done.stdout.decode("utf-8", "replace").strip() != PROBE_ANSWER:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return (f"a worker started with {command[0]} fails: "
                f"{lines[-1] if lines else f'exit status {done.returncode}'}")
    return None


class Worker:
    """One worker process and its pipes; answers are read with a timeout.

    On POSIX the supervisor reads the pipe itself, waiting with ``select``; elsewhere a
    thread turns the worker's output into a queue. A second thread keeps the last lines the
    worker wrote to stderr, for error messages.
    """

    def __init__(self, ruleset: dict[str, Any], timeout: float) -> None:
        command, env = worker_command()
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, env=env)
        self.stderr: collections.deque[str] = collections.deque(maxlen=20)
        self.lines: queue.Queue[bytes | None] | None = None
        self._buffer = b""
        self._ended = False
        assert self.process.stdout is not None and self.process.stderr is not None
        threads: list[tuple[Any, IO[bytes]]] = [(self._drain, self.process.stderr)]
        if os.name != "posix":  # pragma: no cover - select() does not wait on pipes there
            self.lines = queue.Queue()
            threads.append((self._read, self.process.stdout))
        self._threads = [threading.Thread(target=target, args=(stream,), daemon=True,
                                          name=f"durable-worker-{self.process.pid}")
                         for target, stream in threads]
        for thread in self._threads:
            thread.start()
        try:
            ready = self.request({"ruleset": ruleset}, timeout)
            if "ready" not in ready:
                raise WorkerDied(f"unexpected greeting {ready!r}")
        except WorkerDied as error:
            self.stop(kill=True)
            self._threads[0].join(timeout=1)  # the last words on stderr say why
            raise WorkerDied(f"{error}{self.last_words()}") from error

    def last_words(self) -> str:
        """The last lines the worker wrote on stderr, for an error message ("" if none)."""
        return "; stderr: " + " | ".join(list(self.stderr)[-3:]) if self.stderr else ""

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self, stream: IO[bytes]) -> None:  # pragma: no cover - not POSIX
        assert self.lines is not None
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def _drain(self, stream: IO[bytes]) -> None:
        for line in stream:
            self.stderr.append(line.decode("utf-8", "replace").rstrip())

    def _readline(self, timeout: float) -> bytes | None:
        """The next line of output; None at end of output."""
        if self.lines is not None:  # pragma: no cover - not POSIX
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise WorkerDied(f"no answer from the worker within {timeout} s") from None
            if line is None:
                self.lines.put(None)  # stays at end of output for any later read
            return line
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while (end := self._buffer.find(b"\n")) < 0:
            if self._ended:
                return None
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise WorkerDied(f"no answer from the worker within {timeout} s")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                self._ended = True
            self._buffer += chunk
        line, self._buffer = self._buffer[:end + 1], self._buffer[end + 1:]
        return line

    def request(self, message: Any, timeout: float) -> Any:
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps(message, ensure_ascii=False).encode("utf-8") + b"\n")
            stdin.flush()
        except (BrokenPipeError, ConnectionResetError, OSError, ValueError) as error:
            raise WorkerDied(f"cannot write to the worker: {error}") from error
        line = self._readline(timeout)
        if line is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=1)
            raise WorkerDied(f"the worker ended (exit status {self.process.poll()})")
        try:
            return json.loads(line)
        except ValueError as error:
            raise WorkerDied(f"garbled answer from the worker: {line[:200]!r}") from error

    def stop(self, *, kill: bool = False) -> None:
        stop_process(self.process, kill=kill)


def stop_process(process: subprocess.Popen[bytes], *, kill: bool = False) -> None:
    if process.poll() is None and not kill and process.stdin is not None:
        with contextlib.suppress(OSError, ValueError, subprocess.TimeoutExpired):
            process.stdin.write(b'["exit", null, null]\n')
            process.stdin.close()
            process.wait(timeout=5)
    if process.poll() is None:
        process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


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
    if sys.argv[1:] == ["--probe"]:
        import durable.engine  # noqa: F401

        print(PROBE_ANSWER)
        return 0
    # Text mode with explicit UTF-8 whatever the locale; stdout carries only protocol lines.
    stdin = open(sys.stdin.fileno(), encoding="utf-8", closefd=False)  # noqa: SIM115
    stdout = open(sys.stdout.fileno(), "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stdout = sys.stderr  # stray prints from durable-rules must not corrupt the protocol
    return serve(stdin, stdout)


if __name__ == "__main__":
    sys.exit(main())
