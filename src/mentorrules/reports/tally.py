"""Report (+ the input rows) -> counts by rule and by an input column (district, program).

Shared by the HTML and XLSX formats so that both show the same numbers. ``input_rows`` is
``{table: rows}`` in input order: the decision on row ``n`` of a table is about ``rows[n - 1]``.
A row whose column is empty, or that has no input row (a group record, or no rows given),
counts under :data:`NOT_GIVEN`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mentorrules.model import Decision, Report, Status

NOT_GIVEN = "(not given)"

InputRows = Mapping[str, Sequence[Mapping[str, Any]]]


@dataclass(frozen=True)
class RuleCount:
    """How often one rule, at one severity, was found, and on how many records."""

    rule: str
    severity: str
    findings: int
    rows: int


@dataclass(frozen=True)
class ValueCount:
    """Records with one value of a column: how many, how many fail or are in error, findings."""

    value: str
    rows: int
    failing: int
    findings: int


def cell_of(input_rows: InputRows, decision: Decision, column: str) -> str:
    """The input value of ``column`` on the row a decision is about, as text.

    >>> rows = {"payouts": [{"district": "Gallup"}, {"district": ""}]}
    >>> [cell_of(rows, Decision("payouts", n, "P", Status.PASS, ()), "district") for n in (1, 2, 3)]
    ['Gallup', '(not given)', '(not given)']
    """
    rows = input_rows.get(decision.table, ())
    if not 0 < decision.row <= len(rows):
        return NOT_GIVEN
    value = rows[decision.row - 1].get(column)
    if value is None or (isinstance(value, str) and not value.strip()):
        return NOT_GIVEN
    return str(value)


def by_rule(report: Report) -> list[RuleCount]:
    """Findings per rule and severity over every record, sorted by rule."""
    findings: Counter[tuple[str, str]] = Counter()
    rows: Counter[tuple[str, str]] = Counter()
    for decision in report.records:
        for finding in decision.findings:
            findings[(finding.rule, finding.severity.value)] += 1
        for key in {(finding.rule, finding.severity.value) for finding in decision.findings}:
            rows[key] += 1
    return [RuleCount(rule, severity, count, rows[(rule, severity)])
            for (rule, severity), count in sorted(findings.items())]


def by_column(report: Report, input_rows: InputRows, column: str) -> list[ValueCount]:
    """Records per value of an input column, sorted by value with :data:`NOT_GIVEN` last."""
    rows: Counter[str] = Counter()
    failing: Counter[str] = Counter()
    findings: Counter[str] = Counter()
    for decision in report.records:
        value = cell_of(input_rows, decision, column)
        rows[value] += 1
        failing[value] += decision.status is not Status.PASS
        findings[value] += len(decision.findings)
    return [ValueCount(value, rows[value], failing[value], findings[value])
            for value in sorted(rows, key=not_given_last)]


def not_given_last(value: str) -> tuple[bool, str]:
    return (value == NOT_GIVEN, value)


def not_checked(report: Report) -> list[tuple[str, list[str]]]:
    """The rules not run, by the tables that were not given: ``("attendance", ["NMP-006"])``.

    >>> from mentorrules.engine import Report
    >>> not_checked(Report("0", (), "sha256:0", (), not_checked={"NMP-006": ("attendance",),
    ...     "NMP-007": ("pairings",), "NMP-008": ("attendance",), "X-1": ("attendance", "pairings")}))
    [('attendance', ['NMP-006', 'NMP-008']), ('attendance, pairings', ['X-1']), ('pairings', ['NMP-007'])]
    """
    by_tables: dict[str, list[str]] = {}
    for rule, tables in report.not_checked.items():
        by_tables.setdefault(", ".join(tables), []).append(rule)
    return [(tables, sorted(rules)) for tables, rules in sorted(by_tables.items())]
