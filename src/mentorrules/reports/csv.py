"""Report -> CSV: one line per input row, safe to open in a spreadsheet.

Cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return) are prefixed with ``'`` (OWASP CSV injection); numbers written by
the engine itself (row numbers, counts) are left as they are.
"""

from __future__ import annotations

import csv
from typing import TextIO

from mentorrules.model import Report
from mentorrules.reports import tally

HEADER = ("table", "row", "line", "key", "status", "rules", "severities", "messages")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """A text cell a spreadsheet will show, not run.

    >>> neutralise("=HYPERLINK(1)"), neutralise("-5"), neutralise("P-1")
    ("'=HYPERLINK(1)", "'-5", 'P-1')
    """
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def write(report: Report, stream: TextIO) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(HEADER)
    for decision in report.records:
        findings = decision.findings
        writer.writerow([
            decision.table, decision.row, "" if decision.line is None else decision.line, neutralise(decision.key),
            decision.status.value,
            neutralise(";".join(finding.rule for finding in findings)),
            ";".join(finding.severity.value for finding in findings),
            neutralise(" | ".join(f"{finding.rule}: {finding.message}" for finding in findings)),
        ])


SUMMARY_HEADER = ("section", "name", "amount", "rows")


def write_summary(report: Report, stream: TextIO) -> None:
    """The summary as CSV (``report.summary.csv`` beside a CSV report): completeness, row counts,
    then the money of ``summary.money`` (totals, held by rule, district, program, grant and
    school year, and the shortfalls or excesses of group findings). One figure per line."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(SUMMARY_HEADER)
    summary = report.summary
    headline = tally.incomplete(report)
    writer.writerow(["complete", neutralise(headline) if headline else "complete", "", ""])
    for status in ("pass", "fail", "unreadable", "history"):
        if status in summary:
            writer.writerow(["rows", status, "", summary[status]])
    for line in tally.money(report):
        writer.writerow(["money", line.name, line.amount, line.rows])
    for label, split in tally.held_by(report):
        for key, amount in split:
            writer.writerow([f"held by {label}", neutralise(key), amount, ""])
    for gap in tally.gaps(report):
        kind = "shortfall" if "shortfall" in gap else "excess"
        writer.writerow([f"group {kind}", neutralise(f"{gap['rule']} {gap['key']} ({gap['district']})"), gap[kind], ""])
    for text in tally.illustrative(report):
        name, _, value = text.partition(": ")
        writer.writerow(["illustrative", neutralise(name), neutralise(value), ""])
