"""A prepared context decides a record exactly as validate() does, and one-shot evaluate() too.

Differential: for every rule case of the installed packs (the last row of each table, against
the rest of the case) and for every example payout (against the example data and the payouts
before it), the prepared context, ``Engine.evaluate`` and ``Engine.validate`` give the same
decision, byte for byte. Then the context's updates (upsert, remove, a reference row that
changes), the tables not given, unreadable related rows, and threads.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from mentorrules import Engine
from mentorrules.authoring.testing import DEFAULT_AS_OF, find_test_files, load_cases
from mentorrules.model import Decision

ROOT = Path(__file__).resolve().parents[2]
ENGINE = Engine.load()
AS_OF = dt.date(2025, 9, 1)
PAYOUT = {"payout_id": "P-1", "payee_id": "T-1", "role": "mentor", "program": "NM_PILOT", "state": "NM",
          "school_year": "2025-26", "pay_date": "2025-09-15", "amount": "500.00", "installment": "1"}
PERSON = {"person_id": "T-1", "career_year": "6"}


def same(*decisions: Decision) -> None:
    shown = [json.dumps(decision.to_dict(), sort_keys=True) for decision in decisions]
    assert all(text == shown[0] for text in shown), "\n".join(shown)


CASES = [case for path in find_test_files(ENGINE) for case in load_cases(path, ENGINE)[0]]


@pytest.mark.parametrize("case", CASES, ids=[f"{case.path.name}:{case.name}" for case in CASES])
def test_every_rule_case_prepared_equals_one_shot_equals_validate(case: Any) -> None:
    world = {**{name: [] for name in ENGINE.tables}, **case.tables}
    as_of = case.as_of or DEFAULT_AS_OF
    report = ENGINE.validate(world, as_of=as_of)
    for table, rows in world.items():
        if not rows or not isinstance(rows[-1], dict):
            continue
        record, before = rows[-1], {**world, table: rows[:-1]}
        expected = report.records_of(table)[-1]
        context = ENGINE.prepare(as_of=as_of, **before)
        same(expected, context.evaluate(record, table), ENGINE.evaluate(record, table, related=before, as_of=as_of))


def example_tables() -> dict[str, list[dict[str, str]]]:
    return {path.stem: list(csv.DictReader(path.open(encoding="utf-8", newline="")))
            for path in sorted((ROOT / "examples").glob("*.csv"))}


def test_every_example_payout_prepared_equals_one_shot_equals_validate() -> None:
    tables = example_tables()
    payouts = tables.pop("payouts")
    context = ENGINE.prepare(as_of=AS_OF, payouts=[], **tables)
    assert "payouts" in context.fast_tables
    failed = 0
    held: list[dict[str, str]] = []  # the payouts the context holds, in row order
    for payout in payouts:
        before = {**tables, "payouts": list(held)}
        prepared = context.evaluate(payout)
        expected = ENGINE.validate({**before, "payouts": [*held, payout]}, as_of=AS_OF).records_of("payouts")[-1]
        one_shot = ENGINE.evaluate(payout, related=before, as_of=AS_OF) if len(held) % 4 == 0 else prepared
        same(expected, prepared, one_shot)  # one-shot is prepare + evaluate: every 4th payout suffices
        failed += prepared.status.value == "fail"
        # The next payout sees this one; a repeated id replaces the row with that id, in place.
        context.upsert("payouts", payout)
        same_id = [index for index, row in enumerate(held) if row["payout_id"] == payout["payout_id"]]
        if same_id:
            held[same_id[0]] = payout
        else:
            held.append(payout)
    assert failed >= 10  # the examples' deliberate violations are among them


def test_upsert_and_remove_keep_the_context_equal_to_its_rows() -> None:
    people = [PERSON, {"person_id": "T-2", "career_year": "6"}]
    context = ENGINE.prepare(as_of=AS_OF, people=people)
    second = {**PAYOUT, "payout_id": "P-2", "installment": "2"}
    third = {**PAYOUT, "payout_id": "P-3", "installment": "2", "amount": "1800.00"}
    assert "STIPEND-006" not in rules_of(context.evaluate(PAYOUT))
    context.upsert("payouts", PAYOUT)
    context.upsert("payouts", second)
    assert {"NMP-009", "STIPEND-006-INSTALLMENT"} <= rules_of(context.evaluate(third))  # a third, repeated installment
    context.upsert("payouts", {**second, "installment": "1"})  # replaces P-2 in place
    assert context.tables["payouts"] == 2
    assert context.remove("payouts", "P-2") and not context.remove("payouts", "P-2")
    after = context.evaluate(third)
    expected = ENGINE.validate(world(people=people, payouts=[PAYOUT, third]), as_of=AS_OF).records_of("payouts")[-1]
    # P-1 keeps row 1; P-2's number is not reused, so the evaluated payout is row 3, not 2.
    assert (after.row, after.findings) == (3, expected.findings)


def world(**tables: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    """Every table given: those not named are empty (as a context's are)."""
    return {**{name: [] for name in ENGINE.tables}, **tables}


def rules_of(decision: Decision) -> set[str]:
    return {finding.rule for finding in decision.findings}


def test_a_changed_reference_row_changes_the_next_decision() -> None:
    context = ENGINE.prepare(as_of=AS_OF, payouts=[PAYOUT])
    second = {**PAYOUT, "payout_id": "P-2", "installment": "2"}
    assert "STIPEND-003" in rules_of(context.evaluate(second))  # no such payee
    context.upsert("people", PERSON)
    assert "STIPEND-003" not in rules_of(context.evaluate(second))
    context.upsert("people", {**PERSON, "career_year": "x"})  # now unreadable
    finding = next(f for f in context.evaluate(second).findings if f.rule == "STIPEND-003")
    assert finding.cannot_check and "is in people row 1, which could not be read" in finding.message
    assert context.remove("people", "T-1")
    assert "not in the people table" in next(f.message for f in context.evaluate(second).findings
                                             if f.rule == "STIPEND-003")


def test_an_unreadable_related_row_is_reported_as_such_as_validate_does() -> None:
    related = {"people": [{**PERSON, "career_year": "x"}]}
    decision = ENGINE.evaluate(PAYOUT, related=related, as_of=AS_OF)
    stipend = next(f for f in decision.findings if f.rule == "STIPEND-003")
    assert stipend.cannot_check and "not in the people table" not in stipend.message
    same(decision, ENGINE.validate(world(**related, payouts=[PAYOUT]), as_of=AS_OF).records_of("payouts")[0])


def test_tables_not_given_leave_their_rules_unchecked_as_validate_does() -> None:
    related = {"people": [PERSON], "districts": [], "grants": []}
    not_given = ["attendance", "pairings", "contributions"]
    decision = ENGINE.evaluate(PAYOUT, related=related, as_of=AS_OF, not_given=not_given)
    assert "NMP-007" not in rules_of(decision)  # no pairing given: not checked
    assert "NMP-007" in rules_of(ENGINE.evaluate(PAYOUT, related=related, as_of=AS_OF))  # no pairing: a failure
    same(decision, ENGINE.validate({**related, "payouts": [PAYOUT]}, as_of=AS_OF).records_of("payouts")[0])
    assert ENGINE.prepare(not_given=not_given).not_checked["NMP-007"] == ("pairings",)


def test_a_record_of_a_table_others_depend_on_is_decided_by_a_run() -> None:
    tables = example_tables()
    grants = tables.pop("grants")
    context = ENGINE.prepare(as_of=AS_OF, grants=grants[:-1], **tables)
    assert "grants" not in context.fast_tables
    expected = ENGINE.validate({**tables, "grants": grants}, as_of=AS_OF).records_of("grants")[-1]
    same(expected, context.evaluate(grants[-1], "grants"))


def test_threads_evaluating_while_one_upserts_see_whole_states() -> None:
    context = ENGINE.prepare(as_of=AS_OF, people=[PERSON])
    payouts = [{**PAYOUT, "payout_id": f"P-{number}"} for number in range(60)]
    errors: list[BaseException] = []

    def evaluate() -> None:
        try:
            for payout in payouts:
                context.evaluate(payout)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for payout in payouts:
        context.upsert("payouts", payout)
    for thread in threads:
        thread.join()
    assert not errors
    final = context.evaluate({**PAYOUT, "payout_id": "P-new"})
    expected = ENGINE.validate(world(people=[PERSON], payouts=[*payouts, {**PAYOUT, "payout_id": "P-new"}]),
                               as_of=AS_OF).records_of("payouts")[-1]
    same(expected, final)


@pytest.mark.parametrize("seed", range(4))
def test_random_updates_keep_the_fast_path_equal_to_a_full_run(seed: int) -> None:
    """After any sequence of upserts and removes (payouts and the tables they read), a
    payout decided from the kept groups and indexes equals a run over the same rows."""
    import random

    rng = random.Random(seed)
    tables = example_tables()
    pools = {name: tables[name] for name in ("payouts", "people", "attendance", "pairings", "districts", "grants")}
    start = {name: rng.sample(rows, len(rows) // 2) for name, rows in tables.items()}
    context = ENGINE.prepare(as_of=AS_OF, **start)
    keys = {name: ENGINE.tables[name].key for name in pools}
    by_payee: dict[str, list[dict[str, str]]] = {}
    for paid in pools["payouts"]:
        by_payee.setdefault(paid["payee_id"], []).append(paid)
    for step in range(60):
        name = rng.choice(list(pools))
        row = dict(rng.choice(pools[name]))
        if rng.random() < 0.25:
            context.remove(name, "/".join(row[column] for column in keys[name]) if len(keys[name]) > 1
                           else row[keys[name][0]])
        else:
            if name == "payouts" and rng.random() < 0.5:
                row["amount"] = rng.choice(["250.00", "1000.00", "2600.00", "x"])
            context.upsert(name, row)
        # Mostly a payout the change concerns: in the groups of the payout just changed (same
        # payee, role, year), or of the person whose attendance or pairing changed.
        person = row.get("person_id") or row.get(rng.choice(["mentor_id", "mentee_id"]))
        theirs = by_payee.get(person or "", [])
        payout = dict(row if name == "payouts" and rng.random() < 0.7 else
                      rng.choice(theirs) if theirs and rng.random() < 0.8 else rng.choice(pools["payouts"]))
        if rng.random() < 0.5:
            payout["payout_id"] = f"NEW-{step}"
        fast = context._decide("payouts", context._typers["payouts"].row(context._counter["payouts"] + 1, payout),
                               AS_OF)
        full = context._run("payouts", context._typers["payouts"].row(context._counter["payouts"] + 1, payout),
                            AS_OF)
        same(full, fast)
