"""Correlation backends: facts/s and peak memory, python against durable-rules.

Posts ``--facts`` facts (payouts, pairings, trainings with a few shared keys, some re-asserted
and some retracted) into ``--sessions`` sessions, at most ``--open`` open at once, through
each backend, and prints facts/s, events, and peak RSS of the process (and, for durable-rules,
of its worker). Each backend runs in a fresh process so that peak memory is its own. Before
timing, the two backends are checked to give the same events on the same input.

    python bench/sessions.py [--facts 20000] [--sessions 200] [--open 20]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mentorrules.correlation import (
    Correlator,
    Event,
    Fact,
    Join,
    Pattern,
    durable_available,
    make_correlator,
)

PATTERNS = [Pattern("NMP-005", "payouts"), Pattern("NMP-006", "payouts"),
            Pattern("TRN-001", "trainings")]
JOINS = [
    Join("NMP-007/pairings", "payouts", "pairings", (("payee_id", "mentor_id"),)),
    Join("DUP-001", "payouts", "payouts", (("payee_id", "payee_id"), ("period", "period"))),
    Join("TRN-002", "pairings", "trainings", (("mentor_id", "teacher_id"),
                                              ("school_year", "school_year"))),
]


def workload(facts: int, sessions: int, seed: int = 1) -> list[list[tuple[str, Fact]]]:
    """Per session, a list of ("assert", fact) or ("retract", fact) steps."""
    rng = random.Random(seed)
    per_session = facts // sessions
    plan: list[list[tuple[str, Fact]]] = []
    for _ in range(sessions):
        steps: list[tuple[str, Fact]] = []
        people = [f"T-{rng.randrange(10_000)}" for _ in range(max(2, per_session // 8))]
        for number in range(per_session):
            table = rng.choices(["payouts", "pairings", "trainings"], [6, 2, 2])[0]
            person = rng.choice(people)
            keys = {"payouts": {"payee_id": person, "period": f"2025-{rng.randint(1, 3):02}"},
                    "pairings": {"mentor_id": person, "school_year": "2025-26"},
                    "trainings": {"teacher_id": person, "school_year": "2025-26"}}[table]
            fid = f"{table}-{rng.randrange(per_session)}" if rng.random() < 0.1 else f"f{number}"
            fact = Fact(fid, table, keys)
            steps.append(("retract" if rng.random() < 0.05 else "assert", fact))
        plan.append(steps)
    return plan


def run(correlator: Correlator, plan: list[list[tuple[str, Fact]]],
        open_at_once: int) -> tuple[int, list[Event]]:
    """Runs the plan; returns the number of steps and every event, in order."""
    events: list[Event] = []
    steps = 0
    pending = list(plan)
    while pending:
        batch, pending = pending[:open_at_once], pending[open_at_once:]
        handles = [correlator.open() for _ in batch]
        # Interleave the open sessions, as facts arriving from another system would.
        cursors = [0] * len(batch)
        active = True
        while active:
            active = False
            for index, steps_of in enumerate(batch):
                if cursors[index] < len(steps_of):
                    op, fact = steps_of[cursors[index]]
                    cursors[index] += 1
                    active = True
                    steps += 1
                    if op == "assert":
                        events.extend(correlator.assert_fact(handles[index], fact))
                    else:
                        events.extend(correlator.retract_fact(handles[index], fact.id))
        for handle in handles:
            correlator.close(handle)
    return steps, events


def worker_peak_kib(pid: int | None) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def measure(backend: str, facts: int, sessions: int, open_at_once: int) -> dict[str, Any]:
    plan = workload(facts, sessions)
    correlator = make_correlator(PATTERNS, JOINS, backend=backend)
    started = time.perf_counter()
    steps, events = run(correlator, plan, open_at_once)
    elapsed = time.perf_counter() - started
    worker = worker_peak_kib(getattr(correlator, "worker_pid", None))
    correlator.shutdown()
    return {"backend": backend, "steps": steps, "events": len(events), "seconds": elapsed,
            "facts_per_s": steps / elapsed,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "worker_peak_rss_mib": None if worker is None else worker / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--facts", type=int, default=20_000)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--open", type=int, default=20, help="sessions open at once")
    parser.add_argument("--backend", help=argparse.SUPPRESS)  # one backend, JSON out
    args = parser.parse_args()
    if args.backend:
        print(json.dumps(measure(args.backend, args.facts, args.sessions, args.open)))
        return 0

    backends = ["python"] + (["durable-rules"] if durable_available() else [])
    if len(backends) == 2:  # same events, before any timing is believed
        small = workload(2_000, 20)
        python_events = run(make_correlator(PATTERNS, JOINS, "python"), small, 5)[1]
        durable = make_correlator(PATTERNS, JOINS, "durable-rules")
        durable_events = run(durable, small, 5)[1]
        durable.shutdown()
        agree = python_events == durable_events
        print(f"backends agree on {len(python_events):,} events: {agree}")
    else:
        print("durable-rules does not import here: python only")
    print(f"{args.facts:,} facts in {args.sessions:,} sessions ({args.open} open at once)")
    print(f"{'backend':<14} {'facts/s':>10} {'seconds':>8} {'events':>9} {'peak RSS':>9} "
          f"{'worker RSS':>10}")
    for backend in backends:
        output = subprocess.run(
            [sys.executable, __file__, "--backend", backend, "--facts", str(args.facts),
             "--sessions", str(args.sessions), "--open", str(args.open)],
            check=True, capture_output=True, text=True).stdout
        result = json.loads(output.strip().splitlines()[-1])
        worker = result["worker_peak_rss_mib"]
        print(f"{backend:<14} {result['facts_per_s']:>10,.0f} {result['seconds']:>8.2f} "
              f"{result['events']:>9,} {result['peak_rss_mib']:>6.0f} MiB "
              f"{'-' if worker is None else f'{worker:.0f} MiB':>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
