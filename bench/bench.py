"""Benchmarks: `make bench`. Prints figures; never fails because a machine is slow.

1. Per-record evaluation of the loaded packs' single-row payout rules on a generated 100k-row
   payout file, against a hand-written Python function doing the same checks (after checking,
   row by row, that both flag the same rules): records/s each, and the ratio.
2. Batch validation end to end of a generated payout file with people, pairings, attendance,
   districts, grants and contributions (1M payouts by default), JSON report written, side by side
   in one run: `mentorrules validate` on the columnar and the python backends, and the 7 checks
   of issue 13 as a Polars script and as hand-written Python (bench/seven_checks.py); CPU
   seconds and peak RSS of each process.
3. Session throughput: facts/s posted into streaming sessions, per backend.
4. `mentorrules --help` start-up time.
5. The HTTP service: POST /v1/evaluate over loopback, p50/p99 and requests/s (bench/serve.py).

    python bench/bench.py [--payouts 100000] [--batch-payouts 1000000] [--skip-batch] [--serve-seconds 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402  (bench/ is not a package)
from handwritten import make_checker  # noqa: E402

from mentorrules.engine import Engine  # noqa: E402


def per_record(payouts: int, directory: Path) -> None:
    generate(directory, payouts=payouts, seed=7, violations=0.05)
    engine = Engine.load()
    dataset = engine.read(directory)
    indexes = engine.indexes(dataset.tables)
    rows = [row.values for row in dataset.tables["payouts"] if not row.problems]
    day = dt.date(2026, 1, 1)
    days = [values.get("pay_date") or day for values in rows]
    evaluator = engine.evaluator
    checker = make_checker(engine, day)
    # The hand-written function gets what hand-written code gets: plain dicts (the engine reads
    # its own records, tuples read by position); neither conversion is timed.
    plain_rows = [values.as_dict() for values in rows]
    plain_indexes = {name: {key: dict(values) for key, values in index.items()} for name, index in indexes.items()}
    disagreements = 0
    for values, plain, row_day in zip(rows, plain_rows, days, strict=True):
        engine_rules = sorted(f.rule for f in evaluator.findings("payouts", values, row_day, indexes))
        if engine_rules != sorted(checker(plain, plain_indexes)):
            disagreements += 1
    print(f"per-record: {len(rows):,} payouts; engine and hand-written checks disagree on {disagreements} rows")

    def best_of(function: object, repeat: int = 3) -> float:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            function()  # type: ignore[operator]
            times.append(time.perf_counter() - started)
        return min(times)

    def run_engine() -> None:
        findings = evaluator.findings
        for values, row_day in zip(rows, days, strict=True):
            findings("payouts", values, row_day, indexes)

    def run_handwritten() -> None:
        for values in plain_rows:
            checker(values, plain_indexes)

    engine_seconds = best_of(run_engine)
    hand_seconds = best_of(run_handwritten)
    print(f"  engine       {len(rows) / engine_seconds:12,.0f} records/s")
    print(f"  hand-written {len(rows) / hand_seconds:12,.0f} records/s")
    print(f"  ratio        {engine_seconds / hand_seconds:12.2f} x the hand-written time (target <= 1.5)")


def measured(command: list[str]) -> tuple[float, float, float, int]:
    """Run a command: (CPU seconds, wall seconds, peak RSS MiB, exit code) of that process alone."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1) and process.stderr is not None:
        print(process.stderr.read().decode(errors="replace")[-2000:])
    return usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024, process.returncode


def batch(payouts: int, directory: Path) -> None:
    """Side by side in one run, on the same generated data: the engine end to end on both
    backends (all packs, JSON report written), the 7 checks of issue 13 as a Polars script and as
    plain Python (bench/seven_checks.py); CPU seconds and peak RSS of each process."""
    started = time.perf_counter()
    data = directory / "data"  # reports are written beside it: in it, a report would be an ignored file
    generate(data, payouts=payouts, seed=11, violations=0.02)
    print(f"batch: generated {payouts:,} payouts and related tables in {time.perf_counter() - started:.1f} s")
    validate = [sys.executable, "-m", "mentorrules.cli", "validate", str(data), "--format", "json",
                "--as-of", "2026-01-01"]
    seven = [sys.executable, str(HERE / "seven_checks.py")]
    runs = {
        "validate --engine columnar": [*validate, "--output", str(directory / "columnar.json"),
                                       "--engine", "columnar"],
        "validate --engine python": [*validate, "--output", str(directory / "python.json"), "--engine", "python"],
        "7 checks, Polars script": [*seven, "polars", str(data), str(directory / "seven-polars.csv")],
        "7 checks, hand-written Python": [*seven, "python", str(data), str(directory / "seven-python.csv")],
    }
    figures = {}
    print(f"  {'':<32} {'CPU s':>8} {'wall s':>8} {'peak MiB':>9}")
    for label, command in runs.items():
        cpu, wall, peak, code = measured(command)
        figures[label] = (cpu, peak)
        print(f"  {label:<32} {cpu:>8.1f} {wall:>8.1f} {peak:>9,.0f}" + ("" if code in (0, 1) else f"  exit {code}"))
    same = (directory / "columnar.json").read_bytes() == (directory / "python.json").read_bytes()
    agree = (directory / "seven-polars.csv").read_bytes() == (directory / "seven-python.csv").read_bytes()
    cpu, peak = figures["validate --engine columnar"]
    polars_cpu = figures["7 checks, Polars script"][0]
    print(f"  columnar and python reports identical: {same}; the two 7-check scripts agree: {agree}")
    print(f"  columnar: {cpu / polars_cpu:.1f} x the Polars script's CPU (target <= 3), peak {peak:,.0f} MiB "
          f"(target <= 600); {figures['validate --engine python'][0] / cpu:.1f} x faster than the reference")


def sessions(facts: int, directory: Path) -> None:
    """Session throughput on realistic interleaved facts, per backend (see bench/sessions.py)."""
    import sessions as session_bench

    directory.mkdir()
    print(f"sessions: {facts:,} facts, each payout after its payee, pairings, attendance, district and grant")
    session_bench.report(facts, 200, directory)


def startup() -> None:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mentorrules.cli", "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    print(f"mentorrules --help: best {min(times) * 1000:.0f} ms of 5 (target <= 200 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payouts", type=int, default=100_000)
    parser.add_argument("--batch-payouts", type=int, default=1_000_000)
    parser.add_argument("--session-facts", type=int, default=20_000)
    parser.add_argument("--skip-batch", action="store_true")
    parser.add_argument("--serve-seconds", type=float, default=5.0, help="per phase of the HTTP benchmark (0: skip)")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="mentorrules-bench-") as temporary:
        root = Path(temporary)
        startup()
        per_record(args.payouts, root / "per-record")
        sessions(args.session_facts, root / "sessions")
        if args.serve_seconds > 0:
            import serve

            serve.report(clients=16, seconds=args.serve_seconds)
        if not args.skip_batch:
            batch(args.batch_payouts, root / "batch")


if __name__ == "__main__":
    main()
