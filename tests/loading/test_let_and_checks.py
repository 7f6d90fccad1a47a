"""`let:` named values and `checks:` several conditions in one rule.

A named value is checked once, where it is defined, and written out where it is used: the
findings, messages and `explain` of a rule with `let:` are those of the same rule written
longhand. A rule with checks gives one finding per check that fails, each with its own message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mentorrules import Engine

AS_OF = dt.date(2026, 1, 1)


def payout(key: str, amount: str, **extra: Any) -> dict[str, Any]:
    return {"payout_id": key, "payee_id": "T-1", "role": "mentor", "program": "X", "state": "XX",
            "school_year": "2025-26", "pay_date": "2025-09-15", "amount": amount, **extra}


def findings(engine: Engine, rows: list[dict[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    report = engine.validate({"payouts": rows, "people": [{"person_id": "T-1"}]}, as_of=AS_OF)
    return {d.key: [(f.rule, f.message) for f in d.findings if f.rule.startswith("LOCAL")]
            for d in report.records_of("payouts")}


SHORT = """
rules:
  - id: LOCAL-001
    title: At most the cap, in whole cents
    table: payouts
    let:
      cents: payout.amount * 100
      over: payout.amount - 2500
    when: cents > 0
    require: over <= 0
    message: "payout {payout.payout_id} is {over} over the cap ({cents} cents)"
"""
LONG = """
rules:
  - id: LOCAL-001
    title: At most the cap, in whole cents
    table: payouts
    when: payout.amount * 100 > 0
    require: payout.amount - 2500 <= 0
    message: "payout {payout.payout_id} is {payout.amount - 2500} over the cap ({payout.amount * 100} cents)"
"""


def test_a_rule_with_named_values_finds_what_the_rule_written_longhand_finds(
        write_rules: Callable[..., Path]) -> None:
    rows = [payout("P-1", "2500.00"), payout("P-2", "2500.01"), payout("P-3", "0.00"), payout("P-4", "99999.99")]
    short = Engine.load(packs=[], rules=[write_rules(SHORT, directory="short")])
    long = Engine.load(packs=[], rules=[write_rules(LONG, directory="long")])
    assert findings(short, rows) == findings(long, rows)
    assert findings(short, rows)["P-2"] == [("LOCAL-001", "payout P-2 is 0.01 over the cap (250001.00 cents)")]
    assert findings(short, rows)["P-1"] == findings(short, rows)["P-3"] == []  # P-3: `when` false


def test_explain_shows_the_values_of_a_named_value(write_rules: Callable[..., Path]) -> None:
    engine = Engine.load(packs=[], rules=[write_rules(SHORT)])
    [(_, explanations)] = engine.explain({"payouts": [payout("P-2", "2500.01")]}, "payouts", "P-2", as_of=AS_OF)
    [explanation] = [e for e in explanations if e.rule.id == "LOCAL-001"]
    values = {step.text: step.value for step in explanation.steps}
    assert str(values["payout.amount - 2500"]) == "0.01"  # the named value, shown written out
    assert any(step.text == "payout.amount - 2500 <= 0" and step.value is False for step in explanation.steps)


def test_a_batch_rule_may_name_a_value_of_its_aggregates(write_rules: Callable[..., Path]) -> None:
    engine = Engine.load(packs=[], rules=[write_rules("""
rules:
  - id: LOCAL-002
    title: A payee's yearly total stays under the cap
    table: payouts
    group_by: [payout.payee_id]
    aggregate: {total: sum(payout.amount)}
    let: {excess: total - 3000}
    require: excess <= 0
    message: "{payee_id} was paid {excess} more than 3000"
""")])
    found = findings(engine, [payout("P-1", "2000.00"), payout("P-2", "1500.00")])
    assert found["P-1"] == found["P-2"] == [("LOCAL-002", "T-1 was paid 500.00 more than 3000")]


CHECKS = """
rules:
  - id: LOCAL-003
    title: A payout names its district and grant
    table: payouts
    checks:
      district:
        require: present(payout.district)
        message: "payout {payout.payout_id} names no district"
      grant:
        require: payout.funding_source != "federal" or present(payout.grant_id)
        message: "federal payout {payout.payout_id} names no grant"
"""


def test_each_failed_check_is_its_own_finding(write_rules: Callable[..., Path]) -> None:
    engine = Engine.load(packs=[], rules=[write_rules(CHECKS)])
    found = findings(engine, [payout("P-1", "10.00", district="Belen"),
                              payout("P-2", "10.00", funding_source="federal"),
                              payout("P-3", "10.00", district="Belen", funding_source="federal")])
    assert found == {"P-1": [],
                     "P-2": [("LOCAL-003", "payout P-2 names no district"),
                             ("LOCAL-003", "federal payout P-2 names no grant")],
                     "P-3": [("LOCAL-003", "federal payout P-3 names no grant")]}


def test_a_rule_with_checks_is_one_rule_to_tests_packs_and_explain(write_rules: Callable[..., Path],
                                                                     run_cli) -> None:
    rules = write_rules(CHECKS)
    write_rules("""
- name: a payout with neither district nor grant fails both checks
  tables:
    payouts: [{payout_id: P-2, payee_id: T-1, role: mentor, program: X, state: XX, school_year: 2025-26,
               pay_date: 2025-09-15, amount: "10.00", funding_source: federal}]
  expect:
    P-2: [{rule: LOCAL-003, message: names no district}, {rule: LOCAL-003, message: names no grant}]
- name: a payout with a district passes
  tables:
    payouts: [{payout_id: P-1, payee_id: T-1, role: mentor, program: X, state: XX, school_year: 2025-26,
               pay_date: 2025-09-15, amount: "10.00", district: Belen}]
  expect: {P-1: []}
""", name="rules.test.yaml")
    tested = run_cli("test", "--pack", "core", rules.parent)
    assert tested.code == 0, tested.out
    packs = run_cli("packs", "--pack", "core", "--rules", rules.parent)
    assert "core" in packs.out
    data = rules.parent.parent / "data"
    data.mkdir()
    (data / "payouts.csv").write_text("payout_id,payee_id,role,program,state,school_year,pay_date,amount,"
                                      "funding_source\nP-2,T-1,mentor,X,XX,2025-26,2025-09-15,10.00,federal\n")
    explained = run_cli("explain", data, "--record", "payouts:P-2", "--pack", "core", "--rules", rules.parent)
    assert "LOCAL-003/district" in explained.out and "LOCAL-003/grant" in explained.out
    assert "federal payout P-2 names no grant" in explained.out


FILE_LET = """
let:
  over: payout.amount - 2500
rules:
  - id: LOCAL-004
    title: At most the cap
    table: payouts
    require: over <= 0
    message: "payout {payout.payout_id} is {over} over the cap"
  - id: LOCAL-005
    title: A pairing has two people
    table: pairings
    require: pairing.mentor_id != pairing.mentee_id
    message: "over and over: {pairing.pairing_id}"
"""


def test_a_file_names_a_value_once_for_the_rules_that_use_it(write_rules: Callable[..., Path]) -> None:
    # LOCAL-005 is on pairings, where `payout` does not exist: the file's value is not its own,
    # and the word "over" in its message text is not a use of it.
    engine = Engine.load(packs=[], rules=[write_rules(FILE_LET)])
    assert findings(engine, [payout("P-1", "2600.00")])["P-1"] == [("LOCAL-004", "payout P-1 is 100.00 over the cap")]


def test_a_rule_may_not_name_again_a_value_its_file_names(write_rules: Callable[..., Path]) -> None:
    from mentorrules import MentorRulesError

    text = FILE_LET.replace("    require: over <= 0\n", "    let: {over: payout.amount}\n    require: over <= 0\n")
    try:
        Engine.load(packs=[], rules=[write_rules(text)])
    except MentorRulesError as error:
        assert [(p.code, p.message) for p in error.problems] == [
            ("MR150", "the name 'over' is already a value the file names here")]
    else:
        raise AssertionError("the second 'over' was accepted")
