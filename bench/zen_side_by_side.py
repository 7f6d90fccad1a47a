"""mentorrules' prepared context and zen-engine (GoRules) on the same 12 checks, in one run.

The checks are bench/zen/rules/checks.yaml (mentorrules rules) and bench/zen/decision.json (the
same checks as a zen expression node, true when a check fails). Both get each payout as text
cells, as a payroll system sends them, and its payee's people row; both are set up once,
untimed (mentorrules: ``Engine.prepare(people=...)``; zen: the decision, and the people rows by
id in a dict). First both must flag the same checks on every payout; then records/s each.

zen-engine is not a dependency of mentorrules: ``pip install zen-engine`` to run this part.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from mentorrules.engine import Engine

HERE = Path(__file__).resolve().parent / "zen"


def checks_engine() -> Engine:
    """An engine with the 12 checks only (the packs' own rules left out)."""
    loaded = Engine.load(packs=[], rules=[HERE / "rules"])
    return Engine(replace(loaded.book, rules=tuple(rule for rule in loaded.book.rules if rule.id.startswith("CHK-"))))


def compare(tables: Mapping[str, Sequence[Mapping[str, str]]], records: Sequence[Mapping[str, str]],
            as_of: dt.date) -> None:
    try:
        import zen  # type: ignore[import-not-found]
    except ImportError:
        print("zen-engine: not installed, side-by-side skipped (pip install zen-engine to run it)")
        return
    engine = checks_engine()
    context = engine.prepare(as_of=as_of, people=tables["people"])
    content = (HERE / "decision.json").read_text(encoding="utf-8")
    assert len(json.loads(content)["nodes"][1]["content"]["expressions"]) == len(engine.rules) == 12
    decision = zen.ZenEngine().create_decision(content)
    people = {row["person_id"]: row for row in tables["people"]}

    def zen_failed(record: Mapping[str, str]) -> list[str]:
        result: dict[str, Any] = decision.evaluate({"payout": record, "payee": people.get(record["payee_id"])})
        return sorted(key for key, failed in result["result"].items() if failed)

    checked = [record for record in records if context.evaluate(record).status.value != "error"]
    disagree = sum(sorted(f.rule for f in context.evaluate(record).findings) != zen_failed(record)
                   for record in checked)
    flagged = sum(bool(context.evaluate(record).findings) for record in checked)
    print(f"zen side-by-side: 12 checks, {len(checked):,} payouts ({flagged:,} flagged); "
          f"mentorrules and zen-engine disagree on {disagree} payouts")

    def rate(function: Any) -> float:
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            for record in checked:
                function(record)
            best = min(best, time.perf_counter() - started)
        return len(checked) / best

    ours = rate(context.evaluate)
    theirs = rate(zen_failed)
    print(f"  mentorrules prepared {ours:12,.0f} records/s")
    print(f"  zen-engine evaluate  {theirs:12,.0f} records/s")
    print(f"  ratio                {ours / theirs:12.1f} x zen-engine (target >= 10)")
