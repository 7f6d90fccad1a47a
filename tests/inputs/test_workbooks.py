"""Workbooks as input: what the spreadsheet shows is what is read, formulas without a saved value
are error rows, and the reports mentorrules writes are never read back as input."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from mentorrules import Engine

HEADER = ["payout_id", "payee_id", "role", "program", "state", "school_year", "pay_date", "amount"]


def workbook(path: Path, *rows: list[Any], formats: dict[str, str] | None = None) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = "payouts"
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    for coordinate, number_format in (formats or {}).items():
        sheet[coordinate].number_format = number_format
    people = book.create_sheet("people")
    people.append(["person_id"])
    people.append(["T-1"])
    book.save(path)
    return path


def row(payout_id: str, amount: Any) -> list[Any]:
    return [payout_id, "T-1", "mentor", "X", "XX", "2025-26", dt.datetime(2025, 9, 15), amount]


def test_amounts_keep_two_places_or_the_places_their_format_shows(tmp_path: Path) -> None:
    path = workbook(tmp_path / "data.xlsx", row("P-1", 2000), row("P-2", 3500.1), row("P-3", 12.5),
                    row("P-4", 0.125), formats={"H4": "#,##0.000"})
    amounts = [r.values["amount"] for r in Engine.load(packs=[]).read([path]).tables["payouts"]]
    assert [str(amount) for amount in amounts] == ["2000.00", "3500.10", "12.500", "0.125"]
    assert all(isinstance(amount, Decimal) for amount in amounts)


def test_a_message_shows_a_spreadsheet_amount_as_money(run_cli, tmp_path: Path) -> None:
    path = workbook(tmp_path / "data.xlsx", row("P-1", -2000))
    result = run_cli("validate", path, "--pack", "core", "--format", "json", "--as-of", "2025-09-01")
    [record] = [r for r in json.loads(result.out)["records"] if r["key"] == "P-1"]
    assert any("-2000.00" in finding["message"] for finding in record["findings"]), record


def test_a_formula_without_a_saved_value_makes_an_error_row_naming_it(run_cli, tmp_path: Path) -> None:
    path = workbook(tmp_path / "data.xlsx", row("P-1", "=SUM(1000,500)"), row("P-2", 1000))
    result = run_cli("validate", path, "--pack", "core", "--format", "json", "--as-of", "2025-09-01")
    assert result.code == 1, result.err
    records = {r["key"]: r for r in json.loads(result.out)["records"] if r["table"] == "payouts"}
    assert records["P-1"]["status"] == "unreadable"
    assert "the formula in 'amount' (=SUM(1000,500)) has no saved value" in records["P-1"]["findings"][0]["message"]
    assert records["P-2"]["status"] == "pass"


def test_a_report_written_into_the_data_folder_is_not_read_back(run_cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    workbook(data / "payouts.xlsx", row("P-1", 1000))
    first = run_cli("validate", data, "--pack", "core", "--format", "xlsx", "--output", data / "report.xlsx",
                    "--as-of", "2025-09-01")
    assert first.code == 0, first.err
    again = run_cli("validate", data, "--pack", "core", "--format", "json", "--as-of", "2025-09-01")
    assert again.code == 0, again.err
    report = json.loads(again.out)
    assert report["summary"]["rows"] == 2  # the payout and its payee, once
    assert "MR303" not in again.err


def test_a_report_named_as_input_is_refused_as_a_report(run_cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    workbook(data / "payouts.xlsx", row("P-1", 1000))
    report = tmp_path / "report.xlsx"
    first = run_cli("validate", data, "--pack", "core", "--format", "xlsx", "--output", report,
                    "--as-of", "2025-09-01")
    assert first.code == 0, first.err
    again = run_cli("validate", report, "--pack", "core")
    assert again.code == 2
    assert again.out == ""
    assert "report.xlsx: MR308 this is a mentorrules report, not input data" in again.err
    assert f"= help: validate the input files it was made from: {data / 'payouts.xlsx'}" in again.err
    assert "MR301" not in again.err


def test_a_sheet_whose_header_lacks_a_required_column_is_refused_even_without_rows(run_cli, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    path = workbook(tmp_path / "data.xlsx", row("P-1", 2000))
    book = load_workbook(path)
    book.create_sheet("attendance").append(["who", "when"])  # not the attendance table's columns
    book.save(path)
    result = run_cli("validate", path, "--pack", "core")
    assert result.code == 2
    assert f"{path}[attendance]: MR302 the table 'attendance' has no column 'person_id'" in result.err
