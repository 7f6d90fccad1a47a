"""summary.money: the figures of a small world, computed by hand, and every format showing them.

The world (core pack, NM_PILOT, 2025-26 schedule: mentor 1000.00, mentee 500.00):

| row | payee | amount  | what happens                                          | where the money goes |
|-----|-------|---------|-------------------------------------------------------|----------------------|
| P-1 | T-1   | 1000.00 | installment 1, first by pay date                      | payable (info only)  |
| P-2 | T-1   | 1000.00 | installment 1 again, a month later                    | held: STIPEND-006-INSTALLMENT, Belen |
| P-3 | T-2   |  500.00 | role coach                                            | held: STIPEND-001, Gallup |
| P-4 | T-2   |  500.00 | a mentee paid the schedule                            | payable              |
| P-5 | T-3   |  450.00 | not the schedule (grant VINE)                         | held: STIPEND-005, Gallup, VINE |
| P-6 | T-3   | 1000.10 | not the schedule                                      | held: STIPEND-005    |
| P-7 | T-4   |  500.00 | stated career year 1, first taught 2019: a warning    | payable, warnings only |
| P-8 | T-5   | 1000.001| three decimals and off the schedule: two error rules  | held once: first rule STIPEND-005 |

checked = 1000 + 1000 + 500 + 500 + 450 + 1000.10 + 500 + 1000.001 = 5950.101 -> 5950.10
held    = 1000 + 500 + 450 + 1000.10 + 1000.001 = 3950.101 -> 3950.10
payable = 1000 + 500 + 500 = 2000.00; warnings_only = 500.00 (P-7)
"""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mentorrules import Engine
from mentorrules.reports import csv as csv_report
from mentorrules.reports import html, text, xlsx

AS_OF = dt.date(2026, 6, 30)


def payout(key: str, payee: str, role: str, district: str, day: str, amount: str, installment: str,
           **more: str) -> dict[str, str]:
    return {"payout_id": key, "payee_id": payee, "role": role, "program": "NM_PILOT", "state": "NM",
            "district": district, "school_year": "2025-26", "pay_date": day, "amount": amount,
            "installment": installment, **more}


WORLD: dict[str, list[dict[str, Any]]] = {
    "payouts": [
        payout("P-1", "T-1", "mentor", "Belen", "2025-12-15", "1000.00", "1"),
        payout("P-2", "T-1", "mentor", "Belen", "2026-01-10", "1000.00", "1"),
        payout("P-3", "T-2", "coach", "Gallup", "2025-12-15", "500.00", "1"),
        payout("P-4", "T-2", "mentee", "Gallup", "2025-12-15", "500.00", "1"),
        payout("P-5", "T-3", "mentee", "Gallup", "2026-05-15", "450.00", "2", grant_id="VINE"),
        payout("P-6", "T-3", "mentor", "Gallup", "2025-12-15", "1000.10", "1"),
        payout("P-7", "T-4", "mentee", "Belen", "2025-12-15", "500.00", "1"),
        payout("P-8", "T-5", "mentor", "Belen", "2025-12-15", "1000.001", "1"),
    ],
    "people": [{"person_id": "T-1", "career_year": 1}, {"person_id": "T-2", "career_year": 1},
               {"person_id": "T-3", "career_year": 1},
               {"person_id": "T-4", "career_year": 1, "first_teaching_date": "2019-08-15"},
               {"person_id": "T-5", "career_year": 1}],
}


@pytest.fixture(scope="module")
def report() -> Any:
    return Engine.load(packs=[]).validate(WORLD, as_of=AS_OF)


def test_the_world_fails_as_the_table_says(report: Any) -> None:
    errors = {decision.key: sorted({f.rule for f in decision.findings if f.severity.value == "error"})
              for decision in report.records_of("payouts")}
    assert errors == {"P-1": [], "P-2": ["STIPEND-006-INSTALLMENT"], "P-3": ["STIPEND-001"], "P-4": [],
                      "P-5": ["STIPEND-005"], "P-6": ["STIPEND-005"], "P-7": [],
                      "P-8": ["STIPEND-002", "STIPEND-005"]}


def test_money_matches_the_hand_computation(report: Any) -> None:
    money = report.summary["money"]
    assert (money["checked"], money["payable"], money["held"], money["warnings_only"]) == \
        ("5950.10", "2000.00", "3950.10", "500.00")
    assert money["rows"] == {"checked": 8, "payable": 3, "held": 5, "warnings_only": 1, "history": 0,
                             "unreadable": 0, "no_amount": 0}
    held = money["held_by"]
    # Each dollar once: P-8 (held by two rules) counts under its first, STIPEND-005.
    assert held["rule"] == {"STIPEND-001": "500.00", "STIPEND-005": "2450.10", "STIPEND-006-INSTALLMENT": "1000.00"}
    assert held["district"] == {"Belen": "2000.00", "Gallup": "1950.10"}
    assert held["program"] == {"NM_PILOT": "3950.10"}
    assert held["grant"] == {"VINE": "450.00", "(not given)": "3500.10"}
    assert held["school_year"] == {"2025-26": "3950.10"}
    # held_with: every rule that holds a row, with the row's whole amount (overlapping).
    assert money["held_with"]["STIPEND-002"] == "1000.00"
    assert money["held_with"]["STIPEND-005"] == "2450.10"


def test_each_split_adds_up_to_held_and_payable_plus_held_is_checked(report: Any) -> None:
    money = report.summary["money"]
    for split in money["held_by"].values():
        assert sum(map(Decimal, split.values())) == Decimal(money["held"])
    assert Decimal(money["payable"]) + Decimal(money["held"]) == Decimal(money["checked"])


def test_every_format_shows_the_same_figures(report: Any, tmp_path: Path) -> None:
    titles = {rule.id: rule.title for rule in Engine.load(packs=[]).rules}
    stream = io.StringIO()
    text.write(report, stream, titles)
    shown = stream.getvalue()
    assert "Money (USD)" in shown
    assert "held (rows with an error finding)" in shown and "3950.10" in shown and "5950.10" in shown
    # The schedule STIPEND-005 compares with is a placeholder: every format says so.
    schedule = "core stipend_schedule: NM_PILOT/mentor: 1000.00; NM_PILOT/mentee: 500.00 (from 2016-07-01)"
    assert schedule in shown

    page = html.render(report, titles, WORLD)
    assert 'id="money-held"><b>$3950.10</b>' in page and 'id="money-payable"><b>$2000.00</b>' in page
    assert page.index('id="money-checked"') < page.index("<span>rows</span>")  # money leads
    assert 'id="illustrative"' in page and schedule in page

    stream = io.StringIO()
    csv_report.write_summary(report, stream)
    lines = stream.getvalue().splitlines()
    assert "money,held,3950.10,5" in lines and "held by district,Gallup,1950.10," in lines
    assert any(line.startswith("illustrative,core stipend_schedule,") for line in lines)

    from openpyxl import load_workbook

    path = tmp_path / "report.xlsx"
    xlsx.write(report, path, WORLD, titles)
    sheet = load_workbook(path)["Summary"]
    figures = {row[0]: row[1] for row in sheet.iter_rows(values_only=True) if row and row[0]}
    # Number cells (a spreadsheet sums them), shown with two places.
    assert Decimal(str(figures["held (rows with an error finding)"])) == Decimal("3950.10")
    assert Decimal(str(figures["payable (rows that pass)"])) == Decimal("2000.00")
    assert schedule in figures


def test_a_cap_and_a_match_shortfall_say_how_many_dollars(engine: Engine) -> None:
    report = engine.validate(Path(__file__).resolve().parents[2] / "examples", as_of=AS_OF)
    data = json.loads(json.dumps(report.to_dict()))
    gaps = {gap["key"]: gap for gap in data["summary"]["money"]["gaps"]}
    assert gaps["ASMP-010:Chugach/2025-26"]["shortfall"] == "22500.00"
    assert gaps["ASMP-010:Chugach/2025-26"]["district"] == "Chugach"
    assert gaps["EIR-2023/2024-25"]["shortfall"] == "4100.00"
    capped = next(record for record in data["records"] if record["key"] == "P-0279")
    assert [f["excess"] for f in capped["findings"] if f["rule"] == "NMP-005"] == ["500.00"]


@pytest.mark.parametrize("period", [None, "2026-06"])
def test_streamed_and_held_payouts_give_the_same_money(engine: Engine, period: str | None) -> None:
    """A payouts file is streamed (read again at each pass); the same rows given as a mapping are
    held in memory: two paths through the run, one set of figures."""
    import csv

    examples = Path(__file__).resolve().parents[2] / "examples"
    streamed = engine.validate(examples, as_of=AS_OF, period=period)
    tables = {}
    for path in sorted(examples.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            tables[path.stem] = list(csv.DictReader(handle))
    held = engine.validate(tables, as_of=AS_OF, period=period)
    assert json.dumps(held.summary, sort_keys=True) == json.dumps(streamed.summary, sort_keys=True)
    def records(report: Any) -> list[Any]:  # tables come in the order they were given; rows given
        # by a program have no line of a file
        return sorted(({k: v for k, v in d.to_dict().items() if k != "line"} for d in report.records),
                      key=lambda r: (r["table"], r["row"]))

    assert records(held) == records(streamed)
