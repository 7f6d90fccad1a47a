"""The trial of issue 15, kept: a third state's pack written with the documented commands only.

`new-pack`, then rules with `let:` and `checks:`, a decision table in a CSV file, a parameter and
tests both ways; installed (into a folder of its own), tested, a changed parameter file laid over
it, the change diffed, `validate --complete` on Wyoming data, and uninstalled.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

RULES = """\
# yaml-language-server: $schema=../../../schemas/rules.schema.json
rules:
  - id: WY-001
    title: A Wyoming payout pays a mentor the scheduled stipend
    table: payouts
    when: payout.program == "WY_MENTOR"
    parameters_on: school_year_start
    let:
      scheduled: table_lookup("wy_stipends", role=payout.role)
    checks:
      mentor:
        require: payout.role == "mentor"
        message: "payout {payout.payout_id} pays a {payout.role}; the program pays mentors only"
      amount:
        require: payout.role != "mentor" or payout.amount == scheduled
        message: "payout {payout.payout_id} pays {payout.amount}; the schedule says {scheduled}"
    source: {title: WY mentorship program rules, section: stipends}

  - id: WY-002
    title: A Wyoming mentor has at most the set number of mentees in a school year
    table: pairings
    when: pairing.program == "WY_MENTOR"
    group_by: [pairing.mentor_id, pairing.school_year]
    aggregate: {mentees: count_distinct(pairing.mentee_id)}
    parameters_on: school_year_start
    require: mentees <= params.max_mentees
    message: "mentor {mentor_id} has {mentees} mentees in {school_year}, more than {params.max_mentees}"
    source: {title: WY mentorship program rules, section: caseload}
"""
PARAMETERS = """\
parameters:
  max_mentees:
    description: Mentees per mentor and school year.
    values:
      2024-07-01: 3
decision_tables:
  wy_stipends:
    description: The stipend of one payout, per role.
    file: wy_stipends.csv
    inputs: [role]
    outputs: {amount: decimal}
"""
SCHEDULE = "from,to,role,amount\n2024-07-01,2026-06-30,mentor,1500.00\n2026-07-01,,mentor,1800.00\n"
PAYOUT = ("{{payout_id: {key}, payee_id: T-1, role: {role}, program: WY_MENTOR, state: WY, "
          "school_year: {year}, pay_date: {day}, amount: \"{amount}\"}}")


def payout(key: str, role: str, amount: str, year: str = "2025-26", day: str = "2026-06-30") -> str:
    return PAYOUT.format(key=key, role=role, amount=amount, year=year, day=day)


def pairing(key: str, mentee: str) -> str:
    return (f"{{pairing_id: {key}, program: WY_MENTOR, mentor_id: M-1, mentee_id: {mentee}, district: Laramie, "
            "state: WY, school_year: 2025-26, start_date: 2025-08-15, status: active}")


TESTS = f"""\
- name: a mentor paid the schedule on the last day of 2025-26 passes; a mentee payout fails
  rules: [WY-001]
  tables:
    payouts: [{payout("P-1", "mentor", "1500.00")}, {payout("P-2", "mentee", "1500.00")}]
  expect:
    P-1: []
    P-2: [{{rule: WY-001, message: "pays a mentee; the program pays mentors only"}}]
- name: the 2026-27 schedule applies from July 1, whatever the pay date
  rules: [WY-001]
  tables:
    payouts: [{payout("P-3", "mentor", "1500.00", "2026-27", "2026-07-01")},
              {payout("P-4", "mentor", "1500.00", "2025-26", "2026-07-01")}]
  expect:
    P-3: [{{rule: WY-001, message: "pays 1500.00; the schedule says 1800.00"}}]
    P-4: []
- name: three mentees pass, a fourth fails
  rules: [WY-002]
  tables:
    pairings: [{pairing("A-1", "T-1")}, {pairing("A-2", "T-2")}, {pairing("A-3", "T-3")}]
  expect: {{A-1: [], A-2: [], A-3: []}}
- name: a fourth mentee is one too many
  rules: [WY-002]
  tables:
    pairings: [{pairing("A-1", "T-1")}, {pairing("A-2", "T-2")}, {pairing("A-3", "T-3")}, {pairing("A-4", "T-4")}]
  expect: {{A-1: [WY-002], A-2: [WY-002], A-3: [WY-002], A-4: [WY-002]}}
"""


def mentorrules(*arguments: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mentorrules", *map(str, arguments)], capture_output=True,
                          text=True, env=env, check=False)


def test_a_third_states_pack_from_new_pack_to_uninstall(tmp_path: Path) -> None:
    made = mentorrules("new-pack", "wyoming", "--jurisdiction", "WY", "--output", tmp_path)
    assert made.returncode == 0, made.stderr
    pack = tmp_path / "wyoming"
    rules = pack / "src" / "mentorrules_wyoming" / "rules"
    module = pack / "src" / "mentorrules_wyoming" / "__init__.py"
    # The pack declares the program and the match pool it owns (README, "Scope").
    module.write_text(module.read_text("utf-8").replace(
        'rule_dirs=(Path(__file__).parent / "rules",),',
        'rule_dirs=(Path(__file__).parent / "rules",), programs=("WY_MENTOR",), grants=("WY-MATCH",),'),
        encoding="utf-8")
    (rules / "stipends.yaml").write_text(RULES, encoding="utf-8")
    (rules / "parameters.yaml").write_text(PARAMETERS, encoding="utf-8")
    (rules / "wy_stipends.csv").write_text(SCHEDULE, encoding="utf-8")
    (rules / "stipends.test.yaml").write_text(TESTS, encoding="utf-8")

    # Installed, into a folder of its own (uninstalling is leaving it out of the path).
    site = tmp_path / "site"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                                str(site), str(pack)], capture_output=True, text=True, check=False)
    assert installed.returncode == 0, installed.stderr
    env = {**os.environ, "PYTHONPATH": str(site)}
    packs = mentorrules("packs", env=env)
    assert "wyoming          0.1.0      WY                2" in packs.stdout
    tested = mentorrules("test", "--pack", "wyoming", env=env)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "stipends.test.yaml ...." in tested.stdout
    linted = mentorrules("lint", "--pack", "wyoming", env=env)
    assert linted.returncode == 0, linted.stdout + linted.stderr

    # A changed parameter file, laid over the installed pack: its tests show what it breaks.
    change = tmp_path / "change"
    change.mkdir()
    (change / "parameters.yaml").write_text(PARAMETERS.replace("2024-07-01: 3", "2024-07-01: 2"), encoding="utf-8")
    (change / "wy_stipends.csv").write_text(SCHEDULE, encoding="utf-8")
    over = mentorrules("test", "--pack", "wyoming", change, env=env)
    assert f"note: {change} laid over the pack wyoming" in over.stderr
    assert over.returncode == 1 and "A-3: expected no findings, got ['WY-002']" in over.stdout

    # Its effect on data, with New Mexico installed too: Wyoming data is not asked for attendance.
    data = tmp_path / "data"
    data.mkdir()
    (data / "payouts.csv").write_text(
        "payout_id,payee_id,role,program,state,school_year,pay_date,amount\n"
        "P-1,M-1,mentor,WY_MENTOR,WY,2025-26,2025-09-15,1500.00\n", encoding="utf-8")
    (data / "pairings.csv").write_text(
        "pairing_id,program,mentor_id,mentee_id,state,school_year,start_date,status\n"
        + "".join(f"A-{n},WY_MENTOR,M-1,T-{n},WY,2025-26,2025-08-15,active\n" for n in (1, 2, 3)), encoding="utf-8")
    (data / "contributions.csv").write_text(
        "contribution_id,grant_id,district,type,funding_source,date,amount,source_document_ref\n"
        "C-1,WY-MATCH,Laramie,cash,state,2025-10-01,750.00,DOC-1\n", encoding="utf-8")
    for table, header in (("people", "person_id\nM-1\n"), ("districts", "district,state\nLaramie,WY\n"),
                          ("grants", "grant_id,budget_period\n")):
        (data / f"{table}.csv").write_text(header, encoding="utf-8")
    complete = mentorrules("validate", data, "--complete", "--as-of", "2026-01-01", "--format", "json", env=env)
    assert complete.returncode == 0, complete.stdout + complete.stderr  # no attendance asked, no grant invented
    diffed = mentorrules("diff", data, "--after", change, "--format", "json", "--as-of", "2026-01-01", env=env)
    assert diffed.returncode == 0, diffed.stderr
    report = json.loads(diffed.stdout)
    assert report["after"]["rules"].endswith("laid over the pack wyoming")
    assert report["rules"]["WY-002"]["added"] == 3

    # Uninstalled: the pack is gone, and New Mexico's and Alaska's rules are as before.
    gone = mentorrules("packs")
    assert "wyoming" not in gone.stdout and "new-mexico" in gone.stdout
