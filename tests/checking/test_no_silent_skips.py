"""No silent skips: a state pack's rule on a row whose state is not known says "cannot check".

Pairings have an optional `state` column and otherwise take their district's. A pairing whose
district is misspelled, and which does not say its state, used to pass every state rule
unseen; now each state rule that would apply to it (its `when` holds) cannot check it, batch
and sessions alike, `explain` says why the other rules do not apply, and `lint --data` lists
the rows that no state pack claims.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from mentorrules import Engine
from mentorrules.model import Decision

AS_OF = dt.date(2026, 1, 1)
UNKNOWN = "cannot check: the pairing's state is not known: no state, and district 'Kuspk' is not in districts"


def world(**pairing: Any) -> dict[str, list[dict[str, Any]]]:
    """Every table given: an Alaska district, a mentor who evaluates her mentee, their pairing."""
    return {
        "payouts": [], "attendance": [], "grants": [], "contributions": [],
        "districts": [{"district": "Kuspuk", "state": "AK", "agreement_signed_on": "2025-06-01",
                       "agreement_year": "2025-26"}],
        "people": [{"person_id": "M-1"}, {"person_id": "T-1", "evaluator_id": "M-1"}],
        "pairings": [{"pairing_id": "PR-1", "program": "AK_ASMP", "mentor_id": "M-1", "mentee_id": "T-1",
                      "school_year": "2025-26", "start_date": "2025-08-15", "status": "active", **pairing}],
    }


def findings(engine: Engine, tables: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    report = engine.validate(tables, as_of=AS_OF)
    [decision] = report.records_of("pairings")
    return {finding.rule: finding.message for finding in decision.findings}


def test_a_pairing_whose_district_is_misspelled_cannot_be_checked_by_the_state_rules_that_would_apply(
        engine: Engine) -> None:
    found = findings(engine, world(district="Kuspk"))
    # ASMP-004 (single row), ASMP-002 (groups), ASMP-010 (findings on groups): each says why.
    for rule in ("ASMP-004", "ASMP-002", "ASMP-010"):
        assert found[rule] == UNKNOWN
    assert "NMP-008" not in found  # a New Mexico rule whose `when` (NM_PILOT) is false in any state


def test_the_same_pairing_in_a_known_district_is_checked(engine: Engine) -> None:
    found = findings(engine, world(district="Kuspuk"))
    assert found["ASMP-004"] == "mentor M-1 is the evaluator of record of mentee T-1"
    assert {"ASMP-002", "ASMP-010"}.isdisjoint(found) or not any(
        message.startswith("cannot check: the pairing's state") for message in found.values())


@pytest.mark.parametrize("district", [None, "Kuspk", "Kuspuk"],
                         ids=["without a district", "with an unknown district", "with a district of its own"])
def test_a_pairing_that_says_its_state_is_checked_by_that_state(engine: Engine, district: str | None) -> None:
    found = findings(engine, world(state="AK", **({"district": district} if district else {})))
    assert found["ASMP-004"] == "mentor M-1 is the evaluator of record of mentee T-1"


def test_a_pairing_of_another_state_is_left_to_that_state(engine: Engine) -> None:
    assert "ASMP-004" not in findings(engine, world(state="WY", district="Kuspuk"))


def test_a_pairing_without_a_district_or_a_state_says_so(engine: Engine) -> None:
    found = findings(engine, world())
    assert found["ASMP-004"] == ("cannot check: the pairing's state is not known: no state, "
                                 "and no district (district is empty)")


@pytest.mark.parametrize("order", [("districts", "people", "pairings"), ("pairings", "people", "districts")],
                         ids=["districts first", "districts last"])
@pytest.mark.parametrize("backend", ["python", "durable-rules"])
def test_sessions_agree_with_batch_on_rows_whose_state_is_not_known(engine: Engine, backend: str,
                                                                    order: tuple[str, ...]) -> None:
    from mentorrules.sessions.backends import durable_available

    if backend == "durable-rules" and not durable_available():
        pytest.skip("durable-rules cannot run here")
    tables = world(district="Kuspk")
    tables["pairings"].append({**tables["pairings"][0], "pairing_id": "PR-2", "district": "Kuspuk"})
    tables["pairings"].append({**tables["pairings"][0], "pairing_id": "PR-3", "district": None, "state": "AK"})
    batch = {(d.table, d.key): sorted((f.rule, f.message) for f in d.findings)
             for d in engine.validate(tables, as_of=AS_OF).records}
    other = Engine(engine.book, backend=backend)
    try:
        with other.session(as_of=AS_OF) as session:
            for table in order:
                for row in tables[table]:
                    session.post(table, row)
            decisions: list[Decision] = list(session.findings())
    finally:
        other.close()
    streamed = {(d.table, d.key): sorted((f.rule, f.message) for f in d.findings) for d in decisions}
    assert {key: value for key, value in streamed.items() if value} == \
        {key: value for key, value in batch.items() if value}
    assert ("ASMP-004", UNKNOWN) in batch[("pairings", "PR-1")]


def test_explain_lists_the_state_rules_and_says_why_the_others_do_not_apply(run_cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "payouts.csv").write_text("payout_id,payee_id,role,program,state,school_year,pay_date,amount\n")
    (data / "districts.csv").write_text("district,state\nKuspuk,AK\nBelen,NM\n")
    (data / "people.csv").write_text("person_id,evaluator_id\nM-1,\nT-1,M-1\n")
    (data / "pairings.csv").write_text(
        "pairing_id,program,mentor_id,mentee_id,district,school_year,start_date,status\n"
        "PR-1,AK_ASMP,M-1,T-1,Kuspk,2025-26,2025-08-15,active\n"
        "PR-2,AK_ASMP,M-1,T-1,Belen,2025-26,2025-08-15,active\n")
    unknown = run_cli("explain", data, "--record", "pairings:PR-1", "--as-of", "2026-01-01")
    assert unknown.code == 1
    assert "ASMP-004" in unknown.out and UNKNOWN in unknown.out
    assert "its condition is false: when pairing.program == \"NM_PILOT\"" in unknown.out  # NMP-008
    elsewhere = run_cli("explain", data, "--record", "pairings:PR-2", "--as-of", "2026-01-01")
    assert "a rule of the AK pack; this pairing's state is NM" in elsewhere.out  # ASMP-004 listed, not run


def test_lint_lists_the_rows_no_state_pack_claims(run_cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "payouts.csv").write_text("payout_id,payee_id,role,program,state,school_year,pay_date,amount\n")
    (data / "districts.csv").write_text("district,state\nKuspuk,AK\n")
    (data / "pairings.csv").write_text(
        "pairing_id,program,mentor_id,mentee_id,district,state,school_year\n"
        "PR-1,AK_ASMP,M-1,T-1,Kuspk,,2025-26\n"
        "PR-2,AK_ASMP,M-1,T-1,Kuspuk,,2025-26\n"
        "PR-3,WY_MENTOR,M-1,T-1,,WY,2025-26\n")
    result = run_cli("lint", "--data", data)
    assert result.code == 0  # warnings only
    assert ("MR509 1 pairings row with no known state (no state, and no district with one): "
            "no state pack checks it (PR-1)") in result.out
    assert "MR509 1 pairings row with state 'WY', for which no pack is installed" in result.out
    assert "PR-2" not in result.out
