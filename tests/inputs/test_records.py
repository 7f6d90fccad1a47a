"""Input files -> typed rows: every row comes out once, bad cells become error rows naming the
column, and files that cannot be read stop the run with exit code 2 and a message."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from conftest import PAYOUT_COLUMNS, csv_text, payout

ECHO_RULES = """\
rules:
  - id: ECHO-001
    title: Shows the amount as read
    table: payouts
    require: payout.amount < 0
    severity: info
    message: "amount {payout.amount}"
"""


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "people.csv").write_text("person_id\nT-1\n", encoding="utf-8")
    return folder


@pytest.fixture
def echo(tmp_path: Path) -> Path:
    path = tmp_path / "echo.yaml"
    path.write_text(ECHO_RULES, encoding="utf-8")
    return path


def report(run_cli, *args: str | Path) -> dict:
    result = run_cli("validate", *args, "--pack", "core", "--format", "json")
    assert result.code in (0, 1), result.err
    assert "Traceback" not in result.err
    return json.loads(result.out)


def records(run_cli, *args: str | Path, table: str = "payouts") -> list[dict]:
    return [record for record in report(run_cli, *args)["records"] if record["table"] == table]


def refused(run_cli, *args: str | Path) -> str:
    result = run_cli("validate", *args, "--pack", "core", "--format", "json")
    assert result.code == 2
    assert "Traceback" not in result.err
    assert result.out == ""
    return result.err


# -- CSV text ---------------------------------------------------------------------------------
@pytest.mark.parametrize("newline", [
    pytest.param("\n", id="LF newlines"),
    pytest.param("\r\n", id="CRLF newlines"),
    pytest.param("\r", id="old Mac CR newlines"),
])
@pytest.mark.parametrize("bom", [pytest.param("", id="no BOM"), pytest.param("\ufeff", id="a BOM")])
def test_csv_reads_with_any_newline_and_an_optional_bom(run_cli, data: Path, newline: str,
                                                        bom: str) -> None:
    text = bom + csv_text([payout(payout_id="P-1"), payout(payout_id="P-2")], newline=newline)
    (data / "payouts.csv").write_bytes(text.encode("utf-8"))
    found = records(run_cli, data)
    assert [(record["key"], record["status"]) for record in found] == [("P-1", "pass"), ("P-2", "pass")]


def test_csv_without_a_final_newline_keeps_the_last_row(run_cli, data: Path) -> None:
    (data / "payouts.csv").write_text(csv_text([payout(), payout(payout_id="P-2")]).rstrip("\n"),
                                      encoding="utf-8")
    assert [record["key"] for record in records(run_cli, data)] == ["P-1", "P-2"]


def test_a_quoted_cell_with_a_newline_is_one_row(run_cli, data: Path) -> None:
    text = csv_text([payout()]) + 'P-2,T-1,mentor,"two\nlines",XX,2025-26,2025-09-15,5.00\n'
    (data / "payouts.csv").write_text(text, encoding="utf-8")
    assert [record["key"] for record in records(run_cli, data)] == ["P-1", "P-2"]


def test_a_file_that_is_not_utf8_is_refused_with_exit_2(run_cli, data: Path) -> None:
    text = csv_text([payout(), payout(payout_id="P-2", program="Peñasco")])
    (data / "payouts.csv").write_bytes(text.encode("latin-1"))
    err = refused(run_cli, data)
    assert "payouts.csv: MR305 the file is not UTF-8" in err
    assert "save or export the file as UTF-8" in err


# -- bad rows and cells -------------------------------------------------------------------------
BAD_CELLS = [
    pytest.param("amount", "1,200", "'1,200' is not a decimal amount", id="an amount with a thousands comma"),
    pytest.param("amount", "$5", "'$5' is not a decimal amount", id="an amount with a dollar sign"),
    pytest.param("amount", "1e3", "'1e3' is not a decimal amount", id="an amount in exponent notation"),
    pytest.param("amount", "NaN", "'NaN' is not a decimal amount", id="NaN as an amount"),
    pytest.param("amount", "Infinity", "'Infinity' is not a decimal amount", id="Infinity as an amount"),
    pytest.param("amount", "12.5.0", "'12.5.0' is not a decimal amount", id="an amount with two dots"),
    pytest.param("pay_date", "2025-02-30", "'2025-02-30' is not a real date", id="February 30"),
    pytest.param("pay_date", "09/15/2025", "'09/15/2025' is not a date", id="a US-style date"),
    pytest.param("pay_date", "2025-9-15", "'2025-9-15' is not a date", id="a date without zero padding"),
    pytest.param("school_year", "2025/26", "'2025/26' is not valid here", id="a school year with a slash"),
    pytest.param("installment", "two", "'two' is not a whole number", id="an installment in words"),
    pytest.param("accrual", "maybe", "'maybe' is not true or false", id="a boolean that is neither"),
]


@pytest.mark.parametrize(("column", "value", "fragment"), BAD_CELLS)
def test_a_bad_cell_makes_an_error_row_naming_the_column(run_cli, data: Path, column: str,
                                                         value: str, fragment: str) -> None:
    columns = (*PAYOUT_COLUMNS, "installment", "accrual")
    bad = payout(payout_id="P-2", **{column: value})
    (data / "payouts.csv").write_text(csv_text([payout(), bad], columns=columns), encoding="utf-8")
    found = records(run_cli, data)
    assert [(record["key"], record["status"]) for record in found] == [("P-1", "pass"), ("P-2", "unreadable")]
    [finding] = found[1]["findings"]
    assert finding["rule"] == "MR310"
    assert finding["severity"] == "error"
    assert finding["message"].startswith(f"column {column!r}: {fragment}")


def test_every_bad_cell_of_a_row_is_reported(run_cli, data: Path) -> None:
    bad = payout(pay_date="2025-02-30", amount="$5")
    (data / "payouts.csv").write_text(csv_text([bad]), encoding="utf-8")
    [record] = records(run_cli, data)
    assert [finding["message"].split(":")[0] for finding in record["findings"]] == [
        "column 'pay_date'", "column 'amount'"]


@pytest.mark.parametrize(("row", "cells"), [
    pytest.param("P-2,T-1,mentor,X,XX,2025-26,2025-09-15", 7, id="a row with a cell missing"),
    pytest.param("P-2,T-1,mentor,X,XX,2025-26,2025-09-15,1,200", 9, id="a row with an unquoted comma"),
])
def test_a_ragged_row_is_an_error_row_not_a_lost_row(run_cli, data: Path, row: str, cells: int) -> None:
    text = csv_text([payout()]) + row + "\n" + csv_text([payout(payout_id="P-3")]).split("\n", 1)[1]
    (data / "payouts.csv").write_text(text, encoding="utf-8")
    found = records(run_cli, data)
    assert [(record["row"], record["status"]) for record in found] == [(1, "pass"), (2, "unreadable"), (3, "pass")]
    [finding] = found[1]["findings"]
    assert finding["rule"] == "MR311"
    assert f"the row has {cells} cells but the header has 8" in finding["message"]


def test_a_repeated_person_is_an_error_row(run_cli, data: Path) -> None:
    (data / "payouts.csv").write_text(csv_text([payout()]), encoding="utf-8")
    (data / "people.csv").write_text("person_id\nT-1\nT-1\n", encoding="utf-8")
    people = records(run_cli, data, table="people")
    assert [(record["row"], record["status"]) for record in people] == [(1, "pass"), (2, "unreadable")]
    assert people[1]["findings"][0]["message"].startswith("the key 'T-1' is repeated (first in row 1)")


def test_rows_in_equal_rows_out_for_every_table(run_cli, data: Path) -> None:
    rows = [payout(payout_id=f"P-{n}", amount=amount)
            for n, amount in enumerate(["10.00", "1,200", "-5", "", "abc", "7.50"], start=1)]
    text = csv_text(rows) + "P-7,T-9\n\n" + "P-8,T-1,coach,X,XX,2025-26,2025-09-15,5.00\n"
    (data / "payouts.csv").write_text(text, encoding="utf-8")
    (data / "people.csv").write_text("person_id,career_year\nT-1,2\nT-2,x\nT-1,3\n", encoding="utf-8")
    counted = report(run_cli, data)
    for table in ("payouts", "people"):
        with (data / f"{table}.csv").open(encoding="utf-8", newline="") as stream:
            rows_in = sum(1 for cells in list(csv.reader(stream))[1:] if cells)
        out = [record for record in counted["records"] if record["table"] == table]
        assert len(out) == rows_in
        assert [record["row"] for record in out] == list(range(1, rows_in + 1))
    assert counted["summary"]["rows"] == len(counted["records"]) == 8 + 3


# -- JSON and JSONL ----------------------------------------------------------------------------
def test_json_rows_read_numbers_as_exact_decimals(run_cli, data: Path, echo: Path) -> None:
    rows = [payout(payout_id="P-1"), payout(payout_id="P-2"), payout(payout_id="P-3")]
    text = json.dumps(rows).replace('"1000.00"', "100.10", 1).replace('"1000.00"', "0.3", 1)
    (data / "payouts.json").write_text(text, encoding="utf-8")
    found = records(run_cli, data, "--rules", echo)
    assert [f["message"] for record in found for f in record["findings"] if f["rule"] == "ECHO-001"] == [
        "amount 100.10", "amount 0.3", "amount 1000.00"]


def test_json_rows_may_be_wrapped_in_an_object(run_cli, data: Path) -> None:
    (data / "payouts.json").write_text(json.dumps({"payouts": [payout()]}), encoding="utf-8")
    assert [record["key"] for record in records(run_cli, data)] == ["P-1"]


def test_a_json_row_that_is_not_an_object_is_an_error_row(run_cli, data: Path) -> None:
    (data / "payouts.json").write_text(json.dumps([payout(), "P-2", [1, 2]]), encoding="utf-8")
    found = records(run_cli, data)
    assert [record["status"] for record in found] == ["pass", "unreadable", "unreadable"]
    assert found[1]["findings"][0]["message"] == "the row is str, not an object"


def test_json_that_cannot_be_parsed_is_refused_with_its_line(run_cli, data: Path) -> None:
    (data / "payouts.json").write_text('[\n  {"payout_id": "P-1",}\n]\n', encoding="utf-8")
    err = refused(run_cli, data)
    assert "payouts.json:2:" in err
    assert "MR306 the file is not valid JSON" in err


def test_jsonl_skips_blank_lines_and_keeps_bad_lines_as_error_rows(run_cli, data: Path) -> None:
    lines = [json.dumps(payout()), "", "{not json", json.dumps(payout(payout_id="P-2")), "   "]
    (data / "payouts.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = records(run_cli, data)
    assert [(record["row"], record["key"], record["status"]) for record in found] == [
        (1, "P-1", "pass"), (2, "", "unreadable"), (3, "P-2", "pass")]
    assert found[1]["findings"][0]["message"].startswith("the line is not valid JSON")


def test_json_nan_is_an_error_row(run_cli, data: Path) -> None:
    (data / "payouts.jsonl").write_text(json.dumps(payout()).replace('"1000.00"', "NaN") + "\n",
                                        encoding="utf-8")
    [record] = records(run_cli, data)
    assert record["status"] == "unreadable"


# -- files that stop the run -----------------------------------------------------------------
def test_a_missing_required_column_exits_2_naming_it(run_cli, data: Path) -> None:
    columns = tuple(name for name in PAYOUT_COLUMNS if name != "pay_date")
    (data / "payouts.csv").write_text(csv_text([payout()], columns=columns), encoding="utf-8")
    err = refused(run_cli, data)
    assert "payouts.csv: MR302 the table 'payouts' has no column 'pay_date'" in err


def test_a_data_set_without_payouts_exits_2(run_cli, data: Path) -> None:
    err = refused(run_cli, data)
    assert "MR301 no payouts table was found" in err
    assert "name the payout file after its table, e.g. payouts.csv" in err


def test_a_missing_file_exits_2(run_cli, tmp_path: Path) -> None:
    err = refused(run_cli, tmp_path / "payouts.csv")
    assert "payouts.csv: MR300 no such file or directory" in err


def test_a_file_that_names_no_table_exits_2(run_cli, tmp_path: Path) -> None:
    (tmp_path / "stipends.csv").write_text(csv_text([payout()]), encoding="utf-8")
    err = refused(run_cli, tmp_path / "stipends.csv")
    assert "MR300 the file name does not name a table" in err


def test_a_repeated_header_makes_every_row_an_error_row_that_keeps_its_key(run_cli, data: Path) -> None:
    (data / "payouts.csv").write_text(csv_text([payout()], columns=(*PAYOUT_COLUMNS, "amount")),
                                      encoding="utf-8")
    result = run_cli("validate", data, "--format", "json")
    assert result.code == 1
    records = json.loads(result.out)["records"]
    payouts = [record for record in records if record["table"] == "payouts"]
    assert len(payouts) == 1 and payouts[0]["status"] == "unreadable" and payouts[0]["key"]
    assert "the header names 'amount' more than once" in payouts[0]["findings"][0]["message"]


def test_an_unknown_pack_exits_2(run_cli, data: Path) -> None:
    (data / "payouts.csv").write_text(csv_text([payout()]), encoding="utf-8")
    result = run_cli("validate", data, "--pack", "atlantis")
    assert result.code == 2
    assert "Traceback" not in result.err
    assert "MR401 unknown pack 'atlantis'" in result.err


def test_the_library_reads_rows_given_as_mappings(core_engine) -> None:
    report_ = core_engine.validate({"payouts": [payout(), payout(payout_id="P-2", amount="1,200")],
                                    "people": [{"person_id": "T-1"}]})
    assert [(d.key, d.status.value) for d in report_.decisions] == [
        ("P-1", "pass"), ("P-2", "unreadable"), ("T-1", "pass")]


def test_csv_report_is_readable_back_with_one_line_per_row(run_cli, data: Path) -> None:
    (data / "payouts.csv").write_text(csv_text([payout(), payout(payout_id="P-2", amount="1,200")]),
                                      encoding="utf-8")
    result = run_cli("validate", data, "--pack", "core", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert [(row["table"], row["key"], row["status"]) for row in rows] == [
        ("payouts", "P-1", "pass"), ("payouts", "P-2", "unreadable"), ("people", "T-1", "pass")]
