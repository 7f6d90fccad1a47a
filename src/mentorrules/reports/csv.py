"""Report -> CSV: one line per input row, safe to open in a spreadsheet.

Cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return) are prefixed with ``'`` (OWASP CSV injection); numbers written by
the engine itself (row numbers, counts) are left as they are.
"""

from __future__ import annotations

import csv
from typing import TextIO

from mentorrules.model import Report

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
