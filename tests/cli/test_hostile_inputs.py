"""Hostile inputs, one class at a time: each is a located problem (or a row problem) with its
exit code, never a traceback; nothing is written outside where it is asked to be; no control
character reaches the terminal; a masked value is never quoted. Files are made at test time."""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import Workbook

from tests.conftest import PAYOUT_COLUMNS, CliResult, csv_text, payout

RunCli = Callable[..., CliResult]
OWN_RULE = """\
rules:
  - id: LOCAL-001
    title: An amount is positive
    table: payouts
    require: payout.amount > 0
    message: "{payout.payout_id} is not positive"
    source: {title: test}
"""
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _no_traceback(result: CliResult) -> None:
    assert "Traceback" not in result.err and "Traceback" not in result.out
    assert "Exception ignored" not in result.err


# -- uncaught errors -------------------------------------------------------------------------------
def test_json_nested_100k_deep_is_a_file_problem(tmp_path: Path, run_command: RunCli) -> None:
    (tmp_path / "payouts.json").write_text("[" * 100_000 + "]" * 100_000)
    result = run_command("validate", tmp_path / "payouts.json")
    _no_traceback(result)
    assert result.code == 2 and "MR306" in result.err and "nested too deeply" in result.err


def test_a_jsonl_line_nested_too_deeply_is_an_error_row(tmp_path: Path, run_cli: RunCli) -> None:
    good = json.dumps(payout())
    (tmp_path / "payouts.jsonl").write_text(good + "\n" + "[" * 100_000 + "]" * 100_000 + "\n")
    result = run_cli("validate", tmp_path / "payouts.jsonl", "--format", "json")
    _no_traceback(result)
    records = json.loads(result.out)["records"]
    assert result.code == 1 and len(records) == 2 and "nested too deeply" in records[1]["findings"][0]["message"]


@pytest.mark.parametrize("number", ["1e999999999", "1e-999999999", "1.5E+400000000", "0.0000000000001"])
def test_a_json_number_of_huge_exponent_is_a_cell_problem(tmp_path: Path, run_cli: RunCli, number: str) -> None:
    text = json.dumps([payout()]).replace('"1000.00"', number)
    (tmp_path / "payouts.json").write_text(text)
    for kind in ("table", "json", "csv", "html"):
        result = run_cli("validate", tmp_path / "payouts.json", "--format", kind)
        _no_traceback(result)
        assert result.code == 1, result.err
        assert "amount" in result.out


def test_a_lone_surrogate_in_a_cell_is_a_cell_problem_in_every_format(tmp_path: Path, run_command: RunCli) -> None:
    text = json.dumps([payout(payout_id="P-\ud800", district="x\udc80")])  # JSON escapes: \ud800
    (tmp_path / "payouts.json").write_text(text)
    for kind in ("table", "json", "csv", "html", "xlsx"):
        output = tmp_path / f"report.{kind}"
        result = run_command("validate", tmp_path / "payouts.json", "--format", kind, "--output", output)
        _no_traceback(result)
        assert result.code == 1, result.err
        assert output.exists()
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["records"][0]["key"] == "P-\\ud800"
    assert "lone surrogate" in report["records"][0]["findings"][0]["message"]


def test_a_number_format_of_30_decimals_is_read(tmp_path: Path, run_cli: RunCli) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "payouts"
    sheet.append(list(PAYOUT_COLUMNS))
    sheet.append([1000.5 if name == "amount" else value for name, value in payout().items()])
    sheet.cell(row=2, column=PAYOUT_COLUMNS.index("amount") + 1).number_format = "0." + "0" * 30
    book.save(tmp_path / "payouts.xlsx")
    result = run_cli("validate", tmp_path / "payouts.xlsx", "--format", "json")
    _no_traceback(result)
    assert result.code in (0, 1) and json.loads(result.out)["summary"]["rows"] == 1


@pytest.mark.parametrize(("written", "said"), [
    ("7" * 4_000, "is too long"),
    ("1" + ":30" * 3_000, "base-60"),
    ("1" * 25, "is too long"),
], ids=["4,000 digits", "base 60", "25 digits"])
def test_a_huge_integer_in_a_parameter_file_is_refused_at_load(tmp_path: Path, run_cli: RunCli, written: str,
                                                              said: str) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "parameters.yaml").write_text(
        f"parameters:\n  big:\n    description: {written}\n    values:\n      2016-07-01: {written}\n")
    result = run_cli("lint", rules)
    _no_traceback(result)
    assert result.code == 2 and "MR104" in result.err and said in result.err


# -- paths and names -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["../../escaped", "/tmp/absolute", "a/b", "Oregon\x1b[2J"])
def test_a_pack_name_outside_the_id_alphabet_is_refused_and_docs_write_nothing(tmp_path: Path, run_cli: RunCli,
                                                                                name: str) -> None:
    rules = tmp_path / "pack" / "rules"
    rules.mkdir(parents=True)
    (rules / "pack.yaml").write_text(f"name: {json.dumps(name)}\nversion: '1'\n")
    (rules / "caps.yaml").write_text(OWN_RULE)
    output = tmp_path / "out" / "docs"
    result = run_cli("docs", "--rules", rules, "--output", output)
    _no_traceback(result)
    assert result.code == 2 and "MR415" in result.err
    assert "\x1b" not in result.err
    assert not output.exists() and not (tmp_path / "escaped.md").exists()


def test_a_folder_named_with_odd_characters_gives_a_pack_name_of_the_id_alphabet(tmp_path: Path,
                                                                                 run_cli: RunCli) -> None:
    rules = tmp_path / "My Rules (copy)"
    rules.mkdir()
    (rules / "dups.yaml").write_text(OWN_RULE)
    result = run_cli("docs", "--pack", "core", "--rules", rules, "--output", tmp_path / "docs")
    assert result.code == 0, result.err
    assert (tmp_path / "docs" / "my-rules-copy.md").is_file()


def test_a_symlink_leaving_the_pack_is_refused_not_followed(tmp_path: Path, run_cli: RunCli) -> None:
    secret = tmp_path / "elsewhere" / "secret.yaml"
    secret.parent.mkdir()
    secret.write_text("rules:\n  - id: SECRET-001\n    title: the secret line\n")
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "dups.yaml").write_text(OWN_RULE)
    (rules / "linked.yaml").symlink_to(secret)
    result = run_cli("lint", rules)
    _no_traceback(result)
    assert result.code == 2 and "MR415" in result.err and "linked.yaml" in result.err
    assert "the secret line" not in result.err + result.out


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_pipe_or_a_device_as_input_is_refused_at_once(tmp_path: Path, run_command: RunCli, kind: str) -> None:
    if kind == "fifo":
        path = tmp_path / "payouts.csv"
        os.mkfifo(path)  # nobody writes to it: reading it would block forever
    else:
        path = Path("/dev/zero")  # reading it would never end
    result = run_command("validate", path)
    _no_traceback(result)
    assert result.code == 2 and "MR300" in result.err and "not a regular file" in result.err


ESCAPES = "\x1b[2J\x1b[H\x1b]0;owned\x07\x9b31m\u202e"


def test_escape_sequences_in_the_data_never_reach_the_terminal(tmp_path: Path, run_command: RunCli) -> None:
    sneaky = "P-1" + ESCAPES + "all rows pass"
    (tmp_path / "payouts.csv").write_text(csv_text([payout(payout_id=sneaky, role="boss" + ESCAPES),
                                                    payout(payout_id="P-2", role="boss" + ESCAPES)]))
    for arguments in (("validate", tmp_path), ("explain", tmp_path, "--record", "payouts:P-2")):
        result = run_command(*arguments)
        _no_traceback(result)
        for stream in (result.out, result.err):
            assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]", stream), stream
        assert "\\x1b[2J" in result.out  # shown, escaped
    named = tmp_path / ("payouts" + "\x1b[31m" + ".csv")
    named.write_text("not,a,payout\n")
    result = run_command("validate", named)
    assert result.code == 2 and "\x1b" not in result.err and "\\x1b[31m" in result.err


# -- masking ---------------------------------------------------------------------------------------
LEAKY_RULE = """\
rules:
  - id: LEAK-001
    title: A payee's name is read as a date
    table: payouts
    require: date(payee.name) > date('2000-01-01')
    message: "{payout.payout_id} has a payee"
    source: {title: test}
"""


def test_masked_values_are_not_quoted_by_cannot_check_reasons_or_explain(tmp_path: Path, run_cli: RunCli) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "leak.yaml").write_text(LEAKY_RULE)
    names = [row.split(",")[1] for row in (EXAMPLES / "people.csv").read_text().splitlines()[1:]]
    for arguments in (("validate", EXAMPLES, "--format", "json"),
                      ("explain", EXAMPLES, "--record", "payouts:P-0001")):
        result = run_cli(*arguments, "--rules", rules, "--mask", "name,email")
        _no_traceback(result)
        assert "date() cannot take payee.name = [masked]" in result.out
        assert not any(name in result.out for name in names)


def test_a_message_naming_a_whole_fact_is_refused_at_load(tmp_path: Path, run_cli: RunCli) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "whole.yaml").write_text(LEAKY_RULE.replace('"{payout.payout_id} has a payee"', '"{payee} is paid"'))
    result = run_cli("validate", EXAMPLES, "--rules", rules)
    assert result.code == 2 and "MR208" in result.err and "whole fact 'payee'" in result.err


def test_an_xlsx_report_of_hostile_cells_is_a_whole_workbook(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "payouts.csv").write_text(csv_text([payout(payout_id="P-1" + ESCAPES)]))
    result = run_cli("validate", tmp_path, "--format", "xlsx", "--output", tmp_path / "r.xlsx")
    _no_traceback(result)
    with zipfile.ZipFile(tmp_path / "r.xlsx") as book:
        assert book.testzip() is None
