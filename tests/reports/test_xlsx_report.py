"""The XLSX report, written and read back with openpyxl: every sheet and row is there, no
text cell can run as a formula, and numbers and dates keep their types."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import report_payout
from openpyxl import load_workbook

from mentorrules import Engine
from mentorrules.model import Decision, Finding, Report, Severity, Source, Status
from mentorrules.reports import xlsx

PREFIXES = ["=", "+", "-", "@", "\t", "\r"]
PREFIX_NAMES = ["equals", "plus", "minus", "at", "tab", "carriage return"]




def typed_rows(engine: Engine, tables: dict[str, list[dict[str, str]]]) -> dict[str, list[dict[str, Any]]]:
    """The rows as the engine types them (Decimal amounts, dates), as the CLI would pass them."""
    return {name: [row.values for row in rows] for name, rows in engine.read(tables).tables.items()}


def read_back(path: Path) -> Any:
    return load_workbook(path)


def values(sheet: Any) -> list[list[Any]]:
    return [list(row) for row in sheet.iter_rows(values_only=True)]


# -- round trip ---------------------------------------------------------------------------------
def test_round_trip_has_every_sheet_and_every_input_row(engine: Engine, tmp_path: Path) -> None:
    tables = {"payouts": [report_payout("P-1", role="coach"), report_payout("P-2", amount="-5.00"),
                          report_payout("P-3"), report_payout("P-4", pay_date="not a date")],
              "people": [{"person_id": "T-1", "career_year": "1"}]}
    report = engine.validate(tables, as_of=dt.date(2025, 9, 1))
    path = tmp_path / "report.xlsx"
    xlsx.write(report, path, typed_rows(engine, tables), {rule.id: rule.title for rule in engine.rules})

    book = read_back(path)
    assert book.sheetnames == ["Summary", "Findings", "payouts", "people"]
    for table, rows in tables.items():
        assert book[table].max_row - 1 == len(rows)
    findings = values(book["Findings"])
    assert tuple(findings[0][:8]) == ("table", "row", "key", "status", "rule", "severity", "message", "source")
    assert len(findings) - 1 == sum(len(decision.findings) for decision in report.records)

    payouts = values(book["payouts"])
    header = payouts[0]
    statuses = [line[header.index("report status")] for line in payouts[1:]]
    assert statuses == [decision.status.value for decision in report.records_of("payouts")]
    assert [line[header.index("payout_id")] for line in payouts[1:]] == ["P-1", "P-2", "P-3", "P-4"]

    summary = {line[0]: line[1] for line in values(book["Summary"]) if line and line[0]}
    assert summary["digest"] == report.digest
    assert summary["rows"] == report.summary["rows"]
    assert summary["fail"] == report.summary["fail"]
    assert summary["Gallup"] == len(tables["payouts"])


def test_the_same_report_is_the_same_bytes_whenever_it_is_written(engine: Engine, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import time
    import zipfile

    tables = {"payouts": [report_payout("P-1"), report_payout("P-2", amount="-5.00")]}
    report = engine.validate(tables, as_of=dt.date(2025, 9, 1))
    first, second = tmp_path / "first.xlsx", tmp_path / "second.xlsx"
    xlsx.write(report, first, typed_rows(engine, tables))
    later = time.time() + 3 * 86400  # days later: another date in the zip entries and properties
    monkeypatch.setattr(time, "time", lambda: later)
    monkeypatch.setattr(time, "localtime", lambda seconds=None: time.gmtime(later))
    xlsx.write(report, second, typed_rows(engine, tables))
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert {entry.date_time for entry in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        # No Zip64 headers for parts that do not need them (Excel refuses unexpected ones).
        assert {entry.extract_version for entry in archive.infolist()} == {20}
        assert not any(entry.extra for entry in archive.infolist())
    book = read_back(first)
    assert book.properties.created == book.properties.modified == xlsx.FIXED_TIME
    assert sorted(path.name for path in tmp_path.iterdir()) == ["first.xlsx", "second.xlsx"]  # no leftovers


def test_negative_amounts_and_dates_keep_their_types(engine: Engine, tmp_path: Path) -> None:
    tables = {"payouts": [report_payout("P-1", amount="-5.00"), report_payout("P-2", amount="1000.5")],
              "people": [{"person_id": "T-1"}]}
    path = tmp_path / "report.xlsx"
    xlsx.write(engine.validate(tables, as_of=dt.date(2025, 9, 1)), path, typed_rows(engine, tables))

    sheet = read_back(path)["payouts"]
    header = [cell.value for cell in sheet[1]]
    amount = sheet.cell(row=2, column=header.index("amount") + 1)
    assert (amount.value, amount.data_type, amount.number_format) == (-5, "n", "0.00")
    assert sheet.cell(row=3, column=header.index("amount") + 1).value == pytest.approx(1000.5)
    pay_date = sheet.cell(row=2, column=header.index("pay_date") + 1)
    assert pay_date.is_date
    assert pay_date.value.date() == dt.date(2025, 9, 15)
    assert sheet.cell(row=2, column=header.index("report row") + 1).data_type == "n"


# -- formula injection --------------------------------------------------------------------------
@pytest.mark.parametrize("prefix", PREFIXES, ids=PREFIX_NAMES)
def test_text_starting_like_a_formula_is_neutralised(prefix: str, tmp_path: Path) -> None:
    payload = prefix + 'HYPERLINK("https://evil.test","x")'
    finding = Finding(payload, Severity.ERROR, payload, Source(payload, payload, payload), (payload,), (payload,))
    report = Report("0.1.0", (("core", "0.1.0"),), "sha256:0", (
        Decision("payouts", 1, payload, Status.FAIL, (finding,)),
        Decision("payouts", 2, "P-2", Status.PASS, ()),
    ), {"payouts": payload})
    rows = {"payouts": [{"payout_id": payload, payload: payload, "amount": Decimal("-5.00")},
                        {"payout_id": "P-2", payload: "-", "amount": Decimal("-0.01")}]}
    path = tmp_path / "report.xlsx"
    xlsx.write(report, path, rows, {payload: payload})

    book = read_back(path)
    text_cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row
                  if isinstance(cell.value, str)]
    assert not [cell.coordinate for cell in text_cells if cell.data_type == "f"]
    assert [cell.coordinate for cell in text_cells if cell.value.startswith((*PREFIXES, "\n"))] == []
    assert sum(cell.value.startswith("'") for cell in text_cells) >= 10
    amounts = [row[-1] for row in values(book["payouts"])[1:]]
    assert amounts == [-5, pytest.approx(-0.01)]


def test_only_web_links_become_hyperlinks(tmp_path: Path) -> None:
    web = Finding("R-1", Severity.ERROR, "m", Source("2 CFR 200.430", "(a)", "https://www.ecfr.gov/x?a=1&b=2"))
    script = Finding("R-2", Severity.ERROR, "m", Source("t", None, "javascript:alert(1)"))
    report = Report("0.1.0", (), "sha256:0", (Decision("payouts", 1, "P-1", Status.FAIL, (web, script)),))
    path = tmp_path / "report.xlsx"
    xlsx.write(report, path)

    sheet = read_back(path)["Findings"]
    column = xlsx.FINDINGS_HEADER.index("source") + 1
    links = [sheet.cell(row=row, column=column).hyperlink for row in (2, 3)]
    assert links[0] is not None
    assert links[0].target == "https://www.ecfr.gov/x?a=1&b=2"
    assert links[1] is None


# -- what Excel cannot hold ---------------------------------------------------------------------
def test_control_characters_long_cells_and_long_numbers_are_kept_visible(tmp_path: Path) -> None:
    long_text = "A" * 100_000
    report = Report("0.1.0", (), "sha256:0", (Decision("payouts", 1, "P\x00\x01-1", Status.PASS, ()),))
    rows = {"payouts": [{"note": long_text, "big": Decimal("12345678901234567.89"), "nan": float("nan"),
                         "when": dt.datetime(2025, 9, 15, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=-7))),
                         "school_years": ["2024-25", "2025-26"], "accrual": True}]}
    path = tmp_path / "report.xlsx"
    xlsx.write(report, path, rows)

    line = dict(zip(*values(read_back(path)["payouts"]), strict=True))
    assert len(line["note"]) == xlsx.MAX_CELL
    assert line["note"].endswith("[cut: 100,000 characters]")
    assert line["big"] == "12345678901234567.89"
    assert line["nan"] == "nan"
    assert line["when"] == dt.datetime(2025, 9, 15, 15, 30)
    assert line["school_years"] == "2024-25, 2025-26"
    assert line["accrual"] is True


def test_without_input_rows_each_table_lists_keys_and_statuses(tmp_path: Path) -> None:
    finding = Finding("STIPEND-002", Severity.ERROR, "amount -5.00 must be greater than 0")
    report = Report("0.1.0", (), "sha256:0", (
        Decision("payouts", 1, "-P-1", Status.FAIL, (finding,)),
        Decision("Findings", 1, "odd table name", Status.PASS, ()),
    ))
    path = tmp_path / "report.xlsx"
    xlsx.write(report, path)

    book = read_back(path)
    assert book.sheetnames == ["Summary", "Findings", "payouts", "Findings (2)"]
    assert values(book["payouts"]) == [["row", "key", "status", "rules"], [1, "'-P-1", "fail", "STIPEND-002"]]


# -- input sheets of the report -------------------------------------------------------------------
def test_the_reports_columns_do_not_collide_with_an_input_status_column(engine: Engine, tmp_path: Path) -> None:
    tables = {"payouts": [report_payout("P-1")], "people": [{"person_id": "T-1"}],
              "pairings": [{"pairing_id": "PR-1", "mentor_id": "T-1", "mentee_id": "T-2", "school_year": "2025-26",
                            "status": "active"}]}
    path = tmp_path / "report.xlsx"
    xlsx.write(engine.validate(tables, as_of=dt.date(2025, 9, 1)), path, typed_rows(engine, tables))
    header, line = values(read_back(path)["pairings"])
    assert header[:3] == list(xlsx.REPORT_COLUMNS)
    assert header.count("status") == 1
    assert line[header.index("status")] == "active"
    assert line[header.index("report status")] in ("pass", "fail")


def test_an_unreadable_cell_shows_as_written(engine: Engine, tmp_path: Path) -> None:
    tables = {"payouts": [report_payout("P-1", amount="$5", pay_date="not a date")]}
    path = tmp_path / "report.xlsx"
    xlsx.write(engine.validate(tables, as_of=dt.date(2025, 9, 1)), path, typed_rows(engine, tables))
    header, line = values(read_back(path)["payouts"])
    assert line[header.index("report status")] == "unreadable"
    assert (line[header.index("amount")], line[header.index("pay_date")]) == ("$5", "not a date")


def test_sheets_print_landscape_fit_to_width_and_findings_name_payee_district_amount(
        engine: Engine, tmp_path: Path) -> None:
    tables = {"payouts": [report_payout("P-1", role="coach", payee_id="T-7", district="Belen", amount="750.00")],
              "people": [{"person_id": "T-7", "career_year": "1"}]}
    report = engine.validate(tables, as_of=dt.date(2025, 9, 1))
    path = tmp_path / "report.xlsx"
    xlsx.write(report, path, typed_rows(engine, tables), {rule.id: rule.title for rule in engine.rules},
               run={"run on": "2026-06-30 09:00 UTC"})
    book = read_back(path)
    for name in ("Summary", "Findings", "payouts"):
        sheet = book[name]
        assert sheet.page_setup.orientation == "landscape"
        assert sheet.page_setup.fitToWidth == 1 and sheet.sheet_properties.pageSetUpPr.fitToPage
    assert book["Findings"].print_title_rows == "$1:$1"
    findings = values(book["Findings"])
    header = list(findings[0])
    assert header[-4:] == ["payee", "district", "amount", "line"]
    line = next(line for line in findings[1:] if line[header.index("rule")] == "STIPEND-001")
    assert (line[header.index("payee")], line[header.index("district")]) == ("T-7", "Belen")
    assert line[header.index("amount")] == 750
    summary = {line[0]: line[1] for line in values(book["Summary"]) if line and line[0]}
    assert summary["run on"] == "2026-06-30 09:00 UTC"
    # Only payouts and people were given: the Summary leads with the warning.
    assert str(values(book["Summary"])[1][0]).startswith("INCOMPLETE: ")
