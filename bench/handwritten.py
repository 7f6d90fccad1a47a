"""The single-row payout checks of the core, New Mexico and Alaska packs, written by hand.

The benchmark compares the engine's generated checker with this function on the same rows, and
first confirms that both flag the same rules on every row, so the ratio compares equal work.
Parameters are resolved once, as a hand-written checker would do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from mentorrules.engine import Engine
from mentorrules.packs.functions import career_year, places, school_year, school_year_start

Row = Mapping[str, Any]
_MISSING = (TypeError, KeyError, ValueError, AttributeError, ArithmeticError)


def make_checker(engine: Engine, day: dt.date) -> Callable[[Row, Mapping[str, Mapping[Any, Row]]], list[str]]:
    """A checker with every parameter value in force on ``day`` bound as a constant."""
    def value(pack: str, name: str) -> Any:
        return engine.book.parameters_for(pack)[name].value_on(day)

    eligible_roles = value("core", "eligible_roles")
    year_start = value("core", "program_year_start")
    stipends = engine.book.decision_tables["stipend_schedule"]  # a decision table: program, role -> amount
    schedule = {f"{row.conditions[0].text}/{row.conditions[1].text}": row.outputs[0]
                for row in stipends.rows if row.in_force(day)}
    band = value("core", "band")
    agreement_programs = value("core", "agreement_programs")
    installments = value("core", "installments_per_year")
    max_career = value("core", "max_mentee_career_year")
    new_to_state_grants = value("alaska", "new_to_state_grants")
    asmp_max_career = value("alaska", "max_mentee_career_year")  # the pack's own, not core's map
    full_release_fte = value("alaska", "full_release_fte")
    license_levels = value("new-mexico", "mentor_license_levels")
    mentee_levels = value("new-mexico", "beginning_mentee_license_levels")
    beginning_ratings = value("new-mexico", "beginning_mentor_ratings")
    title_grants = value("new-mexico", "title_ii_a_grants")
    title_prefix = value("new-mexico", "title_ii_a_award_prefix")
    pilot_districts = value("new-mexico", "pilot_districts")
    mentor_ratings, mentee_ratings = value("new-mexico", "mentor_ratings"), value("new-mexico", "mentee_ratings")
    nmteach_last_year = value("new-mexico", "nmteach_last_year")

    def check(payout: Row, indexes: Mapping[str, Mapping[Any, Row]]) -> list[str]:
        out: list[str] = []
        payee = indexes["people"].get(payout["payee_id"])
        district = indexes["districts"].get(payout["district"])
        grant = indexes["grants"].get((payout["grant_id"], payout["school_year"]))
        program, role, amount, year = payout["program"], payout["role"], payout["amount"], payout["school_year"]
        source = payout["funding_source"]
        federal = source is not None and source != "" and source.lower() == "federal"
        start = payout["service_start"] if payout["service_start"] not in (None, "") else None

        def guard(rule: str, failed: Callable[[], bool]) -> None:
            try:
                if failed():
                    out.append(rule)
            except _MISSING:
                out.append(rule)

        key = f"{program}/{role}"
        guard("STIPEND-005", lambda: key in schedule and amount != schedule[key])
        guard("STIPEND-005-BAND", lambda: key not in schedule and f"{role}/min" in band and f"{role}/max" in band
              and not band[f"{role}/min"] <= amount <= band[f"{role}/max"])
        guard("COMP-001", lambda: federal and payout["time_effort_ref"] in (None, ""))
        guard("CS-007-PAYOUT", lambda: federal and not (
            grant["pop_start"] <= (start or payout["pay_date"])
            and (payout["service_end"] or payout["pay_date"]) <= grant["pop_end"]))
        guard("DX-001", lambda: program in agreement_programs and not (
            district["agreement_signed_on"] not in (None, "") and district["agreement_year"] == year
            and district["agreement_signed_on"] < (start or school_year_start(year))))

        def mentee_career() -> Any:
            first = payee["first_teaching_date"]
            return career_year(first, year) if first not in (None, "") else payee["career_year"]

        guard("FSY-001", lambda: role == "mentee" and program in max_career
              and not 1 <= mentee_career() <= max_career[program])
        guard("FSY-002", lambda: role == "mentee" and payee is not None
              and payee["first_teaching_date"] not in (None, "") and payee["career_year"] not in (None, "")
              and career_year(payee["first_teaching_date"], year) != payee["career_year"])
        guard("STIPEND-001", lambda: role not in eligible_roles)
        guard("STIPEND-002", lambda: not (amount > 0 and places(amount) <= 2))
        guard("STIPEND-003", lambda: payee is None)
        installment = payout["installment"]
        guard("STIPEND-007", lambda: installment is not None and not 1 <= installment <= installments)
        guard("STIPEND-004", lambda: not (year == school_year(payout["pay_date"], year_start)
                                          or payout["accrual"] is True))
        state = payout["state"]
        if state == "AK":
            guard("ASMP-001", lambda: program == "AK_ASMP" and role == "mentee" and not (
                (payee["new_to_state"] is True and payout["grant_id"] in new_to_state_grants)
                or 1 <= mentee_career() <= asmp_max_career))
            guard("ASMP-003", lambda: program == "AK_ASMP" and role == "mentor" and not (
                payee["mentoring_fte"] == full_release_fte and payee["teacher_of_record"] is not True
                and payee["full_release"] is not False))
        elif state == "NM":
            mentor_beginning = program == "NM_BEGINNING" and role == "mentor"
            guard("NMBT-002", lambda: mentor_beginning and payee["license_level"].upper() not in license_levels)
            guard("NMBT-003", lambda: mentor_beginning and payee["rating"].lower() not in beginning_ratings)
            guard("NMBT-001", lambda: program == "NM_BEGINNING" and role == "mentee"
                  and payee["license_level"].upper() not in mentee_levels)
            grant_id = payout["grant_id"]
            guard("T2A-002", lambda: mentor_beginning and grant_id not in (None, "") and (
                grant_id.upper() in title_grants or grant_id.upper().startswith(title_prefix)))
            pilot = program == "NM_PILOT"
            guard("NMP-001", lambda: pilot and not (
                payout["district"] in pilot_districts and (
                    district is None or district["participating_years"] in (None, "", [])
                    or year in district["participating_years"])))
            guard("NMP-003", lambda: pilot and role == "mentor" and payee["rating"].lower() not in mentor_ratings)
            guard("NMP-004", lambda: pilot and role == "mentee" and payee["rating"].lower() not in mentee_ratings)
            guard("NMP-010", lambda: (pilot or mentor_beginning) and payee is not None
                  and payee["rating_scale"] not in (None, "") and payee["rating_scale"].upper() == "NMTEACH"
                  and not (payee["rating_year"] not in (None, "") and payee["rating_year"] <= nmteach_last_year))
        return out

    return check
