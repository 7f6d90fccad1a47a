"""Each hook a pack may implement, exercised by a small in-test pack registered as if installed.

The pack is a module registered through a monkeypatched ``mentorrules.packs.discovery.installed_plugins``,
the same way an entry point of the ``mentorrules`` group would register it.
"""

from __future__ import annotations

import datetime as dt
import inspect
import sys
import types
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import csv_text, payout

from mentorrules import Engine, MentorRulesError, PackSpec, hookimpl, hookspecs
from mentorrules.packs import discovery

OREGON_RULES = """\
rules:
  - id: OR-001
    title: Contracts are long enough
    table: payouts
    when: payout.service_start is not None and payout.service_end is not None
    require: contract_days_between(payout.service_start, payout.service_end) >= 30
    message: "the contract lasts {contract_days_between(payout.service_start, payout.service_end)} days"
  - id: OR-002
    title: Mentees have an Oregon license
    table: payouts
    when: payout.role == "mentee"
    require: payee is not None and present(payee.or_license_number)
    message: "payee {payout.payee_id} has no Oregon license number"
  - id: OR-003
    title: Bonuses are small
    table: payouts
    require: payout.or_bonus is None or payout.or_bonus <= 100
    message: "bonus {payout.or_bonus} is over 100"
"""


def contract_days_between(start: dt.date, end: dt.date) -> int:
    """Days of a contract, counting both ends."""
    return (end - start).days + 1


def make_pack(name: str = "oregon", rule_dirs: tuple[Path, ...] = (), **hooks: Callable) -> types.ModuleType:
    """A module that implements the given hooks, as a third party would write it."""
    module = types.ModuleType(f"mentorrules_{name.replace('-', '_')}_test_pack")
    if "pack" not in hooks:
        def mentorrules_pack() -> PackSpec:
            return PackSpec(name=name, version="1.2.3", jurisdiction="OR", rule_dirs=rule_dirs)

        hooks["pack"] = mentorrules_pack
    for hook, function in hooks.items():
        if function is not None:
            setattr(module, f"mentorrules_{hook}", hookimpl(function))
    return module


@pytest.fixture
def install(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Install modules as packs for the rest of the test (besides the really installed ones)."""
    real = discovery.installed_plugins

    def add(**modules: types.ModuleType) -> None:
        monkeypatch.setattr(discovery, "installed_plugins", lambda: {**real(), **modules})

    return add


@pytest.fixture
def oregon_rules(tmp_path: Path) -> Path:
    folder = tmp_path / "oregon_rules"
    folder.mkdir()
    (folder / "contracts.yaml").write_text(OREGON_RULES, encoding="utf-8")
    return folder


def oregon_module(oregon_rules: Path) -> types.ModuleType:
    return make_pack(
        rule_dirs=(oregon_rules,),
        expression_functions=lambda: {"contract_days_between": contract_days_between},
        table_fields=lambda: {"people": {"or_license_number": "text"},
                              "payouts": {"or_bonus": "decimal"}})


def findings(engine: Engine, rule: str, **changes: str) -> list[str]:
    people = [{"person_id": "T-1", "or_license_number": "OR-77"}, {"person_id": "T-2"}]
    decision = engine.evaluate(payout(state="OR", **changes), related={"people": people})
    return [finding.message for finding in decision.findings if finding.rule == rule]


# -- mentorrules_pack ------------------------------------------------------------------------
def test_hook_mentorrules_pack(install, oregon_rules: Path, run_cli) -> None:
    install(oregon=oregon_module(oregon_rules))
    engine = Engine.load(packs=["oregon"])
    assert [(pack.name, pack.version, pack.jurisdiction) for pack in engine.packs][-1] == (
        "oregon", "1.2.3", "OR")
    assert {rule.id for rule in engine.rules if rule.pack == "oregon"} == {"OR-001", "OR-002", "OR-003"}
    short = {"service_start": "2025-09-01", "service_end": "2025-09-10"}
    assert findings(engine, "OR-001", **short) == ["the contract lasts 10 days"]
    decision = engine.evaluate(payout(state="WA", **short), related={"people": [{"person_id": "T-1"}]})
    assert [f.rule for f in decision.findings if f.rule.startswith("OR-")] == []
    listed = run_cli("packs")
    assert listed.code == 0
    assert any(line.split()[:3] == ["oregon", "1.2.3", "OR"] for line in listed.out.splitlines())


def test_a_pack_can_be_loaded_by_its_entry_point_name(install, oregon_rules: Path) -> None:
    install(**{"oregon-entry": oregon_module(oregon_rules)})
    assert "oregon" in [pack.name for pack in Engine.load(packs=["oregon"]).packs]


def test_a_registered_module_without_mentorrules_pack_is_a_load_error(install) -> None:
    install(broken=types.ModuleType("not_a_pack"))
    with pytest.raises(MentorRulesError) as raised:
        Engine.load()
    assert [problem.code for problem in raised.value.problems] == ["MR403"]
    assert "does not implement mentorrules_pack()" in raised.value.problems[0].message


def test_a_pack_returning_something_else_than_a_packspec_is_a_load_error(install) -> None:
    install(odd=make_pack(pack=lambda: {"name": "odd"}))
    with pytest.raises(MentorRulesError) as raised:
        Engine.load()
    assert [problem.code for problem in raised.value.problems] == ["MR403"]
    assert raised.value.problems[0].expected == "a PackSpec"


def test_two_packs_with_one_name_are_a_load_error(install, oregon_rules: Path) -> None:
    install(oregon=oregon_module(oregon_rules), oregon2=make_pack())
    with pytest.raises(MentorRulesError) as raised:
        Engine.load()
    assert [problem.code for problem in raised.value.problems] == ["MR404"]
    assert "'oregon'" in raised.value.problems[0].message


def raise_boom() -> object:
    raise RuntimeError("boom")


def test_two_installed_entry_points_of_one_name_are_reported_not_one_hidden(monkeypatch, run_cli) -> None:
    import importlib.metadata

    real = importlib.metadata.entry_points

    def entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
        found = list(real(group=group))
        clash = next(point for point in found if point.name == "alaska")
        return [*found, importlib.metadata.EntryPoint("alaska", "mentorrules_new_mexico", clash.group)]

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    result = run_cli("packs")
    assert result.code == 2
    assert "MR404 two installed packs register the entry point 'alaska': mentorrules-alaska " \
           "(mentorrules_alaska) and an unknown distribution (mentorrules_new_mexico)" in result.err


@pytest.mark.parametrize("hook", ["pack", "expression_functions", "table_fields"])
def test_a_pack_hook_that_raises_is_reported_not_a_traceback(run_cli, install, hook: str) -> None:
    install(exploding=make_pack(**{hook: raise_boom}))
    result = run_cli("packs")
    assert result.code == 2
    assert "Traceback" not in result.err
    assert "exploding" in result.err


def test_two_engines_do_not_share_packs(install, oregon_rules: Path, monkeypatch) -> None:
    real = discovery.installed_plugins
    install(oregon=oregon_module(oregon_rules))
    with_oregon = Engine.load(packs=["oregon"])
    monkeypatch.setattr(discovery, "installed_plugins", real)
    without = Engine.load(packs=[])
    assert "oregon" in [pack.name for pack in with_oregon.packs]
    assert "oregon" not in [pack.name for pack in without.packs]
    assert "contract_days_between" not in without.book.functions
    assert findings(with_oregon, "OR-001", service_start="2025-09-01", service_end="2025-09-02")


# -- mentorrules_expression_functions -------------------------------------------------------
def test_hook_mentorrules_expression_functions(install, oregon_rules: Path) -> None:
    install(oregon=oregon_module(oregon_rules))
    engine = Engine.load(packs=["oregon"])
    assert engine.book.functions["contract_days_between"] is contract_days_between
    long_enough = {"service_start": "2025-09-01", "service_end": "2025-09-30"}
    assert findings(engine, "OR-001", **long_enough) == []
    assert findings(engine, "OR-001", service_start="2025-09-01", service_end="2025-09-29") == [
        "the contract lasts 29 days"]


def test_a_pack_function_is_type_checked_by_its_hints(install, oregon_rules: Path) -> None:
    (oregon_rules / "contracts.yaml").write_text(OREGON_RULES.replace(
        "contract_days_between(payout.service_start, payout.service_end) >= 30",
        "contract_days_between(payout.role, payout.service_end) >= 30"), encoding="utf-8")
    install(oregon=oregon_module(oregon_rules))
    with pytest.raises(MentorRulesError) as raised:
        Engine.load(packs=["oregon"])
    [problem] = raised.value.problems
    assert (problem.code, problem.message) == (
        "MR205", "contract_days_between() expects a date here, not text")
    assert (problem.location.line, problem.location.column) == (6, 36)


def test_a_function_offered_twice_is_a_load_error_naming_both_packs(install) -> None:
    install(oregon=make_pack(expression_functions=lambda: {"school_year": contract_days_between}))
    with pytest.raises(MentorRulesError) as raised:
        Engine.load(packs=["oregon"])
    [problem] = raised.value.problems
    assert problem.code == "MR405"
    assert "'school_year'" in problem.message
    assert "'core'" in problem.message and "'oregon'" in problem.message


def test_a_function_with_a_bad_name_is_a_load_error(install) -> None:
    install(oregon=make_pack(expression_functions=lambda: {"Days-Between": contract_days_between}))
    with pytest.raises(MentorRulesError) as raised:
        Engine.load(packs=["oregon"])
    assert [problem.code for problem in raised.value.problems] == ["MR405"]


def test_a_pack_function_that_raises_is_a_cannot_check_finding(install, oregon_rules: Path) -> None:
    def contract_days_between(start: dt.date, end: dt.date) -> int:
        raise ValueError("no calendar for that year")

    install(oregon=make_pack(rule_dirs=(oregon_rules,),
                             expression_functions=lambda: {"contract_days_between": contract_days_between},
                             table_fields=lambda: {"people": {"or_license_number": "text"},
                                                   "payouts": {"or_bonus": "decimal"}}))
    engine = Engine.load(packs=["oregon"])
    [message] = findings(engine, "OR-001", service_start="2025-09-01", service_end="2025-09-02")
    assert message.startswith("cannot check")


# -- mentorrules_table_fields ---------------------------------------------------------------
def test_hook_mentorrules_table_fields(install, oregon_rules: Path) -> None:
    install(oregon=oregon_module(oregon_rules))
    engine = Engine.load(packs=["oregon"])
    assert engine.tables["people"].fields["or_license_number"] == "text"
    assert engine.tables["payouts"].fields["or_bonus"] == "decimal"
    assert findings(engine, "OR-002", role="mentee") == []
    assert findings(engine, "OR-002", role="mentee", payee_id="T-2") == [
        "payee T-2 has no Oregon license number"]
    assert findings(engine, "OR-003", or_bonus="100.01") == ["bonus 100.01 is over 100"]
    typed = engine.evaluate(payout(state="OR", or_bonus="1,5"))
    assert typed.status.value == "unreadable"
    assert typed.findings[0].message.startswith("column 'or_bonus': '1,5' is not a decimal amount")


def test_declared_columns_are_read_from_csv_with_their_type(install, oregon_rules: Path, run_cli,
                                                           tmp_path: Path) -> None:
    install(oregon=oregon_module(oregon_rules))
    data = tmp_path / "data"
    data.mkdir()
    columns = (*payout(), "or_bonus")
    rows = [payout(state="OR", or_bonus="99.99"), payout(payout_id="P-2", state="OR", or_bonus="150")]
    (data / "payouts.csv").write_text(csv_text(rows, columns=columns), encoding="utf-8")
    (data / "people.csv").write_text("person_id\nT-1\n", encoding="utf-8")
    result = run_cli("validate", data, "--pack", "oregon", "--format", "csv")
    assert "P-2,fail" in result.out.replace("payouts,2,", "")
    assert "OR-003: bonus 150 is over 100" in result.out


def test_a_pack_cannot_retype_a_core_column(install) -> None:
    install(oregon=make_pack(table_fields=lambda: {"payouts": {"amount": "text"}}))
    with pytest.raises(MentorRulesError) as raised:
        Engine.load(packs=["oregon"])
    [problem] = raised.value.problems
    assert problem.code == "MR406"
    assert "payouts.amount is already decimal" in problem.message


@pytest.mark.parametrize(("fields", "fragment"), [
    pytest.param({"teachers": {"x": "text"}}, "unknown table 'teachers'", id="an unknown table"),
    pytest.param({"people": {"x": "money"}}, "unknown type 'money'", id="an unknown column type"),
])
def test_bad_table_fields_are_load_errors(install, fields: dict, fragment: str) -> None:
    install(oregon=make_pack(table_fields=lambda: fields))
    with pytest.raises(MentorRulesError) as raised:
        Engine.load(packs=["oregon"])
    assert [problem.code for problem in raised.value.problems] == ["MR406"]
    assert fragment in raised.value.problems[0].message


def test_two_packs_declaring_one_column_differently_is_a_load_error(install) -> None:
    install(oregon=make_pack(table_fields=lambda: {"people": {"region": "text"}}),
            washington=make_pack(name="washington", table_fields=lambda: {"people": {"region": "integer"}}))
    with pytest.raises(MentorRulesError) as raised:
        Engine.load(packs=["oregon", "washington"])
    assert [problem.code for problem in raised.value.problems] == ["MR406"]


def test_money_from_a_pack_column_stays_decimal(install, oregon_rules: Path) -> None:
    install(oregon=oregon_module(oregon_rules))
    engine = Engine.load(packs=["oregon"])
    [row] = engine.read({"payouts": [payout(or_bonus="0.10")]}).tables["payouts"]
    assert row.values["or_bonus"] == Decimal("0.10")
    assert isinstance(row.values["or_bonus"], Decimal)


# -- the guard -----------------------------------------------------------------------------------
def hookspec_names() -> list[str]:
    return sorted(name for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
                  if hasattr(function, f"{hookspecs.PROJECT}_spec"))


def test_every_hookspec_has_a_test_hook() -> None:
    names = hookspec_names()
    assert names, "no hookspecs found: has the marker changed?"
    tested = {name for name in dir(sys.modules[__name__]) if name.startswith("test_hook_")}
    missing = [name for name in names if f"test_hook_{name}" not in tested]
    assert not missing, f"hookspecs without a test_hook_<name> in {__name__}: {missing}"


def test_every_hookspec_documents_itself() -> None:
    for name in hookspec_names():
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert "Called" in doc, f"{name}: say when it is called"
        assert "@hookimpl" in doc, f"{name}: show an implementation to copy"
