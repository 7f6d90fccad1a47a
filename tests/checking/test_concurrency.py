"""An Engine is thread-safe after load, and two engines in one process never see each other.

Threads start together at a barrier, and the interpreter switches threads every few
microseconds while they run (instead of every 5 ms), so that state shared by mistake between
two validations (a cache, a per-run counter, a compiled function's scratch space) is touched by
several threads at once and shows as a result that differs from one thread's.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from conftest import generated_data

from mentorrules import Engine

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
AS_OF = dt.date(2026, 1, 1)
THREADS = 8
T = TypeVar("T")


@contextmanager
def switching_often() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def at_once(jobs: list[Callable[[], T]]) -> list[T]:
    """Run each job in its own thread, all released together; their results in job order."""
    barrier = threading.Barrier(len(jobs))

    def run(job: Callable[[], T]) -> T:
        barrier.wait()
        return job()

    with switching_often(), ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(run, jobs))


def report_of(engine: Engine, data: Any) -> str:
    return json.dumps(engine.validate(data, as_of=AS_OF).to_dict())


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,000 generated payouts with their related tables, 5% of them with a defect."""
    return generated_data(tmp_path_factory.mktemp("generated"), payouts=2000, seed=7)


@pytest.mark.parametrize("data", ["examples", "generated"], ids=["the example data set",
                                                                  "2,000 generated payouts with 5% defects"])
def test_an_engine_shared_by_8_threads_validates_as_one_thread_does(data: str, engine: Engine,
                                                                     request: pytest.FixtureRequest) -> None:
    folder = EXAMPLES if data == "examples" else request.getfixturevalue("generated")
    alone = report_of(engine, folder)
    assert json.loads(alone)["summary"]["fail"] > 0
    assert at_once([lambda: report_of(engine, folder)] * THREADS) == [alone] * THREADS


Case = tuple[dict[str, str], dict[str, list[dict[str, str]]]]


def payout_cases() -> list[Case]:
    """Single payouts to evaluate, each with the related rows it may refer to: some example
    payouts, and some with one cell changed so that other rules fail or the row is unreadable."""
    import csv

    def table(name: str) -> list[dict[str, str]]:
        with (EXAMPLES / f"{name}.csv").open(encoding="utf-8-sig", newline="") as handle:
            return list(csv.DictReader(handle))

    payouts, people, pairings, attendance = (table(name) for name in ("payouts", "people", "pairings", "attendance"))
    shared = {name: table(name) for name in ("districts", "grants")}
    chosen = payouts[::8] + [{**row, "amount": "-5"} for row in payouts[3::40]] + [
        {**row, "pay_date": "2025-02-30"} for row in payouts[5::40]]

    def related(payout: dict[str, str]) -> dict[str, list[dict[str, str]]]:
        person = payout["payee_id"]
        return {**shared, "people": [row for row in people if row["person_id"] == person],
                "pairings": [row for row in pairings if person in (row["mentor_id"], row["mentee_id"])],
                "attendance": [row for row in attendance if row["person_id"] == person]}

    return [(payout, related(payout)) for payout in chosen]


def test_single_records_evaluated_by_8_threads_get_the_decisions_of_one_thread(engine: Engine) -> None:
    cases = payout_cases()

    def decisions(order: list[Case]) -> list[dict[str, Any]]:
        return [engine.evaluate(record, related=related, as_of=AS_OF).to_dict() for record, related in order]

    alone = decisions(cases)
    assert {decision["status"] for decision in alone} == {"pass", "fail", "unreadable"}
    # Each thread takes the records in another order, so that different rules run side by side.
    step = len(cases) // THREADS
    orders = [list(range(len(cases)))[offset:] + list(range(len(cases)))[:offset]
              for offset in range(0, step * THREADS, step)]
    results = at_once([lambda order=order: decisions([cases[index] for index in order]) for order in orders])
    for order, result in zip(orders, results, strict=True):
        assert result == [alone[index] for index in order]


RULES = """\
rules:
  - id: LOCAL-001
    title: Local cap on one payout
    table: payouts
    require: payout.amount <= params.local_cap
    message: "amount {payout.amount} is over the local cap {params.local_cap}"
"""
PARAMETERS = """\
parameters:
  local_cap:
    description: an illustrative cap of this test pack
    values:
      2016-07-01: 600.00
"""


def test_two_engines_with_different_packs_in_one_process_do_not_see_each_other(tmp_path: Path) -> None:
    (tmp_path / "local.yaml").write_text(RULES, encoding="utf-8")
    (tmp_path / "parameters.yaml").write_text(PARAMETERS, encoding="utf-8")
    core = Engine.load(packs=[])
    core_alone = report_of(core, EXAMPLES)
    local = Engine.load(packs=[], rules=[tmp_path])
    every = Engine.load()
    # Loading other engines changed nothing in the first one.
    assert report_of(core, EXAMPLES) == core_alone
    assert [rule.id for rule in core.rules] == [rule.id for rule in Engine.load(packs=[]).rules]
    local_alone, every_alone = report_of(local, EXAMPLES), report_of(every, EXAMPLES)

    def rules_found(report: str) -> set[str]:
        return {finding["rule"] for record in json.loads(report)["records"] for finding in record["findings"]}

    assert "LOCAL-001" in rules_found(local_alone) and "LOCAL-001" not in rules_found(core_alone) | rules_found(
        every_alone)
    assert any(rule.startswith("NMP-") for rule in rules_found(every_alone))
    assert not any(rule.startswith("NMP-") for rule in rules_found(core_alone) | rules_found(local_alone))
    assert len({core.digest, local.digest, every.digest}) == 3
    # Used at the same time, each engine still gives its own results.
    engines = [core, local, every] * 3
    results = at_once([lambda engine=engine: report_of(engine, EXAMPLES) for engine in engines])
    expected = {id(core): core_alone, id(local): local_alone, id(every): every_alone}
    assert results == [expected[id(engine)] for engine in engines]
