"""The CSV report opens in a spreadsheet as text: no cell can run as a formula, whatever its
first character, and the numbers the report writes stay numbers."""

from __future__ import annotations

import csv
import io

import pytest

from mentorrules.model import Decision, Finding, Report, Severity, Status
from mentorrules.reports import csv as csv_report

PREFIXES = ["=", "+", "-", "@", "\t", "\r"]
PREFIX_NAMES = ["equals", "plus", "minus", "at", "tab", "carriage return"]


def written(report: Report) -> list[dict[str, str]]:
    stream = io.StringIO()
    csv_report.write(report, stream)
    return list(csv.DictReader(io.StringIO(stream.getvalue(), newline="")))


@pytest.mark.parametrize("prefix", PREFIXES, ids=PREFIX_NAMES)
def test_every_text_cell_starting_like_a_formula_is_neutralised(prefix: str) -> None:
    payload = prefix + 'HYPERLINK("https://evil.test","x")'
    report = Report("0.1.0", (("core", "0.1.0"),), "sha256:0", (
        Decision("payouts", 1, payload, Status.FAIL, (Finding(payload, Severity.ERROR, payload),)),
        Decision("payouts", 2, "P-2", Status.PASS, ()),
    ))
    first, second = written(report)
    assert first["key"] == "'" + payload
    assert first["rules"] == "'" + payload
    assert first["messages"].startswith("'" + payload)
    for row in (first, second):
        for column, cell in row.items():
            assert not cell.startswith(tuple(PREFIXES)), (column, cell)
    assert (first["row"], second["row"]) == ("1", "2")  # numbers the report writes stay numbers


def test_a_key_that_only_looks_negative_is_text_and_a_plain_key_is_unchanged() -> None:
    report = Report("0.1.0", (), "sha256:0", (
        Decision("payouts", 1, "-5", Status.PASS, ()),
        Decision("payouts", 2, "P-5", Status.PASS, ()),
    ))
    assert [row["key"] for row in written(report)] == ["'-5", "P-5"]
