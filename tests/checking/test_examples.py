"""The example data set finds exactly the violations examples/README.md documents.

The README's table of deliberate violations (columns: table, row key, rule, why) is parsed; a
row-key cell may list several keys separated by commas. `mentorrules validate examples/ --format
json` is run as a user runs it, and the set of (row key, rule) pairs of its findings must equal
the documented set: a documented violation that is not found, or a finding nobody documented,
fails the test with the difference spelled out.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
README = EXAMPLES / "README.md"
TABLES = ("payouts", "people", "pairings", "attendance", "districts", "grants", "contributions")

Pair = tuple[str, str]


def documented() -> dict[Pair, str]:
    """(row key, rule) -> the table the README names for it, from the violations table."""
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- violations: begin -->(.*?)<!-- violations: end -->", text, re.S)
    assert match, "examples/README.md has no <!-- violations: begin/end --> block"
    rows = [line.strip() for line in match.group(1).splitlines() if line.strip().startswith("|")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert header[:3] == ["table", "row key", "rule"], f"unexpected table header {header}"
    pairs: dict[Pair, str] = {}
    for line in rows[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        table, keys, rule = cells[0], cells[1], cells[2]
        assert table in (*TABLES, "group"), f"unknown table {table!r} in {line}"
        for key in (part.strip() for part in keys.split(",")):
            assert key, f"empty row key in {line}"
            pairs[(key, rule)] = table
    return pairs


@pytest.fixture(scope="module")
def report() -> dict[str, object]:
    finished = subprocess.run(
        [sys.executable, "-m", "mentorrules.cli", "validate", str(EXAMPLES), "--format", "json"],
        capture_output=True, text=True, check=False, cwd=ROOT)
    assert finished.returncode in (0, 1), finished.stderr
    result: dict[str, object] = json.loads(finished.stdout)
    return result


def found(report: dict[str, object]) -> dict[Pair, str]:
    pairs: dict[Pair, str] = {}
    for record in report["records"]:  # type: ignore[attr-defined]
        for finding in record.get("findings", []):
            pairs[(str(record["key"]), finding["rule"])] = f"{record['table']}: {finding['message']}"
    return pairs


def test_every_table_is_present() -> None:
    for table in TABLES:
        assert (EXAMPLES / f"{table}.csv").is_file(), f"examples/{table}.csv is missing"


def test_no_row_is_unreadable(report: dict[str, object]) -> None:
    broken = [record["key"] for record in report["records"] if record["status"] == "unreadable"]  # type: ignore[attr-defined]
    assert not broken, f"rows that could not be read: {broken}"


def test_findings_are_exactly_the_documented_violations(report: dict[str, object]) -> None:
    expected = documented()
    actual = found(report)
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    lines = [f"documented but not found: {key} {rule} ({expected[(key, rule)]})" for key, rule in missing]
    lines += [f"found but not documented: {key} {rule} ({actual[(key, rule)]})" for key, rule in extra]
    assert not lines, "examples/README.md and the findings disagree:\n" + "\n".join(lines)


def test_documented_tables_match_the_report(report: dict[str, object]) -> None:
    tables = {(str(r["key"]), f["rule"]): r["table"] for r in report["records"]  # type: ignore[attr-defined]
              for f in r.get("findings", [])}
    wrong = {pair: (table, tables[pair]) for pair, table in documented().items()
             if pair in tables and tables[pair] != table}
    assert not wrong, f"README names the wrong table (README, report): {wrong}"


def test_the_data_set_is_large_enough() -> None:
    with (EXAMPLES / "payouts.csv").open(encoding="utf-8") as handle:
        payouts = sum(1 for _ in handle) - 1
    assert payouts >= 300
