"""The batch path's shortcuts give the same report as the plain way, on every row.

Large files are validated in passes (payouts streamed from CSV, read again per pass), batch
rules fold rows into compact group state through generated code, and a generated screen skips
rows that cannot fail. Each shortcut is checked here against the plain way on the example data
and on generated data with defects.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from mentorrules import Engine
from mentorrules.inputs.reading import Rows, StreamedRows

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
AS_OF = dt.date(2026, 1, 1)
sys.path.insert(0, str(ROOT / "bench"))

from generate import generate  # noqa: E402  (bench/ is not a package)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.load()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("generated")
    generate(directory, payouts=3_000, seed=5, violations=0.08)
    return directory


@pytest.fixture(scope="module")
def unreadable(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated data with payout rows that cannot be read, so that error rows take every path."""
    directory = tmp_path_factory.mktemp("unreadable")
    shutil.copytree(generated, directory, dirs_exist_ok=True)
    with (directory / "payouts.csv").open("a", encoding="utf-8") as payouts:
        payouts.write("P-BAD-1,T-000001,mentor,NM_PILOT,NM,Belen,2025-26,2025-13-01,,,1\u00a0000,1,state,,,\n")
        payouts.write("P-BAD-2,T-000001,mentor\n")
    return directory


@pytest.fixture(params=["examples", "generated", "unreadable"])
def data(request: pytest.FixtureRequest) -> Path:
    return EXAMPLES if request.param == "examples" else request.getfixturevalue(request.param)


def records(engine: Engine, source: Any) -> list[dict[str, Any]]:
    return engine.validate(source, as_of=AS_OF).to_dict()["records"]


def as_rows(engine: Engine, data: Path) -> dict[str, list[dict[str, Any]]]:
    """The same data set as rows in memory (the library's way), from the typed rows of the files."""
    return {name: [row.values.as_dict() for row in rows] for name, rows in engine.read(data).tables.items()}


def test_payouts_from_csv_are_streamed_and_people_are_held(engine: Engine) -> None:
    dataset = engine.read(EXAMPLES)
    assert isinstance(dataset.tables["payouts"], StreamedRows)
    assert isinstance(dataset.tables["people"], Rows)


@pytest.mark.parametrize("name", ["examples", "generated"])
def test_a_streamed_table_gives_the_report_of_the_same_rows_in_memory(engine: Engine, name: str,
                                                                      request: pytest.FixtureRequest) -> None:
    data = EXAMPLES if name == "examples" else request.getfixturevalue(name)
    from_file = records(engine, data)
    assert all(record["line"] == record["row"] + 1 for record in from_file if record["table"] != "group")
    # Rows given by a program have no lines; everything else is the same.
    assert records(engine, as_rows(engine, data)) == [{k: v for k, v in record.items() if k != "line"}
                                                      for record in from_file]


def test_the_fast_batch_path_gives_the_findings_of_the_slow_one(engine: Engine, data: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    fast = records(engine, data)
    for rule in engine.batch_rules:  # without the generated fold and screen: members, one by one
        monkeypatch.setattr(rule, "fold", None)
        monkeypatch.setattr(rule, "screen", None)
    assert records(engine, data) == fast


def test_every_row_of_every_table_is_reported_once_in_order(engine: Engine, data: Path) -> None:
    report = records(engine, data)
    for name, rows in engine.read(data).tables.items():
        assert [(r["row"], r["key"]) for r in report if r["table"] == name] == \
            [(row.number, row.key) for row in rows], name


def test_a_changed_file_between_passes_is_a_plain_problem(engine: Engine, tmp_path: Path) -> None:
    from mentorrules import MentorRulesError

    copy = tmp_path / "data"
    shutil.copytree(EXAMPLES, copy)
    dataset = engine.read(copy)
    (copy / "payouts.csv").unlink()
    with pytest.raises(MentorRulesError) as raised:
        engine.validate(dataset, as_of=AS_OF)
    assert raised.value.problems[0].code == "MR300"


# -- tables not given --------------------------------------------------------------------------------
def examples_without(tmp_path: Path, *tables: str) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(EXAMPLES, folder, ignore=shutil.ignore_patterns(*(f"{table}.*" for table in tables)))
    return folder


def test_a_table_not_given_leaves_the_rules_that_read_it_unchecked_and_the_report_says_so(
        engine: Engine, tmp_path: Path) -> None:
    report = engine.validate(examples_without(tmp_path, "attendance"), as_of=AS_OF).to_dict()
    assert report["not_checked"] == [{"rule": "NMP-006", "tables": ["attendance"]}]
    assert not [f for record in report["records"] for f in record["findings"] if f["rule"] == "NMP-006"]


def test_a_table_given_without_rows_is_empty_and_its_rules_run(engine: Engine, tmp_path: Path) -> None:
    folder = examples_without(tmp_path, "attendance")
    (folder / "attendance.csv").write_text("person_id,session_id,program,school_year,date,attended\n")
    report = engine.validate(folder, as_of=AS_OF).to_dict()
    assert "not_checked" not in report
    assert [f for record in report["records"] for f in record["findings"] if f["rule"] == "NMP-006"]


def test_every_rule_runs_on_the_whole_example_data_set(engine: Engine) -> None:
    assert "not_checked" not in engine.validate(EXAMPLES, as_of=AS_OF).to_dict()


def test_the_cli_names_the_rules_not_checked_in_the_table_report_and_on_stderr(run_cli, tmp_path: Path) -> None:
    folder = examples_without(tmp_path, "attendance", "pairings")
    table = run_cli("validate", folder, "--as-of", "2026-01-01")
    assert "Not checked: these rules read a table that was not given" in table.out
    lines = table.out.splitlines()
    # Under the tables they lack, each rule by id and title.
    missing = lines.index("  missing attendance:")
    assert lines[missing + 1].split()[0] == "NMP-006" and "training sessions" in lines[missing + 1]
    assert table.err == ""
    json_report = run_cli("validate", folder, "--as-of", "2026-01-01", "--format", "json")
    assert json_report.err.startswith("mentorrules: not checked, these rules read a table that was not given: ")
    assert "attendance: NMP-006" in json_report.err and "NMP-007" in json_report.err


def test_one_record_evaluated_alone_sees_every_table_it_is_not_given_as_empty(engine: Engine) -> None:
    decision = engine.evaluate({"payout_id": "P-1", "payee_id": "T-9", "role": "mentor", "program": "NM_PILOT",
                                "state": "NM", "school_year": "2025-26", "pay_date": "2025-09-15",
                                "amount": "1000.00"}, as_of=AS_OF)
    assert "STIPEND-003" in {finding.rule for finding in decision.findings}  # T-9 is not in (empty) people


def test_explain_lists_the_rules_of_the_row_that_were_not_checked(run_cli, tmp_path: Path) -> None:
    folder = examples_without(tmp_path, "attendance")
    result = run_cli("explain", folder, "--record", "payouts:P-0009", "--as-of", "2026-01-01")
    assert "Traceback" not in result.err
    [line] = [line for line in result.out.splitlines() if "not checked" in line]
    assert line.split()[:3] == ["NMP-006", "not", "checked"] and line.endswith("(not given: attendance)")


@pytest.mark.parametrize("kind", ["html", "xlsx"])
def test_the_html_and_xlsx_summaries_list_the_rules_not_checked(run_cli, tmp_path: Path, kind: str) -> None:
    output = tmp_path / f"report.{kind}"
    result = run_cli("validate", examples_without(tmp_path, "attendance"), "--as-of", "2026-01-01",
                     "--format", kind, "--output", output)
    assert result.code == 1, result.err
    if kind == "html":
        assert '<div id="not-checked">' in output.read_text("utf-8")
        assert "<li>attendance: NMP-006</li>" in output.read_text("utf-8")
    else:
        from openpyxl import load_workbook

        summary = load_workbook(output)["Summary"]
        assert ["not checked (no attendance)", "NMP-006"] in [[cell.value for cell in row[:2]] for row in summary.rows]


def test_a_state_rule_on_pairings_needs_the_districts_its_rows_take_their_state_from(engine: Engine) -> None:
    # A pairing without a state takes its district's: without districts its state may not be known.
    given = ["payouts", "people", "pairings", "attendance", "grants", "contributions"]
    assert engine.not_checked(given)["ASMP-002"] == ("districts",)
    assert "STIPEND-003-PAIRING" not in engine.not_checked(given)  # a core rule needs no state


def test_a_lookup_of_passing_rows_needs_what_the_rules_it_names_need(engine: Engine) -> None:
    # ASMP-010 counts only contributions that pass CS-005 and CS-007, which read grants.
    given = ["payouts", "people", "pairings", "attendance", "districts", "contributions"]
    assert engine.not_checked(given)["ASMP-010"] == ("grants",)


def test_diff_on_partial_data_says_which_rules_could_not_run(run_cli, tmp_path: Path) -> None:
    folder = tmp_path / "caps"
    folder.mkdir()
    nm = ROOT / "plugins" / "new_mexico" / "src" / "mentorrules_new_mexico" / "rules"
    shutil.copy(nm / "yearly_limits.parameters.yaml", folder)
    data = examples_without(tmp_path, "attendance")
    text = run_cli("diff", data, "--after", folder, "--as-of", "2026-01-01").out
    assert "not checked (tables not given: attendance): NMP-006" in text
    import json

    report = json.loads(run_cli("diff", data, "--after", folder, "--format", "json", "--as-of", "2026-01-01").out)
    assert report["after"]["not_checked"] == [{"rule": "NMP-006", "tables": ["attendance"]}]


def test_explain_of_a_table_that_was_not_given_says_so(run_cli, tmp_path: Path) -> None:
    result = run_cli("explain", examples_without(tmp_path, "pairings"), "--record", "pairings:PR-0001")
    assert result.code == 2
    assert "MR312 no pairings table was given" in result.err


def test_complete_makes_a_table_not_given_an_input_problem(run_cli, tmp_path: Path) -> None:
    folder = examples_without(tmp_path, "attendance")
    result = run_cli("validate", folder, "--complete", "--as-of", "2026-01-01")
    assert result.code == 2 and result.out == ""
    assert "MR309 the table attendance was not given, and --complete asks for every rule to run" in result.err
    assert run_cli("validate", EXAMPLES, "--complete", "--as-of", "2026-01-01").code == 1  # every table: it runs
