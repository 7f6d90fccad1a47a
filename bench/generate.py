"""Seeded synthetic data sets for mentorrules, of any size, in the shape of ``examples/``.

    python bench/generate.py --payouts 1000000 --seed 11 --out /tmp/big [--violations 0.02]

writes ``payouts.csv``, ``people.csv``, ``pairings.csv``, ``attendance.csv``, ``districts.csv``,
``grants.csv`` and ``contributions.csv`` into ``--out``. As a module::

    from generate import generate
    counts = generate(Path("/tmp/big"), payouts=1_000_000, seed=11, violations=0.02)

The data is built from *cohorts*: one mentor and their mentees in one program, district and one
or two school years. A cohort yields its people, one pairing per mentor, mentee and year, two
installments per person and year (service periods inside the pairing), and for the New Mexico
pilot the training sessions each person attended. Cohorts are written as they are made (the
``csv`` module, row by row), so memory stays flat whatever the size; only per-district and
per-grant tallies are kept, from which ``districts.csv``, ``grants.csv`` and
``contributions.csv`` are written at the end (federal amounts from the federally funded payouts,
district cost share from the mentees served).

- New Mexico pilot (NM_PILOT): Alamogordo, Belen, Farmington and Peñasco; highly effective or
  exemplary mentors with one or two struggling (minimally effective, ineffective) mentees;
  1000.00 and 500.00 per installment; five training sessions a year; 2024-25 and 2025-26.
- New Mexico beginning teachers (NM_BEGINNING): districts across the state; mentors with a level
  2 or 3-A license, mentees in career years 1 to 3; mentor pay set by the district.
- Alaska Statewide Mentor Project (AK_ASMP): full-release mentors with up to 12 mentees in
  career years 1 and 2 (or new to Alaska under EIR-2023), charged to VINE, STARR or EIR-2023
  with time-and-effort records; districts signed their 2025-26 agreement in the spring, so the
  Alaska payouts are of 2025-26 (a district row holds one agreement).

Every row passes every rule with ``--violations 0`` (the default). With a rate ``r``, about a
fraction ``r`` of payouts and of people get one deliberate, randomly chosen defect (an ineligible
role, an amount of 10.005, an unknown payee, a wrong school year, a duplicate, a missing
time-and-effort record, a mentee past the career-year limit, a part-time ASMP mentor, ...).
The same seed always gives byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import sys
import time
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

__all__ = ["COLUMNS", "generate", "main"]

# -- the data contract (schemas/tables/*.schema.json) -------------------------------------------
COLUMNS: dict[str, tuple[str, ...]] = {
    "payouts": ("payout_id", "payee_id", "role", "program", "state", "district", "school_year", "pay_date",
                "service_start", "service_end", "amount", "installment", "funding_source", "grant_id",
                "time_effort_ref", "accrual"),
    "people": ("person_id", "name", "email", "first_teaching_date", "career_year", "license_level", "rating",
               "rating_year", "rating_scale", "full_release", "mentoring_fte", "teacher_of_record",
               "new_to_state", "evaluator_id"),
    "pairings": ("pairing_id", "program", "mentor_id", "mentee_id", "district", "school_year", "start_date",
                 "end_date", "status"),
    "attendance": ("person_id", "session_id", "program", "school_year", "date", "attended"),
    "districts": ("district", "state", "participating_years", "agreement_signed_on", "agreement_year",
                  "gives_access", "mentor_time_resources", "promotes_program", "communicates_expectations",
                  "values_cultural_relevance", "recognizes_mentors", "cost_share_model",
                  "cost_share_fee_per_mentee"),
    "grants": ("grant_id", "budget_period", "program", "pop_start", "pop_end", "match_pct", "match_basis",
               "federal_sources_allowed", "federal_amount"),
    "contributions": ("contribution_id", "grant_id", "district", "type", "funding_source", "date", "amount",
                      "source_document_ref", "counted_on", "compensation", "time_effort_ref"),
}
TABLES = tuple(COLUMNS)

NM_YEARS = ("2024-25", "2025-26")
AK_YEAR = "2025-26"
CENT = Decimal("0.01")

# -- districts -----------------------------------------------------------------------------------
PILOT_DISTRICTS = ("Alamogordo", "Belen", "Farmington", "Peñasco")
# NM districts with beginning teachers, weighted roughly by size.
NM_DISTRICTS: tuple[tuple[str, int], ...] = (
    ("Albuquerque", 30), ("Las Cruces", 9), ("Rio Rancho", 6), ("Gadsden", 5), ("Santa Fe", 5),
    ("Gallup-McKinley County", 5), ("Farmington", 4), ("Roswell", 3), ("Hobbs", 3), ("Clovis", 3),
    ("Los Lunas", 3), ("Alamogordo", 2), ("Carlsbad", 2), ("Deming", 2), ("Central Consolidated", 2),
    ("Belen", 1), ("Española", 1), ("Bernalillo", 1), ("Artesia", 1), ("Silver City", 1), ("Taos", 1),
    ("Grants-Cibola County", 1), ("Los Alamos", 1), ("Lovington", 1), ("Portales", 1), ("Zuni", 1),
    ("Aztec", 1), ("Bloomfield", 1), ("Moriarty-Edgewood", 1), ("Socorro", 1), ("Ruidoso", 1),
    ("Peñasco", 1), ("Truth or Consequences", 1), ("Raton", 1),
)
# Alaska districts that take part in ASMP, with the grant their cost share goes to and their fee
# per mentee (empty: the pack's default).
AK_DISTRICTS: tuple[tuple[str, str, str], ...] = (
    ("Lower Kuskokwim", "VINE", "5000.00"), ("Bering Strait", "VINE", "5000.00"),
    ("Northwest Arctic Borough", "STARR", "5000.00"), ("North Slope Borough", "STARR", "5000.00"),
    ("Lower Yukon", "VINE", "5000.00"), ("Yukon-Koyukuk", "STARR", "2500.00"),
    ("Kuspuk", "VINE", "2500.00"), ("Yupiit", "VINE", "2500.00"), ("Iditarod Area", "STARR", "2500.00"),
    ("Southwest Region", "VINE", ""), ("Lake and Peninsula Borough", "STARR", ""),
    ("Kodiak Island Borough", "STARR", "5000.00"), ("Matanuska-Susitna Borough", "VINE", "5000.00"),
    ("Fairbanks North Star Borough", "STARR", "5000.00"), ("Kenai Peninsula Borough", "VINE", "5000.00"),
    ("Juneau", "STARR", "5000.00"), ("Ketchikan Gateway Borough", "VINE", ""),
    ("Alaska Gateway", "STARR", "2500.00"), ("Yukon Flats", "STARR", "2500.00"),
    ("Chugach", "VINE", "2500.00"), ("Copper River", "STARR", ""), ("Nome", "VINE", "5000.00"),
    ("Sitka", "STARR", "5000.00"), ("Dillingham City", "VINE", ""), ("Kashunamiut", "VINE", "2500.00"),
    ("Annette Island", "STARR", "2500.00"), ("Aleutians East Borough", "VINE", ""), ("Galena", "STARR", ""),
)
AK_GRANTS = ("VINE", "STARR")
NEW_TO_STATE_GRANT = "EIR-2023"
GRANTS = (*AK_GRANTS, NEW_TO_STATE_GRANT)

# Mentor pay per installment in NM_BEGINNING is set by each district.
NM_BEGINNING_MENTOR_PAY = ("500.00", "600.00", "750.00", "750.00", "1000.00")
AMOUNTS = {
    ("NM_PILOT", "mentor"): "1000.00", ("NM_PILOT", "mentee"): "500.00",
    ("NM_BEGINNING", "mentee"): "250.00",
    ("AK_ASMP", "mentor"): "1500.00", ("AK_ASMP", "mentee"): "500.00",
}

FIRST_NAMES = (
    "Maria", "José", "Ana", "Luis", "Carmen", "Daniel", "Rosa", "Miguel", "Elena", "David", "Sarah",
    "Michael", "Jennifer", "Robert", "Emily", "James", "Jessica", "Christopher", "Ashley", "Matthew",
    "Amanda", "Joshua", "Stephanie", "Andrew", "Nicole", "Tyler", "Rebecca", "Kyle", "Laura", "Brandon",
    "Crystal", "Marcus", "Alicia", "Gabriel", "Monica", "Adrian", "Veronica", "Isaac", "Naomi", "Tanya",
    "Darlene", "Shawn", "Leah", "Nathan", "Kaylee", "Owen", "Anjali", "Wei", "Priya", "Tomás",
)
NM_SURNAMES = (
    "Garcia", "Martinez", "Chavez", "Lucero", "Romero", "Sandoval", "Trujillo", "Montoya", "Baca",
    "Gallegos", "Archuleta", "Vigil", "Maestas", "Padilla", "Apodaca", "Córdova", "Begay", "Yazzie",
    "Tsosie", "Benally", "Nez", "Etsitty", "Smith", "Johnson", "Williams", "Brown", "Miller", "Davis",
    "Anderson", "Thompson", "Nelson", "Hill", "Baker", "Reed", "Tafoya", "Ortiz", "Sena", "Quintana",
)
AK_SURNAMES = (
    "Ivanoff", "Nicholai", "Kameroff", "Andrew", "Charles", "Hunt", "Oxereok", "Nanouk", "Kalerak",
    "Active", "Evan", "Frank", "Jimmie", "Sheldon", "Tocktoo", "Weyiouanna", "Lincoln", "Westlake",
    "Olson", "Johnson", "Peterson", "Larson", "Carlson", "Anderson", "Miller", "Wilson", "Moore",
    "Taylor", "Clark", "Lewis", "Walker", "Young", "Allen", "Wright", "Scott", "Green", "Adams",
)


@dataclass(frozen=True, slots=True)
class Calendar:
    """One district's school year: instruction days, the pairings, and the two installments."""

    year: str
    first_day: dt.date
    last_day: dt.date
    fall_end: dt.date      # last day of service paid by installment 1 (before winter break)
    pay1: dt.date
    spring_start: dt.date  # first day of service paid by installment 2
    pay2: dt.date
    sessions: tuple[tuple[str, dt.date], ...]  # pilot training sessions (id, date)


@dataclass(slots=True)
class Tally:
    """What the end-of-run tables need to know: small, per district or grant and year."""

    federal: dict[tuple[str, str], Decimal] = field(default_factory=dict)   # (grant, year) -> paid
    mentees: dict[tuple[str, str], int] = field(default_factory=dict)       # (AK district, year) -> n
    eir_districts: dict[str, int] = field(default_factory=dict)             # district -> EIR mentees


def year_start(label: str) -> int:
    return int(label[:4])


def previous_year(label: str) -> str:
    start = year_start(label) - 1
    return f"{start}-{(start + 1) % 100:02d}"


def weekday_on_or_before(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


def weekday_on_or_after(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def district_code(name: str) -> str:
    letters = "".join(ch for ch in unicodedata.normalize("NFKD", name) if ch.isalpha() and ch.isascii())
    return letters[:3].upper()


def money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def round_up(value: Decimal, step: int) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_CEILING) * step


class Generator:
    """Writes one data set; ``run`` returns the number of rows of each table."""

    def __init__(self, out_dir: Path, payouts: int, seed: int, violations: float) -> None:
        if payouts < 0:
            raise ValueError("payouts must be 0 or more")
        if not 0.0 <= violations <= 1.0:
            raise ValueError("violations is a rate between 0 and 1")
        self.out_dir = out_dir
        self.target = payouts
        self.seed = seed
        self.rate = violations
        self.rng = random.Random(seed)
        self.tally = Tally()
        self.counts = dict.fromkeys(TABLES, 0)
        self.calendars: dict[tuple[str, str], Calendar] = {}
        # Identifier widths grow with the data set, so small sets read P-0001, large P-0000001.
        width = max(4, len(str(max(payouts, 1) * 2)))
        self.width = width
        self.next_person = 0
        self.next_pairing = 0
        self.next_payout = 0
        self.next_effort = 0
        self.writers: dict[str, Any] = {}

    # -- identifiers ------------------------------------------------------------------------------
    def person_id(self) -> str:
        self.next_person += 1
        return f"T-{self.next_person:0{self.width}d}"

    def pairing_id(self) -> str:
        self.next_pairing += 1
        return f"PR-{self.next_pairing:0{self.width}d}"

    def payout_id(self) -> str:
        self.next_payout += 1
        return f"P-{self.next_payout:0{self.width}d}"

    def effort_ref(self, year: str) -> str:
        self.next_effort += 1
        return f"TE-{year[2:4]}{year[5:7]}-{self.next_effort:0{self.width}d}"

    # -- calendars --------------------------------------------------------------------------------
    def calendar(self, district: str, year: str) -> Calendar:
        key = (district, year)
        found = self.calendars.get(key)
        if found is not None:
            return found
        rng = random.Random(f"{self.seed}/{district}/{year}")
        start = year_start(year)
        alaska = any(district == name for name, _, _ in AK_DISTRICTS)
        first_day = weekday_on_or_after(dt.date(start, 8, 12 if alaska else 4) + dt.timedelta(days=rng.randint(0, 9)))
        last_day = weekday_on_or_before(
            dt.date(start + 1, 5, 16 if alaska else 20) + dt.timedelta(days=rng.randint(0, 8)))
        fall_end = weekday_on_or_before(dt.date(start, 12, 19) + dt.timedelta(days=rng.randint(0, 1)))
        pay1 = weekday_on_or_before(dt.date(start, 12, 31)) if rng.random() < 0.6 else weekday_on_or_before(
            dt.date(start + 1, 1, 15))
        spring_start = weekday_on_or_after(dt.date(start + 1, 1, 5) + dt.timedelta(days=rng.randint(0, 2)))
        pay2 = weekday_on_or_before(last_day + dt.timedelta(days=rng.randint(7, 21)))
        code = district_code(district)
        sessions: list[tuple[str, dt.date]] = []
        for number, (month, day) in enumerate(((9, 20), (11, 8), (1, 24), (3, 7), (4, 18)), start=1):
            when = dt.date(start if month >= 7 else start + 1, month, day) + dt.timedelta(days=rng.randint(0, 6))
            sessions.append((f"NMP-{code}-{year[2:4]}{year[5:7]}-{number:02d}", weekday_on_or_after(when)))
        found = Calendar(year, first_day, last_day, fall_end, pay1, spring_start, pay2, tuple(sessions))
        self.calendars[key] = found
        return found

    # -- people -----------------------------------------------------------------------------------
    def name(self, alaska: bool, district: str) -> tuple[str, str]:
        rng = self.rng
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(AK_SURNAMES if alaska and rng.random() < 0.6 else NM_SURNAMES if not alaska
                          else FIRST_NAMES + AK_SURNAMES)
        domain = f"{ascii_slug(district)}.k12.example.org"
        return f"{first} {last}", f"{ascii_slug(first)[:1]}{ascii_slug(last)}{self.next_person}@{domain}"

    def first_teaching(self, year: str, career_year: int) -> dt.date:
        start = year_start(year) - (career_year - 1)
        return weekday_on_or_after(dt.date(start, 8, 1) + dt.timedelta(days=self.rng.randint(0, 25)))

    # -- writing ----------------------------------------------------------------------------------
    def write(self, table: str, row: Sequence[Any]) -> None:
        self.writers[table].writerow(row)
        self.counts[table] += 1

    def run(self) -> dict[str, int]:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        with ExitStack() as stack:
            for table in TABLES:
                handle = stack.enter_context(
                    (self.out_dir / f"{table}.csv").open("w", encoding="utf-8", newline=""))
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(COLUMNS[table])
                self.writers[table] = writer
            while self.counts["payouts"] < self.target:
                self.cohort()
            self.write_districts()
            self.write_grants_and_contributions()
        return dict(self.counts)

    # -- cohorts ----------------------------------------------------------------------------------
    def cohort(self) -> None:
        draw = self.rng.random()
        if draw < 0.40:
            self.nm_cohort("NM_PILOT")
        elif draw < 0.72:
            self.nm_cohort("NM_BEGINNING")
        else:
            self.ak_cohort()

    def years(self) -> tuple[str, ...]:
        draw = self.rng.random()
        if draw < 0.35:
            return NM_YEARS
        return (NM_YEARS[0],) if draw < 0.55 else (NM_YEARS[1],)

    def nm_cohort(self, program: str) -> None:
        rng = self.rng
        pilot = program == "NM_PILOT"
        if pilot:
            district = rng.choice(PILOT_DISTRICTS)
        else:
            district = rng.choices([name for name, _ in NM_DISTRICTS], [w for _, w in NM_DISTRICTS])[0]
        years = self.years()
        mentees = 2 if rng.random() < (0.4 if pilot else 0.3) else 1
        first_year = years[0]
        evaluator = f"ADM-{district_code(district)}-{rng.randint(1, 40):03d}"
        mentor = self.person_id()
        name, email = self.name(False, district)
        mentor_career = rng.randint(6, 25)
        if pilot:
            rating, license_level = rng.choice(("Highly Effective", "Highly Effective", "Exemplary")), rng.choice(
                ("2", "3-A", "3-A"))
        else:
            # 6.60.10 NMAC: beginning-teacher mentors are rated highly effective or exemplary (NMBT-003)
            rating, license_level = rng.choice(("Highly Effective", "Highly Effective", "Exemplary")), rng.choice(
                ("2", "2", "3-A"))
        if not pilot and self.defect():
            license_level = rng.choice(("1", "3-B"))            # NMBT-002
        if pilot and self.defect():
            rating = "Effective"                                 # NMP-003
        self.write("people", (
            mentor, name, email, self.first_teaching(first_year, mentor_career).isoformat(), "", license_level,
            rating, previous_year(first_year), "ELEVATE", "false", rng.choice(("0.10", "0.15", "0.20")), "true",
            "false", evaluator))
        mentee_ids = []
        for _ in range(mentees):
            person = self.person_id()
            mentee_ids.append(person)
            name, email = self.name(False, district)
            if pilot:
                career = rng.randint(3, 18)
                rating = rng.choice(("Minimally Effective", "Minimally Effective", "Ineffective"))
                license_level = rng.choice(("1", "2", "2"))
            else:
                career = 1 if rng.random() < 0.75 or len(years) == 2 else 2
                rating = "" if career == 1 else rng.choice(("Effective", "Minimally Effective"))
                license_level = "1"
                if self.defect():
                    career = rng.randint(4, 6)                  # FSY-001
                if self.defect():
                    license_level = "2"                          # NMBT-001 (warning)
            if pilot and self.defect():
                rating = "Effective"                             # NMP-004
            first_day = self.first_teaching(first_year, career)
            stated = str(career) if len(years) == 1 and rng.random() < 0.5 else ""
            self.write("people", (
                person, name, email, first_day.isoformat(), stated, license_level, rating,
                previous_year(first_year) if rating else "", "ELEVATE" if rating else "", "false", "",
                "true", "false", evaluator))
        mentor_pay = AMOUNTS[(program, "mentor")] if pilot else rng.choice(NM_BEGINNING_MENTOR_PAY)
        mentee_pay = AMOUNTS[(program, "mentee")]
        funding = "state" if pilot or rng.random() < 0.85 else "local"
        for year in years:
            calendar = self.calendar(district, year)
            starts = []
            for mentee in mentee_ids:
                start = weekday_on_or_after(calendar.first_day + dt.timedelta(days=rng.randint(0, 10)))
                starts.append(start)
                self.write("pairings", (
                    self.pairing_id(), program, mentor, mentee, district, year, start.isoformat(),
                    calendar.last_day.isoformat(), "completed" if year < AK_YEAR else "active"))
            if pilot:
                for person in (mentor, *mentee_ids):
                    self.attendance(person, program, calendar)
            self.pay(mentor, "mentor", program, "NM", district, calendar, min(starts), mentor_pay, funding, "")
            for mentee, start in zip(mentee_ids, starts, strict=True):
                self.pay(mentee, "mentee", program, "NM", district, calendar, start, mentee_pay, funding, "")

    def ak_cohort(self) -> None:
        rng = self.rng
        district, grant, _ = rng.choice(AK_DISTRICTS)
        calendar = self.calendar(district, AK_YEAR)
        code = district_code(district)
        mentor = self.person_id()
        name, email = self.name(True, district)
        fte = "1.00"
        if self.defect():
            fte = "0.50"                                         # ASMP-003
        self.write("people", (
            mentor, name, email, self.first_teaching(AK_YEAR, rng.randint(8, 28)).isoformat(), "", "", "", "", "",
            "true", fte, "false", "false", "ADM-UAF-001"))
        mentee_ids: list[tuple[str, str]] = []
        for _ in range(rng.randint(3, 12)):
            person = self.person_id()
            name, email = self.name(True, district)
            new_to_state = rng.random() < 0.2
            career = rng.choice((1, 1, 2))
            mentee_grant = grant
            if new_to_state and rng.random() < 0.5:
                career, mentee_grant = rng.randint(3, 15), NEW_TO_STATE_GRANT
                self.tally.eir_districts[district] = self.tally.eir_districts.get(district, 0) + 1
            elif self.defect():
                career = rng.randint(3, 6)                       # ASMP-001
            evaluator = f"ADM-{code}-{rng.randint(1, 25):03d}"
            if self.defect():
                evaluator = mentor                               # ASMP-004
            stated = str(career) if rng.random() < 0.5 else ""
            self.write("people", (
                person, name, email, self.first_teaching(AK_YEAR, career).isoformat(), stated, "", "", "", "",
                "false", "", "true", "true" if new_to_state else "false", evaluator))
            mentee_ids.append((person, mentee_grant))
        key = (district, AK_YEAR)
        self.tally.mentees[key] = self.tally.mentees.get(key, 0) + len(mentee_ids)
        starts = []
        for mentee, _ in mentee_ids:
            start = weekday_on_or_after(calendar.first_day + dt.timedelta(days=rng.randint(0, 10)))
            starts.append(start)
            self.write("pairings", (
                self.pairing_id(), "AK_ASMP", mentor, mentee, district, AK_YEAR, start.isoformat(),
                calendar.last_day.isoformat(), "active"))
        for number, (month, day) in enumerate(((8, 4), (10, 16), (2, 12)), start=1):
            when = dt.date(2025 if month >= 7 else 2026, month, day)
            self.write("attendance", (mentor, f"ASMP-ACAD-2526-{number:02d}", "AK_ASMP", AK_YEAR, when.isoformat(),
                                      "true"))
        self.pay(mentor, "mentor", "AK_ASMP", "AK", district, calendar, min(starts), AMOUNTS[("AK_ASMP", "mentor")],
                 "federal", grant)
        for (mentee, mentee_grant), start in zip(mentee_ids, starts, strict=True):
            self.pay(mentee, "mentee", "AK_ASMP", "AK", district, calendar, start, AMOUNTS[("AK_ASMP", "mentee")],
                     "federal", mentee_grant)

    def attendance(self, person: str, program: str, calendar: Calendar) -> None:
        rng = self.rng
        attended = [rng.random() < 0.85 for _ in calendar.sessions]
        while sum(attended) < 3:
            attended[rng.randrange(len(attended))] = True
        if self.defect():
            attended = [True, True, False, False, False]        # NMP-006
        for (session, day), present in zip(calendar.sessions, attended, strict=True):
            self.write("attendance", (person, session, program, calendar.year, day.isoformat(),
                                      "true" if present else "false"))

    # -- payouts ----------------------------------------------------------------------------------
    def pay(self, person: str, role: str, program: str, state: str, district: str, calendar: Calendar,
            start: dt.date, amount: str, funding: str, grant: str) -> None:
        periods = ((1, start, calendar.fall_end, calendar.pay1),
                   (2, calendar.spring_start, calendar.last_day, calendar.pay2))
        for installment, service_start, service_end, pay_date in periods:
            if self.counts["payouts"] >= self.target:
                return
            federal = funding == "federal"
            row = [self.payout_id(), person, role, program, state, district, calendar.year, pay_date.isoformat(),
                   service_start.isoformat(), service_end.isoformat(), amount, str(installment), funding, grant,
                   self.effort_ref(calendar.year) if federal else "", ""]
            copies = 1
            if self.defect():
                copies = self.spoil(row)
            if federal and row[12] == "federal":
                key = (row[13], calendar.year)
                self.tally.federal[key] = self.tally.federal.get(key, Decimal(0)) + Decimal(amount)
            for _ in range(copies):
                if self.counts["payouts"] < self.target:
                    self.write("payouts", row)

    def defect(self) -> bool:
        return self.rate > 0.0 and self.rng.random() < self.rate

    def spoil(self, row: list[str]) -> int:
        """One random defect in a payout row; returns how many copies of it to write."""
        kind = self.rng.randrange(9)
        if kind == 0:
            row[2] = self.rng.choice(("coach", "principal", "instructional coach"))     # STIPEND-001
        elif kind == 1:
            row[10] = self.rng.choice(("10.005", "0.00", "-500.00"))                    # STIPEND-002
        elif kind == 2:
            row[1] = f"T-9{self.rng.randrange(10 ** self.width):0{self.width}d}"          # STIPEND-003
        elif kind == 3:
            row[6] = previous_year(row[6])                                             # STIPEND-004
        elif kind == 4:
            row[10] = money(Decimal(row[10]) + 250)                                     # STIPEND-005, caps
        elif kind == 5 and row[12] == "federal":
            row[14] = ""                                                               # COMP-001
        elif kind == 6 and row[3] == "NM_PILOT":
            row[5] = "Las Cruces"                                                      # NMP-001
        elif kind == 7 and row[12] == "federal":
            row[8] = f"{year_start(row[6])}-06-23"                                      # CS-007-PAYOUT, DX-001
        else:
            return 2                                                                   # STIPEND-006, NMP-009
        return 1

    # -- end-of-run tables ------------------------------------------------------------------------
    def write_districts(self) -> None:
        rng = random.Random(f"{self.seed}/districts")
        nm = sorted({name for name, _ in NM_DISTRICTS} | set(PILOT_DISTRICTS))
        for district in nm:
            if district in PILOT_DISTRICTS:
                years = ";".join(f"{y}-{(y + 1) % 100:02d}" for y in range(2016, 2026))
                model = "state"
            else:
                years, model = ";".join(NM_YEARS), ""
            self.write("districts", (district, "NM", years, "", "", "", "", "", "", "", "", model, ""))
        for district, _, fee in sorted(AK_DISTRICTS):
            joined = rng.randint(2016, 2024)
            years = ";".join(f"{y}-{(y + 1) % 100:02d}" for y in range(joined, 2026))
            signed = weekday_on_or_before(dt.date(2025, 4, 1) + dt.timedelta(days=rng.randint(0, 80)))
            model = "fee_per_mentee" if fee else "in_kind"
            affirmed = ["true"] * 6
            if self.defect():
                affirmed[rng.randrange(6)] = rng.choice(("false", ""))                    # DX-002-*
            self.write("districts", (district, "AK", years, signed.isoformat(), AK_YEAR, *affirmed, model, fee))

    def write_grants_and_contributions(self) -> None:
        """Grants per budget period and the contributions that match them.

        A grant pays for far more than stipends (mentor salaries, travel, the academy): its
        federal amount is a multiple of the stipends charged to it. Districts' cost share for the
        mentees they send (ASMP-010) counts as the grant's match; what is still missing of the 10%
        comes from the university's in-kind contribution (VINE, STARR) or a foundation (EIR-2023).
        """
        rng = random.Random(f"{self.seed}/grants")
        fees = {name: Decimal(fee or "5000.00") for name, _, fee in AK_DISTRICTS}
        grant_of = {name: grant for name, grant, _ in AK_DISTRICTS}
        number = 0

        def contribute(grant: str, district: str, kind: str, source: str, day: dt.date, amount: Decimal,
                       prefix: str) -> None:
            nonlocal number
            number += 1
            year = f"{day.year if day.month >= 7 else day.year - 1}"
            label = f"{year[2:]}{(int(year) + 1) % 100:02d}"
            where = f"{district_code(district)}-" if district else ""
            counted = grant if rng.random() < 0.7 else ""
            document = f"{prefix}-{where}{label}-{number:04d}"
            # In-kind match is staff time (district teachers released to mentor, university mentors):
            # compensation, with its time-and-effort record (2 CFR 200.430(i), COMP-002).
            staff_time = kind == "in_kind"
            effort = f"TE-{label}-M{number:04d}" if staff_time else ""
            if self.defect():
                document, counted, effort = rng.choice((
                    ("", counted, effort), (document, f"{grant};S367A{label}0042", effort),   # CS-001, CS-002
                    (document, counted, "")))                                                # COMP-002 (in kind)
            self.write("contributions", (f"C-{number:05d}", grant, district, kind, source, day.isoformat(),
                                         money(amount), document, counted, "true" if staff_time else "false", effort))

        def day_in(year: str) -> dt.date:
            start = year_start(year)
            day = dt.date(start, 9, 1) + dt.timedelta(days=rng.randint(0, 260))
            if (day.month, day.day) >= (12, 22) or (day.month, day.day) <= (1, 2):
                day = dt.date(start, 12, 19)  # offices are closed over the holidays
            return weekday_on_or_before(day)

        minimum = {"VINE": 400000, "STARR": 350000, NEW_TO_STATE_GRANT: 180000}
        current = {}
        for grant in GRANTS:
            paid = self.tally.federal.get((grant, AK_YEAR), Decimal(0))
            current[grant] = max(round_up(paid * 4, 1000), Decimal(minimum[grant]))
        for year in NM_YEARS:
            totals = dict.fromkeys(GRANTS, Decimal(0))
            federal_amounts = {grant: amount if year == AK_YEAR else round_up(amount * Decimal("0.92"), 1000)
                               for grant, amount in current.items()}
            if year == AK_YEAR:
                # District cost share for the mentees served (ASMP-010), counted as the grant's match.
                for district in sorted(grant_of):
                    served = self.tally.mentees.get((district, year), 0)
                    if not served:
                        continue
                    grant = grant_of[district]
                    due = fees[district] * served
                    cash = round_up(due * Decimal(rng.choice(("0.5", "0.6", "0.7"))), 100)
                    in_kind = round_up(due - cash + Decimal(rng.randint(0, 8) * 100), 100)
                    contribute(grant, district, "cash", "local", day_in(year), cash, "JV")
                    contribute(grant, district, "in_kind", "local", day_in(year), in_kind, "TS")
                    totals[grant] += cash + in_kind
            else:
                # The year before: a share of the match from some of each grant's districts.
                for grant in AK_GRANTS:
                    members = [name for name in sorted(grant_of) if grant_of[name] == grant and rng.random() < 0.4]
                    for district in members:
                        share = federal_amounts[grant] * Decimal("0.10") / max(len(members), 1)
                        amount = round_up(share * Decimal(rng.choice(("0.6", "0.8", "1.0"))), 100)
                        contribute(grant, district, "cash", "local", day_in(year), amount, "JV")
                        totals[grant] += amount
            for grant in GRANTS:
                required = round_up(federal_amounts[grant] * Decimal("0.10"), 1)
                if totals[grant] < required:
                    gap = round_up(required - totals[grant] + Decimal(rng.randint(0, 20) * 100), 100)
                    private = grant == NEW_TO_STATE_GRANT
                    contribute(grant, "", "cash" if private else "in_kind", "private" if private else "state",
                               day_in(year), gap, "GIFT" if private else "UAF")
            for grant in GRANTS:
                self.write("grants", (
                    grant, year, "AK_ASMP", f"{year_start(year)}-07-01", f"{year_start(year) + 1}-06-30", "0.10",
                    "federal_award", "true" if grant == NEW_TO_STATE_GRANT else "false",
                    money(federal_amounts[grant])))


def generate(out_dir: str | Path, payouts: int = 1000, seed: int = 1, violations: float = 0.0) -> dict[str, int]:
    """Write a synthetic data set of ``payouts`` payouts into ``out_dir``; returns rows per table."""
    return Generator(Path(out_dir), payouts, seed, violations).run()


def _rows(counts: dict[str, int]) -> Iterator[str]:
    for table in TABLES:
        yield f"{table:<14}{counts[table]:>12,}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payouts", type=int, default=1000, help="number of payout rows (default 1000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--out", type=Path, required=True, help="directory to write the CSV files into")
    parser.add_argument("--violations", type=float, default=0.0,
                        help="share of payouts and people given a deliberate defect (default 0)")
    args = parser.parse_args(argv)
    if args.payouts < 0 or not 0.0 <= args.violations <= 1.0:
        parser.error("--payouts is 0 or more and --violations a rate between 0 and 1")
    started = time.perf_counter()
    counts = generate(args.out, args.payouts, args.seed, args.violations)
    print("\n".join(_rows(counts)), file=sys.stderr)
    print(f"wrote {sum(counts.values()):,} rows to {args.out} in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
