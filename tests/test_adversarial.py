"""A compliance tool cannot be broken or fooled by a bad file.

Adversarial rows (BOMs, NUL bytes, quoted newlines, ragged rows, 1 MB cells, numbers in odd
forms, impossible dates) each get a located message, every row comes out exactly once, in every
output format, with no traceback; the same inputs give byte-identical JSON whatever the hash
seed; an engine shared by 8 threads gives the results of one.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from openpyxl import load_workbook

from mentorrules import Engine

HEADER = ["payout_id", "payee_id", "role", "program", "state", "district", "school_year", "pay_date", "amount",
          "installment"]
GOOD = ["P-OK", "T-1", "mentor", "NM_PILOT", "NM", "Belen", "2025-26", "2025-12-15", "1000.00", "1"]

# (what is wrong, the row's cells as written, a column the message must name or None for a broken row)
HOSTILE = [
    ("a separator in the amount", ["P-1", "T-1", "mentor", "NM_PILOT", "NM", "Belen", "2025-26", "2025-12-15",
                                   "1,000.00", "1"], "amount"),
    ("a currency sign", ["P-2", "T-1", "mentor", "NM_PILOT", "NM", "Belen", "2025-26", "2025-12-15", "$5", "1"],
     "amount"),
    ("an exponent", ["P-3", "T-1", "mentor", "NM_PILOT", "NM", "Belen", "2025-26", "2025-12-15", "1e3", "1"],
     "amount"),
    ("NaN", ["P-4", "T-1", "mentor", "NM_PILOT", "NM", "Belen", "2025-26", "2025-12-15", "NaN", "1"], "amount"),
    ("an impossible date", ["P-5", "T-1", "mentor", "NM_PILOT", "NM", "Belen", "2025-26", "2025-02-30",
                            "1000.00", "1"], "pay_date"),
    ("a serial number as a date", ["P-6", "T-1", "mentor", "NM_PILOT", "NM", "Belen", "2025-26", "45000",
                                   "1000.00", "1"], "pay_date"),
    ("a NUL byte", ["P-7", "T-1\x00", "mentor", "NM_PILOT", "NM", "Belen", "2025-26", "2025-12-15", "1000.00", "1"],
     "payee_id"),
    ("a 1 MB cell", ["P-8", "T-1", "x" * 1_100_000, "NM_PILOT", "NM", "Belen", "2025-26", "2025-12-15", "1000.00",
                     "1"], "role"),
    ("a ragged row", ["P-9", "T-1", "mentor", "NM_PILOT"], None),
    ("a whole number too big", ["P-10", "T-1", "mentor", "NM_PILOT", "NM", "Belen", "2025-26", "2025-12-15",
                                "1000.00", "9" * 40], "installment"),
]
QUOTED_NEWLINE = ["P-11", "T-1", "men\ntor", "NM_PILOT", "NM", "Belen", "2025-26", "2025-12-15", "-0", "1"]


@pytest.fixture()
def hostile(tmp_path: Path) -> Path:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerow(GOOD)
    for _, cells, _ in HOSTILE:
        writer.writerow(cells)
    writer.writerow(QUOTED_NEWLINE)
    (tmp_path / "payouts.csv").write_text("\ufeff" + text.getvalue(), encoding="utf-8")
    (tmp_path / "people.csv").write_text("person_id,rating\nT-1,Exemplary\n", encoding="utf-8")
    return tmp_path


ROWS = 2 + len(HOSTILE)  # good + hostile + quoted newline


def run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mentorrules", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, check=False)


def test_every_hostile_row_is_an_error_row_naming_its_column(hostile: Path) -> None:
    result = run("validate", hostile, "--format", "json", "--as-of", "2026-01-01")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    records = [r for r in json.loads(result.stdout)["records"] if r["table"] == "payouts"]
    assert len(records) == ROWS
    by_key = {record["key"]: record for record in records}
    for what, cells, column in HOSTILE:
        record = by_key[cells[0]]
        assert record["status"] == "error", what
        if column is not None:
            assert any(f"column {column!r}" in finding["message"] for finding in record["findings"]), what
    assert by_key["P-OK"]["status"] != "error"
    # A quoted newline is a value, not a broken row; -0 is a readable amount that is not > 0.
    assert by_key["P-11"]["status"] == "fail"
    assert {"STIPEND-001", "STIPEND-002"} <= {finding["rule"] for finding in by_key["P-11"]["findings"]}


@pytest.mark.parametrize("kind", ["table", "json", "csv", "html", "xlsx"])
def test_every_format_shows_every_row_once_and_no_traceback(hostile: Path, tmp_path: Path, kind: str) -> None:
    output = tmp_path / f"report.{kind}"
    result = run("validate", hostile, "--format", kind, "--output", output, "--as-of", "2026-01-01")
    assert result.returncode == 1 and "Traceback" not in result.stderr + result.stdout
    if kind == "json":
        assert len([r for r in json.loads(output.read_text("utf-8"))["records"] if r["table"] == "payouts"]) == ROWS
    elif kind == "csv":
        lines = list(csv.reader(output.read_text("utf-8").splitlines()))
        assert len([line for line in lines[1:] if line[0] == "payouts"]) == ROWS
    elif kind == "xlsx":
        sheet = load_workbook(output, read_only=True)["payouts"]
        assert sum(1 for _ in sheet.iter_rows(min_row=2)) == ROWS
    elif kind == "html":
        page = output.read_text("utf-8")
        assert "P-1" in page and "<script>alert" not in page
    else:
        text = output.read_text("utf-8")
        assert all(f"  {cells[0]}\n" in text for _, cells, _ in HOSTILE)


def test_other_encodings_are_refused_with_a_plain_message(tmp_path: Path) -> None:
    (tmp_path / "payouts.csv").write_bytes(",".join(HEADER).encode() + b"\nP-1,T-1,mentor,NM_PILOT,NM,Pe\xf1asco,"
                                           b"2025-26,2025-12-15,1000.00,1\n")
    result = run("validate", tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "MR305" in result.stderr and "UTF-8" in result.stderr


def test_the_same_inputs_give_byte_identical_json_whatever_the_hash_seed() -> None:
    examples = Path(__file__).resolve().parents[1] / "examples"
    outputs = {run("validate", examples, "--format", "json", "--as-of", "2026-01-01",
                   env={"PYTHONHASHSEED": seed}).stdout for seed in ("0", "1", "12345")}
    assert len(outputs) == 1
    assert json.loads(outputs.pop())["summary"]["fail"] > 0


def test_an_engine_shared_by_8_threads_gives_the_results_of_one() -> None:
    examples = Path(__file__).resolve().parents[1] / "examples"
    engine = Engine.load()
    import datetime as dt

    expected = json.dumps(engine.validate(examples, as_of=dt.date(2026, 1, 1)).to_dict())
    results: list[str] = []

    def work() -> None:
        for _ in range(3):
            results.append(json.dumps(engine.validate(examples, as_of=dt.date(2026, 1, 1)).to_dict()))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 24
