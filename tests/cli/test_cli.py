"""The ``mentorrules`` command as a user runs it: exit codes, what it prints, no tracebacks."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import EXECUTABLE, csv_text, payout

from mentorrules import __version__

RULES = """\
rules:
  - id: LOCAL-001
    title: Payouts stay under the local cap
    table: payouts
    when: payout.role == "mentor"
    require: payout.amount <= params.local_cap
    message: "amount {payout.amount} is over the local cap {params.local_cap}"
    parameters_on: record_date
    source: {title: Local policy, section: "4.1"}
"""

PARAMETERS = """\
parameters:
  local_cap:
    description: Local cap per payout.
    values:
      2016-07-01: 1500.00
"""

TESTS = """\
- name: a mentor under the cap passes
  tables:
    people: [{person_id: T-1}]
    payouts:
      - {payout_id: P-1, payee_id: T-1, role: mentor, program: X, state: XX,
         school_year: 2025-26, pay_date: 2025-09-15, amount: "1000.00"}
  expect: {P-1: []}

- name: a mentor over the cap fails
  tables:
    people: [{person_id: T-1}]
    payouts:
      - {payout_id: P-1, payee_id: T-1, role: mentor, program: X, state: XX,
         school_year: 2025-26, pay_date: 2025-09-15, amount: "2000.00"}
  expect: {P-1: [{rule: LOCAL-001, message: "over the local cap 1500.00"}]}
"""


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    folder = tmp_path / "local"
    folder.mkdir()
    (folder / "caps.yaml").write_text(RULES, encoding="utf-8")
    (folder / "parameters.yaml").write_text(PARAMETERS, encoding="utf-8")
    (folder / "caps.test.yaml").write_text(TESTS, encoding="utf-8")
    return folder


def data_dir(tmp_path: Path, *rows: dict[str, str]) -> Path:
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    (folder / "payouts.csv").write_text(csv_text(list(rows)), encoding="utf-8")
    (folder / "people.csv").write_text("person_id\nT-1\n", encoding="utf-8")
    return folder


# -- validate ------------------------------------------------------------------------------
def test_validate_exits_0_when_every_row_passes(run_cli, tmp_path: Path, pack: Path) -> None:
    result = run_cli("validate", data_dir(tmp_path, payout()), "--pack", "core", "--rules", pack)
    assert (result.code, result.err) == (0, "")
    # Only payouts and people were given: the pass is not shown as a clean result.
    assert "2 rows: 2 pass the rules that ran (not a clean result), 0 fail, 0 unreadable" in result.out


def test_validate_exits_1_when_a_row_fails(run_cli, tmp_path: Path, pack: Path) -> None:
    data = data_dir(tmp_path, payout(), payout(payout_id="P-2", amount="2000.00"))
    result = run_cli("validate", data, "--pack", "core", "--rules", pack)
    assert result.code == 1
    assert "FAIL  payouts row 2 (line 3)  P-2" in result.out
    assert "LOCAL-001" in result.out
    assert "amount 2000.00 is over the local cap 1500.00" in result.out


def test_validate_exits_1_when_a_row_cannot_be_read(run_cli, tmp_path: Path) -> None:
    result = run_cli("validate", data_dir(tmp_path, payout(amount="$5")), "--pack", "core")
    assert result.code == 1
    assert "UNREADABLE payouts row 1 (line 2)  P-1" in result.out
    assert "column 'amount': '$5' is not a decimal amount" in result.out


def test_validate_exits_0_for_warnings_only(run_cli, tmp_path: Path, pack: Path) -> None:
    caps = pack / "caps.yaml"
    caps.write_text(RULES.replace("    source:", "    severity: warning\n    source:"), encoding="utf-8")
    data = data_dir(tmp_path, payout(amount="2000.00"))
    result = run_cli("validate", data, "--pack", "core", "--rules", pack)
    assert result.code == 0
    assert "WARN  payouts row 1 (line 2)  P-1" in result.out


@pytest.mark.parametrize("args", [
    pytest.param(("validate",), id="validate without data"),
    pytest.param(("validate", "DATA", "--as-of", "2025-13-01"), id="an impossible as-of date"),
    pytest.param(("validate", "DATA", "--as-of", "yesterday"), id="an as-of date in words"),
    pytest.param(("validate", "DATA", "--format", "xml"), id="an unknown format"),
    pytest.param(("frobnicate",), id="an unknown command"),
    pytest.param((), id="no command"),
    pytest.param(("explain", "DATA", "--record", "P-1"), id="a record without its table"),
])
def test_bad_usage_exits_2_with_a_message(run_cli, tmp_path: Path, args: tuple[str, ...]) -> None:
    data = data_dir(tmp_path, payout())
    result = run_cli(*[str(data) if arg == "DATA" else arg for arg in args])
    assert result.code == 2
    assert "usage: mentorrules" in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize(("args", "unknown"), [
    (("explain", "DATA", "--record", "payouts:P-1", "--rule", "NMP-005"), "--rule NMP-005"),  # not --rules
    (("validate", "DATA", "--form", "json"), "--form json"),
    (("test", "--cov"), "--cov"),
    (("--vers", "packs"), "--vers"),
])
def test_an_abbreviated_option_is_refused_not_guessed(run_cli, tmp_path: Path, args: tuple[str, ...],
                                                      unknown: str) -> None:
    data = data_dir(tmp_path, payout())
    result = run_cli(*[str(data) if arg == "DATA" else arg for arg in args])
    assert result.code == 2
    assert f"unrecognized arguments: {unknown}" in result.err
    assert "MR411" not in result.err


def test_no_command_accepts_abbreviated_options(run_cli) -> None:
    """Every command listed by --help refuses '--hel' rather than taking it for --help."""
    listed = run_cli("--help").out
    commands = re.findall(r"^    ([a-z][a-z-]+)  ", listed, re.MULTILINE)
    assert {"validate", "test", "lint", "explain", "packs", "docs", "diff"} <= set(commands)
    for command in commands:
        result = run_cli(command, "--hel")
        assert result.code == 2, command  # taken for --help, it would print the help and exit 0
        assert "usage:" in result.err, command


def test_bad_as_of_says_how_to_write_a_date(run_cli, tmp_path: Path) -> None:
    result = run_cli("validate", data_dir(tmp_path, payout()), "--as-of", "2025-13-01")
    assert "'2025-13-01' is not a date written YYYY-MM-DD" in result.err


def test_validate_exits_2_for_a_broken_rule_file(run_cli, tmp_path: Path, pack: Path) -> None:
    (pack / "caps.yaml").write_text(RULES.replace("params.local_cap\n", "params.local_cp\n"),
                                    encoding="utf-8")
    result = run_cli("validate", data_dir(tmp_path, payout()), "--pack", "core", "--rules", pack)
    assert result.code == 2
    assert result.out == ""
    assert "caps.yaml:6:31: MR203 unknown parameter 'local_cp'" in result.err
    assert "6 |     require: payout.amount <= params.local_cp" in result.err
    assert "  |                               ^^^^^^^^^^^^^^^" in result.err
    assert "= help: did you mean 'local_cap'?" in result.err


# -- test, lint ------------------------------------------------------------------------------
def test_test_runs_the_rule_tests_beside_the_rules(run_cli, pack: Path) -> None:
    result = run_cli("test", "--pack", "core", pack)
    assert result.code == 0, result.out + result.err
    assert "caps.test.yaml .." in result.out
    assert " 0 failed" in result.out


def test_test_exits_1_and_names_the_failing_case(run_cli, pack: Path) -> None:
    tests = pack / "caps.test.yaml"
    tests.write_text(TESTS.replace('amount: "1000.00"', 'amount: "1600.00"'), encoding="utf-8")
    result = run_cli("test", "--pack", "core", pack)
    assert result.code == 1
    assert "caps.test.yaml F." in result.out
    assert "caps.test.yaml:1: a mentor under the cap passes" in result.out
    assert "P-1: expected no findings, got ['LOCAL-001']" in result.out


@pytest.mark.parametrize(("expected", "passes"), [
    ("[LOCAL-001]", False),
    ('[{rule: LOCAL-001, message: "over the local cap"}]', False),
    ('[{rule: LOCAL-001, message: "cannot check"}]', True),
])
def test_a_case_expecting_a_failure_is_not_met_by_cannot_check(run_cli, pack: Path, expected: str,
                                                               passes: bool) -> None:
    # Before 2016-07-01 the cap has no value in force: the rule cannot check the payout.
    case = TESTS.split("\n\n")[1].replace("pay_date: 2025-09-15", "pay_date: 2015-09-15")
    case = case.replace('[{rule: LOCAL-001, message: "over the local cap 1500.00"}]', expected)
    (pack / "caps.test.yaml").write_text(case, encoding="utf-8")
    result = run_cli("test", "--pack", "core", pack)
    assert result.code == (0 if passes else 1), result.out
    if expected == "[LOCAL-001]":
        assert ("P-1: LOCAL-001 could not be checked: params.local_cap has no value in force on 2015-09-15 "
                "(to expect that, write {rule: LOCAL-001, message: cannot check})") in result.out


def test_test_exits_2_for_a_test_of_an_unknown_rule(run_cli, pack: Path) -> None:
    tests = pack / "caps.test.yaml"
    tests.write_text(TESTS.replace("rule: LOCAL-001", "rule: LOCAL-999")
                     + "  rules: [LOCAL-999]\n", encoding="utf-8")
    result = run_cli("test", "--pack", "core", pack)
    assert result.code == 2
    assert "MR140 the case tests unknown rules: LOCAL-999" in result.err


def test_lint_passes_a_rule_with_a_source_and_both_kinds_of_test(run_cli, pack: Path) -> None:
    result = run_cli("lint", "--pack", "core", pack)
    assert result.code == 0, result.out
    assert "LOCAL-001" not in result.out
    assert "0 problems" in result.out


def test_lint_exits_1_for_a_rule_without_source_or_tests(run_cli, pack: Path) -> None:
    (pack / "caps.yaml").write_text(RULES.split("    source:")[0], encoding="utf-8")
    (pack / "caps.test.yaml").unlink()
    result = run_cli("lint", "--pack", "core", pack)
    assert result.code == 1
    assert "MR501 LOCAL-001 has no source" in result.out
    assert "MR502 LOCAL-001 has no passing and no failing test case" in result.out


# -- explain, packs, help --------------------------------------------------------------------
def test_explain_shows_the_values_that_made_a_rule_fail(run_cli, tmp_path: Path, pack: Path) -> None:
    data = data_dir(tmp_path, payout(), payout(payout_id="P-2", amount="2000.00"))
    result = run_cli("explain", data, "--record", "payouts:P-2", "--pack", "core", "--rules", pack)
    assert result.code == 1
    out = result.out
    assert "payouts P-2 (row 2): fail" in out
    assert "payout.amount <= params.local_cap" in out
    assert "| payout.amount = 2000.00" in out
    assert "| params.local_cap = 1500.00" in out
    assert "| payout.amount <= params.local_cap = false" in out
    assert "| params.local_cap<2016-07-01> = 1500.00" in out
    assert "amount 2000.00 is over the local cap 1500.00" in out
    assert "source: Local policy, 4.1" in out


def test_explain_of_a_passing_record_exits_0(run_cli, tmp_path: Path, pack: Path) -> None:
    data = data_dir(tmp_path, payout())
    result = run_cli("explain", data, "--record", "payouts:P-1", "--pack", "core", "--rules", pack)
    assert result.code == 0
    assert "payouts P-1 (row 1): pass" in result.out
    assert "LOCAL-001" in result.out


def test_explain_of_an_unknown_key_exits_2(run_cli, tmp_path: Path) -> None:
    result = run_cli("explain", data_dir(tmp_path, payout()), "--record", "payouts:P-404",
                     "--pack", "core")
    assert result.code == 2
    assert "MR312 no payouts row has the key 'P-404'" in result.err


def test_packs_lists_core_and_the_state_packs(run_cli) -> None:
    result = run_cli("packs")
    assert result.code == 0
    names = [line.split()[0] for line in result.out.splitlines()[1:] if line.strip()]
    assert {"core", "new-mexico", "alaska"} <= set(names)
    assert names[0] == "core"
    jurisdictions = {line.split()[0]: line.split()[2] for line in result.out.splitlines()[1:4]}
    assert jurisdictions == {"core": "(all)", "alaska": "AK", "new-mexico": "NM"}


def test_a_rule_file_given_alone_points_at_the_parameters_beside_it(run_cli, tmp_path: Path, pack: Path) -> None:
    result = run_cli("validate", data_dir(tmp_path, payout()), "--pack", "core", "--rules", pack / "caps.yaml")
    assert result.code == 2
    assert "MR203 unknown parameter 'local_cap'" in result.err
    assert f"help: parameters are read from the folder: give {pack}/ instead of the file {pack}/caps.yaml" \
        in result.err
    (pack / "parameters.yaml").unlink()  # nothing beside it: the usual hint
    result = run_cli("validate", data_dir(tmp_path, payout()), "--pack", "core", "--rules", pack / "caps.yaml")
    assert result.code == 2
    assert "parameters are read from the folder" not in result.err


def test_packs_lists_the_packs_of_rules_paths_and_only_the_packs_asked_for(run_cli, pack: Path) -> None:
    result = run_cli("packs", "--pack", "core", "--rules", pack)
    assert result.code == 0, result.err
    names = [line.split()[0] for line in result.out.splitlines()[1:3]]
    assert names == ["core", "local"]
    assert result.out.splitlines()[2].split() == ["local", "0", "(all)", "1"]


@pytest.mark.parametrize("command", ["validate", "test", "lint", "explain", "packs"])
def test_help_of_every_command_works(run_cli, command: str) -> None:
    result = run_cli(command, "--help")
    assert result.code == 0
    assert f"usage: mentorrules {command}" in result.out


def test_help_lists_the_commands_and_exit_codes(run_cli) -> None:
    result = run_cli("--help")
    assert result.code == 0
    for command in ("validate", "test", "lint", "explain", "packs"):
        assert command in result.out
    assert "Exit codes: 0 clean, 1 findings" in " ".join(result.out.split())


def test_version(run_cli) -> None:
    result = run_cli("--version")
    assert (result.code, result.out.strip()) == (0, f"mentorrules {__version__}")


# -- end to end, as a separate process ------------------------------------------------------
def test_the_installed_command_validates_end_to_end(run_command, tmp_path: Path, pack: Path) -> None:
    data = data_dir(tmp_path, payout(), payout(payout_id="P-2", amount="2000.00"))
    result = run_command("validate", data, "--pack", "core", "--rules", pack, "--format", "json")
    assert result.code == 1
    assert result.err.startswith("mentorrules: not checked, these rules read a table that was not given: ")
    assert len(result.err.splitlines()) == 1
    assert '"key": "P-2"' in result.out


def test_the_installed_command_refuses_bad_input_without_a_traceback(run_command,
                                                                     tmp_path: Path) -> None:
    data = data_dir(tmp_path, payout())
    (data / "payouts.csv").write_bytes("payout_id\nP-é\n".encode("latin-1"))
    result = run_command("validate", data)
    assert result.code == 2
    assert "MR305" in result.err
    assert "Traceback" not in result.err



@pytest.fixture
def lone_rule_file(tmp_path: Path) -> Path:
    """A rule file that needs no parameter file, with its tests beside it."""
    folder = tmp_path / "lone"
    folder.mkdir()
    path = folder / "caps.yaml"
    path.write_text(RULES.replace("params.local_cap", "1500.00"), encoding="utf-8")
    (folder / "caps.test.yaml").write_text(TESTS, encoding="utf-8")
    return path


def test_a_lone_rule_file_loads(run_cli, lone_rule_file: Path, tmp_path: Path) -> None:
    data = data_dir(tmp_path, payout(amount="2000.00"))
    result = run_cli("validate", data, "--pack", "core", "--rules", lone_rule_file)
    assert result.code == 1
    assert "amount 2000.00 is over the local cap 1500.00" in result.out


def test_lint_of_a_rule_file_does_not_read_it_as_a_test_file(run_cli, lone_rule_file: Path) -> None:
    result = run_cli("lint", "--pack", "core", lone_rule_file)
    assert "MR506" not in result.out
    assert "caps.yaml:1:1" not in result.out


def test_test_of_a_rule_file_runs_the_tests_beside_it(run_cli, lone_rule_file: Path) -> None:
    result = run_cli("test", "--pack", "core", lone_rule_file)
    assert result.code == 0, result.err
    assert "caps.test.yaml .." in result.out


@pytest.mark.parametrize("kind", ["table", "xlsx"])
def test_an_output_file_that_cannot_be_written_exits_2(run_command, tmp_path: Path, kind: str) -> None:
    data = data_dir(tmp_path, payout())
    result = run_command("validate", data, "--pack", "core", "--format", kind,
                         "--output", tmp_path / "no" / f"report.{kind}")
    assert result.code == 2
    assert "MR407 cannot write the report: its folder does not exist" in result.err
    assert "Traceback" not in result.err


def test_a_failed_xlsx_report_leaves_the_earlier_one_whole(run_cli, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from mentorrules.reports import xlsx

    data = data_dir(tmp_path, payout())
    output = tmp_path / "report.xlsx"
    output.write_bytes(b"the earlier report")

    def broken(written: Path, path: Path) -> None:
        path.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(xlsx, "_settle", broken)
    result = run_cli("validate", data, "--pack", "core", "--format", "xlsx", "--output", output)
    assert result.code == 2 and "MR407" in result.err
    assert output.read_bytes() == b"the earlier report"
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith("report")] == ["report.xlsx"]


# -- pipes and problems about no file -------------------------------------------------------------
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_a_closed_pipe_ends_quietly_with_the_sigpipe_status(tmp_path: Path) -> None:
    # `mentorrules validate examples/ --format json | head -c 100`: the reader goes away early.
    process = subprocess.Popen([str(EXECUTABLE), "validate", str(EXAMPLES), "--format", "json",
                                "--as-of", "2026-01-01"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.read(100)
    process.stdout.close()
    error = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141
    assert error == ""


def test_a_problem_about_no_file_is_told_as_the_programs_own(run_cli) -> None:
    result = run_cli("validate", EXAMPLES, "--pack", "ohio")
    assert result.code == 2
    assert result.err.startswith("mentorrules: MR401 unknown pack 'ohio'\n")
    assert "None:" not in result.err and "<input>" not in result.err


def test_a_data_file_given_as_rules_is_described_not_quoted_whole(run_cli) -> None:
    result = run_cli("validate", EXAMPLES, "--rules", EXAMPLES / "payouts.csv")
    assert result.code == 2
    assert "P-0003" not in result.err
    assert len(result.err) < 1000, result.err


def test_a_rule_file_holding_one_long_text_is_described_by_its_length(run_cli, tmp_path: Path) -> None:
    rules = tmp_path / "pasted.yaml"
    rules.write_text("payout_id payee_id role program " * 500 + "\n", encoding="utf-8")
    result = run_cli("lint", "--pack", "core", rules)
    assert result.code == 2
    assert "MR114 'payout_id payee_id role progra...' (a text of 15,999 characters) is the wrong kind" in result.err
    assert len(result.err) < 1000, result.err


# -- rule paths --------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [
    pytest.param(("test", "PATH"), id="test PATH"),
    pytest.param(("lint", "PATH"), id="lint PATH"),
    pytest.param(("validate", "DATA", "--rules", "PATH"), id="validate --rules PATH"),
    pytest.param(("diff", "DATA", "--after", "PATH"), id="diff --after PATH"),
])
@pytest.mark.parametrize(("kind", "message"), [
    pytest.param("missing", "MR411 the rules path does not exist", id="a path that does not exist"),
    pytest.param("empty", "MR411 the directory holds no rule files", id="a directory without rule files"),
])
def test_a_rules_path_that_gives_no_rules_exits_2_with_a_located_problem(
        run_cli, tmp_path: Path, command: tuple[str, ...], kind: str, message: str) -> None:
    path = tmp_path / "nonexistent"
    if kind == "empty":
        path.mkdir()
        (path / "notes.txt").write_text("rules will come here\n", encoding="utf-8")
    data = data_dir(tmp_path, payout())
    result = run_cli(*[str(path) if arg == "PATH" else str(data) if arg == "DATA" else arg for arg in command])
    assert result.code == 2, result.out
    assert f"{path}: {message}" in result.err


def test_the_library_refuses_a_rules_path_that_does_not_exist() -> None:
    from mentorrules import Engine, MentorRulesError

    with pytest.raises(MentorRulesError) as raised:
        Engine.load(rules=["/nonexistent"])
    [problem] = raised.value.problems
    assert (problem.code, problem.location.path) == ("MR411", "/nonexistent")


def test_rules_given_twice_are_two_packs_named_after_their_directories(run_cli, tmp_path: Path,
                                                                       pack: Path) -> None:
    second = tmp_path / "roles"
    second.mkdir()
    (second / "roles.yaml").write_text(RULES.replace("LOCAL-001", "ROLES-001").replace("params.local_cap", "1800"),
                                       encoding="utf-8")
    data = data_dir(tmp_path, payout(), payout(payout_id="P-2", amount="2000.00"))
    result = run_cli("validate", data, "--pack", "core", "--rules", pack, "--rules", second, "--format", "json")
    assert result.code == 1, result.err
    report = json.loads(result.out)
    assert [item["name"] for item in report["packs"]] == ["core", "local", "roles"]
    [p2] = [record for record in report["records"] if record["key"] == "P-2"]
    assert {finding["rule"] for finding in p2["findings"]} == {"LOCAL-001", "ROLES-001"}


def test_two_rule_directories_of_the_same_name_get_distinct_names(tmp_path: Path) -> None:
    from mentorrules import Engine

    paths = []
    for parent in ("a", "b"):
        folder = tmp_path / parent / "rules"
        folder.mkdir(parents=True)
        (folder / "x.yaml").write_text(RULES.replace("LOCAL-001", f"{parent.upper()}-001").replace(
            "params.local_cap", "1500.00"), encoding="utf-8")
        paths.append(folder)
    engine = Engine.load(packs=[], rules=paths)
    assert [pack.name for pack in engine.packs] == ["core", "rules", "rules-2"]


# -- rule tests that cannot pass as written ----------------------------------------------------------
def test_an_expected_unknown_rule_is_reported_where_it_is_written(run_cli, pack: Path) -> None:
    (pack / "caps.test.yaml").write_text(TESTS.replace("expect: {P-1: []}", "expect: {P-1: [NOPE-1]}"),
                                         encoding="utf-8")
    result = run_cli("test", "--pack", "core", pack)
    assert result.code == 2
    assert "caps.test.yaml:7:18: MR140 P-1: the case expects the unknown rule 'NOPE-1'" in result.err
    assert "expected ['NOPE-1'], got none" not in result.out


def test_an_expected_rule_that_the_case_does_not_test_is_reported(run_cli, pack: Path) -> None:
    (pack / "caps.test.yaml").write_text(TESTS.replace("expect: {P-1: []}", "expect: {P-1: [STIPEND-001]}"),
                                         encoding="utf-8")
    result = run_cli("test", "--pack", "core", pack)
    assert result.code == 2
    assert "caps.test.yaml:7:18: MR142 P-1: the case expects STIPEND-001, which it does not test" in result.err
    # The counts cover the cases that could run; the summary says that problems were reported too.
    assert re.search(r" [0-9]+ passed, 0 failed in [0-9.]+s, and 1 problem in test files =", result.out), result.out


def test_the_test_summary_says_nothing_of_problems_when_there_are_none(run_cli, pack: Path) -> None:
    result = run_cli("test", "--pack", "core", pack)
    assert result.code == 0
    assert "problem" not in result.out


def test_lint_counts_in_the_singular_when_there_is_one(run_cli, pack: Path) -> None:
    (pack / "caps.yaml").write_text(RULES.split("    source:")[0], encoding="utf-8")
    result = run_cli("lint", "--pack", "core", pack)
    assert result.code == 1
    [summary] = [line for line in result.out.splitlines() if " rules in 2 packs: " in line]
    assert summary.endswith(": 1 problem, 0 warnings"), summary


def test_a_row_that_cannot_be_read_says_why_not_that_it_is_missing(run_cli, pack: Path) -> None:
    (pack / "caps.test.yaml").write_text(TESTS.replace('amount: "1000.00"', 'amount: "$5"'), encoding="utf-8")
    result = run_cli("test", "--pack", "core", pack)
    assert result.code == 1
    assert "P-1: payouts row 1 could not be read: column 'amount': '$5' is not a decimal amount" in result.out
    assert "no row has this key" not in result.out
