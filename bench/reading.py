"""Reading CSV tables: the reference reader against the columnar one (`python bench/reading.py`).

    python bench/reading.py [FOLDER] [--payouts N] [--tables payouts,people]

For each table of a generated data set (FOLDER, default /tmp/colbench/1m; made with
``bench/generate.py --payouts N --seed 11 --violations 0.02`` into a temporary folder when it
does not exist), each way of reading runs in its own process, which reports its CPU seconds
(user + system, all threads) and its peak RSS:

- ``reference``: the reference reader's rows (``_csv_typed`` through ``RowTyper``), as a
  streamed table is read (payouts), not held;
- ``reference held``: the same rows held in memory (``Rows``), as people and pairings are;
- ``columns``: ``csv_columns`` (typed Polars columns of every field, keys and lines);
- ``columns + rows()``: the same, then the reference ``Rows`` built from the columns.

Figures are printed, never judged: a slow machine fails nothing.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
WAYS = ("reference", "reference held", "columns", "columns + rows()")
TABLES = ("payouts", "people", "pairings", "attendance", "districts", "grants", "contributions")


def measure(way: str, path: Path, table_name: str) -> dict[str, float]:
    """Run in a child process: read ``path`` one way, return rows, CPU seconds and peak MiB."""
    from mentorrules.inputs.columns import csv_columns
    from mentorrules.inputs.reading import Rows, RowTyper, _csv_typed
    from mentorrules.loading.tables import contract

    table = contract()[table_name]
    before = resource.getrusage(resource.RUSAGE_SELF)
    rows = 0
    if way.startswith("reference"):
        with path.open(encoding="utf-8-sig", newline="") as handle:
            typed = _csv_typed(RowTyper(table, str(path)), handle)
            if way == "reference held":
                rows = len(Rows(table, typed))
            else:
                for _ in typed:
                    rows += 1
    else:
        read = csv_columns(path, table, str(path))
        if read is None:
            raise SystemExit(f"{path}: csv_columns declined the file")
        rows = read.count
        if way == "columns + rows()":
            rows = len(read.rows())
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"rows": rows, "cpu": cpu, "peak": after.ru_maxrss / 1024}


def child(way: str, path: Path, table: str) -> dict[str, float]:
    result = subprocess.run([sys.executable, __file__, "--child", way, str(path), table],
                            capture_output=True, text=True, check=False)
    if result.returncode:
        raise SystemExit(result.stderr)
    figures: dict[str, float] = json.loads(result.stdout)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=Path("/tmp/colbench/1m"))
    parser.add_argument("--payouts", type=int, default=1_000_000, help="payouts to generate if FOLDER is missing")
    parser.add_argument("--tables", default=",".join(TABLES))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        way, path, table = arguments.child
        print(json.dumps(measure(way, Path(path), table)))
        return
    folder: Path = arguments.folder
    if not folder.exists():
        folder = Path(tempfile.mkdtemp(prefix="reading-"))
        subprocess.run([sys.executable, str(HERE / "generate.py"), "--payouts", str(arguments.payouts),
                        "--seed", "11", "--violations", "0.02", "--out", str(folder)], check=True)
    baseline = child("columns", HERE.parent / "examples" / "grants.csv", "grants")["peak"]
    print(f"CSV reading, {folder} (a process that only imports and reads a tiny file peaks at {baseline:.0f} MiB)")
    print(f"{'table':<14}{'rows':>10}" + "".join(f"{way + ' CPU s':>24}{'MiB':>7}" for way in WAYS))
    for table in arguments.tables.split(","):
        path = folder / f"{table}.csv"
        figures = [child(way, path, table) for way in WAYS]
        counts = {int(figure["rows"]) for figure in figures}
        if len(counts) != 1:
            raise SystemExit(f"{table}: the ways read different numbers of rows: {counts}")
        print(f"{table:<14}{counts.pop():>10,}"
              + "".join(f"{figure['cpu']:>24.2f}{figure['peak']:>7.0f}" for figure in figures), flush=True)


if __name__ == "__main__":
    main()
