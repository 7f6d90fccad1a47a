"""hold: later — of a repeated payout or a cap, only the later copy (by pay date) is held.

The mistakes are built from ``examples/`` at test time (copies in a temporary folder, never
committed): a payout keyed in twice, a payout that crosses the yearly cap. The batch path and a
session must agree on which row is held.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import pytest

from mentorrules import Engine
from mentorrules.errors import MentorRulesError
from mentorrules.model import Severity

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
AS_OF = "2026-06-30"


def findings_of(report: Any, rule: str) -> dict[str, list[tuple[str, str]]]:
    """Per payout key (with the row number when the key repeats), the rule's (severity, message)."""
    records = report.records_of("payouts")
    seen: dict[str, int] = {}
    for decision in records:
        seen[decision.key] = seen.get(decision.key, 0) + 1
    found: dict[str, list[tuple[str, str]]] = {}
    for decision in records:
        name = decision.key if seen[decision.key] == 1 else f"{decision.key}@{decision.row}"
        for finding in decision.findings:
            if finding.rule == rule:
                found.setdefault(name, []).append((finding.severity.value, finding.message))
    return found


def copy_examples(tmp_path: Path) -> tuple[Path, list[dict[str, str]], list[str]]:
    folder = tmp_path / "data"
    shutil.copytree(EXAMPLES, folder, ignore=shutil.ignore_patterns("*.md", "*.py"))
    with (folder / "payouts.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        columns = list(reader.fieldnames or ())
    return folder, rows, columns


def write_payouts(folder: Path, rows: list[dict[str, str]], columns: list[str]) -> None:
    with (folder / "payouts.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def examples_report(engine: Engine) -> Any:
    import datetime as dt

    return engine.validate(EXAMPLES, as_of=dt.date.fromisoformat(AS_OF))


def test_the_examples_hold_the_later_copy_of_each_pair(examples_report: Any) -> None:
    installment = findings_of(examples_report, "STIPEND-006-INSTALLMENT")
    assert [severity for severity, _ in installment["P-0268"]] == ["info"]
    assert "P-0278 (2026-06-" in installment["P-0268"][0][1]
    assert [severity for severity, _ in installment["P-0278"]] == ["error"]
    cap = findings_of(examples_report, "NMP-005")
    assert cap["P-0089"] == [("info", cap["P-0089"][0][1])] and "P-0279" in cap["P-0089"][0][1]
    assert cap["P-0279"][0][0] == "error"
    assert cap["P-0279"][0][1].endswith("over the cap 2000.00 by 500.00")
    copies = findings_of(examples_report, "STIPEND-006")
    assert sorted(severity for found in copies.values() for severity, _ in found) == ["error", "info"]


def test_a_payout_keyed_in_twice_holds_the_later_copy_whatever_the_file_order(
        engine: Engine, tmp_path: Path) -> None:
    import datetime as dt

    folder, rows, columns = copy_examples(tmp_path)
    original = next(row for row in rows if row["payout_id"] == "P-0100")
    # The copy comes first in the file, with a later pay date: the original stays payable.
    again = {**original, "payout_id": "P-9100", "pay_date": (
        dt.date.fromisoformat(original["pay_date"]) + dt.timedelta(days=3)).isoformat()}
    write_payouts(folder, [again, *rows], columns)
    report = engine.validate(folder, as_of=dt.date.fromisoformat(AS_OF))
    found = findings_of(report, "STIPEND-006-INSTALLMENT")
    assert [severity for severity, _ in found["P-9100"]] == ["error"]
    assert [severity for severity, _ in found["P-0100"]] == ["info"]
    assert "P-9100" in found["P-0100"][0][1]
    decisions = {decision.key: decision for decision in report.records_of("payouts")}
    assert decisions["P-9100"].status.value == "fail"
    # The original is held by nothing the copy brought: its other findings are those it had.
    before = engine.validate(EXAMPLES, as_of=dt.date.fromisoformat(AS_OF))
    original_before = next(d for d in before.records_of("payouts") if d.key == "P-0100")
    assert [f for f in decisions["P-0100"].findings if f.severity is Severity.ERROR] == \
        [f for f in original_before.findings if f.severity is Severity.ERROR]


def test_the_same_pay_date_holds_by_input_order_and_a_session_agrees(engine: Engine) -> None:
    payout = {"payee_id": "T-1", "role": "mentor", "program": "AK_ASMP", "state": "AK",
              "school_year": "2025-26", "pay_date": "2026-03-01", "amount": "500.00", "installment": "1"}
    rows = [{"payout_id": "P-2", **payout}, {"payout_id": "P-1", **payout}, {"payout_id": "P-3", **payout}]
    report = Engine.load(packs=["core"]).validate({"payouts": rows})
    found = findings_of(report, "STIPEND-006-INSTALLMENT")
    assert [found[key][0][0] for key in ("P-2", "P-1", "P-3")] == ["info", "error", "error"]
    assert "P-1 (2026-03-01), P-3 (2026-03-01)" in found["P-2"][0][1]
    core = Engine.load(packs=["core"])
    with core.session() as session:
        for row in rows:
            session.post("payouts", row)
        streamed = {decision.key: [(f.severity.value, f.message) for f in decision.findings
                                   if f.rule == "STIPEND-006-INSTALLMENT"]
                    for decision in session.findings() if decision.table == "payouts"}
    assert streamed == found


def test_hold_later_needs_groups_on_rows(write_rules: Any) -> None:
    path = write_rules("""
rules:
  - id: LOCAL-001
    title: a test rule
    table: payouts
    group_by: [payout.payee_id]
    aggregate: {n: count()}
    findings_on: group
    hold: later
    require: n < 3
    message: "too many"
""")
    with pytest.raises(MentorRulesError) as raised:
        Engine.load(packs=["core"], rules=[path.parent])
    assert any("hold: later needs group_by and findings on rows" in problem.message
               for problem in raised.value.problems)
