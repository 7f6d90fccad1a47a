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
    for decision in report.records.flagged():
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


# -- money and completeness: read from the summary, never added up again ------------------------
MONEY_LINES = (("checked", "checked"), ("payable", "payable (rows that pass)"),
               ("held", "held (rows with an error finding)"), ("warnings_only", "  of payable: with warnings only"),
               ("history", "history (before the period, not judged)"))
SPLITS = (("rule", "rule"), ("district", "district"), ("program", "program"), ("grant", "grant"),
          ("school_year", "school year"))


@dataclass(frozen=True)
class MoneyLine:
    """One figure of ``summary.money``: its label, amount (text, two places) and rows."""

    name: str
    label: str
    amount: str
    rows: int


def money(report: Report) -> list[MoneyLine]:
    """The money figures of a report, in the order every format shows them ([] without payouts).

    >>> summary = {"money": {"checked": "1500.00", "payable": "1000.00", "held": "500.00",
    ...            "warnings_only": "0.00", "history": "0.00", "rows": {"checked": 2, "payable": 1, "held": 1,
    ...            "warnings_only": 0, "history": 0}}}
    >>> [(line.name, line.amount) for line in money(Report("0", (), "sha256:0", (), totals=summary))][:3]
    [('checked', '1500.00'), ('payable', '1000.00'), ('held', '500.00')]
    """
    figures = report.summary.get("money")
    if not figures:
        return []
    return [MoneyLine(name, label, figures[name], figures["rows"].get(name, 0)) for name, label in MONEY_LINES
            if name != "history" or figures["rows"].get("history")]


def held_by(report: Report) -> list[tuple[str, list[tuple[str, str]]]]:
    """Held money split by rule, district, program, grant and school year, largest first."""
    figures = report.summary.get("money")
    if not figures:
        return []
    from decimal import Decimal

    return [(label, sorted(figures["held_by"].get(name, {}).items(), key=lambda item: (-Decimal(item[1]), item[0])))
            for name, label in SPLITS]


def gaps(report: Report) -> list[dict[str, str]]:
    """Findings off the payout rows that say by how much they miss (match shortfalls, caps)."""
    figures = report.summary.get("money")
    return list(figures.get("gaps", ())) if figures else []


def incomplete(report: Report) -> str | None:
    """``INCOMPLETE: 32 of 48 rules did not run (...)`` when some rules did not run, else None."""
    summary = report.summary
    if summary.get("complete", True):
        return None
    detail = summary.get("incomplete", {})
    parts = []
    if detail.get("not_run"):
        parts.append(f"{detail['not_run']} of {detail.get('rules', 0)} rules did not run "
                     f"(tables not given: {', '.join(detail.get('tables_not_given', ()))})")
    parts += [item["why"] for item in detail.get("history_missing", ())]
    return "INCOMPLETE: " + ("; ".join(parts) or "some rules did not run")


ILLUSTRATIVE_HEADING = "Illustrative values used (no public source gives them: an administrator's choice)"


def illustrative(report: Report) -> list[str]:
    """The illustrative parameter values the run's rules read, one line each:
    ``new-mexico stipend_cap: mentor: 2000.00, mentee: 1000.00 (from 2016-07-01)``."""
    return [f"{pack} {name}: " + "; ".join(f"{value} (from {start})" for start, value in values)
            for pack, name, values in report.illustrative]
