"""Benchmark of the run history: what `--record` adds to a validate run, and what `compare` and
`history` cost on a large history. Prints figures; never fails because a machine is slow.

    python bench/history.py [--payouts 200000]

Each command runs as its own process (through a small wrapper that reports the process's own
peak memory): validate without recording, the first recorded run, a second recorded run (which
also compares itself with the first for its "since the last run" line), `compare --since last`
and `history`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402  (bench/ is not a package)

# Runs the command line in a child and prints its peak memory (ru_maxrss of that process alone).
WRAPPER = """
import resource, sys
from mentorrules.cli import main
try:
    code = main(sys.argv[1:])
finally:
    sys.stderr.write("\\nPEAK %d\\n" % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(code)
"""


def measure(label: str, arguments: list[str], folder: Path) -> None:
    started = time.perf_counter()
    finished = subprocess.run([sys.executable, "-c", WRAPPER, *arguments], cwd=folder, check=False,
                              capture_output=True, text=True)
    seconds = time.perf_counter() - started
    peak = next((int(line.split()[1]) / 1024 for line in finished.stderr.splitlines() if line.startswith("PEAK ")),
                0.0)
    status = {0: "exit 0", 1: "exit 1"}.get(finished.returncode, f"exit {finished.returncode}")
    print(f"  {label:<34} {seconds:6.1f} s  peak {peak:6,.0f} MiB  ({status})")
    if finished.returncode not in (0, 1):
        print(finished.stderr[-2000:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payouts", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        data = folder / "data"
        counts = generate(data, payouts=args.payouts, seed=11, violations=0.02)
        rows = sum(counts.values()) if isinstance(counts, dict) else args.payouts
        print(f"history: {args.payouts:,} payouts ({rows:,} rows in all tables)")
        validate = ["validate", str(data), "--format", "json", "--output", str(folder / "report.json"),
                    "--as-of", "2026-06-30"]
        measure("validate, not recorded", [*validate, "--no-record"], folder)
        measure("validate --record (first run)", [*validate, "--record"], folder)
        measure("validate --record (compared)", [*validate, "--record"], folder)
        measure("compare --since last --format json", ["compare", "--since", "last", "--format", "json"], folder)
        measure("history", ["history"], folder)
        store = folder / ".mentorrules" / "history.sqlite"
        print(f"  history file: {store.stat().st_size / 2**20:,.1f} MiB for 2 runs")
        listed = subprocess.run([sys.executable, "-m", "mentorrules.cli", "history", "--format", "json"], cwd=folder,
                                check=True, capture_output=True, text=True)
        print(f"  runs recorded: {len(json.loads(listed.stdout)['runs'])}")


if __name__ == "__main__":
    main()
