"""A compliance tool cannot be broken or fooled by a bad file.

One payout file per input format (CSV, JSON, JSONL, XLSX) holds a good row and a row per
hostile cell or row (odd numbers, impossible dates, NUL bytes, 1 MB cells, quoted newlines,
ragged rows, rows that are not objects, Excel serial dates, ...). Run through
``mentorrules validate`` in every output format (table, json, csv, html, xlsx), each file gives:

- exit code 1 and no traceback;
- exactly one record per input row, in input order (rows in = rows out);
- an error row for each unreadable row, whose message names its column (the record names the
  row), and no error for the odd cells that are readable (`` 5 ``, ``-0``, ``.5``).

Whole-file problems (UTF-16, Latin-1, an empty file, a damaged workbook) are one located problem
and exit code 2; a file with a header and no rows is an empty report with exit code 0.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from mentorrules import Engine, MentorRulesError

COLUMNS = ("payout_id", "payee_id", "role", "program", "state", "school_year", "pay_date", "amount",
           "installment")
GOOD = {"payout_id": "", "payee_id": "T-1", "role": "mentor", "program": "X", "state": "XX",
        "school_year": "2025-26", "pay_date": "2025-09-15", "amount": "1000.00", "installment": "1"}
INPUTS = ("csv", "json", "jsonl", "xlsx")
OUTPUTS = ("table", "json", "csv", "html", "xlsx")
TEXT_INPUTS = frozenset({"csv", "json", "jsonl"})  # an .xlsx cannot hold a NUL byte or other encodings


class Number:
    """A cell written as a number, not as text: a JSON number (its text as given) or a workbook number."""

    def __init__(self, json_text: str, xlsx_value: Any = None) -> None:
        self.json_text = json_text
        self.xlsx_value = xlsx_value


@dataclass(frozen=True)
class Hostile:
    """One hostile row: the good row with ``cells`` changed (or, with ``raw``, a row that is not a
    row of cells at all); ``column`` is the column an error row's message names, None when the
    row is readable, "" when the row is an error row as a whole."""

    sentence: str
    cells: dict[str, Any]
    column: str | None
    formats: frozenset[str] = frozenset(INPUTS)
    raw: Any = None


def only(*formats: str) -> frozenset[str]:
    return frozenset(formats)


HOSTILE = [
    # -- numbers in every odd form --------------------------------------------------------------------
    Hostile("an amount with a thousands separator", {"amount": "1,000.00"}, "amount"),
    Hostile("an amount with a currency sign", {"amount": "$5"}, "amount"),
    Hostile("an amount with an exponent", {"amount": "1e3"}, "amount"),
    Hostile("an amount that is NaN", {"amount": "NaN"}, "amount"),
    Hostile("an amount that is Infinity", {"amount": "Infinity"}, "amount"),
    Hostile("an amount in hexadecimal", {"amount": "0x10"}, "amount"),
    Hostile("an amount in full-width digits", {"amount": "\uff11\uff12"}, "amount"),
    Hostile("an amount in Arabic-Indic digits", {"amount": "\u0663"}, "amount"),
    Hostile("an amount of 19 digits", {"amount": "1" * 19}, "amount"),
    Hostile("an amount with two points", {"amount": "1.2.3"}, "amount"),
    Hostile("an amount of minus zero is read", {"amount": "-0"}, None),
    Hostile("an amount with spaces around it is read", {"amount": " 5 "}, None),
    Hostile("an amount ending in a point is read", {"amount": "5."}, None),
    Hostile("an amount starting with a point is read", {"amount": ".5"}, None),
    Hostile("an amount with a plus sign is read", {"amount": "+5"}, None),
    Hostile("an empty amount is read as missing", {"amount": ""}, None),
    Hostile("an installment with a fraction", {"installment": "1.5"}, "installment"),
    Hostile("an installment of 40 digits", {"installment": "9" * 40}, "installment"),
    Hostile("an installment in full-width digits", {"installment": "\uff11"}, "installment"),
    # -- impossible dates ------------------------------------------------------------------------------
    Hostile("the 30th of February", {"pay_date": "2025-02-30"}, "pay_date"),
    Hostile("a thirteenth month", {"pay_date": "2025-13-01"}, "pay_date"),
    Hostile("the year zero", {"pay_date": "0000-01-01"}, "pay_date"),
    Hostile("a date without leading zeros", {"pay_date": "2025-9-15"}, "pay_date"),
    Hostile("a date written day first", {"pay_date": "15/09/2025"}, "pay_date"),
    Hostile("a serial number written as text", {"pay_date": "45915"}, "pay_date"),
    # -- hostile text ------------------------------------------------------------------------------------
    Hostile("a NUL byte in a cell", {"payee_id": "T-1\x00"}, "payee_id", TEXT_INPUTS),
    # (a workbook cell holds at most 32,767 characters: openpyxl cuts longer ones when reading)
    Hostile("a 1 MB cell", {"role": "x" * 1_100_000}, "role", TEXT_INPUTS),
    Hostile("a cell just under the limit is read", {"program": "x" * 999_000}, None, TEXT_INPUTS),
    Hostile("a quoted newline is read as part of the value", {"role": "men\ntor"}, None),
    Hostile("a formula is read as text", {"payee_id": "=HYPERLINK(\"http://x\")"}, None, TEXT_INPUTS),
    Hostile("markup is read as text", {"role": "<script>alert(1)</script>"}, None),
    # -- rows that are not rows of cells -------------------------------------------------------------
    Hostile("a row with too few cells", {}, "", only("csv"), raw=["P-?", "T-1", "mentor"]),
    Hostile("a row with too many cells", {}, "", only("csv"), raw=[*GOOD.values(), "extra", "more"]),
    Hostile("a row that is a list", {}, "", only("json", "jsonl"), raw=[1, 2, 3]),
    Hostile("a row that is a number", {}, "", only("json", "jsonl"), raw=7),
    Hostile("a row that is null", {}, "", only("json", "jsonl"), raw=None),
    Hostile("a line that is not JSON", {}, "", only("jsonl"), raw="{'payout_id': 'P-?',"),
    Hostile("a line with a bare NaN", {}, "", only("jsonl"), raw='{"payout_id": "P-?", "amount": NaN}'),
    # -- JSON values of the wrong kind ---------------------------------------------------------------
    Hostile("a cell that is an object", {"role": {"name": "mentor"}}, "role", only("json", "jsonl")),
    Hostile("a cell that is a list", {"payee_id": ["T-1"]}, "payee_id", only("json", "jsonl")),
    Hostile("an amount that is true", {"amount": True}, "amount", only("json", "jsonl", "xlsx")),
    Hostile("an amount that is a huge JSON number", {"amount": Number("1e999999999")}, "amount",
            only("json", "jsonl")),
    Hostile("an installment that is a huge JSON number", {"installment": Number("1e999999999")}, "installment",
            only("json", "jsonl")),
    Hostile("a date that is a huge JSON number", {"pay_date": Number("1e999999999")}, "pay_date",
            only("json", "jsonl")),
    Hostile("an installment of 5,000 digits", {"installment": Number("1e5000")}, "installment",
            only("json", "jsonl")),
    Hostile("an amount written as a number is read", {"amount": Number("1000.5", 1000.5)}, None,
            only("json", "jsonl", "xlsx")),
    # -- spreadsheet values ------------------------------------------------------------------------------
    Hostile("an Excel serial date is read", {"pay_date": Number("", 45915)}, None, only("xlsx")),
    Hostile("an Excel date cell is read", {"pay_date": Number("", dt.datetime(2025, 9, 15))}, None, only("xlsx")),
    Hostile("a serial date of zero", {"pay_date": Number("", 0)}, "pay_date", only("xlsx")),
    Hostile("a negative serial date", {"pay_date": Number("", -5)}, "pay_date", only("xlsx")),
    Hostile("a serial date past the year 9999", {"pay_date": Number("", 3_000_000)}, "pay_date", only("xlsx")),
    Hostile("a serial date with a fraction of a day", {"pay_date": Number("", 45915.5)}, "pay_date",
            only("xlsx")),
    Hostile("a formula without a saved value", {"amount": "=1+1"}, "amount", only("xlsx")),
]


# -- the files ---------------------------------------------------------------------------------------
def key(index: int) -> str:
    return f"P-{index:03d}"


def hostile_rows(kind: str) -> tuple[list[Any], list[Hostile | None]]:
    """The rows of the hostile file for an input format (a good row first), and the case of each."""
    rows: list[Any] = [{**GOOD, "payout_id": key(0), "payee_id": "T-0"}]
    cases: list[Hostile | None] = [None]
    for case in HOSTILE:
        if kind not in case.formats:
            continue
        if case.raw is not None or case.column == "":
            rows.append(case.raw)
        else:  # each row its own payee, so that no row is another's duplicate
            rows.append({**GOOD, "payout_id": key(len(rows)), "payee_id": f"T-{len(rows)}", **case.cells})
        cases.append(case)
    return rows, cases


def json_text(row: Any) -> str:
    if isinstance(row, str):
        return row  # a line as written
    if not isinstance(row, dict):
        return json.dumps(row)
    parts = [f"{json.dumps(name)}: {value.json_text if isinstance(value, Number) else json.dumps(value)}"
             for name, value in row.items()]
    return "{" + ", ".join(parts) + "}"


def write_csv(path: Path, rows: list[Any], header: tuple[str, ...] = COLUMNS) -> None:
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(row if isinstance(row, list) else [row[name] for name in header])
    path.write_text("\ufeff" + stream.getvalue(), encoding="utf-8")  # with a BOM, as Excel writes


def write_json(path: Path, rows: list[Any]) -> None:
    path.write_text("[\n" + ",\n".join(json_text(row) for row in rows) + "\n]\n", encoding="utf-8")


def write_jsonl(path: Path, rows: list[Any]) -> None:
    path.write_text("".join(json_text(row) + "\n\n" for row in rows), encoding="utf-8")  # blank lines are no rows


def write_xlsx(path: Path, rows: list[Any], header: tuple[str, ...] = COLUMNS) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "payouts"
    sheet.append(header)
    for row in rows:
        sheet.append([_xlsx_value(row[name]) for name in header])
    workbook.save(path)


def _xlsx_value(value: Any) -> Any:
    return value.xlsx_value if isinstance(value, Number) else value


WRITERS: dict[str, Callable[[Path, list[Any]], None]] = {
    "csv": write_csv, "json": write_json, "jsonl": write_jsonl, "xlsx": write_xlsx}


@pytest.fixture(scope="module", params=INPUTS)
def hostile(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    """A folder with the hostile payout file of one input format, and the case of each row."""
    kind = request.param
    folder = tmp_path_factory.mktemp(f"hostile-{kind}")
    rows, cases = hostile_rows(kind)
    WRITERS[kind](folder / f"payouts.{kind}", rows)
    (folder / "people.csv").write_text("person_id\n" + "".join(f"T-{index}\n" for index in range(len(rows))),
                                       encoding="utf-8")
    return folder, cases


# -- reading the reports ---------------------------------------------------------------------------
def report_rows(kind: str, output: Path, stdout: str) -> list[tuple[int, str, str, str]]:
    """(row, key, status, messages) of every payouts record of a report, in report order."""
    if kind == "json":
        records = json.loads(output.read_text("utf-8"))["records"]
        return [(r["row"], r["key"], r["status"], " ".join(f["message"] for f in r["findings"]))
                for r in records if r["table"] == "payouts"]
    if kind == "csv":
        lines = list(csv.DictReader(io.StringIO(output.read_text("utf-8"))))
        return [(int(line["row"]), line["key"], line["status"], line["messages"])
                for line in lines if line["table"] == "payouts"]
    if kind == "xlsx":
        workbook = load_workbook(output, read_only=True)
        sheet = list(workbook["payouts"].iter_rows(values_only=True))
        header = list(sheet[0])
        findings = list(workbook["Findings"].iter_rows(values_only=True))
        messages: dict[int, str] = {}
        for line in findings[1:]:
            if line[0] == "payouts":
                messages[line[1]] = messages.get(line[1], "") + " " + str(line[6])
        if len(sheet) == 1:
            return []
        column = header.index("payout_id")
        return [(line[0], str(line[column] if len(line) > column and line[column] is not None else ""), line[1],
                 messages.get(line[0], "")) for line in sheet[1:]]
    raise AssertionError(kind)


def summary_rows(kind: str, output: Path) -> int:
    """The number of rows a table or HTML report says it read."""
    text = output.read_text("utf-8")
    if kind == "html":
        found = re.search(r"<b>(\d+)</b><span>rows</span>", text)
    else:
        found = re.search(r"^(\d+) rows?:", text, re.MULTILINE)
    assert found, text[-500:]
    return int(found.group(1))


# -- the tests ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("output_kind", OUTPUTS)
def test_every_row_of_a_hostile_file_comes_out_once_with_its_problem_located(
        hostile: tuple[Path, list[Hostile | None]], output_kind: str, run_cli, tmp_path: Path) -> None:
    folder, cases = hostile
    output = tmp_path / f"report.{output_kind}"
    result = run_cli("validate", folder, "--pack", "core", "--format", output_kind, "--output", output,
                     "--as-of", "2026-01-01")
    assert result.code == 1, result.err
    assert "Traceback" not in result.err + result.out
    if output_kind in ("table", "html"):
        assert summary_rows(output_kind, output) == 2 * len(cases)  # payouts, and a person per payout
        text = output.read_text("utf-8")
        for row, case in enumerate(cases, start=1):
            if case is not None and case.column:  # the error row is shown once, with its column named
                if output_kind == "table":
                    shown = re.escape(f"payouts row {row}") + r"( \(line \d+\))?  " + re.escape(f"{key(row - 1)}\n")
                    assert len(re.findall(shown, text)) == 1, case.sentence
                    assert f"column {case.column!r}" in text, case.sentence
                else:
                    assert text.count(f'class="clip key mono">{key(row - 1)}<') == 1, case.sentence
                    assert f"column &#x27;{case.column}&#x27;" in text, case.sentence
        if output_kind == "html":
            assert "<script>alert(1)" not in text
        return
    rows = report_rows(output_kind, output, result.out)
    assert [row for row, *_ in rows] == list(range(1, len(cases) + 1))  # rows in = rows out, in order
    for (row, row_key, status, messages), case in zip(rows, cases, strict=True):
        if case is None:
            assert status == "pass", messages
        elif case.column is None:
            assert status != "unreadable", f"{case.sentence}: {messages}"
        else:
            assert status == "unreadable", case.sentence
            assert (f"'{case.column}'" if case.column else "") in messages, f"{case.sentence}: {messages}"
            if case.column:
                assert row_key == key(row - 1), case.sentence  # an error row keeps its key
    if output_kind == "csv":
        cells = [cell for line in csv.reader(io.StringIO(output.read_text("utf-8"))) for cell in line]
        assert not [cell for cell in cells if cell[:1] in ("=", "+", "@")], "a formula reached the CSV"


def test_a_hostile_file_as_a_subprocess_shows_no_traceback(hostile: tuple[Path, list[Hostile | None]]) -> None:
    folder, cases = hostile
    done = subprocess.run([sys.executable, "-m", "mentorrules", "validate", str(folder), "--pack", "core",
                           "--format", "json", "--as-of", "2026-01-01"], capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 1
    # Only the payouts and people tables are given: stderr says which rules were not checked, nothing else.
    assert [line.split(":")[1] for line in done.stderr.splitlines()] == [
        " not checked, these rules read a table that was not given"]
    assert json.loads(done.stdout)["summary"]["rows"] == 2 * len(cases)


# -- whole files -------------------------------------------------------------------------------------
A_ROW = {**GOOD, "payout_id": "P-1", "district": "Pe\u00f1asco"}
CSV_TEXT = "payout_id,payee_id,role,program,state,district,school_year,pay_date,amount\n" \
           "P-1,T-1,mentor,X,XX,Pe\u00f1asco,2025-26,2025-09-15,1000.00\n"


def _text_file(text: str, encoding: str) -> Callable[[str], bytes]:
    def content(kind: str) -> bytes:
        body = {"csv": text, "json": json.dumps([A_ROW], ensure_ascii=False),
                "jsonl": json.dumps(A_ROW, ensure_ascii=False) + "\n"}[kind]
        return body.encode(encoding)
    return content


def _xlsx_bytes(rows: list[list[Any]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "payouts"
    for row in rows:
        sheet.append(row)
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()


@dataclass(frozen=True)
class WholeFile:
    sentence: str
    kind: str
    content: bytes
    code: int  # the exit code
    problem: str | None  # the problem code of an unreadable file
    rows: int = 0  # rows in the report of a readable file


WHOLE_FILES = [
    *(WholeFile(f"a {kind.upper()} file in UTF-16", kind, _text_file(CSV_TEXT, "utf-16")(kind), 2, "MR305")
      for kind in sorted(TEXT_INPUTS)),
    *(WholeFile(f"a {kind.upper()} file in Latin-1", kind, _text_file(CSV_TEXT, "latin-1")(kind), 2, "MR305")
      for kind in sorted(TEXT_INPUTS)),
    # exit 0: the row passes the rules that read payouts alone (no people table: its payee is not looked up)
    *(WholeFile(f"a {kind.upper()} file with a BOM is read", kind,
                b"\xef\xbb\xbf" + _text_file(CSV_TEXT, "utf-8")(kind), 0, None, 1) for kind in sorted(TEXT_INPUTS)),
    WholeFile("an empty CSV file has no header", "csv", b"", 2, "MR302"),
    WholeFile("a CSV file of blank lines has no header", "csv", b"\n\r\n  \n", 2, "MR302"),
    WholeFile("a CSV file with a header only has no rows", "csv", CSV_TEXT.split("\n")[0].encode() + b"\n", 0, None),
    WholeFile("a CSV file without a required column", "csv", b"payout_id,amount\nP-1,5\n", 2, "MR302"),
    WholeFile("a CSV file whose header cannot be read", "csv", b'"payout_id\n', 2, "MR302"),
    WholeFile("an empty JSON file is not JSON", "json", b"", 2, "MR306"),
    WholeFile("a JSON file of blank lines is not JSON", "json", b"\n\n  \n", 2, "MR306"),
    WholeFile("a JSON file with an empty list has no rows", "json", b"[]", 0, None),
    WholeFile("a JSON file that is an object of objects", "json", b'{"a": {"payout_id": "P-1"}}', 2, "MR306"),
    WholeFile("a JSON file with a bare NaN", "json", b'[{"payout_id": "P-1", "amount": NaN}]', 2, "MR306"),
    WholeFile("a JSON file with a raw NUL byte", "json", b'[{"payout_id": "P-\x001"}]', 2, "MR306"),
    WholeFile("a JSON file cut short", "json", b'[{"payout_id": "P-1", ', 2, "MR306"),
    WholeFile("an empty JSONL file has no rows", "jsonl", b"", 0, None),
    WholeFile("a JSONL file of blank lines has no rows", "jsonl", b"\n\r\n  \n", 0, None),
    WholeFile("an empty XLSX file cannot be opened", "xlsx", b"", 2, "MR307"),
    WholeFile("a CSV file named .xlsx cannot be opened", "xlsx", CSV_TEXT.encode(), 2, "MR307"),
    WholeFile("a workbook with an empty payouts sheet has no header", "xlsx", _xlsx_bytes([]), 2, "MR302"),
    WholeFile("a workbook with a header only has no rows", "xlsx", _xlsx_bytes([list(COLUMNS)]), 0, None),
    WholeFile("a workbook without a required column", "xlsx", _xlsx_bytes([["payout_id"], ["P-1"]]), 2, "MR302"),
]


@pytest.mark.parametrize("case", WHOLE_FILES, ids=[case.sentence for case in WHOLE_FILES])
@pytest.mark.parametrize("output_kind", OUTPUTS)
def test_a_whole_file_is_refused_with_a_located_problem_or_read(case: WholeFile, output_kind: str, run_cli,
                                                                tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    path = data / f"payouts.{case.kind}"
    path.write_bytes(case.content)
    output = tmp_path / f"report.{output_kind}"
    result = run_cli("validate", data, "--pack", "core", "--format", output_kind, "--output", output,
                     "--as-of", "2026-01-01")
    assert "Traceback" not in result.err + result.out
    assert result.code == case.code, result.err
    if case.problem is not None:
        assert re.search(rf"^{re.escape(str(path))}(\[payouts\])?(:\d+:\d+)?: {case.problem} ", result.err,
                         re.MULTILINE), result.err
        assert not output.exists()
    elif output_kind in ("json", "csv", "xlsx"):
        rows = report_rows(output_kind, output, result.out)
        assert len(rows) == case.rows
        assert all(status != "unreadable" for _, _, status, _ in rows)
    else:
        assert summary_rows(output_kind, output) == case.rows


def test_a_latin_1_file_is_refused_naming_the_offset_of_the_first_bad_byte(run_cli, tmp_path: Path) -> None:
    (tmp_path / "payouts.csv").write_bytes(CSV_TEXT.encode("latin-1"))
    result = run_cli("validate", tmp_path, "--pack", "core")
    assert result.code == 2
    offset = CSV_TEXT.encode("latin-1").index(b"\xf1")
    assert f"payouts.csv: MR305 the file is not UTF-8 (invalid byte at offset {offset})" in result.err


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_repeated_header_makes_every_row_an_error_row(kind: str, run_cli, tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("person_id\nT-1\n", encoding="utf-8")
    header = (*COLUMNS, "amount")
    rows = [{**GOOD, "payout_id": key(index)} for index in range(3)]
    if kind == "csv":
        write_csv(tmp_path / "payouts.csv", [[*row.values(), "2.00"] for row in rows], header)
    else:
        workbook = Workbook()
        sheet = workbook.active
        sheet.title = "payouts"
        sheet.append(header)
        for row in rows:
            sheet.append([*row.values(), "2.00"])
        workbook.save(tmp_path / "payouts.xlsx")
    result = run_cli("validate", tmp_path, "--pack", "core", "--format", "json")
    assert result.code == 1, result.err
    records = [r for r in json.loads(result.out)["records"] if r["table"] == "payouts"]
    assert [(r["key"], r["status"]) for r in records] == [(key(index), "unreadable") for index in range(3)]
    assert all("'amount' more than once" in r["findings"][0]["message"] for r in records)


@pytest.mark.parametrize("kind", ["json", "jsonl"])
def test_a_key_repeated_in_a_json_row_makes_it_an_error_row(kind: str, run_cli, tmp_path: Path) -> None:
    good = json_text({**GOOD, "payout_id": "P-1"})
    twice = json_text({**GOOD, "payout_id": "P-2", "installment": "2"})[:-1] + ', "amount": "2.00"}'
    text = f"[{good}, {twice}]" if kind == "json" else f"{good}\n{twice}\n"
    (tmp_path / "people.csv").write_text("person_id\nT-1\n", encoding="utf-8")
    (tmp_path / f"payouts.{kind}").write_text(text, encoding="utf-8")
    result = run_cli("validate", tmp_path, "--pack", "core", "--format", "json")
    assert result.code == 1, result.err
    records = [r for r in json.loads(result.out)["records"] if r["table"] == "payouts"]
    assert [(r["key"], r["status"]) for r in records] == [("P-1", "pass"), ("P-2", "unreadable")]
    assert "'amount' more than once" in records[1]["findings"][0]["message"]


def test_a_five_megabyte_line_is_one_row_with_each_long_cell_located(run_cli, tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("person_id\nT-1\n", encoding="utf-8")
    long = dict.fromkeys(("role", "program", "state", "amount", "installment"), "9" * 1_100_000)
    write_csv(tmp_path / "payouts.csv", [{**GOOD, "payout_id": "P-1", **long}, {**GOOD, "payout_id": "P-2"}])
    result = run_cli("validate", tmp_path, "--pack", "core", "--format", "json")
    assert result.code == 1, result.err
    first, second, _ = json.loads(result.out)["records"]  # two payouts and their payee
    assert first["status"] == "unreadable" and second["status"] == "pass"
    assert sorted(finding["message"].split(":")[0] for finding in first["findings"]) == sorted(
        f"column {name!r}" for name in long)


# -- damaged workbooks ---------------------------------------------------------------------------------
def _workbook_parts() -> dict[str, bytes]:
    import zipfile

    rows = [list(COLUMNS), *([*{**GOOD, "payout_id": key(index)}.values()] for index in range(3))]
    with zipfile.ZipFile(io.BytesIO(_xlsx_bytes(rows))) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


WORKBOOK_PARTS = _workbook_parts()
NOISE = [b"<", b">", b'"', b"&", b"nan", b"1e999", b"\x00", b' t="e"', b' s="99"', b"<c r=\"Z9\"><v>x</v></c>"]


@pytest.mark.filterwarnings("ignore::UserWarning")  # openpyxl's, about the damaged parts
@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow,
                                                                                    HealthCheck.function_scoped_fixture])
@given(part=st.sampled_from(sorted(WORKBOOK_PARTS)), edits=st.lists(
    st.tuples(st.floats(0, 1), st.integers(0, 2), st.sampled_from(NOISE), st.integers(0, 255)), min_size=1, max_size=4))
def test_a_damaged_workbook_is_a_file_problem_or_read_never_a_traceback(
        part: str, edits: list[tuple[float, int, bytes, int]], tmp_path_factory: pytest.TempPathFactory,
        core_engine: Engine) -> None:
    import zipfile

    data = bytearray(WORKBOOK_PARTS[part])
    for where, action, noise, byte in edits:
        position = min(int(where * len(data)), len(data) - 1)
        if action == 0:
            del data[position:position + 1 + byte % 8]
        elif action == 1:
            data[position:position] = noise
        else:
            data[position] = byte
    folder = tmp_path_factory.mktemp("damaged")
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w") as archive:
        for name, content in WORKBOOK_PARTS.items():
            archive.writestr(name, bytes(data) if name == part else content)
    (folder / "payouts.xlsx").write_bytes(stream.getvalue())
    try:
        dataset = core_engine.read(folder)
    except MentorRulesError as error:
        # the file, or the file and its sheet (payouts.xlsx[payouts])
        assert [problem.location.path.split("[")[0] for problem in error.problems] == [str(folder / "payouts.xlsx")]
        assert all(problem.code in ("MR302", "MR307") for problem in error.problems), error
        return
    report = core_engine.validate(dataset, as_of=dt.date(2026, 1, 1))
    assert report.summary["rows"] == len(dataset.tables["payouts"])

