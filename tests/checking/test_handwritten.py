"""bench/handwritten.py, the benchmark's hand-written mirror of the single-row payout rules, stays
in step with the YAML packs: it checks every such rule, and flags the same rules as the engine on
a generated data set full of defects."""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

from mentorrules import Engine

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from generate import generate  # noqa: E402  (bench/ is not a package)
from handwritten import make_checker  # noqa: E402


def test_every_single_row_payout_rule_is_mirrored() -> None:
    engine = Engine.load()
    rules = {rule.id for rule in engine.rules if rule.table == "payouts" and rule.batch is None}
    mirrored = set(re.findall(r'guard\("([A-Z0-9-]+)"', (BENCH / "handwritten.py").read_text("utf-8")))
    assert rules - mirrored == set(), "rules bench/handwritten.py does not check"
    assert mirrored - rules == set(), "bench/handwritten.py checks rules the packs do not have"


def test_engine_and_hand_written_checks_flag_the_same_rules(tmp_path: Path) -> None:
    generate(tmp_path, payouts=3000, seed=5, violations=0.3)
    engine = Engine.load()
    dataset = engine.read(tmp_path)
    indexes = engine.indexes(dataset.tables)
    day = dt.date(2026, 1, 1)
    checker = make_checker(engine, day)
    rows = [row.values for row in dataset.tables["payouts"] if not row.problems]
    differ = []
    for values in rows:
        by_engine = sorted(f.rule for f in engine.evaluator.findings("payouts", values, values.get("pay_date") or day,
                                                                      indexes))
        by_hand = sorted(checker(values, indexes))
        if by_engine != by_hand:
            differ.append((values["payout_id"], by_engine, by_hand))
    assert len(rows) > 2500
    assert not differ, f"{len(differ)} rows differ, e.g. {differ[:3]}"
