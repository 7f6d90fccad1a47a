"""`mentorrules docs`: what administrators read about the rules in force.

Each rule lists the test cases that concern it (not every case of its file), an illustrative
parameter names the file to change it in, and every rule says in plain words what it checks
and where it comes from.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mentorrules import Engine
from mentorrules.authoring.docs import _rules_lists, case_names, concerned_rules, markdown
from mentorrules.authoring.testing import find_test_files, load_cases

ENGINE = Engine.load()
PAGES = {pack.name: markdown(ENGINE, pack, case_names(ENGINE)) for pack in ENGINE.packs}


def section(rule: str) -> str:
    """The Markdown section of one rule, from its heading to the next."""
    for page in PAGES.values():
        match = re.search(rf"^## {re.escape(rule)} — .*?(?=^## |\Z)", page, re.S | re.M)
        if match:
            return match.group(0)
    raise AssertionError(f"{rule} is not documented")


def listed_tests(rule: str) -> list[str]:
    line = next(line for line in section(rule).splitlines() if line.startswith("- **Tests**"))
    return re.findall(r"“([^”]*)”", line)


def test_a_rule_lists_only_the_cases_that_concern_it() -> None:
    tests = listed_tests("STIPEND-001")
    assert "a coach is not an eligible role" in tests
    assert "zero, negative and fractional-cent amounts fail" not in tests  # STIPEND-002's case, same file
    assert "zero, negative and fractional-cent amounts fail" in listed_tests("STIPEND-002")


def test_a_case_with_a_rules_list_is_listed_for_those_rules() -> None:
    assert "a federally funded payout with a time-and-effort reference passes; other funding needs none" \
        in listed_tests("COMP-001")
    assert not any("time-and-effort" in name for name in listed_tests("STIPEND-005"))


@pytest.mark.parametrize("path", find_test_files(ENGINE), ids=lambda path: Path(path).name)
def test_every_case_concerns_some_rule(path: Path) -> None:
    cases, _ = load_cases(path, ENGINE)
    lists = _rules_lists(path)
    orphans = [case.name for case in cases
               if not concerned_rules(case, lists.get(case.location.line or 0, frozenset()))]
    assert not orphans, f"cases that name no rule (give them `rules:`), so docs list them nowhere: {orphans}"


def test_an_illustrative_parameter_names_the_file_it_lives_in() -> None:
    text = section("NMP-005")
    assert "change it in yearly_limits.parameters.yaml of the new-mexico pack" in text
    assert "change it in parameters.yaml of the core pack" in section("STIPEND-005-BAND")


def test_a_rule_reading_a_decision_table_names_it_and_its_file() -> None:
    assert ("- **Decision table** `stipend_schedule` (stipend_schedule.csv, 2 rows, unique): program, role → amount"
            in section("STIPEND-005"))


@pytest.mark.parametrize("rule", [rule.id for rule in ENGINE.rules])
def test_every_rule_says_what_it_checks_and_where_it_comes_from(rule: str) -> None:
    found = next(r for r in ENGINE.rules if r.id == rule)
    assert found.description and len(found.description.split()) >= 8, f"{rule} has no plain-words description"
    assert found.source is not None and found.source.title
    assert "**Source**" in section(rule)


def test_asmp_and_district_rules_link_to_the_asmp_pages() -> None:
    for rule in ENGINE.rules:
        if rule.id.startswith(("ASMP-", "DX-")):
            assert rule.source is not None and rule.source.url == "https://www.alaska.edu/asmp/", rule.id


def test_a_cost_share_rule_says_which_contributions_it_counts() -> None:
    for rule in ("CS-008", "ASMP-010"):
        assert "only rows passing CS-001, CS-002, CS-005, CS-007, COMP-002" in section(rule)


def test_a_rule_with_checks_lists_each_check_with_its_message_and_its_named_values() -> None:
    text = section("DX-002")
    assert "one finding per check that fails" in text
    assert ("  - `access`: `district.gives_access == True or \"gives_access\" not in params.expectations` — "
            "the {agreement} does not affirm") in text
    assert "  - `recognition`: " in text
    assert "- **Let** `agreement` = `district.agreement_year + \" agreement of \" + district.district`" in text


def test_the_core_page_lists_the_expression_functions() -> None:
    from mentorrules.packs.functions import BUILTIN_FUNCTIONS

    functions = PAGES["core"].split("\n## Functions\n", 1)[1]
    for name in BUILTIN_FUNCTIONS:
        assert f"- `{name}(" in functions, name
    assert "- `school_year(day, year_start='07-01')`: The school (program) year label a date falls in" in functions
    assert "- `missing(value)`: True when a value is missing or empty (the opposite of `present`)." in functions
    assert "## Functions" not in PAGES["new-mexico"]  # a pack that offers none lists none


def test_a_pack_of_one_rule_says_one_rule(tmp_path: Path) -> None:
    (tmp_path / "caps.yaml").write_text(
        "rules:\n  - {id: CAPS-001, title: t, table: payouts, require: payout.amount > 0, message: m}\n",
        encoding="utf-8")
    engine = Engine.load(packs=["core"], rules=[tmp_path / "caps.yaml"])
    [pack] = [pack for pack in engine.packs if pack.name == "caps"]
    assert "Applies to every jurisdiction. 1 rule. " in markdown(engine, pack, {})
