"""Scope: a pack declares the programs and grants it owns.

A state's own match pool is not a federal grant: core cost-share rules do not ask the `grants`
table about a grant a pack declares as its own, while an unknown grant still cannot be checked.
`validate --complete` asks only for the tables of rules that apply to the data's states and
programs: Wyoming-only data is not asked for New Mexico's attendance.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mentorrules import Engine

AS_OF = dt.date(2026, 1, 1)
WY_PACK = "name: wyoming\nversion: 0.1.0\njurisdiction: WY\nprograms: [WY_MENTOR]\ngrants: [WY-MATCH]\n"
WY_RULE = """\
rules:
  - id: WY-001
    title: Wyoming payouts are in whole cents
    table: payouts
    require: places(payout.amount) <= 2
    message: "amount {payout.amount} is not in whole cents"
"""


@pytest.fixture
def wyoming(tmp_path: Path) -> Path:
    folder = tmp_path / "wyoming"
    folder.mkdir()
    (folder / "pack.yaml").write_text(WY_PACK, encoding="utf-8")
    (folder / "stipends.yaml").write_text(WY_RULE, encoding="utf-8")
    return folder


def contribution(key: str, grant: str, funding: str = "state") -> dict[str, str]:
    return {"contribution_id": key, "grant_id": grant, "district": "Laramie", "type": "cash",
            "funding_source": funding, "date": "2025-10-01", "amount": "1000.00", "source_document_ref": "D-" + key}


def test_a_packs_own_match_pool_is_not_asked_of_the_grants_table(wyoming: Path) -> None:
    engine = Engine.load(rules=[wyoming])
    assert engine.book.parameters["core"]["pack_grants"].values[0] == ["WY-MATCH"]
    tables = {name: [] for name in engine.tables}
    tables["grants"] = [{"grant_id": "VINE", "budget_period": "2025-26", "pop_start": "2025-07-01",
                         "pop_end": "2026-06-30", "federal_amount": "1000.00"}]
    tables["districts"] = [{"district": "Laramie", "state": "WY"}]
    tables["contributions"] = [contribution("C-1", "WY-MATCH"), contribution("C-2", "WY-MATCH", "federal"),
                               contribution("C-3", "VINEE")]
    report = engine.validate(tables, as_of=AS_OF)
    found = {d.key: [(f.rule, f.message) for f in d.findings] for d in report.records_of("contributions")}
    assert found["C-1"] == found["C-2"] == []
    assert ("CS-007", "cannot check: grant 'VINEE/2025-26' is not in grants") in found["C-3"]


def test_without_the_declaration_the_pool_cannot_be_checked(tmp_path: Path) -> None:
    engine = Engine.load(packs=[])
    tables = {name: [] for name in engine.tables}
    tables["contributions"] = [contribution("C-1", "WY-MATCH")]
    report = engine.validate(tables, as_of=AS_OF)
    [decision] = report.records_of("contributions")
    assert [f.rule for f in decision.findings] == ["CS-007"]


def write(folder: Path, state: str, program: str) -> Path:
    folder.mkdir()
    (folder / "payouts.csv").write_text(
        "payout_id,payee_id,role,program,state,school_year,pay_date,amount,installment\n"
        f"P-1,T-1,mentor,{program},{state},2025-26,2025-09-15,1000.00,2\n", encoding="utf-8")
    for table, header in (("people", "person_id"), ("pairings", "pairing_id,program,mentor_id,mentee_id,school_year"),
                          ("districts", "district,state"), ("grants", "grant_id,budget_period"),
                          ("contributions", "contribution_id,grant_id,date,amount")):
        (folder / f"{table}.csv").write_text(header + "\n", encoding="utf-8")
    (folder / "people.csv").write_text("person_id\nT-1\n", encoding="utf-8")
    return folder


def test_complete_does_not_ask_wyoming_data_for_new_mexicos_attendance(run_cli, tmp_path: Path,
                                                                       wyoming: Path) -> None:
    data = write(tmp_path / "wy", "WY", "WY_MENTOR")
    result = run_cli("validate", data, "--complete", "--rules", wyoming, "--as-of", "2026-01-01")
    assert result.code in (0, 1), result.err
    assert "MR309" not in result.err


def test_complete_asks_new_mexico_data_for_its_attendance(run_cli, tmp_path: Path) -> None:
    data = write(tmp_path / "nm", "NM", "NM_PILOT")
    result = run_cli("validate", data, "--complete", "--as-of", "2026-01-01")
    assert result.code == 2
    assert "MR309 the table attendance was not given" in result.err
