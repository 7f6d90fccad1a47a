"""Rebuild the example data set: generated clean data plus hand-chosen, documented violations.

    .venv/bin/python examples/build.py

1. ``bench/generate.py`` writes a clean data set (every row passes every rule) of both states.
2. The payouts are put in pay-date order and numbered P-0001, P-0002, ... in that order.
3. Each function below marked ``@edit`` makes one deliberate violation (or a near miss that must
   pass) on rows it picks by what they are (the first pilot mentor with one mentee, ...), and says
   which rule it breaks and why.
4. The CSV files and the table of ``README.md`` are written; ``tests/test_examples.py`` checks
   that ``mentorrules validate examples/`` finds exactly the documented (row key, rule) pairs.

The CSV files are the data set; this script records how they were made, so that a change of the
generator or of a rule can be followed by a rebuild and a review of the README diff.
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "bench"))

from generate import COLUMNS, TABLES, ascii_slug, generate  # noqa: E402  (bench/ is not a package)

SEED = 26
PAYOUTS = 340
Row = dict[str, Any]


@dataclass
class Violation:
    table: str
    rows: list[Row]          # the rows the findings are on (keys are read when the files are written)
    rule: str
    why: str
    key: str | None = None   # a fixed key instead (districts, grants, group findings)


class Data:
    def __init__(self, directory: Path) -> None:
        self.tables: dict[str, list[Row]] = {}
        for table in TABLES:
            with (directory / f"{table}.csv").open(encoding="utf-8", newline="") as handle:
                self.tables[table] = list(csv.DictReader(handle))
        self.violations: list[Violation] = []
        self.used: set[str] = set()   # people an edit already changed: later edits pick others
        self.next_person = max(int(row["person_id"][2:]) for row in self.tables["people"])

    # -- looking up -------------------------------------------------------------------------------
    @property
    def payouts(self) -> list[Row]:
        return self.tables["payouts"]

    def person(self, person_id: str) -> Row:
        return next(row for row in self.tables["people"] if row["person_id"] == person_id)

    def paid(self, person_id: str, year: str | None = None) -> list[Row]:
        return [row for row in self.payouts if row["payee_id"] == person_id
                and (year is None or row["school_year"] == year)]

    def pairings(self, **match: str) -> list[Row]:
        return [row for row in self.tables["pairings"] if all(row[k] == v for k, v in match.items())]

    def mentees_of(self, mentor: str, year: str) -> list[str]:
        return [row["mentee_id"] for row in self.pairings(mentor_id=mentor, school_year=year)]

    def pick(self, program: str, role: str, test: Callable[[str], bool] = lambda _: True) -> str:
        """The first payee (in payout order) of ``program`` and ``role`` that no edit used yet."""
        for row in self.payouts:
            person = row["payee_id"]
            if (row["program"] == program and row["role"] == role and person not in self.used
                    and test(person)):
                self.used.add(person)
                return person
        raise LookupError(f"no unused {program} {role} left")

    def years(self, person_id: str) -> set[str]:
        return {row["school_year"] for row in self.paid(person_id)}

    def new_person_id(self) -> str:
        self.next_person += 1
        return f"T-{self.next_person:04d}"

    def violate(self, table: str, rows: Iterable[Row], rule: str, why: str) -> None:
        self.violations.append(Violation(table, list(rows), rule, why))

    def violate_key(self, table: str, key: str, rule: str, why: str) -> None:
        self.violations.append(Violation(table, [], rule, why, key))


def iso(day: dt.date) -> str:
    return day.isoformat()


def weekday_after(text: str, days: int) -> str:
    day = dt.date.fromisoformat(text) + dt.timedelta(days=days)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return iso(day)


EDITS: list[Callable[[Data], None]] = []


def edit(function: Callable[[Data], None]) -> Callable[[Data], None]:
    EDITS.append(function)
    return function


# == payouts: every state ========================================================================
@edit
def ineligible_role(data: Data) -> None:
    mentor = data.pick("NM_BEGINNING", "mentor", lambda p: data.years(p) == {"2025-26"})
    first = data.paid(mentor)[0]
    coach = data.new_person_id()
    data.tables["people"].append({
        **data.person(mentor), "person_id": coach, "name": "Renee Archuleta",
        "email": f"rarchuleta{coach[2:]}@{ascii_slug(first['district'])}.k12.example.org",
        "license_level": "3-A", "rating": "Highly Effective"})
    row = {**first, "payout_id": "", "payee_id": coach, "role": "instructional coach"}
    data.payouts.append(row)
    data.violate("payouts", [row], "STIPEND-001",
                 f"an instructional coach in {first['district']} ({coach}) paid from the beginning-teacher "
                 "mentorship line; only mentors and mentees receive a stipend")


@edit
def three_decimals(data: Data) -> None:
    mentee = data.pick("NM_BEGINNING", "mentee", lambda p: len(data.paid(p)) == 2)
    row = data.paid(mentee)[1]
    row["amount"] = "250.005"
    data.violate("payouts", [row], "STIPEND-002", "amount 250.005 has three decimals (a spreadsheet formula result "
                 "pasted as a value)")


@edit
def unknown_payee(data: Data) -> None:
    mentor = data.pick("NM_BEGINNING", "mentor", lambda p: len(data.paid(p)) >= 2)
    row = data.paid(mentor)[1]
    row["payee_id"] = "T-9" + mentor[3:]
    data.used.add(row["payee_id"])
    data.violate("payouts", [row], "STIPEND-003",
                 f"payee {row['payee_id']} is a mistyped {mentor}: no such person in people.csv")
    data.violate("payouts", [row], "NMBT-002",
                 "cannot be checked: without a people row there is no license level (a consequence of the "
                 "unknown payee)")
    data.violate("payouts", [row], "NMBT-003",
                 "cannot be checked: without a people row there is no rating (a consequence of the unknown payee)")


@edit
def july_first(data: Data) -> None:
    mentee = data.pick("NM_BEGINNING", "mentee", lambda p: "2024-25" in data.years(p) and len(data.paid(p)) >= 2)
    row = next(r for r in data.paid(mentee, "2024-25") if r["installment"] == "2")
    row["pay_date"] = "2025-07-01"
    data.violate("payouts", [row], "STIPEND-004",
                 "paid on 2025-07-01, the first day of 2025-26, but labelled 2024-25 and not flagged as an accrual")
    # The near miss that passes: the same situation, flagged as an accrual.
    other = data.pick("NM_BEGINNING", "mentor", lambda p: "2024-25" in data.years(p))
    accrued = next(r for r in data.paid(other, "2024-25") if r["installment"] == "2")
    accrued["pay_date"] = "2025-07-03"
    accrued["accrual"] = "true"


SHOWCASE = "P-0009"  # the row of the main README's `mentorrules explain examples/ --record payouts:P-0009`


def off_schedule(data: Data) -> None:
    """Run after numbering: the main README's example row fails, on an amount off the schedule."""
    def fits(row: Row) -> bool:
        person = row["payee_id"]
        return (row["program"] == "NM_PILOT" and row["role"] == "mentee" and person not in data.used
                and len(data.paid(person, row["school_year"])) == 2)

    row = next((r for r in data.payouts if r["payout_id"] == SHOWCASE and fits(r)), None)
    if row is None:
        row = next(r for r in data.payouts if fits(r))
    data.used.add(row["payee_id"])
    row["amount"] = "450.00"
    data.violate("payouts", [row], "STIPEND-005",
                 "450.00 for a pilot mentee installment; the written schedule says 500.00 (the year's total, "
                 "950.00, is within the cap)")


@edit
def over_cap(data: Data) -> None:
    mentor = data.pick("NM_PILOT", "mentor", lambda p: len(data.paid(p)) == 2)
    first, second = data.paid(mentor)
    second["amount"] = "1500.00"
    data.violate("payouts", [second], "STIPEND-005",
                 "1500.00 for a pilot mentor installment; the written schedule says 1000.00")
    data.violate("payouts", [first, second], "NMP-005",
                 f"{mentor} is paid 2500.00 as a pilot mentor in {first['school_year']}, over the 2000.00 cap "
                 "(both installments of the year carry the finding)")


@edit
def outside_band(data: Data) -> None:
    mentor = data.pick("AK_ASMP", "mentor")
    row = data.paid(mentor)[0]
    row["amount"] = "3000.00"
    data.violate("payouts", [row], "STIPEND-005-BAND",
                 "3000.00 for one ASMP mentor installment, above the 2500.00 reasonableness band (warning)")


@edit
def duplicate_id(data: Data) -> None:
    mentee = data.pick("NM_BEGINNING", "mentee", lambda p: len(data.paid(p)) == 2)
    row = data.paid(mentee)[0]
    copy = {**row, "_copy_of": id(row)}
    data.payouts.insert(data.payouts.index(row) + 1, copy)
    data.violate("payouts", [row, copy], "STIPEND-006",
                 "the same payout exported twice: the payout id appears on two rows (both carry the finding)")


@edit
def federal_without_effort(data: Data) -> None:
    mentee = data.pick("AK_ASMP", "mentee", lambda p: data.paid(p)[0]["grant_id"] in ("VINE", "STARR"))
    row = data.paid(mentee)[1]
    row["time_effort_ref"] = ""
    data.violate("payouts", [row], "COMP-001",
                 f"charged to {row['grant_id']} (federal) with no time-and-effort record")


@edit
def before_period_of_performance(data: Data) -> None:
    mentor = data.pick("AK_ASMP", "mentor")
    row = data.paid(mentor)[0]
    row["service_start"] = "2025-06-23"
    data.violate("payouts", [row], "CS-007-PAYOUT",
                 f"pays for a summer induction week from 2025-06-23, before {row['grant_id']}'s 2025-26 period "
                 "of performance starts on 2025-07-01")


@edit
def late_agreement(data: Data) -> None:
    # A district signs on the day its first service started: the payouts for service starting that
    # day are late (the district with the fewest such payouts, none of them used by another edit).
    by_district: dict[str, list[Row]] = {}
    for row in data.payouts:
        if row["program"] == "AK_ASMP":
            by_district.setdefault(row["district"], []).append(row)
    choices = []
    for name, rows in sorted(by_district.items()):
        first_start = min(r["service_start"] for r in rows)
        late_rows = [r for r in rows if r["service_start"] <= first_start]
        if not any(r["payee_id"] in data.used for r in late_rows):
            choices.append((len(late_rows), name, first_start, late_rows))
    _, district, earliest, late = min(choices, key=lambda choice: choice[:2])
    for row in late:
        data.used.add(row["payee_id"])
    agreement = next(r for r in data.tables["districts"] if r["district"] == district)
    agreement["agreement_signed_on"] = earliest
    data.violate("payouts", late, "DX-001",
                 f"{district} signed its 2025-26 agreement on {earliest}, the day this service started: "
                 "an agreement is signed before service starts")
    started = [row for row in data.pairings(program="AK_ASMP", district=district) if row["start_date"] <= earliest]
    data.violate("pairings", started, "DX-001-PAIRING",
                 f"the same late agreement seen on the pairing: it started on {earliest}, the day {district} signed; "
                 "checking pairings finds it before any payout is made")


# == New Mexico ==================================================================================
@edit
def not_a_pilot_district(data: Data) -> None:
    mentee = data.pick("NM_PILOT", "mentee", lambda p: data.paid(p)[0]["district"] == "Peñasco")
    row = data.paid(mentee)[0]
    row["district"] = "Penasco"
    data.violate("payouts", [row], "NMP-001",
                 "district typed Penasco: pilot districts are compared exactly, and the pilot district is Peñasco")


@edit
def mentor_rating(data: Data) -> None:
    mentor = data.pick("NM_PILOT", "mentor", lambda p: len(data.years(p)) == 1)
    data.person(mentor)["rating"] = "Effective"
    data.violate("payouts", data.paid(mentor), "NMP-003",
                 f"pilot mentor {mentor} is rated Effective; pilot mentors are highly effective or exemplary")


@edit
def beginning_mentor_rating(data: Data) -> None:
    mentor = data.pick("NM_BEGINNING", "mentor", lambda p: len(data.years(p)) == 1)
    data.person(mentor)["rating"] = "Effective"
    data.violate("payouts", data.paid(mentor), "NMBT-003",
                 f"beginning-teacher mentor {mentor} is rated Effective; 6.60.10 NMAC mentors are highly "
                 "effective or exemplary")


@edit
def mentee_rating(data: Data) -> None:
    mentee = data.pick("NM_PILOT", "mentee", lambda p: len(data.years(p)) == 1 and len(data.paid(p)) == 2)
    data.person(mentee)["rating"] = "Highly Effective"
    data.violate("payouts", data.paid(mentee), "NMP-004",
                 f"pilot mentee {mentee} is rated Highly Effective: the pilot serves struggling teachers")


@edit
def missed_training(data: Data) -> None:
    mentee = data.pick("NM_PILOT", "mentee", lambda p: len(data.paid(p)) == 2 and len(data.years(p)) == 1)
    final = data.paid(mentee)[1]
    sessions = [r for r in data.tables["attendance"] if r["person_id"] == mentee
                and r["school_year"] == final["school_year"]]
    for row in sessions[2:]:
        row["attended"] = "false"
    data.violate("payouts", [final], "NMP-006",
                 f"final installment of {final['school_year']}, but {mentee} attended only 2 of the 5 training "
                 "sessions (3 required)")


@edit
def pairing_ended_early(data: Data) -> None:
    def two_mentees(mentor: str) -> bool:
        years = data.years(mentor)
        return years == {"2025-26"} and len(data.mentees_of(mentor, "2025-26")) == 2

    mentor = data.pick("NM_PILOT", "mentor", two_mentees)
    mentee = data.mentees_of(mentor, "2025-26")[1]
    data.used.add(mentee)
    pairing = data.pairings(mentor_id=mentor, mentee_id=mentee, school_year="2025-26")[0]
    pairing["end_date"] = "2026-03-13"
    pairing["status"] = "completed"
    final = next(r for r in data.paid(mentee) if r["installment"] == "2")
    data.violate("payouts", [final], "NMP-007",
                 f"the pairing {pairing['pairing_id']} ended on 2026-03-13 (the mentee resigned), but the spring "
                 f"installment pays service to {final['service_end']}")


@edit
def third_mentee(data: Data) -> None:
    def two_mentees(mentor: str) -> bool:
        return any(len(data.mentees_of(mentor, year)) == 2 for year in data.years(mentor))

    mentor = data.pick("NM_PILOT", "mentor", two_mentees)
    year = next(y for y in sorted(data.years(mentor)) if len(data.mentees_of(mentor, y)) == 2)
    existing = data.pairings(mentor_id=mentor, school_year=year)
    mentee = data.new_person_id()
    data.tables["people"].append({
        **data.person(existing[0]["mentee_id"]), "person_id": mentee, "name": "Joaquin Sena",
        "email": f"jsena{mentee[2:]}@{ascii_slug(existing[0]['district'])}.k12.example.org",
        "first_teaching_date": "2019-08-12", "career_year": ""})
    added = {**existing[0], "pairing_id": f"PR-{len(data.tables['pairings']) + 1:04d}", "mentee_id": mentee,
             "start_date": weekday_after(f"{year[:4]}-10-01", 0)}
    data.tables["pairings"].append(added)
    data.violate("pairings", [*existing, added], "NMP-008",
                 f"pilot mentor {mentor} has 3 mentees in {year} (a third added in October); at most 2 "
                 "(all three pairings carry the finding)")


@edit
def duplicate_installment(data: Data) -> None:
    mentee = data.pick("NM_PILOT", "mentee", lambda p: len(data.paid(p)) == 2)
    first, second = data.paid(mentee)
    second.update(installment="1", service_start=first["service_start"], service_end=first["service_end"],
                  pay_date=weekday_after(first["pay_date"], 14))
    data.violate("payouts", [first, second], "NMP-009",
                 f"installment 1 of {mentee} for {first['school_year']} paid twice under two payout ids "
                 "(a re-issued check); both rows carry the finding")
    data.violate("payouts", [first, second], "STIPEND-006-INSTALLMENT",
                 "the same re-issued check seen by the core duplicate rule: installment 1 of the same payee, role, "
                 "program and school year under two payout ids")


@edit
def old_nmteach_rating(data: Data) -> None:
    mentor = data.pick("NM_PILOT", "mentor", lambda p: len(data.years(p)) == 1)
    data.person(mentor).update(rating_scale="NMTEACH", rating_year="2021-22")
    data.violate("payouts", data.paid(mentor), "NMP-010",
                 f"{mentor}'s rating is an NMTEACH rating for 2021-22, after NMTEACH ended (2018-19): not "
                 "evaluable (warning)")


@edit
def administrator_license(data: Data) -> None:
    mentor = data.pick("NM_BEGINNING", "mentor", lambda p: len(data.years(p)) == 1)
    data.person(mentor)["license_level"] = "3-B"
    data.violate("payouts", data.paid(mentor), "NMBT-002",
                 f"beginning-teacher mentor {mentor} holds a 3-B (administrator) license; mentors hold level 2 "
                 "or 3-A")


def shifted(row: Row, years: int) -> Row:
    """A copy of a payout ``years`` school years earlier (dates moved back to a weekday)."""
    old = {**row, "payout_id": ""}
    start = int(row["school_year"][:4]) - years
    old["school_year"] = f"{start}-{(start + 1) % 100:02d}"
    for name in ("pay_date", "service_start", "service_end"):
        day = dt.date.fromisoformat(row[name])
        day = day.replace(year=day.year - years)
        while day.weekday() >= 5:
            day -= dt.timedelta(days=1)
        old[name] = iso(day)
    return old


def history(data: Data, person: str, years: int) -> str:
    """Give a beginning-teacher mentee ``years`` earlier state-funded years, copied from her first year, with
    a completed pairing for each; returns her first teaching date (the first day of service paid)."""
    first_year = min(data.years(person))
    paid = data.paid(person, first_year)
    pairing = data.pairings(mentee_id=person, school_year=first_year)[0]
    first_day = ""
    for back in range(years, 0, -1):
        old = [shifted(row, back) for row in paid]
        data.payouts.extend(old)
        first_day = first_day or min(row["service_start"] for row in old)
        data.tables["pairings"].append({
            **pairing, "pairing_id": f"PR-{len(data.tables['pairings']) + 1:04d}",
            "school_year": old[0]["school_year"], "start_date": min(row["service_start"] for row in old),
            "end_date": max(row["service_end"] for row in old), "status": "completed"})
    return first_day


@edit
def fourth_state_funded_year(data: Data) -> None:
    template = data.pick("NM_BEGINNING", "mentee", lambda p: data.years(p) == {"2025-26"}
                         and len(data.paid(p)) == 2 and data.paid(p)[0]["funding_source"] == "state")
    mentee = data.new_person_id()
    data.tables["people"].append({
        **data.person(template), "person_id": mentee, "name": "Marisol Quintana",
        "email": f"mquintana{mentee[2:]}@{ascii_slug(data.paid(template)[0]['district'])}.k12.example.org"})
    current = []
    for row in data.paid(template):
        copy = {**row, "payout_id": "", "payee_id": mentee}
        data.payouts.append(copy)
        current.append(copy)
    data.tables["pairings"].append({**data.pairings(mentee_id=template, school_year="2025-26")[0],
                                    "pairing_id": f"PR-{len(data.tables['pairings']) + 1:04d}", "mentee_id": mentee})
    # Her history: state-funded mentorship in 2022-23, 2023-24 and 2024-25, from her first day of teaching.
    # Several years of payouts, so no stated career year (it would hold for one of them only: FSY-002).
    first_day = history(data, mentee, 3)
    data.person(mentee).update(first_teaching_date=first_day, career_year="")
    data.violate("payouts", current, "NMBT-004",
                 f"{mentee} was paid as a state-funded beginning-teacher mentee in 2022-23, 2023-24 and 2024-25: "
                 "2025-26 is her fourth state-funded school year, and the state pays for at most three "
                 "(NMSA 22-10A-9)")
    data.violate("payouts", current, "FSY-001",
                 f"{mentee} (the same teacher) first taught on {first_day}: 2025-26 is career year 4, and "
                 "NM_BEGINNING serves years 1-3 (with consistent data a fourth state-funded year is also a "
                 "fourth career year)")
    # The near miss that passes: three state-funded years (2023-24 to 2025-26), career year 3.
    other = data.pick("NM_BEGINNING", "mentee", lambda p: data.years(p) == {"2024-25", "2025-26"}
                      and data.paid(p)[0]["funding_source"] == "state" and data.person(p)["career_year"] == "")
    data.person(other)["first_teaching_date"] = history(data, other, 1)


@edit
def title_ii_a(data: Data) -> None:
    mentor = data.pick("NM_BEGINNING", "mentor", lambda p: data.years(p) == {"2025-26"})
    row = data.paid(mentor)[-1]
    row.update(funding_source="federal", grant_id="TITLE-II-A", time_effort_ref="TE-2526-T2A-0007")
    data.tables["grants"].append({
        "grant_id": "TITLE-II-A", "budget_period": "2025-26", "program": "NM_BEGINNING",
        "pop_start": "2025-07-01", "pop_end": "2027-09-30", "match_pct": "0.00", "match_basis": "federal_award",
        "federal_sources_allowed": "false", "federal_amount": "1850000.00"})
    data.violate("payouts", [row], "T2A-002",
                 "a beginning-teacher mentor stipend charged to Title II-A: mentorship is required by state law, "
                 "so this risks supplanting (warning)")


@edit
def fourth_career_year(data: Data) -> None:
    mentee = data.pick("NM_BEGINNING", "mentee", lambda p: data.years(p) == {"2025-26"})
    data.person(mentee).update(first_teaching_date="2022-08-15", career_year="")
    data.violate("payouts", data.paid(mentee), "FSY-001",
                 f"{mentee} first taught on 2022-08-15: 2025-26 is career year 4; NM_BEGINNING serves years 1-3")


# == Alaska ======================================================================================
@edit
def stated_career_year_disagrees(data: Data) -> None:
    def first_year(person: str) -> bool:
        row = data.person(person)
        return row["first_teaching_date"] >= "2025-07-01" and row["new_to_state"] == "false"

    mentee = data.pick("AK_ASMP", "mentee", first_year)
    data.person(mentee)["career_year"] = "2"
    data.violate("payouts", data.paid(mentee), "FSY-002",
                 f"{mentee} is stated to be in career year 2, but first taught in August 2025 (year 1) (warning)")


@edit
def third_year_asmp_mentee(data: Data) -> None:
    def plain(person: str) -> bool:
        return data.person(person)["new_to_state"] == "false" and len(data.paid(person)) == 2

    mentee = data.pick("AK_ASMP", "mentee", plain)
    data.person(mentee).update(first_teaching_date="2023-08-16", career_year="")
    data.violate("payouts", data.paid(mentee), "ASMP-001",
                 f"{mentee} first taught in August 2023: 2025-26 is career year 3; ASMP serves years 1 and 2")
    other = data.pick("AK_ASMP", "mentee", lambda p: plain(p) and data.paid(p)[0]["grant_id"] == "VINE")
    data.person(other).update(first_teaching_date="2018-08-20", career_year="", new_to_state="true")
    data.violate("payouts", data.paid(other), "ASMP-001",
                 f"{other} is new to Alaska in career year 8, but paid under VINE: only EIR-2023 serves experienced "
                 "teachers new to Alaska")


@edit
def over_caseload(data: Data) -> None:
    caseloads = {}
    for row in data.pairings(program="AK_ASMP"):
        caseloads.setdefault(row["mentor_id"], []).append(row)
    mentors = sorted(caseloads, key=lambda m: (-len(caseloads[m]), m))
    busy = next(m for m in mentors if m not in data.used)
    leaving = next(m for m in mentors if m not in data.used and m != busy and len(caseloads[m]) >= 5)
    data.used.update((busy, leaving))
    taken = caseloads[leaving][:16 - len(caseloads[busy])]
    added = []
    for row in taken:
        # The new pairing runs from the handover to the end of the old one, in force; only then is
        # the old one closed (copying it after the update made the new pairings end before they start).
        new = {**row, "pairing_id": f"PR-{len(data.tables['pairings']) + 1:04d}", "mentor_id": busy,
               "start_date": "2026-01-12", "end_date": row["end_date"], "status": "active"}
        row.update(end_date="2026-01-09", status="completed")
        data.tables["pairings"].append(new)
        added.append(new)
    final = next(r for r in data.paid(leaving) if r["installment"] == "2")
    data.payouts.remove(final)  # the mentor who left in January gets no spring installment
    data.violate("pairings", [*caseloads[busy], *added], "ASMP-002",
                 f"ASMP mentor {busy} took over {len(taken)} mentees of {leaving}, who left in January: from "
                 f"2026-01-12 all {len(caseloads[busy]) + len(taken)} pairings are in force at once, 16 mentees in "
                 "2025-26, more than 15 (every pairing of the caseload carries the finding)")


@edit
def part_time_mentor(data: Data) -> None:
    mentor = data.pick("AK_ASMP", "mentor")
    data.person(mentor).update(mentoring_fte="0.60", teacher_of_record="true", full_release="false")
    data.violate("payouts", data.paid(mentor), "ASMP-003",
                 f"ASMP mentor {mentor} mentors at 0.60 FTE and is a teacher of record: ASMP mentors are "
                 "full-release")


@edit
def mentor_evaluates(data: Data) -> None:
    mentee = data.pick("AK_ASMP", "mentee")
    pairing = data.pairings(mentee_id=mentee)[0]
    data.person(mentee)["evaluator_id"] = pairing["mentor_id"]
    data.violate("pairings", [pairing], "ASMP-004",
                 f"mentee {mentee}'s evaluator of record is their mentor {pairing['mentor_id']}: ASMP mentors are "
                 "non-evaluative")


# == districts ===================================================================================
EXPECTATIONS = {
    "gives_access": "access to new teachers", "mentor_time_resources": "time and resources to mentor",
    "promotes_program": "promote the program", "communicates_expectations": "communicate ASMP's expectations",
    "values_cultural_relevance": "culturally relevant instruction", "recognizes_mentors": "recognise mentors"}
DX_RULES = dict.fromkeys(("gives_access", "mentor_time_resources", "promotes_program", "communicates_expectations",
                          "values_cultural_relevance", "recognizes_mentors"), "DX-002")  # one check each


@edit
def incomplete_agreements(data: Data) -> None:
    gaps = {"Kodiak Island Borough": {"mentor_time_resources": "false", "recognizes_mentors": ""},
            "Juneau": {"promotes_program": "false", "communicates_expectations": "false"},
            "Sitka": {"gives_access": "false", "values_cultural_relevance": ""}}
    for district, changes in gaps.items():
        row = next(r for r in data.tables["districts"] if r["district"] == district)
        row.update(changes)
        for column, value in changes.items():
            said = "leaves it empty" if value == "" else "says false"
            data.violate_key("districts", district, DX_RULES[column],
                             f"{district}'s signed 2025-26 agreement does not affirm the expectation "
                             f"{column} ({EXPECTATIONS[column]}): it {said}")


@edit
def short_cost_share(data: Data) -> None:
    served: dict[str, set[str]] = {}
    for row in data.pairings(program="AK_ASMP"):
        served.setdefault(row["district"], set()).add(row["mentee_id"])
    district = next(d for d in sorted(served) if len(served[d]) >= 5)
    cash = contribution(data, lambda r: r["district"] == district and r["type"] == "cash"
                        and r["date"] >= "2025-07-01")
    cash["amount"] = f"{int(Decimal(cash['amount']) / 2 // 100 * 100)}.00"
    cash["_note"] = "was halved"   # the ASMP-010 finding is documented by cost_share_shortfalls, at the end


# == contributions and grants ====================================================================
def contribution(data: Data, test: Callable[[Row], bool]) -> Row:
    for row in data.tables["contributions"]:
        if test(row) and not row.get("_used"):
            row["_used"] = True
            return row
    raise LookupError("no contribution left")


@edit
def no_source_document(data: Data) -> None:
    row = contribution(data, lambda r: r["grant_id"] == "VINE" and r["date"] >= "2025-07-01" and r["type"] == "in_kind")
    row["source_document_ref"] = ""
    row["_excluded"] = "has no source document (CS-001)"
    data.violate("contributions", [row], "CS-001",
                 "an in-kind contribution with no source document: it cannot be verified from the records")


@edit
def counted_twice(data: Data) -> None:
    row = contribution(data, lambda r: r["grant_id"] == "STARR" and r["date"] >= "2025-07-01")
    row["counted_on"] = "STARR;EIR-2023"
    row["_excluded"] = "is counted on two awards (CS-002)"
    data.violate("contributions", [row], "CS-002",
                 "counted as match on STARR and on EIR-2023")


@edit
def federal_match(data: Data) -> None:
    row = contribution(data, lambda r: r["grant_id"] == "VINE" and r["date"] >= "2025-07-01" and r["district"])
    row["funding_source"] = "federal"
    row["_excluded"] = "is paid by federal funds (CS-005)"
    data.violate("contributions", [row], "CS-005",
                 "paid from the district's federal Title VI funds, and VINE does not allow federal sources as match")


@edit
def before_budget_period(data: Data) -> None:
    grant = next(r for r in data.tables["grants"] if r["grant_id"] == "STARR" and r["budget_period"] == "2025-26")
    grant["pop_start"] = "2025-08-01"
    row = contribution(data, lambda r: r["grant_id"] == "STARR" and r["date"] >= "2025-07-01"
                       and r["type"] == "in_kind")
    row["date"] = "2025-07-21"
    row["_excluded"] = "is outside the period of performance (CS-007)"
    data.violate("contributions", [row], "CS-007",
                 "STARR's 2025-26 budget period starts on 2025-08-01 (a late continuation award); this in-kind "
                 "contribution is dated 2025-07-21")


@edit
def short_match(data: Data) -> None:
    gift = next(r for r in data.tables["contributions"] if r["grant_id"] == "EIR-2023" and r["date"] < "2025-07-01")
    gift["amount"] = "12500.00"
    grant = next(r for r in data.tables["grants"] if r["grant_id"] == "EIR-2023" and r["budget_period"] == "2024-25")
    federal = Decimal(grant["federal_amount"])
    required = (federal * Decimal(grant["match_pct"])).quantize(Decimal("0.01"))
    data.violate_key("grants", "EIR-2023/2024-25", "CS-008",
                     f"the foundation's 2024-25 gift for EIR-2023 was 12,500.00, the only match that year: the "
                     f"required 10% match is {required:,.2f} on {federal:,.2f} of federal funds")


# == added later: after the edits above, so that their picks keep the same rows ==================
@edit
def installment_keyed_twice(data: Data) -> None:
    mentor = data.pick("AK_ASMP", "mentor", lambda p: len(data.paid(p)) == 2)
    final = data.paid(mentor)[1]
    again = {**final, "payout_id": "", "pay_date": weekday_after(final["pay_date"], 3)}
    data.payouts.append(again)
    data.violate("payouts", [final, again], "STIPEND-006-INSTALLMENT",
                 f"ASMP mentor {mentor}'s spring installment (2) of 2025-26 keyed in twice, three days apart, under "
                 "two payout ids: duplicates are checked in every program, not only the NM pilot")


@edit
def third_installment(data: Data) -> None:
    mentee = data.pick("AK_ASMP", "mentee", lambda p: len(data.paid(p)) == 2)
    final = data.paid(mentee)[1]
    final["installment"] = "3"
    data.violate("payouts", [final], "STIPEND-007",
                 f"{mentee}'s spring payout is numbered installment 3; a school year has 2 installments "
                 "(installments_per_year), so a third would slip past the duplicate and final-installment rules")


@edit
def beginning_mentor_nmteach_rating(data: Data) -> None:
    mentor = data.pick("NM_BEGINNING", "mentor", lambda p: data.years(p) == {"2025-26"})
    data.person(mentor).update(rating_scale="NMTEACH", rating_year="2019-20")
    data.violate("payouts", data.paid(mentor), "NMP-010",
                 f"beginning-teacher mentor {mentor}'s {data.person(mentor)['rating']} rating is an NMTEACH rating for "
                 "2019-20, the first year under Elevate NM: not evaluable, and NMBT-003 relies on it (warning)")


@edit
def pairing_ends_before_it_starts(data: Data) -> None:
    pairing = next(row for row in data.pairings(program="NM_BEGINNING", school_year="2025-26")
                   if row["mentor_id"] not in data.used and row["mentee_id"] not in data.used)
    data.used.update((pairing["mentor_id"], pairing["mentee_id"]))
    typed = f"2025-{pairing['end_date'][5:]}"
    data.violate("pairings", [pairing], "PAIRING-001",
                 f"the end date of {pairing['mentee_id']}'s 2025-26 pairing was typed {typed} instead of "
                 f"{pairing['end_date']}: the pairing ends before it starts on {pairing['start_date']}")
    pairing["end_date"] = typed


@edit
def staff_time_without_time_and_effort(data: Data) -> None:
    # In a district whose cost share is already short (an edit above left one of its contributions out),
    # so that this edit adds one finding and one more reason to that district's ASMP-010 finding.
    short = {row["district"] for row in data.tables["contributions"] if row.get("_excluded") and row["district"]}
    row = contribution(data, lambda r: r["district"] in short and r["type"] == "in_kind"
                       and r["compensation"] == "true" and r["date"] >= "2025-07-01")
    row["time_effort_ref"] = ""
    row["_excluded"] = "counts staff time without a time-and-effort record (COMP-002)"
    data.violate("contributions", [row], "COMP-002",
                 f"{row['district']}'s in-kind contribution of teachers' release time ({row['amount']}) has no "
                 "time-and-effort record: compensation counted as match is documented like compensation charged "
                 "to the award, and it does not count towards the match until it is")


@edit
def experienced_teacher_new_to_the_district(data: Data) -> None:
    def first_year_only(person: str) -> bool:
        return data.years(person) == {"2025-26"} and data.person(person)["career_year"] in ("", "1")

    mentee = data.pick("NM_BEGINNING", "mentee", first_year_only)
    data.person(mentee).update(license_level="2", first_teaching_date="2023-08-21", career_year="")
    data.violate("payouts", data.paid(mentee), "NMBT-001",
                 f"{mentee} taught two years in Colorado and came to New Mexico in 2025-26 with a level 2 license "
                 "(career year 3): beginning teachers hold a level 1 license, so the district should confirm it "
                 "extended its mentorship to a teacher new to its schools (warning)")


@edit
def cost_share_shortfalls(data: Data) -> None:
    """ASMP-010 counts only contributions that pass CS-001/002/005/007, as CS-008 does: document every
    district whose 2025-26 cost share falls short once the edited contributions are left out."""
    fees = {row["district"]: Decimal(row["cost_share_fee_per_mentee"] or "5000.00")
            for row in data.tables["districts"] if row["state"] == "AK"}
    served: dict[str, set[str]] = {}
    for row in data.pairings(program="AK_ASMP", school_year="2025-26"):
        if row["status"] in ("active", "completed"):
            served.setdefault(row["district"], set()).add(row["mentee_id"])
    for district in sorted(served):
        rows = [r for r in data.tables["contributions"] if r["district"] == district
                and "2025-07-01" <= r["date"] <= "2026-06-30"]
        counted = sum((Decimal(r["amount"]) for r in rows if not r.get("_excluded")), Decimal(0))
        due = fees[district] * len(served[district])
        if counted >= due:
            continue
        reasons = [f"{r['contribution_id']} ({r['amount']}) {r['_excluded']}" for r in rows if r.get("_excluded")]
        reasons += [f"cash contribution {r['contribution_id']} {r['_note']}" for r in rows if r.get("_note")]
        data.violate_key("group", f"ASMP-010:{district}/2025-26", "ASMP-010",
                         f"{district}'s 2025-26 cost share counts {counted:.2f} of the {due:.2f} due for "
                         f"{len(served[district])} mentees ({fees[district]:.2f} each): {'; '.join(reasons)}; "
                         "a contribution that cannot count as match does not pay the fee either")


# == putting it together =========================================================================
def number_payouts(data: Data) -> None:
    """Pay-date order, numbered P-0001 on; an exported duplicate keeps the id of its original."""
    rows = data.payouts
    originals = [r for r in rows if "_copy_of" not in r]
    originals.sort(key=lambda r: (r["pay_date"], r["district"], r["payee_id"], r["installment"]))
    ordered: list[Row] = []
    copies = {r["_copy_of"]: r for r in rows if "_copy_of" in r}
    for number, row in enumerate(originals, start=1):
        row["payout_id"] = f"P-{number:04d}"
        ordered.append(row)
        if id(row) in copies:
            copies[id(row)]["payout_id"] = row["payout_id"]
            ordered.append(copies[id(row)])
    data.tables["payouts"] = ordered


def key_of(table: str, row: Row) -> str:
    if table == "payouts":
        return str(row["payout_id"])
    if table == "pairings":
        return str(row["pairing_id"])
    if table == "contributions":
        return str(row["contribution_id"])
    raise ValueError(table)


def write(data: Data, out: Path) -> None:
    for table in TABLES:
        with (out / f"{table}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS[table], extrasaction="ignore", lineterminator="\n")
            writer.writeheader()
            writer.writerows(data.tables[table])


def violations_table(data: Data) -> list[str]:
    lines = ["| table | row key | rule | why |", "|---|---|---|---|"]
    for violation in data.violations:
        keys = [violation.key] if violation.key else list(dict.fromkeys(key_of(violation.table, r)
                                                                           for r in violation.rows))
        lines.append(f"| {violation.table} | {', '.join(keys)} | {violation.rule} | {violation.why} |")
    return lines


def replace_block(text: str, name: str, content: str) -> str:
    """Replace what stands between ``<!-- name: begin -->`` and ``<!-- name: end -->``."""
    begin, end = f"<!-- {name}: begin -->", f"<!-- {name}: end -->"
    if begin not in text or end not in text:
        return f"{text}\n{begin}\n{content}\n{end}\n"
    return text[:text.index(begin) + len(begin)] + "\n" + content + "\n" + text[text.index(end):]


def counts_table(data: Data) -> list[str]:
    lines = ["| table | rows |", "|---|---:|"]
    lines += [f"| {table} | {len(data.tables[table])} |" for table in TABLES]
    per_rule: dict[str, int] = {}
    for violation in data.violations:
        per_rule[violation.rule] = per_rule.get(violation.rule, 0) + max(
            len({key_of(violation.table, r) for r in violation.rows}), 1)
    lines += ["", "| rule | documented findings (row keys) |", "|---|---:|"]
    lines += [f"| {rule} | {count} |" for rule, count in sorted(per_rule.items())]
    return lines


def main() -> int:
    with tempfile.TemporaryDirectory() as temporary:
        generate(Path(temporary), payouts=PAYOUTS, seed=SEED, violations=0.0)
        data = Data(Path(temporary))
    for function in EDITS:
        function(data)
    number_payouts(data)
    off_schedule(data)
    write(data, HERE)
    readme = HERE / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.exists() else "# The example data set\n"
    text = replace_block(text, "counts", "\n".join(counts_table(data)))
    text = replace_block(text, "violations", "\n".join(violations_table(data)))
    readme.write_text(text, encoding="utf-8")
    counts = {table: len(data.tables[table]) for table in TABLES}
    print(counts, f"{len(data.violations)} documented violations", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
