"""Decision tables in a spreadsheet: read, checked by cell, looked up on the rule's date, linted.

The core pack's stipend schedule is one (rules/stipend_schedule.csv, read by STIPEND-005); these
tests build small packs with tables in CSV files and workbooks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from mentorrules import Engine, MentorRulesError

AS_OF = dt.date(2026, 1, 1)
DECLARATION = """\
decision_tables:
  wy_schedule:
    description: Stipend per installment by program, role and career year.
    file: {file}
{sheet}    inputs: [program, role, career]
    outputs: {{amount: decimal}}
    hit_policy: {policy}
"""
RULE = """\
rules:
  - id: LOCAL-020
    title: The amount is the scheduled stipend
    table: payouts
    parameters_on: school_year_start
    let:
      scheduled: table_lookup("wy_schedule", program=payout.program, role=payout.role, career=payout.installment)
    require: payout.amount == scheduled
    message: "amount {payout.amount} is not the scheduled {scheduled}"
"""
ROWS = [
    ["from", "to", "program", "role", "career", "amount"],
    ["2016-07-01", "2025-06-30", "WY_MENTOR", "mentor", "-", "1000.00"],
    ["2025-07-01", "", "WY_MENTOR", "mentor", "-", "1200.00"],
    ["2016-07-01", "", "WY_MENTOR", "mentee", "1..2", "500.00"],
    ["2016-07-01", "", "WY_MENTOR", "mentee", ">= 3", "250.00"],
]


def pack(folder: Path, rows: list[list[str]] = ROWS, policy: str = "unique", workbook: bool = False,
         rule: str = RULE) -> Path:
    folder.mkdir(exist_ok=True)
    if workbook:
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = "Stipends"
        for row in rows:
            sheet.append(row)
        book.save(folder / "schedule.xlsx")
        declaration = DECLARATION.format(file="schedule.xlsx", sheet="    sheet: Stipends\n", policy=policy)
    else:
        (folder / "wy_schedule.csv").write_text("\n".join(",".join(row) for row in rows) + "\n", encoding="utf-8")
        declaration = DECLARATION.format(file="wy_schedule.csv", sheet="", policy=policy)
    (folder / "parameters.yaml").write_text(declaration, encoding="utf-8")
    (folder / "schedule.yaml").write_text(rule, encoding="utf-8")
    return folder


def payout(key: str, role: str, amount: str, year: str = "2025-26", installment: int = 1) -> dict[str, Any]:
    start = int(year[:4])
    return {"payout_id": key, "payee_id": "T-1", "role": role, "program": "WY_MENTOR", "state": "WY",
            "school_year": year, "pay_date": f"{start}-09-15", "amount": amount, "installment": installment}


def findings(engine: Engine, rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    report = engine.validate({"payouts": rows, "people": [{"person_id": "T-1"}]}, as_of=AS_OF)
    return {d.key: [f.message for f in d.findings if f.rule == "LOCAL-020"] for d in report.records_of("payouts")}


@pytest.mark.parametrize("workbook", [False, True], ids=["CSV file", "XLSX sheet"])
def test_a_rule_reads_the_row_in_force_that_matches(tmp_path: Path, workbook: bool) -> None:
    engine = Engine.load(packs=[], rules=[pack(tmp_path / "wy", workbook=workbook)])
    found = findings(engine, [payout("P-1", "mentor", "1000.00", "2024-25"), payout("P-2", "mentor", "1000.00"),
                              payout("P-3", "mentee", "500.00", installment=2),
                              payout("P-4", "mentee", "500.00", installment=3)])
    assert found == {"P-1": [], "P-2": ["amount 1000.00 is not the scheduled 1200.00"], "P-3": [],
                     "P-4": ["amount 500.00 is not the scheduled 250.00"]}


def test_no_matching_row_cannot_be_checked_and_says_what_was_asked(tmp_path: Path) -> None:
    engine = Engine.load(packs=[], rules=[pack(tmp_path / "wy")])
    [message] = findings(engine, [payout("P-1", "coach", "10.00")])["P-1"]
    assert message == ("cannot check: no row of wy_schedule matches program=WY_MENTOR, role=coach, "
                       "career=1 on 2025-07-01")


def test_first_takes_the_first_row_and_collect_every_row(tmp_path: Path) -> None:
    rows = [*ROWS, ["2016-07-01", "", "WY_MENTOR", "mentor", "-", "9.00"]]
    first = Engine.load(packs=[], rules=[pack(tmp_path / "first", rows, policy="first")])
    assert findings(first, [payout("P-1", "mentor", "1200.00")])["P-1"] == []
    collect_rule = RULE.replace("payout.amount == scheduled", "payout.amount in scheduled")
    collect = Engine.load(packs=[], rules=[pack(tmp_path / "all", rows, policy="collect", rule=collect_rule)])
    assert findings(collect, [payout("P-1", "mentor", "9.00"), payout("P-2", "mentor", "8.00")]) == \
        {"P-1": [], "P-2": ["amount 8.00 is not the scheduled 1200.00, 9.00"]}


def test_a_unique_table_with_two_matching_rows_cannot_decide_and_lint_finds_the_overlap(
        tmp_path: Path, run_cli) -> None:
    rows = [*ROWS, ["2024-07-01", "", "WY_MENTOR", "mentor", "-", "1100.00"]]
    folder = pack(tmp_path / "wy", rows)
    engine = Engine.load(packs=[], rules=[folder])
    [message] = findings(engine, [payout("P-1", "mentor", "1200.00")])["P-1"]
    assert message.startswith("cannot check: rows 3, 6 of wy_schedule all match program=WY_MENTOR")
    result = run_cli("lint", "--pack", "core", folder)
    assert ("wy_schedule.csv!A6: MR164 rows 2 and 6 of the unique table wy_schedule can both match "
            "the same values on the same day") in result.out


def test_lint_finds_a_gap_in_a_unique_table(tmp_path: Path, run_cli) -> None:
    rows = [ROWS[0], ["2016-07-01", "2019-06-30", "WY_MENTOR", "mentor", "7", "1.00"],
            ["2020-07-01", "", "WY_MENTOR", "mentor", "7", "2.00"]]
    result = run_cli("lint", "--pack", "core", pack(tmp_path / "wy", rows))
    assert ("warning: MR165 the unique table wy_schedule has no row for program=wy_mentor, role=mentor, "
            "career=7 from 2019-07-01 to 2020-06-30") in result.out


@pytest.mark.parametrize(("cell", "value", "expected"), [
    ((2, 0), "2016-13-01", "schedule.xlsx!A3: MR163 '2016-13-01' is not a date"),
    ((3, 5), "lots", "schedule.xlsx!F4: MR163 'lots' is not decimal"),
    ((4, 4), "3..1", "schedule.xlsx!E5: MR163 '3..1' is not a condition"),
], ids=["a date that does not exist", "an amount that is not a number", "a range the wrong way round"])
def test_a_bad_cell_is_located_by_sheet_and_cell(tmp_path: Path, cell: tuple[int, int], value: str,
                                                 expected: str) -> None:
    rows = [list(row) for row in ROWS]
    rows[cell[0]][cell[1]] = value
    with pytest.raises(MentorRulesError) as raised:
        Engine.load(packs=[], rules=[pack(tmp_path / "wy", rows, workbook=True)])
    assert [f"{p.location}: {p.code} {p.message}" for p in raised.value.problems] == [expected]


def test_a_sheet_without_its_header_names_the_columns_it_needs(tmp_path: Path) -> None:
    with pytest.raises(MentorRulesError) as raised:
        Engine.load(packs=[], rules=[pack(tmp_path / "wy", ROWS[1:], workbook=True)])
    first = raised.value.problems[0]
    assert (str(first.location), first.code) == ("schedule.xlsx!A1", "MR161")
    assert first.message == "the decision table has no column 'from'"


@pytest.mark.parametrize(("call", "code", "message"), [
    ('table_lookup("stipend_schedul", program=payout.program, role=payout.role, career=1)', "MR203",
     "unknown decision table 'stipend_schedul'"),
    ('table_lookup("wy_schedule", program=payout.program, role=payout.role)', "MR204",
     "table_lookup of wy_schedule needs every input: career missing"),
    ('table_lookup("wy_schedule", program=payout.program, role=payout.role, career=1, grade=2)', "MR204",
     "wy_schedule has no input 'grade'"),
    ("table_lookup(payout.program)", "MR204",
     "table_lookup() takes the table's name in quotes, then its inputs by name"),
], ids=["an unknown table", "an input left out", "an unknown input", "no table name"])
def test_a_wrong_lookup_is_a_located_load_problem(tmp_path: Path, call: str, code: str, message: str) -> None:
    rule = RULE.replace('table_lookup("wy_schedule", program=payout.program, role=payout.role, '
                        'career=payout.installment)', call)
    with pytest.raises(MentorRulesError) as raised:
        Engine.load(packs=[], rules=[pack(tmp_path / "wy", rule=rule)])
    found = [(p.code, p.message) for p in raised.value.problems]
    assert (code, message) in found
    assert all(str(p.location).startswith(str(tmp_path / "wy" / "schedule.yaml") + ":") for p in raised.value.problems)


def test_explain_shows_the_row_of_the_table_used(tmp_path: Path, write_rules: Callable[..., Path]) -> None:
    engine = Engine.load(packs=[], rules=[pack(tmp_path / "wy")])
    [(_, explanations)] = engine.explain({"payouts": [payout("P-1", "mentor", "1000.00")], "people": []},
                                         "payouts", "P-1", as_of=AS_OF)
    [explanation] = [e for e in explanations if e.rule.id == "LOCAL-020"]
    steps = {step.text: step.value for step in explanation.steps}
    assert steps["wy_schedule row used"] == "wy_schedule.csv row 3 (from 2025-07-01)"


def test_the_core_schedule_is_a_decision_table(engine: Engine) -> None:
    table = engine.book.decision_tables["stipend_schedule"]
    assert table.pack == "core" and table.inputs == ("program", "role") and table.hit_policy == "unique"
    assert table.lookup(dt.date(2025, 7, 1), ["NM_PILOT", "mentor"]) == table.lookup(
        dt.date(2025, 7, 1), ["nm_pilot", "MENTOR"])
    assert str(table.lookup(dt.date(2025, 7, 1), ["NM_PILOT", "mentee"])) == "500.00"
