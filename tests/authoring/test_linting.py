"""`mentorrules lint`: rules that can never apply or never hold, parameters stale for the records
they are used for, and packs that overlap for the same state and dates."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import csv_text, payout

RULE = """\
  - id: {id}
    title: t
    table: {table}
{when}    require: {require}
    message: m
    source: {{title: s}}
{extra}"""


def pack(folder: Path, rules: list[dict[str, str]], parameters: str = "", manifest: str = "") -> Path:
    folder.mkdir(parents=True)
    text = "rules:\n" + "".join(RULE.format(**{"table": "payouts", "extra": "", **rule,
                                                 "when": f"    when: {rule['when']}\n" if "when" in rule else ""})
                                for rule in rules)
    (folder / "rules.yaml").write_text(text, encoding="utf-8")
    if parameters:
        (folder / "parameters.yaml").write_text("parameters:\n" + parameters, encoding="utf-8")
    if manifest:
        (folder / "pack.yaml").write_text(manifest, encoding="utf-8")
    return folder


def lines(output: str, code: str, about: str = "") -> list[str]:
    """The report lines of one code (about one name), leaving out what the core pack says."""
    return [line for line in output.splitlines() if f" {code} " in line and about in line]


# -- rules that can never apply or never hold ------------------------------------------------------
@pytest.mark.parametrize(("when", "shown"), [
    pytest.param("payout.amount > 5 and payout.amount < 3", "payout.amount > 5 and payout.amount < 3",
                 id="above 5 and below 3"),
    pytest.param("payout.role == 'a' and payout.installment > 0 and payout.role == 'b'",
                 "payout.role == 'a' and payout.role == 'b'", id="equal to two different texts"),
    pytest.param("payout.amount >= 10 and payout.amount < 10", "payout.amount >= 10 and payout.amount < 10",
                 id="at least 10 and below 10"),
    pytest.param("3 > payout.installment and payout.installment > 4", "3 > payout.installment and "
                 "payout.installment > 4", id="the field on either side"),
    pytest.param("payout.role in ['mentor', 'mentee'] and payout.role == 'coach'",
                 "payout.role in ['mentor', 'mentee'] and payout.role == 'coach'", id="a value not in the list"),
    pytest.param("payout.pay_date < date('2020-01-01') and payout.pay_date > date('2021-01-01')",
                 "payout.pay_date < date('2020-01-01') and payout.pay_date > date('2021-01-01')",
                 id="dates in the wrong order"),
    pytest.param("payout.grant_id is None and payout.grant_id == 'G-1'",
                 "payout.grant_id is None and payout.grant_id == 'G-1'", id="empty and a value"),
])
def test_a_when_that_cannot_hold_makes_the_rule_unreachable(run_cli, tmp_path: Path, when: str, shown: str) -> None:
    rules = pack(tmp_path / "rules", [{"id": "LT-001", "when": when, "require": "payout.amount > 0"}])
    result = run_cli("lint", "--pack", "core", rules)
    assert result.code == 1
    assert f"MR504 LT-001 never applies: in its 'when', {shown} cannot both hold" in result.out


def test_a_require_that_cannot_hold_fails_every_row(run_cli, tmp_path: Path) -> None:
    rules = pack(tmp_path / "rules", [{"id": "LT-001", "require": "payout.role == 'a' and payout.role == 'b'"}])
    result = run_cli("lint", "--pack", "core", rules)
    assert "MR504 LT-001 fails every row it applies to: in its 'require', payout.role == 'a' and " \
           "payout.role == 'b' cannot both hold" in result.out


@pytest.mark.parametrize("when", [
    pytest.param("payout.amount >= 5 and payout.amount <= 5", id="exactly 5"),
    pytest.param("payout.amount > 5 or payout.amount < 3", id="either side (or)"),
    pytest.param("payout.role != 'a' and payout.role != 'b'", id="neither of two texts"),
    pytest.param("payout.amount > 5 and payout.installment < 3", id="two fields"),
    pytest.param("payout.role in ['mentor', 'coach'] and payout.role != 'coach'", id="one left in the list"),
])
def test_a_when_that_can_hold_is_not_reported(run_cli, tmp_path: Path, when: str) -> None:
    rules = pack(tmp_path / "rules", [{"id": "LT-001", "when": when, "require": "payout.amount > 0"}])
    result = run_cli("lint", "--pack", "core", rules)
    assert "MR502 LT-001" in result.out  # lint did run
    assert lines(result.out, "MR504") == []


# -- stale parameters ------------------------------------------------------------------------------
CAP = """\
  local_cap:
    description: A cap.
    {stable}values:
      2016-07-01: 1000.00
"""


def data(tmp_path: Path, payouts: list[dict[str, str]], grants: str = "") -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "payouts.csv").write_text(csv_text(payouts), encoding="utf-8")
    if grants:
        (folder / "grants.csv").write_text(grants, encoding="utf-8")
    return folder


def capped(tmp_path: Path, stable: bool = False, manifest: str = "") -> Path:
    return pack(tmp_path / "rules", [{"id": "LT-001", "require": "payout.amount <= params.local_cap"}],
                CAP.format(stable="stable: true\n    " if stable else ""), manifest)


def test_a_parameter_is_stale_when_the_rows_it_is_used_for_are_much_newer(run_cli, tmp_path: Path) -> None:
    records = data(tmp_path, [payout(pay_date="2025-09-15")])
    result = run_cli("lint", "--pack", "core", capped(tmp_path), "--data", records)
    assert "MR507 params.local_cap last changed on 2016-07-01, more than 5 years before the newest " \
           "payouts row (pay_date 2025-09-15)" in result.out


def test_staleness_is_judged_by_the_tables_own_date_column(run_cli, tmp_path: Path) -> None:
    # A grant's period of performance ending in 2030 says nothing about a payout cap.
    grants = "grant_id,budget_period,pop_start,pop_end\nG-1,2017-18,2017-07-01,2030-09-30\n"
    records = data(tmp_path, [payout(pay_date="2017-09-15", school_year="2017-18")], grants)
    result = run_cli("lint", "--pack", "core", capped(tmp_path), "--data", records)
    assert "MR502 LT-001" in result.out  # lint did run
    assert lines(result.out, "MR507", "local_cap") == []


def test_staleness_counts_only_the_rows_of_the_packs_state(run_cli, tmp_path: Path) -> None:
    records = data(tmp_path, [payout(state="NM", pay_date="2017-09-15", school_year="2017-18"),
                              payout(payout_id="P-2", state="AK", pay_date="2030-09-15", school_year="2030-31")])
    rules = capped(tmp_path, manifest="name: local-nm\njurisdiction: NM\n")
    result = run_cli("lint", "--pack", "core", rules, "--data", records)
    assert "MR502 LT-001" in result.out  # lint did run
    assert lines(result.out, "MR507", "local_cap") == []


def test_a_stable_parameter_is_never_stale(run_cli, tmp_path: Path) -> None:
    records = data(tmp_path, [payout(pay_date="2025-09-15")])
    result = run_cli("lint", "--pack", "core", capped(tmp_path, stable=True), "--data", records)
    assert "MR502 LT-001" in result.out  # lint did run
    assert lines(result.out, "MR507", "local_cap") == []


# -- overlapping packs -----------------------------------------------------------------------------
def two_nm_packs(tmp_path: Path, first: str, second: str, rule_extra: tuple[str, str] = ("", "")) -> list[Path]:
    paths = []
    for index, (values, extra) in enumerate(zip((first, second), rule_extra, strict=True), start=1):
        parameters = f"  shared_cap:\n    description: c\n    values:\n{values}"
        paths.append(pack(tmp_path / f"nm{index}", [
            {"id": f"NM{index}-001", "require": "payout.amount <= params.shared_cap", "extra": extra}],
            parameters, f"name: nm-{index}\njurisdiction: NM\n"))
    return paths


def test_two_packs_of_one_state_defining_a_parameter_for_the_same_dates_overlap(run_cli, tmp_path: Path) -> None:
    paths = two_nm_packs(tmp_path, "      2016-07-01: 1000.00\n", "      2020-07-01: 1200.00\n")
    result = run_cli("lint", "--pack", "core", *paths)
    assert "MR508 the NM packs 'nm-1' and 'nm-2' both define params.shared_cap for the same dates" in result.out
    assert "MR508 NM2-001 (nm-2) checks the same as NM1-001 (nm-1) for NM in the same period" in result.out


def test_packs_for_successive_periods_do_not_overlap(run_cli, tmp_path: Path) -> None:
    paths = two_nm_packs(tmp_path, "      2016-07-01: 1000.00\n      2020-07-01: null\n",
                         "      2020-07-01: 1200.00\n",
                         ("    effective: {to: 2020-06-30}\n", "    effective: {from: 2020-07-01}\n"))
    result = run_cli("lint", "--pack", "core", *paths)
    assert "MR502 NM1-001" in result.out  # lint did run
    assert lines(result.out, "MR508") == []


def test_a_check_for_every_state_overlaps_the_same_check_of_a_state_pack(run_cli, tmp_path: Path) -> None:
    everywhere = pack(tmp_path / "all", [{"id": "ALL-001", "require": "payout.amount > 10"}])
    nm = pack(tmp_path / "nm", [{"id": "NM-001", "require": "payout.amount > 10"}],
              manifest="name: local-nm\njurisdiction: NM\n")
    result = run_cli("lint", "--pack", "core", everywhere, nm)
    assert "MR508 NM-001 (local-nm) checks the same as ALL-001 (all) for NM in the same period" in result.out


def test_checks_of_different_states_do_not_overlap(run_cli, tmp_path: Path) -> None:
    nm = pack(tmp_path / "nm", [{"id": "NM-001", "require": "payout.amount > 10"}],
              manifest="name: local-nm\njurisdiction: NM\n")
    ak = pack(tmp_path / "ak", [{"id": "AK-001", "require": "payout.amount > 10"}],
              manifest="name: local-ak\njurisdiction: AK\n")
    result = run_cli("lint", "--pack", "core", nm, ak)
    assert "MR502 NM-001" in result.out  # lint did run
    assert lines(result.out, "MR508") == []


def test_a_core_parameter_used_by_a_state_pack_too_is_judged_by_all_its_rows(run_cli, tmp_path: Path) -> None:
    records = data(tmp_path, [payout(state="NM", pay_date="2025-09-15")])
    rules = pack(tmp_path / "nm", [{"id": "NM-001", "require": "payout.installment <= params.installments_per_year"}],
                 manifest="name: local-nm\njurisdiction: NM\n")
    result = run_cli("lint", "--pack", "core", rules, "--data", records)
    assert "Traceback" not in result.err and result.code in (0, 1), result.err
    assert "MR507 params.installments_per_year last changed on 2016-07-01" in result.out
