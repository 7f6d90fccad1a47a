"""What administrators and finance staff use every day: impact of a change, a new pack, coverage,
stale parameters, masking, workbooks in, quiet pipes."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from mentorrules import Engine, MentorRulesError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
NM_RULES = ROOT / "plugins" / "new_mexico" / "src" / "mentorrules_new_mexico" / "rules"


def test_diff_lists_the_rows_a_raised_cap_releases(run_cli, tmp_path: Path) -> None:
    copy = tmp_path / "nm-rules"
    shutil.copytree(NM_RULES, copy)
    parameters = copy / "yearly_limits.parameters.yaml"
    text = parameters.read_text("utf-8")
    old = "      2016-07-01: {mentor: 2000.00, mentee: 1000.00}\n"
    assert old in text
    parameters.write_text(text.replace(old, old + "      2025-07-01: {mentor: 5000.00, mentee: 5000.00}\n"),
                          encoding="utf-8")
    result = run_cli("diff", EXAMPLES, "--after", copy, "--format", "json", "--as-of", "2026-01-01")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["rules"]["NMP-005"]["removed"] >= 1 and report["rules"]["NMP-005"]["added"] == 0
    assert all(change["removed"] == ["NMP-005"] for change in report["changes"])
    assert report["before"]["digest"] != report["after"]["digest"]


def test_a_new_pack_installs_and_passes_its_tests(tmp_path: Path) -> None:
    made = subprocess.run([sys.executable, "-m", "mentorrules", "new-pack", "oregon", "--jurisdiction", "OR",
                           "--output", str(tmp_path)], capture_output=True, text=True, check=False)
    assert made.returncode == 0, made.stderr
    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                              "--target", str(target), str(tmp_path / "oregon")],
                             capture_output=True, text=True, check=False)
    assert install.returncode == 0, install.stderr
    env = {**os.environ, "PYTHONPATH": str(target)}
    packs = subprocess.run([sys.executable, "-m", "mentorrules", "packs"], capture_output=True, text=True,
                           env=env, check=False)
    assert "oregon" in packs.stdout and " OR " in packs.stdout
    tested = subprocess.run([sys.executable, "-m", "mentorrules", "test", "--pack", "oregon"],
                            capture_output=True, text=True, env=env, check=False)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "stipends.test.yaml .." in tested.stdout
    # The docs list both cases under the sample rule: each says with `rules:` what it is about.
    docs = subprocess.run([sys.executable, "-m", "mentorrules", "docs", "--pack", "oregon"],
                          capture_output=True, text=True, env=env, check=False)
    assert docs.returncode == 0, docs.stderr
    assert "- **Tests** (2): “a payout of exactly the maximum passes”, “one cent over the maximum fails”" \
        in docs.stdout
    # Its folder loaded by path while installed is a version of the installed pack (its pack.yaml
    # names it), not a second pack of the same name.
    rules = tmp_path / "oregon" / "src" / "mentorrules_oregon" / "rules"
    by_path = subprocess.run([sys.executable, "-m", "mentorrules", "test", "--pack", "oregon", str(rules)],
                             capture_output=True, text=True, env=env, check=False)
    assert by_path.returncode == 0, by_path.stdout + by_path.stderr
    assert "MR404" not in by_path.stderr


def test_a_new_pack_loaded_by_path_has_its_name_and_jurisdiction(run_cli, tmp_path: Path) -> None:
    assert run_cli("new-pack", "washington", "--jurisdiction", "WA", "--output", tmp_path).code == 0
    root = tmp_path / "washington"
    for path in (root, root / "src" / "mentorrules_washington" / "rules"):
        engine = Engine.load(rules=[path])
        [pack] = [pack for pack in engine.packs if pack.spec.rule_dirs == (path,)]
        assert (pack.name, pack.jurisdiction) == ("washington", "WA")
        assert [rule.jurisdiction for rule in engine.rules if rule.pack == "washington"] == ["WA"]
    result = run_cli("lint", root)
    assert result.code == 0, result.out + result.err
    assert "MR508" not in result.out
    listed = run_cli("packs", "--rules", root)
    assert "washington       0          WA                1" in listed.out


def test_coverage_under_the_threshold_fails(run_cli, tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - id: CV-001\n    title: t\n    table: payouts\n    when: payout.role == 'mentor'\n"
        "    require: payout.amount > 0\n    message: m\n    source: {title: s}\n", encoding="utf-8")
    (tmp_path / "rules.test.yaml").write_text(
        "- name: only a failing case\n  tables:\n    payouts: [{payout_id: P-1, payee_id: T-1, role: mentor, "
        "program: X, state: ZZ, school_year: 2025-26, pay_date: 2025-09-01, amount: '0'}]\n"
        "  expect: {P-1: [CV-001]}\n", encoding="utf-8")
    result = run_cli("test", tmp_path, "--pack", "core", "--coverage", "--threshold", "100")
    assert result.code == 1
    assert "      CV-001: no passing case\n" in result.out and "not covered: CV-001 when false" in result.out


@pytest.mark.parametrize(("amounts", "lacking"), [
    (["0"], "no passing case"),
    (["5"], "no failing case"),
    (["0", "5"], None),
])
def test_coverage_says_what_a_rule_lacks(run_cli, tmp_path: Path, amounts: list[str], lacking: str | None) -> None:
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - id: CV-001\n    title: t\n    table: payouts\n"
        "    require: payout.amount > 0\n    message: m\n    source: {title: s}\n"
        "  - id: CV-002\n    title: t\n    table: payouts\n"
        "    require: payout.amount < 10\n    message: m\n    source: {title: s}\n", encoding="utf-8")
    cases = ""
    for amount in amounts:
        expected = "[CV-001]" if amount == "0" else "[]"
        cases += (f"- name: amount {amount}\n  rules: [CV-001]\n  tables:\n    payouts: [{{payout_id: P-1, "
                  "payee_id: T-1, role: mentor, program: X, state: ZZ, school_year: 2025-26, pay_date: 2025-09-01, "
                  f"amount: '{amount}'}}]\n  expect: {{P-1: {expected}}}\n")
    (tmp_path / "rules.test.yaml").write_text(cases, encoding="utf-8")
    result = run_cli("test", tmp_path, "--pack", "core", "--coverage")
    assert result.code == 0, result.out
    assert "      CV-002: no passing and no failing case\n" in result.out  # no case tests it
    if lacking:
        assert f"      CV-001: {lacking}\n" in result.out
    else:
        assert "CV-001:" not in result.out


def test_lint_warns_about_a_parameter_stale_for_the_data(run_cli) -> None:
    result = run_cli("lint", "--data", EXAMPLES, "--stale-after", "5")
    assert result.code == 0
    assert "MR507 params.stipend_cap last changed on 2016-07-01" in result.out


@pytest.mark.parametrize("kind", ["json", "html", "csv", "table"])
def test_mask_hides_personal_values_in_every_format(run_cli, tmp_path: Path, kind: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "payouts.csv").write_text(
        "payout_id,payee_id,role,program,state,school_year,pay_date,amount\n"
        "P-1,T-1,coach,NM_PILOT,NM,2025-26,2025-09-15,500.00\n", encoding="utf-8")
    (data / "people.csv").write_text("person_id,name,email\nT-1,Ana Ruiz,ana@example.org\n", encoding="utf-8")
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - id: MK-001\n    title: t\n    table: payouts\n    require: payout.role == 'mentor'\n"
                     "    message: '{payee.name} <{payee.email}> is a {payout.role}'\n", encoding="utf-8")
    output = tmp_path / f"report.{kind}"
    result = run_cli("validate", data, "--pack", "core", "--rules", rules, "--format", kind, "--output", output,
                     "--mask")
    assert result.code == 1, result.err
    text = output.read_text("utf-8")
    assert "Ana Ruiz" not in text and "ana@example.org" not in text
    assert "[masked]" in text
    if kind == "html":  # the reader is told which columns were masked
        assert '<dt>masked</dt><dd class="">name, email</dd>' in text


def _mask_case(tmp_path: Path, name: str, message: str, people_extra: str = "") -> tuple[Path, Path]:
    data = tmp_path / "data"
    data.mkdir()
    (data / "payouts.csv").write_text(
        "payout_id,payee_id,role,program,state,school_year,pay_date,amount\n"
        "P-1,T-1,coach,NM_PILOT,NM,2025-26,2025-09-15,500.00\n", encoding="utf-8")
    (data / "people.csv").write_text(f"person_id,name,email\nT-1,{name},ana@example.org\n{people_extra}",
                                     encoding="utf-8")
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - id: MK-001\n    title: t\n    table: payouts\n    require: payout.role == 'mentor'\n"
                     f"    message: \"{message}\"\n", encoding="utf-8")
    return data, rules


def test_mask_hides_a_personal_value_whatever_the_message_does_with_it(run_cli, tmp_path: Path) -> None:
    data, rules = _mask_case(tmp_path, "Ana Ruiz", "{lower(payee.name)} / {upper(payee.email)} is a {payout.role}")
    result = run_cli("validate", data, "--pack", "core", "--rules", rules, "--format", "json", "--mask")
    [finding] = [f for r in json.loads(result.out)["records"] for f in r["findings"] if f["rule"] == "MK-001"]
    assert finding["message"] == "[masked] / [masked] is a coach"


def test_mask_leaves_words_that_merely_contain_a_masked_value(run_cli, tmp_path: Path) -> None:
    data, rules = _mask_case(tmp_path, "men", "{payee.name} is a {payout.role}; mentors and mentees are paid")
    result = run_cli("validate", data, "--pack", "core", "--rules", rules, "--format", "json", "--mask")
    [finding] = [f for r in json.loads(result.out)["records"] for f in r["findings"] if f["rule"] == "MK-001"]
    assert finding["message"] == "[masked] is a coach; mentors and mentees are paid"


def test_mask_hides_masked_keys_and_unreadable_masked_cells(run_cli, tmp_path: Path) -> None:
    data, rules = _mask_case(tmp_path, "Ana Ruiz", "{payout.role}", people_extra="T-2,\"Bo\x00b\",bo@example.org\n")
    result = run_cli("validate", data, "--pack", "core", "--rules", rules, "--format", "json",
                     "--mask", "person_id,name")
    people = [r for r in json.loads(result.out)["records"] if r["table"] == "people"]
    assert [r["key"] for r in people] == ["[masked]", "[masked]"]
    assert people[1]["status"] == "unreadable"
    assert "Bo" not in json.dumps(people) and "masked" in people[1]["findings"][0]["message"]


@pytest.mark.parametrize(("command", "mask", "said"), [
    ("validate", "nme", "--mask: 'nme' is not a column of any table, so it would mask nothing"),
    ("validate", "name,emial", "--mask: 'emial' is not a column of any table"),
    ("explain", "nme", "--mask: 'nme' is not a column of any table"),
    ("validate", "people.name", "--mask takes column names, not table.column ('people.name')"),
])
def test_mask_refuses_a_name_that_is_no_column(run_cli, tmp_path: Path, command: str, mask: str, said: str) -> None:
    data, _ = _mask_case(tmp_path, "Ana Ruiz", "{payout.role}")
    record = ["--record", "payouts:P-1"] if command == "explain" else []
    result = run_cli(command, data, *record, "--pack", "core", "--mask", mask)
    assert result.code == 2
    assert result.out == ""
    assert f"mentorrules: MR412 {said}" in result.err
    assert "personal columns (name, email)" in result.err
    assert ("did you mean 'name'?" if mask == "nme" else "did you mean 'email'?" if "emial" in mask
            else "write 'name'" if "." in mask else "") in result.err


def test_progress_on_a_terminal_shows_each_pass_and_clears_its_line(tmp_path: Path) -> None:
    from mentorrules.cli import _Progress

    class Terminal:
        text = ""

        def write(self, text: str) -> None:
            self.text += text

        def flush(self) -> None:
            pass

    terminal = Terminal()
    saved, sys.stderr = sys.stderr, terminal  # type: ignore[assignment]
    try:
        progress = _Progress()
        progress("reading", 10_000)
        progress("checking", 20_000)
        progress.close()
    finally:
        sys.stderr = saved
    assert "reading: 10,000 rows" in terminal.text and "checking: 20,000 rows" in terminal.text
    assert "rows/s" in terminal.text
    assert terminal.text.endswith("\r\x1b[2K")  # the report starts on a clean line


def test_a_workbook_with_serial_dates_and_binary_numbers_is_read_exactly(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "payouts"
    sheet.append(["payout_id", "payee_id", "role", "program", "state", "school_year", "pay_date", "amount",
                  "installment"])
    sheet.append(["P-1", "T-1", "mentor", "NM_PILOT", "NM", "2025-26", dt.datetime(2025, 9, 15), 1000.1, 1])
    sheet.append(["P-2", "T-1", "mentor", "NM_PILOT", "NM", "2025-26", 45915, 0.1 + 0.2, 2])
    people = workbook.create_sheet("People")
    people.append(["person_id", "career_year"])
    people.append(["T-1", 3])
    path = tmp_path / "handover.xlsx"
    workbook.save(path)
    dataset = Engine.load(packs=[]).read([path])
    first, second = (row.values for row in dataset.tables["payouts"])
    assert first["pay_date"] == dt.date(2025, 9, 15) and first["amount"] == Decimal("1000.1")
    assert second["pay_date"] == dt.date(2025, 9, 15)  # Excel serial 45915
    assert second["amount"] == Decimal("0.3")  # what the spreadsheet stored (15 digits), as a Decimal
    assert dataset.tables["people"][0].values["career_year"] == 3


def test_progress_is_quiet_when_stderr_is_not_a_terminal(run_cli) -> None:
    result = run_cli("validate", EXAMPLES, "--format", "json", "--as-of", "2026-01-01")
    assert result.code == 1
    assert "rows/s" not in result.err


# -- the administrator's walkthrough (README: "Change a cap from a date onwards") -------------------
NEW_CAP_CASES = """
- name: from 2025-26 a mentor may be paid 2400.00
  tables:
    payouts:
      - {payout_id: P-1, payee_id: T-1, role: mentor, program: NM_PILOT, state: NM, school_year: 2025-26,
         pay_date: 2025-12-15, amount: "1200.00", installment: 1}
      - {payout_id: P-2, payee_id: T-1, role: mentor, program: NM_PILOT, state: NM, school_year: 2025-26,
         pay_date: 2026-05-15, amount: "1200.00", installment: 2}
  expect: {P-1: [], P-2: []}

- name: from 2025-26 one cent over 2400.00 fails
  tables:
    payouts:
      - {payout_id: P-1, payee_id: T-1, role: mentor, program: NM_PILOT, state: NM, school_year: 2025-26,
         pay_date: 2025-12-15, amount: "1200.00", installment: 1}
      - {payout_id: P-2, payee_id: T-1, role: mentor, program: NM_PILOT, state: NM, school_year: 2025-26,
         pay_date: 2026-05-15, amount: "1200.01", installment: 2}
  expect: {P-1: [NMP-005], P-2: [{rule: NMP-005, message: "over the cap 2400.00"}]}
"""


@pytest.fixture
def nm_copy(tmp_path: Path) -> Path:
    """Steps 1 and 2: a copy of the New Mexico rules with a cap raised from 2025-07-01, and tests."""
    copy = tmp_path / "nm-rules"
    shutil.copytree(NM_RULES, copy)
    parameters = copy / "yearly_limits.parameters.yaml"
    old = "      2016-07-01: {mentor: 2000.00, mentee: 1000.00}\n"
    new = "      2025-07-01: {mentor: 2400.00, mentee: 1000.00}   # new: from school year 2025-26\n"
    parameters.write_text(parameters.read_text("utf-8").replace(old, old + new), encoding="utf-8")
    tests = copy / "yearly_limits.test.yaml"
    tests.write_text(tests.read_text("utf-8") + NEW_CAP_CASES, encoding="utf-8")
    return copy


def test_a_copy_of_an_installed_pack_is_tested_in_its_place(run_cli, nm_copy: Path) -> None:
    result = run_cli("test", nm_copy)
    assert result.code == 0, result.out + result.err
    assert "MR130" not in result.err
    assert "yearly_limits.test.yaml .........." in result.out  # the copy's cases, the two new ones too
    assert "plugins/new_mexico" not in result.out  # the installed pack's tests are replaced by the copy's


def test_a_copy_of_an_installed_pack_is_linted_in_its_place(run_cli, nm_copy: Path) -> None:
    result = run_cli("lint", nm_copy)
    assert result.code == 0, result.out + result.err
    assert "0 problems" in result.out


def test_a_copy_keeps_the_name_and_jurisdiction_of_the_pack_it_copies(nm_copy: Path) -> None:
    engine = Engine.load(rules=[nm_copy])
    [copy] = [pack for pack in engine.packs if pack.spec.rule_dirs == (nm_copy,)]
    assert (copy.name, copy.jurisdiction) == ("new-mexico", "NM")
    assert [pack.name for pack in engine.packs].count("new-mexico") == 1


def test_a_copy_is_a_version_of_its_pack_even_when_only_core_is_asked_for(run_cli, nm_copy: Path) -> None:
    result = run_cli("test", "--pack", "core", nm_copy)
    assert result.code == 0, result.out + result.err


def test_a_new_pack_reusing_one_id_of_a_pack_is_not_a_copy_of_it(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "caps.yaml").write_text(
        "rules:\n" + "".join(f"  - {{id: MINE-00{n}, title: t, table: payouts, require: payout.amount > 0, "
                             "message: m}\n" for n in (1, 2)) +
        "  - {id: NMP-005, title: t, table: payouts, require: payout.amount > 0, message: m}\n",
        encoding="utf-8")
    with pytest.raises(MentorRulesError) as raised:
        Engine.load(rules=[tmp_path / "mine"])
    assert [problem.code for problem in raised.value.problems] == ["MR130"]


# -- new-pack ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "jurisdiction", "message"), [
    pytest.param("alaska", "AK", "'alaska' is the name of an installed pack", id="an installed pack's name"),
    pytest.param("new-mexico", "NM", "'new-mexico' is the name of an installed pack", id="a dashed installed name"),
    pytest.param("core", "OR", "'core' is the name of an installed pack", id="core"),
    pytest.param("Oregon", "OR", "'Oregon' is not a pack name", id="capitals"),
    pytest.param("1oregon", "OR", "'1oregon' is not a pack name", id="a leading digit"),
    pytest.param("new--hampshire", "NH", "'new--hampshire' is not a pack name", id="a double dash"),
    pytest.param("new_hampshire", "NH", "'new_hampshire' is not a pack name", id="an underscore"),
    pytest.param("oregon", "or", "'or' is not a US state or territory code", id="a lower-case code"),
    pytest.param("oregon", "XX", "'XX' is not a US state or territory code", id="no such state"),
    pytest.param("oregon", "ORE", "'ORE' is not a US state or territory code", id="three letters"),
])
def test_new_pack_refuses_a_clashing_or_malformed_name_or_code(run_cli, tmp_path: Path, name: str,
                                                               jurisdiction: str, message: str) -> None:
    result = run_cli("new-pack", name, "--jurisdiction", jurisdiction, "--output", tmp_path)
    assert result.code == 2
    assert f"MR408 {message}" in result.err
    assert list(tmp_path.iterdir()) == []


def test_new_pack_accepts_a_territory(run_cli, tmp_path: Path) -> None:
    result = run_cli("new-pack", "puerto-rico", "--jurisdiction", "PR", "--output", tmp_path)
    assert result.code == 0, result.err
    assert (tmp_path / "puerto-rico" / "src" / "mentorrules_puerto_rico" / "__init__.py").is_file()


def test_new_pack_schema_lines_point_inside_the_pack_not_at_this_machine(run_cli, tmp_path: Path) -> None:
    assert run_cli("new-pack", "oregon", "--jurisdiction", "OR", "--output", tmp_path).code == 0
    written = [path for path in (tmp_path / "oregon").rglob("*.yaml") if path.name != "pack.yaml"]
    assert len(written) == 3
    for path in written:
        first = path.read_text("utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema=")
        target = first.split("$schema=", 1)[1]
        assert not Path(target).is_absolute() and str(ROOT) not in target
        schema = (path.parent / target).resolve()
        assert schema.is_file() and (tmp_path / "oregon") in schema.parents
    for path in (tmp_path / "oregon").rglob("*"):
        if path.is_file():
            assert str(ROOT) not in path.read_text("utf-8"), path


def readme_block(after: str) -> str:
    """The fenced block that follows a line of the README's pack section."""
    section = (ROOT / "README.md").read_text("utf-8").split("### Write a pack for another state")[1]
    return section.split(after, 1)[1].split("```", 2)[1].split("\n", 1)[1]


def test_the_readme_shows_what_new_pack_writes() -> None:
    from mentorrules.authoring.scaffold import files

    written = files("oregon", "OR")
    assert readme_block("`pyproject.toml`:") == written["pyproject.toml"]
    assert readme_block("`src/mentorrules_oregon/__init__.py`:") == written["src/mentorrules_oregon/__init__.py"]
    assert readme_block("`src/mentorrules_oregon/rules/stipends.yaml`") == \
        written["src/mentorrules_oregon/rules/stipends.yaml"]
    listed = [line.split("#")[0].strip() for line in readme_block("It writes these files:").splitlines()[1:]]
    assert sorted(listed) == sorted(written)


def test_diff_lists_rows_whose_finding_says_something_else(run_cli, tmp_path: Path) -> None:
    # A cap raised to 2400.00 still fails T-0012's 2500.00: same rule, another message.
    copy = tmp_path / "nm-rules"
    shutil.copytree(NM_RULES, copy)
    parameters = copy / "yearly_limits.parameters.yaml"
    old = "      2016-07-01: {mentor: 2000.00, mentee: 1000.00}\n"
    parameters.write_text(parameters.read_text("utf-8").replace(
        old, old + "      2025-07-01: {mentor: 2400.00, mentee: 1000.00}\n"), encoding="utf-8")
    result = run_cli("diff", EXAMPLES, "--after", copy, "--format", "json", "--as-of", "2026-01-01")
    report = json.loads(result.out)
    reworded = [change for change in report["changes"] if change["reworded"]]
    assert reworded and all(change["before"] == change["after"] == "fail" for change in reworded)
    [first, *_] = reworded[0]["reworded"]
    assert first["rule"] == "NMP-005"
    assert first["before"].endswith("over the cap 2000.00 by 500.00")
    assert first["after"].endswith("over the cap 2400.00 by 100.00")
    assert report["rules"]["NMP-005"]["reworded"] == len(reworded)
    text = run_cli("diff", EXAMPLES, "--after", copy, "--as-of", "2026-01-01").out
    assert "~NMP-005" in text
    assert "-> T-0012 was paid 2500.00 as mentor in 2025-26 up to this payout, over the cap 2400.00 by 100.00" in text


def test_the_readme_python_tour_runs_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fenced block of the README's "Call it from Python" runs, and its shown result is true."""
    section = (ROOT / "README.md").read_text("utf-8").split("### Call it from Python")[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(ROOT)
    scope: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), scope)  # the README's own example, as a user pastes it
    decision = scope["decision"]
    assert [(f.rule, f.message) for f in decision.findings] == [  # type: ignore[attr-defined]
        ("STIPEND-005", "amount 1200.00 differs from the written schedule for NM_PILOT mentor in 2025-26: 1000.00")]
    assert scope["prepared"] == decision  # prepared and one-shot agree
    changed = scope["changed"]
    assert changed[0].status.value == "pass" and changed[0].findings == ()  # type: ignore[index]
    assert scope["everything"] is not None


def test_the_readme_rule_and_its_tests_pass_as_written(run_cli, tmp_path: Path) -> None:
    """"Write a rule" and "Write a test": the two files, copied into my-rules/, test and lint clean."""
    readme = (ROOT / "README.md").read_text("utf-8")
    rule = readme.split("### Write a rule")[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    tests = readme.split("### Write a test")[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    commands = readme.split("### Write a test")[1].split("```sh\n", 1)[1].split("```", 1)[0]
    folder = tmp_path / "my-rules"
    folder.mkdir()
    (folder / "caps.yaml").write_text(rule, encoding="utf-8")
    (folder / "caps.test.yaml").write_text(tests, encoding="utf-8")
    assert "mentorrules test my-rules/" in commands and "mentorrules lint my-rules/" in commands
    result = run_cli("test", folder)
    assert result.code == 0, result.out + result.err
    assert "caps.test.yaml .." in result.out
    result = run_cli("lint", folder)
    assert result.code == 0, result.out + result.err
    assert ": 0 problems, 0 warnings" in result.out


def test_the_walkthrough_diff_shows_the_rows_the_readme_shows(run_cli, nm_copy: Path) -> None:
    result = run_cli("diff", EXAMPLES, "--after", nm_copy)
    shown = (ROOT / "README.md").read_text("utf-8").split("On the example data:")[1].split("```\n", 2)[1]
    for line in shown.splitlines():
        if line.strip() != "...":
            assert line.strip() in result.out, line


def test_diff_names_the_pack_a_rules_directory_stands_in_for(run_cli, tmp_path: Path) -> None:
    # Only the parameter file of the yearly caps: its parameter names say which pack it belongs to.
    copy = tmp_path / "caps"
    copy.mkdir()
    shutil.copy(NM_RULES / "yearly_limits.parameters.yaml", copy)
    result = run_cli("diff", EXAMPLES, "--after", copy, "--as-of", "2026-01-01")
    assert result.code == 0, result.err
    assert result.out.splitlines()[0].endswith("the installed packs")
    assert result.out.splitlines()[1].endswith(f"{copy} laid over the pack new-mexico")
    # Its parameter file replaces the pack's; the pack's rules stay: nothing changes.
    assert "no row changes" in result.out


def test_diff_of_one_changed_parameter_file_changes_only_what_it_governs(run_cli, tmp_path: Path) -> None:
    folder = tmp_path / "caps"
    folder.mkdir()
    text = (NM_RULES / "yearly_limits.parameters.yaml").read_text("utf-8")
    old = "      2016-07-01: {mentor: 2000.00, mentee: 1000.00}\n"
    (folder / "yearly_limits.parameters.yaml").write_text(
        text.replace(old, old + "      2025-07-01: {mentor: 2400.00, mentee: 1000.00}\n"), encoding="utf-8")
    report = json.loads(run_cli("diff", EXAMPLES, "--after", folder, "--format", "json", "--as-of", "2026-01-01").out)
    assert set(report["rules"]) == {"NMP-005"}
    assert report["after"]["rules"].endswith("laid over the pack new-mexico")


def test_diff_refuses_a_directory_that_shares_only_a_common_file_name_with_packs(run_cli, tmp_path: Path) -> None:
    # parameters.yaml is a file name every pack has; its parameters are no pack's.
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "parameters.yaml").write_text(
        "parameters:\n  cap:\n    values:\n      2016-07-01: 100.00\n", encoding="utf-8")
    result = run_cli("diff", EXAMPLES, "--after", folder, "--as-of", "2026-01-01")
    assert result.code == 2
    assert "MR409 no installed pack matches this rules directory" in result.err
