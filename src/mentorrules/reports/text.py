"""Report -> text for a terminal: each row with findings, then counts by rule, then a summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TextIO

from mentorrules.model import Report, Status
from mentorrules.reports import tally

_LABEL = {Status.FAIL: "FAIL ", Status.ERROR: "ERROR", Status.PASS: "WARN "}


def write(report: Report, stream: TextIO, titles: Mapping[str, str] | None = None) -> None:
    titles = titles or {}
    packs = ", ".join(f"{name} {version}" for name, version in report.packs)
    stream.write(f"mentorrules {report.version} | packs: {packs} | {report.digest[:19]}\n")
    for table, source in report.sources.items():
        stream.write(f"  {table}: {source}\n")
    stream.write("\n")
    # One column width for every rule id of the report, so that severities and messages align
    # however long a pack's ids are (STIPEND-005-BAND).
    width = max((len(finding.rule) for decision in report.records for finding in decision.findings), default=0)
    by_rule: Counter[tuple[str, str]] = Counter()
    for decision in report.records:
        if not decision.findings:
            continue
        stream.write(f"{_LABEL[decision.status]} {decision.table} row {decision.row}  {decision.key}\n")
        for finding in decision.findings:
            by_rule[(finding.rule, finding.severity.value)] += 1
            stream.write(f"    {finding.rule:<{width}}  {finding.severity.value:<8} {finding.message}\n")
    if by_rule:
        stream.write("\nFindings by rule\n")
        for (rule, severity), count in sorted(by_rule.items()):
            title = titles.get(rule, "row could not be read" if rule.startswith("MR") else "")
            stream.write(f"  {rule:<{width}}  {severity:<8} {count:>6}  {title}\n")
    summary = report.summary
    findings = summary["findings"]
    rows = "1 row" if summary["rows"] == 1 else f"{summary['rows']} rows"
    stream.write(f"\n{rows}: {summary['pass']} pass, {summary['fail']} fail, "
                 f"{summary['error']} error | findings: {findings['error']} error, "
                 f"{findings['warning']} warning, {findings['info']} info\n")
    skipped = tally.not_checked(report)
    if skipped:
        stream.write("\nNot checked: these rules read a table that was not given\n")
        width = max(len(tables) for tables, _ in skipped)
        for tables, rules in skipped:
            stream.write(f"  {tables:<{width}}  {', '.join(rules)}\n")
