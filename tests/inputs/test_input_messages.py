"""Input messages that fix the file: each mistake a finance officer makes exporting by hand is
built from a copy of examples/ at test time, and the message, the exit code and the rows are
checked. Nothing is guessed: a file that cannot be read as it is is refused."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from collections.abc import Callable
from html import escape as html_escape
from pathlib import Path

import pytest
from openpyxl import Workbook

from tests.conftest import CliResult

RunCli = Callable[..., CliResult]
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A copy of the example data set, to spoil."""
    folder = tmp_path / "data"
    folder.mkdir()
    for path in EXAMPLES.glob("*.csv"):
        shutil.copy(path, folder / path.name)
    return folder


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _write(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


def test_a_misspelt_column_is_told_to_be_renamed(data: Path, run_cli: RunCli) -> None:
    rows = _rows(data / "payouts.csv")
    rows[0][rows[0].index("amount")] = "amout"
    _write(data / "payouts.csv", rows)
    result = run_cli("validate", data)
    assert result.code == 2
    assert "MR302 the table 'payouts' has no column 'amount'" in result.err
    assert "help: rename 'amout' to 'amount'" in result.err


def test_a_csv_header_below_title_lines_is_found_and_named(data: Path, run_cli: RunCli) -> None:
    text = (data / "payouts.csv").read_text(encoding="utf-8")
    (data / "payouts.csv").write_text("Payouts June 2026,,\n,,\n" + text, encoding="utf-8")
    result = run_cli("validate", data)
    assert result.code == 2
    assert "the header is on row 3, below 2 title rows" in result.err
    assert "delete rows 1-2" in result.err
    assert "no column" not in result.err  # the columns are all there


def test_a_sheet_header_below_a_title_line_is_found_and_named(data: Path, run_cli: RunCli) -> None:
    rows = _rows(data / "payouts.csv")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "payouts"
    sheet.append(["Stipend payouts, exported 2026-06-30"])
    for row in rows:
        sheet.append(row)
    (data / "payouts.csv").unlink()
    book.save(data / "payouts.xlsx")
    result = run_cli("validate", data)
    assert result.code == 2
    assert "the header is on row 2, below 1 title row" in result.err and "delete row 1," in result.err


def test_a_file_named_nearly_after_a_table_is_listed_as_ignored_with_a_did_you_mean(data: Path,
                                                                                    run_cli: RunCli) -> None:
    (data / "pairings.csv").rename(data / "pairing.csv")
    result = run_cli("validate", data)
    assert result.code == 1
    assert "ignored: " in result.out and "pairing.csv: its name names no table: did you mean 'pairings.csv'?" \
        in result.out
    report = json.loads(run_cli("validate", data, "--format", "json").out)
    assert report["ignored"] == [{"file": str(data / "pairing.csv"),
                                  "why": "its name names no table: did you mean 'pairings.csv'?"}]
    assert str(data / "payouts.csv") in report_sources(run_cli, data)


def report_sources(run_cli: RunCli, data: Path) -> str:
    return run_cli("validate", data).out.split("\n\n")[0]


def test_a_workbook_without_a_table_sheet_in_the_folder_is_ignored_with_a_note(data: Path, run_cli: RunCli) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Budget"
    sheet.append(["line", "amount"])
    book.save(data / "december budget.xlsx")
    result = run_cli("validate", data)
    assert result.code == 1, result.err  # the run goes on
    assert "december budget.xlsx: the workbook has no sheet named after a table" in result.out


def test_two_files_for_a_table_are_all_named(data: Path, run_cli: RunCli) -> None:
    shutil.copy(data / "payouts.csv", data / "payouts-june.csv")
    shutil.copy(data / "payouts.csv", data / "payouts_copy.csv")
    result = run_cli("validate", data)
    assert result.code == 2
    assert "MR303 3 files hold the table 'payouts'" in result.err
    for name in ("payouts.csv", "payouts-june.csv", "payouts_copy.csv"):
        assert name in result.err


def _us_dates(data: Path, count: int) -> list[tuple[int, str, str]]:
    """Write the first ``count`` pay dates as M/D/YYYY; gives (line, written, ISO) of each."""
    rows = _rows(data / "payouts.csv")
    column = rows[0].index("pay_date")
    changed = []
    for line, row in enumerate(rows[1:count + 1], start=2):
        year, month, day = row[column].split("-")
        written = f"{int(month)}/{int(day)}/{year}"
        changed.append((line, written, row[column]))
        row[column] = written
    _write(data / "payouts.csv", rows)
    return changed


def test_us_dates_are_summarised_once_per_column_before_the_rows(data: Path, run_cli: RunCli) -> None:
    changed = _us_dates(data, 113)
    line, written, iso = changed[0]
    summary = f"payouts.pay_date: 113 cells are written M/D/YYYY, e.g. line {line} '{written}' -> {iso}"
    result = run_cli("validate", data)
    assert result.code == 1
    assert result.out.count(summary) == 1
    assert result.out.index(summary) < result.out.index("UNREADABLE payouts row 1 (line 2)")
    html = run_cli("validate", data, "--format", "html").out
    assert html_escape(summary) in html
    assert html.index("input-notes") < html.index('class="decision"')
    assert json.loads(run_cli("validate", data, "--format", "json").out)["notes"] == [summary]


def test_a_needed_column_of_currency_amounts_is_one_input_problem(data: Path, run_cli: RunCli) -> None:
    rows = _rows(data / "payouts.csv")
    column = rows[0].index("amount")
    for row in rows[1:]:
        row[column] = f"${float(row[column]):,.2f}"
    first = rows[1][column]
    _write(data / "payouts.csv", rows)
    result = run_cli("validate", data)
    assert result.code == 2
    assert result.err.count("MR314") == 1
    assert (f"payouts.amount: {len(rows) - 1} cells are written with a currency sign or separators, "
            f"e.g. line 2 '{first}' -> {first.replace('$', '').replace(',', '')}") in result.err
    assert "row 1" not in result.out  # no per-row detail: the file is refused


def test_the_line_is_the_spreadsheet_row_in_every_format(data: Path, run_cli: RunCli) -> None:
    rows = _rows(data / "payouts.csv")
    rows.insert(50, [])  # a blank line: the spreadsheet still numbers it
    _write(data / "payouts.csv", rows)
    report = json.loads(run_cli("validate", data, "--format", "json").out)
    payouts = [record for record in report["records"] if record["table"] == "payouts"]
    assert payouts[47]["row"] == 48 and payouts[47]["line"] == 49
    assert payouts[48]["row"] == 49 and payouts[48]["line"] == 50
    assert payouts[49]["row"] == 50 and payouts[49]["line"] == 52  # after the blank line 51
    text = run_cli("validate", data).out
    failing = next(record for record in payouts if record["row"] > 49 and record["status"] == "fail")
    assert f"payouts row {failing['row']} (line {failing['line']})  {failing['key']}" in text
    lines = list(csv.DictReader(run_cli("validate", data, "--format", "csv").out.splitlines()))
    assert lines[49]["line"] == "52"


def test_the_line_of_a_sheet_row_is_the_sheet_row_number(tmp_path: Path, run_cli: RunCli) -> None:
    rows = _rows(EXAMPLES / "payouts.csv")[:6]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "payouts"
    sheet.append(rows[0])
    sheet.append(rows[1])
    sheet.append([])  # an empty sheet row: skipped, still counted
    for row in rows[2:]:
        sheet.append(row)
    book.save(tmp_path / "payouts.xlsx")
    report = json.loads(run_cli("validate", tmp_path / "payouts.xlsx", "--format", "json").out)
    assert [(record["row"], record["line"]) for record in report["records"]] == [(1, 2), (2, 4), (3, 5), (4, 6),
                                                                                 (5, 7)]


def test_make_with_an_interpreter_not_on_path_says_how_to_point_at_it() -> None:
    done = subprocess.run(["make", "-n", "demo", "PYTHON=python9.99"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "python9.99 does not run here" in done.stderr and "PYTHON=" in done.stderr
