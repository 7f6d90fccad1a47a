"""Prepared per-record evaluation: `make bench` runs it (or `python bench/prepared.py`).

A generated data set (people, pairings, attendance, districts, grants, contributions and
payouts) is prepared once; then payouts the context has not seen are evaluated one at a time,
as a payroll service checks each payout as it is entered: every loaded pack, single-row and
batch rules (caps, duplicates, installment counts, lookups). Prints records/s, p50 and p99.

The same payouts are evaluated again with 1,000 and with 1,000,000 more people in the context:
the cost of a record must not grow with the reference data (target: within 20%).

First the side-by-side with zen-engine (GoRules) on the same 12 checks, in one run
(bench/zen_side_by_side.py). zen-engine is not a dependency of mentorrules; that part is skipped,
with a note, when it is not installed.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import zen_side_by_side  # noqa: E402
from generate import generate  # noqa: E402  (bench/ is not a package)

from mentorrules.checking.prepared import Context  # noqa: E402
from mentorrules.engine import Engine  # noqa: E402

AS_OF = dt.date(2026, 1, 1)


def tables_of(directory: Path) -> dict[str, list[dict[str, str]]]:
    """The generated CSV files as a caller passes rows: mappings of text cells."""
    return {path.stem: list(csv.DictReader(path.open(encoding="utf-8", newline="")))
            for path in sorted(directory.glob("*.csv"))}


def timed(context: Context, records: Sequence[Mapping[str, Any]]) -> list[float]:
    """Seconds per evaluation of each record."""
    evaluate = context.evaluate
    clock = time.perf_counter
    times = []
    for record in records:
        started = clock()
        evaluate(record)
        times.append(clock() - started)
    return times


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p50 = ordered[len(ordered) // 2] * 1e6
    p99 = ordered[int(len(ordered) * 0.99)] * 1e6
    return f"{len(times) / sum(times):10,.0f} records/s, p50 {p50:6.1f} µs, p99 {p99:7.1f} µs"


def extra_people(count: int) -> list[dict[str, str]]:
    return [{"person_id": f"X-{number:07d}", "name": f"Extra {number}", "career_year": "5"}
            for number in range(count)]


def per_record(payouts: int, held_out: int, directory: Path) -> None:
    generate(directory, payouts=payouts, seed=7, violations=0.05)
    zen_side_by_side.compare(tables_of(directory), tables_of(directory)["payouts"][-held_out:], AS_OF)
    engine = Engine.load()
    tables = tables_of(directory)
    records = tables["payouts"][-held_out:]
    tables["payouts"] = tables["payouts"][:-held_out]
    started = time.perf_counter()
    context = engine.prepare(as_of=AS_OF, **tables)
    print(f"prepared: {sum(len(rows) for rows in tables.values()):,} rows prepared in "
          f"{time.perf_counter() - started:.2f} s; fast tables: {', '.join(sorted(context.fast_tables))}")
    timed(context, records[:200])  # the batch rules' groups and lookup indexes are built on first use
    print(f"  all packs, {held_out:,} new payouts   {summary(timed(context, records))}"
          "  (target >= 20,000/s, p50 <= 50 µs)")
    # A service that loads its reference data once keeps the collector off it (CPython's
    # gc.freeze): the occasional full collection no longer walks the reference rows.
    gc.collect()
    gc.freeze()
    print(f"  the same after gc.freeze()         {summary(timed(context, records))}")
    gc.unfreeze()
    medians = {}
    for count in (1_000, 1_000_000):
        sized = engine.prepare(as_of=AS_OF, **{**tables, "people": tables["people"] + extra_people(count)})
        timed(sized, records[:200])
        times = timed(sized, records)
        medians[count] = statistics.median(times)
        print(f"  +{count:>9,} people             {summary(times)}")
        del sized
    print(f"  1M / 1k people: median {medians[1_000_000] / medians[1_000]:.2f} x (target within 1.20)")


def main() -> None:
    payouts = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    with tempfile.TemporaryDirectory(prefix="mentorrules-prepared-") as temporary:
        per_record(payouts, 10_000, Path(temporary) / "data")


if __name__ == "__main__":
    main()
