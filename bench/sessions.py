"""Session throughput: facts/s posted into streaming sessions, per backend.

A calling system sends facts as they happen. The stream here is built from a generated data set
(``bench/generate.py``: cohorts of mentors and mentees, 5% deliberate violations): for each
payout, in file order, the facts it needs that this session has not seen yet -- its payee, its
pairings and the people on both sides, the payee's training attendance that year, its district
and its grant -- then the payout. Sessions hold about ``--per-session`` facts each; exactly
``--facts`` facts are posted. Each backend runs in a fresh process, so that its peak memory is
its own; before timing, the two backends are checked to give the same findings on the first
sessions.

    python bench/sessions.py [--facts 20000] [--per-session 200]

For durable-rules it also prints what checking its answers costs (``DurableCorrelator``'s
``_verified``, ``_count`` and ``_sides``, timed from inside, so that a loaded machine does not
blur the figure as much as two separate runs would).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate

from mentorrules.engine import Engine
from mentorrules.sessions.streaming import available_backend

AS_OF = dt.date(2026, 1, 1)
Post = tuple[str, dict[str, str]]


def read(directory: Path) -> dict[str, list[dict[str, str]]]:
    """The generated CSV files, each row as a caller would send it (empty cells left out)."""
    tables = {}
    for path in sorted(directory.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            tables[path.stem] = [{name: value for name, value in row.items() if value != ""}
                                 for row in csv.DictReader(handle)]
    return tables


def interleaved(tables: dict[str, list[dict[str, str]]], per_session: int) -> Iterator[list[Post]]:
    """Sessions of facts, each payout preceded by what it needs and the session has not seen."""
    people = {row["person_id"]: row for row in tables["people"]}
    districts = {row["district"]: row for row in tables["districts"]}
    grants = {(row["grant_id"], row["budget_period"]): row for row in tables["grants"]}
    pairings: dict[tuple[str, str], list[dict[str, str]]] = {}
    for row in tables["pairings"]:
        for person in (row["mentor_id"], row["mentee_id"]):
            pairings.setdefault((person, row["school_year"]), []).append(row)
    attendance: dict[tuple[str, str], list[dict[str, str]]] = {}
    for row in tables["attendance"]:
        attendance.setdefault((row["person_id"], row.get("school_year", "")), []).append(row)

    session: list[Post] = []
    seen: set[tuple[str, Any]] = set()

    def send(table: str, key: Any, row: dict[str, str] | None) -> None:
        if row is not None and (table, key) not in seen:
            seen.add((table, key))
            session.append((table, row))

    for payout in tables["payouts"]:
        payee, year = payout.get("payee_id", ""), payout.get("school_year", "")
        send("people", payee, people.get(payee))
        for pairing in pairings.get((payee, year), []):
            for person in (pairing["mentor_id"], pairing["mentee_id"]):
                send("people", person, people.get(person))
            send("pairings", pairing["pairing_id"], pairing)
        for row in attendance.get((payee, year), []):
            send("attendance", (row["person_id"], row["session_id"]), row)
        send("districts", payout.get("district"), districts.get(payout.get("district", "")))
        send("grants", (payout.get("grant_id"), year), grants.get((payout.get("grant_id", ""), year)))
        session.append(("payouts", payout))  # always: a repeated payout is a fact too
        if len(session) >= per_session:
            yield session
            session, seen = [], set()
    if session:
        yield session


def workload(facts: int, per_session: int, directory: Path) -> list[list[Post]]:
    """Sessions holding exactly ``facts`` facts (a bigger data set is generated until it suffices)."""
    payouts = max(facts // 3, 10)
    while True:
        generate(directory, payouts=payouts, seed=3, violations=0.05)
        sessions, total = [], 0
        for session in interleaved(read(directory), per_session):
            sessions.append(session[:facts - total])
            total += len(sessions[-1])
            if total == facts:
                return sessions
        payouts *= 2


def run(engine: Engine, sessions: list[list[Post]]) -> tuple[list[Any], dict[str, Any]]:
    """Posts every session; returns each session's findings and what the correlator reports."""
    findings, correlator = [], None
    for facts in sessions:
        with engine.session(as_of=AS_OF) as session:
            for table, row in facts:
                session.post(table, row)
            findings.append([(d.table, d.key, sorted(f.rule for f in d.findings)) for d in session.findings()])
            correlator = session.correlator
    return findings, {"backend": getattr(correlator, "backend", None),
                      "disagreements": len(getattr(correlator, "disagreements", [])),
                      "restarts": getattr(correlator, "restarts_done", 0),
                      "worker_pid": getattr(correlator, "worker_pid", None)}


def worker_peak_mib(pid: int | None) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")), None)


def measure(backend: str, facts: int, per_session: int, directory: Path) -> dict[str, Any]:
    """One backend, in this process: facts/s over the workload."""
    check = {"seconds": 0.0, "asserts": 0}
    if backend == "durable-rules":
        from mentorrules.sessions.durable import DurableCorrelator

        def timed(function: Any, counts: bool = False) -> Any:
            def run(*args: Any) -> Any:
                started = time.perf_counter()
                try:
                    return function(*args)
                finally:
                    check["seconds"] += time.perf_counter() - started
                    check["asserts"] += counts

            return run

        DurableCorrelator._verified = timed(DurableCorrelator._verified, counts=True)  # type: ignore[method-assign]
        DurableCorrelator._sides = timed(DurableCorrelator._sides)  # type: ignore[method-assign]
        DurableCorrelator._count = staticmethod(timed(DurableCorrelator._count))  # type: ignore[method-assign]
    sessions = workload(facts, per_session, directory)
    engine = Engine(Engine.load().book, backend=backend)
    started = time.perf_counter()
    findings, seen = run(engine, sessions)
    seconds = time.perf_counter() - started
    worker = worker_peak_mib(seen.pop("worker_pid"))
    engine.close()
    posted = sum(map(len, sessions))
    return {**seen, "facts": posted, "sessions": len(sessions), "seconds": seconds, "facts_per_s": posted / seconds,
            "findings": sum(1 for records in findings for _, _, rules in records if rules),
            "check_seconds": check["seconds"], "asserts": check["asserts"],
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "worker_peak_rss_mib": worker}


def report(facts: int, per_session: int, directory: Path) -> None:
    """Print one line per backend (each measured in a fresh process)."""
    durable = available_backend() == "durable-rules"
    if durable:  # the same findings, before any timing is believed
        sample = workload(min(facts, 2_000), per_session, directory)
        base = Engine.load()
        results = []
        for backend in ("python", "durable-rules"):
            engine = Engine(base.book, backend=backend)
            results.append(run(engine, sample)[0])
            engine.close()
        print(f"sessions: python and durable-rules give the same findings on {min(facts, 2_000):,} facts: "
              f"{results[0] == results[1]}")
    else:
        print("sessions: durable-rules cannot run here: python only")
    for backend in ["python"] + (["durable-rules"] if durable else []):
        command = [sys.executable, __file__, "--backend", backend, "--facts", str(facts),
                   "--per-session", str(per_session), "--data", str(directory)]
        result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
        worker = result["worker_peak_rss_mib"]
        print(f"  {backend:<14} {result['facts_per_s']:>7,.0f} facts/s  ({result['facts']:,} facts in "
              f"{result['sessions']:,} sessions, {result['seconds']:.1f} s; {result['findings']:,} records with "
              f"findings; peak {result['peak_rss_mib']:.0f} MiB{f', worker {worker:.0f} MiB' if worker else ''})")
        if backend == "durable-rules":
            print(f"  {'':<14} answer check: {result['check_seconds'] * 1e6 / max(result['asserts'], 1):.1f} us per "
                  f"assert, {result['check_seconds']:.2f} s of {result['seconds']:.1f} s "
                  f"({100 * result['check_seconds'] / result['seconds']:.1f}%) for {result['asserts']:,} asserts; "
                  f"{result['disagreements']} disagreements, {result['restarts']} restarts")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--facts", type=int, default=20_000)
    parser.add_argument("--per-session", type=int, default=200, help="facts per session, about")
    parser.add_argument("--backend", help=argparse.SUPPRESS)  # one backend in this process, JSON out
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.backend:
        print(json.dumps(measure(args.backend, args.facts, args.per_session, args.data)))
        return 0
    with tempfile.TemporaryDirectory(prefix="mentorrules-sessions-") as directory:
        print(f"{args.facts:,} facts, sessions of about {args.per_session} (each payout after its payee, "
              "pairings, attendance, district and grant)")
        report(args.facts, args.per_session, Path(directory))
    return 0


if __name__ == "__main__":
    sys.exit(main())
